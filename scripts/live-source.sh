#!/usr/bin/env bash
# Live sources for `make run` and the live tests, from ffmpeg's test pattern.
#
#   scripts/live-source.sh parts OUT_DIR [SECONDS]
#       fMP4 parts of 1/3 s (a keyframe in each, so every part is
#       independent) listed in OUT_DIR/parts.m3u8, for `hls-sign live-origin`
#       (LL-HLS: three parts make a 1 s segment). Default 60 s; the origin
#       loops them after a discontinuity.
#   scripts/live-source.sh window OUT_DIR SECONDS
#       A real-time live stream: ffmpeg writes a sliding-window HLS playlist
#       (2 s segments, 6 in the window, old ones deleted) to
#       OUT_DIR/index.m3u8 and OUT_DIR/master.m3u8 for SECONDS seconds, in
#       the foreground. The emulator serves the folder as its live origin.
#
# The playback time is burnt into the picture where ffmpeg has drawtext.
set -euo pipefail

die() { echo "live-source.sh: $*" >&2; exit 2; }
mode=${1:?usage: live-source.sh parts|window OUT_DIR [SECONDS]}
out=${2:?usage: live-source.sh parts|window OUT_DIR [SECONDS]}
command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg is not installed (Debian: apt-get install ffmpeg)"
mkdir -p "$out"

fps=30
stamp=""
font=""
for f in /usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf \
         /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf; do
  if [ -f "$f" ]; then font="fontfile=$f:"; break; fi
done
if ffmpeg -hide_banner -filters 2>/dev/null | grep -qw drawtext; then
  stamp=",drawtext=${font}text='live %{pts\\:hms}':fontsize=20:fontcolor=white:box=1:boxcolor=black@0.6:x=(w-text_w)/2:y=h-text_h-12"
fi
video=(-c:v libx264 -preset ultrafast -tune zerolatency -profile:v baseline -pix_fmt yuv420p -bf 0 -sc_threshold 0 -b:v 300k)

case "$mode" in
  parts)
    seconds=${3:-60}
    [[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -ge 20 ] || die "SECONDS must be a whole number, at least 20"
    rm -f "$out"/p*.m4s "$out/parts.m3u8" "$out/init.mp4"
    ffmpeg -hide_banner -nostdin -loglevel error -y \
      -f lavfi -i "testsrc2=size=320x180:rate=$fps:duration=$seconds" \
      -vf "format=yuv420p$stamp" "${video[@]}" -g 10 -keyint_min 10 \
      -f hls -hls_time 0.333 -hls_playlist_type vod -hls_segment_type fmp4 \
      -hls_fmp4_init_filename init.mp4 -hls_segment_filename "$out/p%05d.m4s" \
      "$out/parts.m3u8"
    [ -s "$out/init.mp4" ] && [ -s "$out/p00000.m4s" ] || die "ffmpeg did not write the parts"
    ;;
  window)
    seconds=${3:?usage: live-source.sh window OUT_DIR SECONDS}
    [[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] || die "SECONDS must be a whole number"
    rm -f "$out"/seg*.ts "$out"/*.m3u8
    # -re: in real time, as a live encoder would. temp_file: a segment
    # appears under its name only once complete.
    exec ffmpeg -hide_banner -nostdin -loglevel error -y -re \
      -f lavfi -i "testsrc2=size=320x180:rate=$fps:duration=$seconds" \
      -vf "format=yuv420p$stamp" "${video[@]}" -g $((fps * 2)) -keyint_min $((fps * 2)) \
      -f hls -hls_time 2 -hls_list_size 6 -hls_flags delete_segments+temp_file+independent_segments \
      -hls_segment_filename "$out/seg%05d.ts" -master_pl_name master.m3u8 \
      "$out/index.m3u8"
    ;;
  *) die "unknown mode $mode (parts or window)" ;;
esac
