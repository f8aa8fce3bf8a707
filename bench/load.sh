#!/usr/bin/env bash
# Bounded load on the local CloudFront emulator (loopback only): signed
# segment requests and signed manifest requests, 5 seconds of each from 32
# connections (wrk runs for a fixed time; the request counts are reported).
# Writes OUT_DIR/load.json for bench/report.py. Skipped (with a reason)
# without wrk.
set -euo pipefail
bin=${1:?usage: load.sh HLS_SIGN_BINARY OUT_DIR}
out=${2:?usage: load.sh HLS_SIGN_BINARY OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v wrk >/dev/null; then
  echo "load run skipped: wrk not installed" >&2
  exit 0
fi
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
[ -n "$base" ] || { echo "load.sh: emulator did not start" >&2; exit 1; }
signed() {
  python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["url"])' \
    "$base/dev/sign?path=$1"
}
segment=$(signed /sample/360p/segment-000.ts)
key=$(signed /sample/keys/sample.key)
manifest=$(signed /sample/360p/index._m3u8)
run() {
  wrk -t2 -c32 -d5s --latency -s "$here/load.lua" "$1" \
    | tee "$out/load-$2.txt" | grep '^LOAD\|Requests/sec'
}
echo "load: signed segments (5 s, 32 connections)"
run "$segment" segment
echo "load: signed AES key, 16 bytes (5 s, 32 connections)"
run "$key" key
echo "load: signed manifests (5 s, 32 connections)"
run "$manifest" manifest
python3 - "$out" <<'PY'
import json, re, sys, pathlib
out = pathlib.Path(sys.argv[1])
result = {}
for kind in ("segment", "key", "manifest"):
    text = (out / f"load-{kind}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"LOAD requests=(\d+) errors_status=(\d+) p50_us=(\d+) p99_us=(\d+)", text)
    assert m, f"no summary in load-{kind}.txt"
    result[kind] = {"rps": rps, "bytes": None, "requests": int(m.group(1)), "errors": int(m.group(2)),
                    "p50_ms": int(m.group(3)) / 1000, "p99_ms": int(m.group(4)) / 1000}
(out / "load.json").write_text(json.dumps(result))
PY
