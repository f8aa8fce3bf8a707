#!/usr/bin/env python3
"""`hls-sign manifest` as a whole process on the 1000-segment playlist:
start, key load, first signatures, rewrite, exit — what a packaging script
pays per call. Median and p90 of RUNS runs per mode; writes OUT/manifest.json.

usage: manifest_process.py HLS_SIGN KEY_PEM PLAYLIST OUT [RUNS]
"""
import json
import pathlib
import statistics
import subprocess
import sys
import time

hls_sign, key, playlist, out = sys.argv[1:5]
runs = int(sys.argv[5]) if len(sys.argv) > 5 else 30
result = {}
for mode in ("wildcard", "canned", "directory"):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [hls_sign, "manifest", "--url",
             "https://d111111abcdef8.cloudfront.net/videos/bench/index._m3u8",
             "--key", key, "--key-pair-id", "KBENCH", "--ttl", "3600", "--mode", mode,
             playlist],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    times.sort()
    result[mode] = {"median_ms": statistics.median(times) * 1000,
                    "p90_ms": times[int(len(times) * 0.9) - 1] * 1000, "runs": runs}
pathlib.Path(out, "manifest.json").write_text(json.dumps(result))
print(json.dumps(result))
