#!/usr/bin/env bash
# Bounded load on the deployed chain, loopback only: the emulator (CloudFront's
# check) in front of the template's CloudFront Function (node) and the
# function (in the emulator's process, through the function-URL adapter),
# which fetches each playlist back through the emulator. wrk runs for a fixed
# time per kind: signed segments, a signed 16-byte key, signed master
# playlists rewritten by the function. The emulator's and the CloudFront
# Function runner's RSS are read before and after. Writes OUT_DIR/load.json
# for bench/report.py. Skipped (with a reason) without wrk or node.
set -euo pipefail
bin=${1:?usage: load.sh HLS_SIGN_BINARY OUT_DIR}
out=${2:?usage: load.sh HLS_SIGN_BINARY OUT_DIR}
seconds=${LOAD_SECONDS:-5}
here=$(cd "$(dirname "$0")" && pwd)
for tool in wrk node; do
  if ! command -v "$tool" >/dev/null; then
    echo "load run skipped: $tool not installed" >&2
    exit 0
  fi
done
mkdir -p "$out"
[ -f "$out/load-key.pem" ] || "$bin" keygen --private-out "$out/load-key.pem" --public-out "$out/load-key.pub.pem" --force 2>/dev/null
log="$out/load-emulator.log"
"$bin" serve --listen 127.0.0.1:0 --origin events/origin \
  --key "$out/load-key.pem" --key-pair-id KLOAD > "$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$log" && break
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$log" | head -n1)
[ -n "$base" ] || { echo "load.sh: emulator did not start" >&2; cat "$log" >&2; exit 1; }
rss_kib() {  # the emulator's and its node runner's resident memory
  local total=0 pid
  for pid in "$server" $(pgrep -P "$server" || true); do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
signed() {
  python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["url"])' \
    "$base/dev/sign?path=$1"
}
segment=$(signed /sample/360p/segment-000.ts)
key=$(signed /sample/keys/sample.key)
manifest=$(signed /sample/index._m3u8)
curl -sf -o /dev/null "$manifest" || { echo "load.sh: the chain does not answer" >&2; exit 1; }
rss_before=$(rss_kib)
run() {
  wrk -t2 -c32 -d"${seconds}s" --latency -s "$here/load.lua" "$1" \
    | tee "$out/load-$2.txt" | grep '^LOAD\|Requests/sec'
}
echo "load: signed segments (${seconds} s, 32 connections)"
run "$segment" segment
echo "load: signed AES key, 16 bytes (${seconds} s, 32 connections)"
run "$key" key
echo "load: signed master playlists through the CloudFront Function and the function (${seconds} s, 32 connections)"
run "$manifest" manifest
rss_after=$(rss_kib)
python3 - "$out" "$rss_before" "$rss_after" <<'PY'
import json, re, sys, pathlib
out = pathlib.Path(sys.argv[1])
result = {"rss_before_mib": int(sys.argv[2]) / 1024, "rss_after_mib": int(sys.argv[3]) / 1024}
for kind in ("segment", "key", "manifest"):
    text = (out / f"load-{kind}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"LOAD requests=(\d+) errors_status=(\d+) errors_socket=(\d+) p50_us=(\d+) p99_us=(\d+)", text)
    assert m, f"no summary in load-{kind}.txt"
    result[kind] = {"rps": rps, "requests": int(m.group(1)),
                    "errors": int(m.group(2)) + int(m.group(3)),
                    "p50_ms": int(m.group(4)) / 1000, "p99_ms": int(m.group(5)) / 1000}
(out / "load.json").write_text(json.dumps(result))
print(json.dumps(result))
PY
