#!/usr/bin/env bash
# Signs a sample URL with the development key, then asks the verifier what
# CloudFront would say about it, its tampered twin and an expired copy.
set -euo pipefail
bin=${1:?usage: demo.sh HLS_SIGN_BINARY DEV_DIR}
dev=${2:?usage: demo.sh HLS_SIGN_BINARY DEV_DIR}
[ -x "$bin" ] || { echo "demo.sh: $bin is not executable" >&2; exit 2; }
[ -f "$dev/private.pem" ] || { echo "demo.sh: $dev/private.pem missing" >&2; exit 2; }

host=https://d111111abcdef8.cloudfront.net
kid=KDEVELOPMENT
now=$(date +%s)

echo "== signed master playlist URL (custom policy over /videos/*, 1 hour)"
url=$("$bin" url "$host/videos/index._m3u8" --key "$dev/private.pem" --key-pair-id "$kid" \
  --ttl 3600 --resource "$host/videos/*")
echo "$url"
echo
echo "== what CloudFront would say"
"$bin" verify "$url" --public-key "$kid=$dev/public.pem"
echo
echo "== the same URL for another folder (expect AccessDenied)"
"$bin" verify "${url/\/videos\//\/private\/}" --public-key "$kid=$dev/public.pem" || true
echo
echo "== the same URL two hours from now (expect AccessDenied: expired)"
"$bin" verify "$url" --public-key "$kid=$dev/public.pem" --now $((now + 7200)) || true
