#!/usr/bin/env bash
# Uploads an HLS (or DASH) stream directory to the media bucket with the
# content types players expect. Objects are encrypted by the bucket's default
# SSE-KMS key; the caller needs s3:PutObject on the bucket and
# kms:GenerateDataKey on that key.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/upload.sh DIR BUCKET [PREFIX]

  DIR     local directory holding the stream (playlists, segments, keys)
  BUCKET  the stack's BucketName output
  PREFIX  key prefix in the bucket, e.g. videos/intro (default: none)

Environment:
  PLAYLIST_CACHE_CONTROL  Cache-Control for playlists (default: max-age=10)
  MEDIA_CACHE_CONTROL     Cache-Control for everything else (default: max-age=86400)
  AWS_REGION / AWS_PROFILE as for the AWS CLI
EOF
  exit 2
}

die() { echo "upload.sh: $*" >&2; exit 2; }

case "${1:-}" in -h|--help|"") usage ;; esac
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
dir=$1
bucket=$2
prefix=${3:-}
[ -d "$dir" ] || die "$dir is not a directory"
case "$bucket" in
  s3://*) bucket=${bucket#s3://} ;;
esac
case "$bucket" in
  ""|*/*|*[!a-z0-9.-]*) die "invalid bucket name: $bucket" ;;
esac
prefix=${prefix#/}
prefix=${prefix%/}
command -v aws >/dev/null || die "the AWS CLI is required but not installed"

dest="s3://$bucket${prefix:+/$prefix}"
playlist_cc=${PLAYLIST_CACHE_CONTROL:-max-age=10}
media_cc=${MEDIA_CACHE_CONTROL:-max-age=86400}

# extension  content type  (.ts is a common victim of guessed types)
types=(
  "m3u8 application/vnd.apple.mpegurl"
  "mpd application/dash+xml"
  "ts video/mp2t"
  "m4s video/iso.segment"
  "mp4 video/mp4"
  "m4v video/mp4"
  "m4a audio/mp4"
  "aac audio/aac"
  "key application/octet-stream"
  "vtt text/vtt"
  "webvtt text/vtt"
)

rest_excludes=()
for entry in "${types[@]}"; do
  ext=${entry%% *}
  type=${entry#* }
  cache=$media_cc
  case "$ext" in m3u8|mpd) cache=$playlist_cc ;; esac
  aws s3 sync "$dir" "$dest" --only-show-errors \
    --exclude "*" --include "*.$ext" \
    --content-type "$type" --cache-control "$cache"
  rest_excludes+=(--exclude "*.$ext")
done

# Everything else (thumbnails, init files with other names) with guessed
# types; dot files (.DS_Store and the like) stay behind.
aws s3 sync "$dir" "$dest" --only-show-errors "${rest_excludes[@]}" \
  --exclude ".*" --exclude "*/.*" --cache-control "$media_cc"

echo "Uploaded $dir to $dest" >&2
