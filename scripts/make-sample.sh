#!/usr/bin/env bash
# Generates a short AES-128 encrypted HLS sample from ffmpeg's built-in test
# sources (no external media): 8 seconds, two renditions, 2-second MPEG-TS
# segments, a master playlist, VOD.
#
#   events/origin/sample/index.m3u8          master playlist (BANDWIDTH, RESOLUTION, CODECS)
#   events/origin/sample/360p/index.m3u8     640x360, H.264 main, ~600 kbit/s + AAC
#   events/origin/sample/360p/segment-000.ts ...
#   events/origin/sample/240p/index.m3u8     426x240, H.264 baseline, ~250 kbit/s + AAC
#   events/origin/sample/240p/segment-000.ts ...
#   events/origin/sample/keys/sample.key     the 16-byte content key
#
# The media playlists name the key with a relative URI (../keys/sample.key), so
# the sample plays from any plain HTTP server and the signing function has a
# key URI to rewrite.
#
# With SAMPLE_FORMAT=dash, the same pictures and sound as clear DASH instead
# (ffmpeg's dash muxer: fragmented MP4, one SegmentTemplate per
# Representation, 2-second segments, a static MPD):
#
#   events/origin/sample-dash/stream.mpd                          the MPD
#   events/origin/sample-dash/init-0.m4s, chunk-0-00001.m4s ...   360p video
#   events/origin/sample-dash/init-1.m4s, chunk-1-00001.m4s ...   240p video
#   events/origin/sample-dash/init-2.m4s, chunk-2-00001.m4s ...   AAC audio
#
# Environment:
#   SAMPLE_FORMAT   hls (default) or dash
#   SAMPLE_KEY_HEX  32 hex digits: use this key instead of a random one
#                   (with it, the key and playlists are the same on every run)
#   SAMPLE_OUT      output directory (default: events/origin/sample, or
#                   events/origin/sample-dash, beside this script's repo)
set -euo pipefail

die() { echo "make-sample.sh: $*" >&2; exit 2; }

command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg is not installed (Debian: apt-get install ffmpeg)"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
format=${SAMPLE_FORMAT:-hls}
case $format in
  hls) out=${SAMPLE_OUT:-$repo/events/origin/sample} ;;
  dash) out=${SAMPLE_OUT:-$repo/events/origin/sample-dash} ;;
  *) die "SAMPLE_FORMAT must be hls or dash, not '$format'" ;;
esac
duration=8
segment=2
fps=25
max_bytes=$((2 * 1024 * 1024))

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"

if [ "$format" = hls ]; then
  # The content key: fixed when given, random otherwise.
  if [ -n "${SAMPLE_KEY_HEX:-}" ]; then
    key_hex=$SAMPLE_KEY_HEX
  else
    command -v openssl >/dev/null 2>&1 || die "openssl is not installed; install it or set SAMPLE_KEY_HEX"
    key_hex=$(openssl rand -hex 16)
  fi
  key_hex=$(printf '%s' "$key_hex" | tr 'A-F' 'a-f')
  [[ $key_hex =~ ^[0-9a-f]{32}$ ]] || die "SAMPLE_KEY_HEX must be exactly 32 hex digits"
  mkdir -p "$out/keys"
  printf '%b' "$(printf '%s' "$key_hex" | sed 's/../\\x&/g')" > "$out/keys/sample.key"
  [ "$(wc -c < "$out/keys/sample.key")" -eq 16 ] || die "could not write a 16-byte key"

  # hls_key_info_file: the URI written into the playlists and the key file
  # ffmpeg reads. With no IV line, ffmpeg takes the first media sequence
  # number (0) as the IV, writes it as IV=0x0...0 and uses it for every
  # segment.
  printf '%s\n%s\n' ../keys/sample.key "$out/keys/sample.key" > "$work/key.info"
fi

# A moving test pattern with the playback time burnt in, and each rendition's
# name, so a screenshot shows what is playing. Plain testsrc2 when ffmpeg has
# no drawtext filter.
font=""
for f in /usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf \
         /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf; do
  if [ -f "$f" ]; then font="fontfile=$f:"; break; fi
done
filters=$(ffmpeg -hide_banner -filters 2>/dev/null || true)
if grep -qw drawtext <<<"$filters"; then
  text() { # text TEXT SIZE X Y
    printf "drawtext=%stext='%s':fontsize=%s:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6:x=%s:y=%s" \
      "$font" "$1" "$2" "$3" "$4"
  }
  stamp=",$(text 'hls-edge-signer sample  %{pts\:hms}' 24 '(w-text_w)/2' 'h-text_h-20')"
  label360=",$(text '360p' 20 'w-text_w-12' 12)"
  label240=",$(text '240p' 14 'w-text_w-8' 8)"
else
  echo "make-sample.sh: ffmpeg has no drawtext filter; plain test pattern" >&2
  stamp="" label360="" label240=""
fi

filter="[0:v]format=yuv420p${stamp},split=2[a][b];"
filter+="[a]null${label360}[v360];"
filter+="[b]scale=426:240${label240}[v240];"
# No B-frames (-bf 0 below): their reordering delay would start the video
# 80 ms after its first decode time, another hole at the start.
# The AAC encoder's priming (1024 samples) would start the audio 21 ms before
# the video, a hole at the start that players seek over; start it 1024
# samples late instead, so both tracks begin together.
# HLS muxes audio into each rendition; DASH has one audio Representation.
if [ "$format" = hls ]; then
  filter+="[1:a]asetpts=PTS+1024/(SR*TB),asplit=2[a360][a240]"
else
  # Ending with the video: a player or ffmpeg asks for as many audio
  # segments as the presentation lasts.
  filter+="[1:a]asetpts=PTS+1024/(SR*TB),atrim=end=$duration[a360]"
fi

cmd=(ffmpeg -hide_banner -nostdin -loglevel error -y
  -f lavfi -i "testsrc2=size=640x360:rate=$fps:duration=$duration"
  -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=$duration"
  -filter_complex "$filter"
  -map "[v360]" -map "[v240]" -map "[a360]")
[ "$format" = hls ] && cmd+=(-map "[a240]")
cmd+=(
  -c:v libx264 -preset veryfast -pix_fmt yuv420p
  -g $((fps * segment)) -keyint_min $((fps * segment)) -sc_threshold 0 -bf 0
  -profile:v:0 main -level:v:0 3.0 -b:v:0 600k -maxrate:v:0 660k -bufsize:v:0 1200k
  -profile:v:1 baseline -level:v:1 3.0 -b:v:1 250k -maxrate:v:1 275k -bufsize:v:1 500k
  -c:a aac -b:a 64k -ac 2 -ar 48000)

if [ "$format" = dash ]; then
  cmd+=(-f dash -seg_duration "$segment" -use_template 1 -use_timeline 0
    -init_seg_name 'init-$RepresentationID$.m4s'
    -media_seg_name 'chunk-$RepresentationID$-$Number%05d$.m4s'
    -adaptation_sets "id=0,streams=v id=1,streams=a"
    "$out/stream.mpd")
  "${cmd[@]}"
  for f in stream.mpd init-0.m4s init-2.m4s chunk-0-00001.m4s chunk-2-00001.m4s; do
    [ -s "$out/$f" ] || die "ffmpeg did not write $out/$f"
  done
  grep -q 'type="static"' "$out/stream.mpd" || die "stream.mpd is not a static MPD"
  bytes=$(du -sb "$out" | cut -f1)
  [ "$bytes" -le "$max_bytes" ] || die "sample is $bytes bytes, more than $max_bytes"
  echo "make-sample.sh: wrote $out ($bytes bytes)"
  exit 0
fi

cmd+=(
  -f hls -hls_time "$segment" -hls_list_size 0 -hls_playlist_type vod
  -hls_segment_type mpegts -hls_flags independent_segments
  -hls_key_info_file "$work/key.info"
  -hls_segment_filename "$out/%v/segment-%03d.ts"
  -master_pl_name index.m3u8
  -var_stream_map "v:0,a:0,name:360p v:1,a:1,name:240p"
  "$out/%v/index.m3u8")

"${cmd[@]}"

for f in index.m3u8 360p/index.m3u8 240p/index.m3u8 360p/segment-000.ts 240p/segment-000.ts; do
  [ -s "$out/$f" ] || die "ffmpeg did not write $out/$f"
done
grep -q '^#EXT-X-ENDLIST' "$out/360p/index.m3u8" || die "360p/index.m3u8 is not a VOD playlist"
grep -q 'URI="../keys/sample.key"' "$out/360p/index.m3u8" || die "360p/index.m3u8 has no relative key URI"

bytes=$(du -sb "$out" | cut -f1)
[ "$bytes" -le "$max_bytes" ] || die "sample is $bytes bytes, more than $max_bytes"

echo "make-sample.sh: wrote $out ($bytes bytes)"
