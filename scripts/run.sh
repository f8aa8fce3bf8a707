#!/usr/bin/env bash
# `make run`: the local CloudFront emulator on the sample stream, with the
# development key pair. Prints the player page and a signed master URL;
# Ctrl-C stops it.
set -euo pipefail
bin=${1:?usage: run.sh HLS_SIGN_BINARY DEV_DIR [LISTEN]}
dev=${2:?usage: run.sh HLS_SIGN_BINARY DEV_DIR [LISTEN]}
listen=${3:-127.0.0.1:8080}
[ -x "$bin" ] || { echo "run.sh: $bin is not executable" >&2; exit 2; }
[ -f "$dev/private.pem" ] || { echo "run.sh: $dev/private.pem missing" >&2; exit 2; }
kid=KDEVELOPMENT

# The deployed chain (CloudFront Function in node, function URL); without
# node, the Lambda@Edge viewer-request path instead.
trigger=function-url
if ! command -v node >/dev/null; then
  echo "note: node not found; the CloudFront Function cannot run, so the emulator uses the viewer-request trigger" >&2
  trigger=viewer-request
fi
# The live sample: an LL-HLS origin on loopback over fMP4 parts that ffmpeg
# makes once (kept in the dev folder); without ffmpeg, VOD only.
live_args=()
live_pid=""
live_log=$(mktemp)
if command -v ffmpeg >/dev/null; then
  [ -f "$dev/live/parts.m3u8" ] || scripts/live-source.sh parts "$dev/live" 60
  "$bin" live-origin --source "$dev/live" --listen 127.0.0.1:0 > "$live_log" 2>&1 &
  live_pid=$!
  for _ in $(seq 1 50); do
    grep -q '^listening on ' "$live_log" && break
    sleep 0.1
  done
  live_url=$(sed -n 's/^listening on //p' "$live_log" | head -n1)
  [ -n "$live_url" ] || { cat "$live_log" >&2; exit 1; }
  live_args=(--live-origin "${live_url%/live/ll/master.m3u8}" --live-prefix /live/)
else
  echo "note: ffmpeg not found; the live sample is left out" >&2
fi

log=$(mktemp)
"$bin" serve --listen "$listen" --origin events/origin --trigger "$trigger" \
  --key "$dev/private.pem" --key-pair-id "$kid" "${live_args[@]}" > "$log" 2>&1 &
server=$!
trap 'kill "$server" $live_pid 2>/dev/null; rm -f "$log" "$live_log"' EXIT INT TERM

# Bounded wait for the emulator to listen.
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$log" | head -n1)
[ -n "$base" ] || { echo "run.sh: the emulator did not start" >&2; cat "$log" >&2; exit 1; }

master=$(python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["url"])' \
  "$base/dev/sign?path=/sample/index._m3u8")
cat <<INFO

  local CloudFront emulator with the function behind it ($trigger): $base

  player (hls.js):      $base/
  with signed cookies:  $base/?grant=cookies
  DASH (dash.js):       $base/?path=/sample-dash/stream._mpd
  DASH (Shaka):         $base/?path=/sample-dash/stream._mpd&player=shaka
  live LL-HLS (hls.js): $base/?path=/live/ll/master._m3u8
  signed master URL:    $master

  try:  ffmpeg -i '$master' -f null -
        curl -i '$base/sample/index._m3u8'            # unsigned: 403 MissingKey

  access log follows; Ctrl-C stops.

INFO
tail -n +2 -f "$log" &
wait "$server"
