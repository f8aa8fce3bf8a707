#!/usr/bin/env python3
"""Live reloads through the chain: `hls-sign live-origin` (LL-HLS, 1 s
segments of three 1/3 s parts) behind `hls-sign serve` (the template's
CloudFront Function, the live behaviours, the function in process, release
build). For each shape, RELOADS playlist reloads of a part already published
(`_HLS_msn`/`_HLS_part` of the live edge, so nothing blocks) are timed
through the chain and straight at the origin; the difference is what the
function adds per reload. Bytes per reload are the rewritten playlist, raw
and gzip. Prints one table and writes OUT/live.json.

usage: live.py HLS_SIGN PARTS_DIR KEY_PEM OUT [RELOADS]
"""
import gzip
import json
import pathlib
import re
import statistics
import subprocess
import sys
import time
import urllib.request

hls_sign, parts, key, out = sys.argv[1:5]
reloads = int(sys.argv[5]) if len(sys.argv) > 5 else 200


def start(args):
    proc = subprocess.Popen([hls_sign, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for _ in range(100):
        line = proc.stdout.readline()
        if line.startswith("listening on "):
            return proc, line.split(" ", 2)[2].strip()
    proc.kill()
    sys.exit(f"live.py: {args[0]} did not start")


def get(url):
    start_s = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    return time.perf_counter() - start_s, body


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


results = {}
for name, window in (("6 s window", 6), ("LL-HLS 12 s window", 12)):
    origin, master = start(["live-origin", "--source", parts, "--listen", "127.0.0.1:0", "--window", str(window)])
    base = master.rsplit("/live/ll/", 1)[0]
    emulator, front = start(["serve", "--listen", "127.0.0.1:0", "--key", key, "--key-pair-id", "KBENCH",
                             "--live-origin", base, "--live-prefix", "/live/"])
    try:
        signed = json.loads(get(f"{front}/dev/sign?path=/live/ll/master._m3u8")[1])["url"]
        child = re.search(r"^a/index\._m3u8\?\S+", get(signed)[1].decode(), re.M).group(0)
        child_url = f"{front}/live/ll/{child}"
        direct, chain, sizes, gz = [], [], [], []
        for _ in range(reloads):
            playlist = get(f"{base}/live/ll/a/index.m3u8")[1].decode()
            msn, part = map(int, re.search(r'LAST-MSN=(\d+),LAST-PART=(\d+)', playlist).groups())
            query = f"_HLS_msn={msn}&_HLS_part={part}"
            t, _ = get(f"{base}/live/ll/a/index.m3u8?{query}")
            direct.append(t)
            t, body = get(f"{child_url}&{query}")
            chain.append(t)
            sizes.append(len(body))
            gz.append(len(gzip.compress(body, 6)))
        added = [c - d for c, d in zip(chain, direct)]
        results[name] = {
            "reloads": reloads,
            "origin_p50_ms": percentile(direct, 0.5) * 1000,
            "chain_p50_ms": percentile(chain, 0.5) * 1000,
            "chain_p99_ms": percentile(chain, 0.99) * 1000,
            "added_p50_ms": percentile(added, 0.5) * 1000,
            "added_p99_ms": percentile(added, 0.99) * 1000,
            "raw_bytes": statistics.median(sizes),
            "gzip_bytes": statistics.median(gz),
        }
    finally:
        emulator.kill()
        origin.kill()

pathlib.Path(out).mkdir(parents=True, exist_ok=True)
pathlib.Path(out, "live.json").write_text(json.dumps(results))
print(f"{'live reload (through the chain)':32} {'added p50':>10} {'added p99':>10} {'chain p50':>10} {'chain p99':>10} {'raw':>8} {'gzip':>7}")
for name, r in results.items():
    print(f"{name:32} {r['added_p50_ms']:8.2f}ms {r['added_p99_ms']:8.2f}ms {r['chain_p50_ms']:8.2f}ms "
          f"{r['chain_p99_ms']:8.2f}ms {r['raw_bytes'] / 1024:6.1f}KB {r['gzip_bytes'] / 1024:5.1f}KB")
