#!/usr/bin/env bash
# Runs the original per-line Node.js signer on the playlists the rewrite
# bench wrote into DIR, writing DIR/node-N.json for bench/report.py.
# Skipped (with a reason) when Node.js is not installed.
set -euo pipefail
dir=${1:?usage: node-baseline.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node baseline skipped: node/npm not installed" >&2
  exit 0
fi
[ -d "$here/node/node_modules/@aws-sdk/cloudfront-signer" ] \
  || npm ci --prefix "$here/node" --no-audit --no-fund --silent
# 10000 segments would take ~15 s per rewrite in the baseline: stop at 1000.
for n in 10 100 1000; do
  node "$here/node/seed-baseline.js" "$dir/media-$n.m3u8" "$dir/key.pem" \
    https://d111111abcdef8.cloudfront.net/videos/bench 3 > "$dir/node-$n.json"
done
