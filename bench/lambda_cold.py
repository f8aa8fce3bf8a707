#!/usr/bin/env python3
"""Cold start, peak memory and warm request time of the real Lambda binary.

Starts `hls-edge-signer` (the bootstrap) against a minimal Lambda Runtime API
served here on loopback, with a loopback HTTP origin holding the bench's
1000-segment playlist and a key from a file (no network, no AWS), and feeds
it the deployed path's events: function-URL requests as CloudFront sends
them after the CloudFront Function (the viewer's grant in
x-hls-viewer-grant, the host in x-hls-viewer-host). Measures:
- init: process start -> first poll for an event (ready to serve),
- cold: process start -> first response posted (init, including the key
  load and AWS-LC's one-time random-generator seeding, + first invocation),
- warm: per-invocation time over the following events,
- peak RSS of the bootstrap process (VmHWM, over every run).
Writes OUT/lambda.json.

usage: lambda_cold.py BOOTSTRAP HLS_SIGN KEY_PEM PLAYLIST_DIR OUT [RUNS]
"""
import http.server
import json
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time

bootstrap, hls_sign, key, playlists, out = sys.argv[1:6]
runs = int(sys.argv[6]) if len(sys.argv) > 6 else 5
HOST = "d111111abcdef8.cloudfront.net"
PLAYLIST = "/media-1000._m3u8"
# The viewer's grant, as the application signs it: canned, for the playlist.
GRANT = subprocess.run(
    [hls_sign, "url", f"https://{HOST}{PLAYLIST}", "--key", key, "--key-pair-id", "KBENCH",
     "--ttl", "7200"],
    check=True, capture_output=True, text=True).stdout.strip().split("?", 1)[1]
WARM_EVENTS = 200


class Origin(http.server.SimpleHTTPRequestHandler):
    # Headers and body go out in separate writes: without this, Nagle's
    # algorithm and delayed ACKs add ~40 ms to each exchange.
    disable_nagle_algorithm = True

    def __init__(self, *a, **k):
        super().__init__(*a, directory=playlists, **k)

    def end_headers(self):
        # As `make upload` stores playlists: a short lifetime at the origin.
        self.send_header("Cache-Control", "max-age=10")
        super().end_headers()

    def log_message(self, *a):
        pass


def event(n):
    return json.dumps({
        "version": "2.0", "routeKey": "$default", "rawPath": PLAYLIST, "rawQueryString": "",
        "headers": {"x-hls-viewer-host": HOST, "x-hls-viewer-grant": GRANT,
                    "cloudfront-viewer-address": "203.0.113.9:40000",
                    "host": "bench.lambda-url.us-east-1.on.aws"},
        "requestContext": {"accountId": "anonymous", "apiId": "bench",
                           "domainName": "bench.lambda-url.us-east-1.on.aws",
                           "domainPrefix": "bench",
                           "http": {"method": "GET", "path": PLAYLIST, "protocol": "HTTP/1.1",
                                    "sourceIp": "130.176.0.1", "userAgent": "Amazon CloudFront"},
                           "requestId": f"bench-{n}", "routeKey": "$default", "stage": "$default",
                           "time": "", "timeEpoch": 0},
        "isBase64Encoded": False})


class Runtime(http.server.BaseHTTPRequestHandler):
    """The three Runtime API calls the bootstrap makes."""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def do_GET(self):  # /2018-06-01/runtime/invocation/next
        state = self.server.state
        n = state["served"]
        state.setdefault("first_poll", time.perf_counter())
        if n >= state["limit"]:
            time.sleep(30)  # no more work; the process is killed
            return
        state["served"] += 1
        body = event(n).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{n}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:000000000000:function:bench")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # .../response or .../error
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        state = self.server.state
        state["times"].append(time.perf_counter())
        if "/error" in self.path:
            state["errors"].append(payload.decode(errors="replace"))
        else:
            # A byte search, not a JSON parse: parsing the 600 KB response
            # here would be timed as the function's own work.
            if b'"statusCode":200' not in payload:
                state["errors"].append(payload[:200].decode(errors="replace"))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if len(state["times"]) >= state["limit"]:
            state["done"].set()


def serve(handler, state=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.state = state
    server.handle_error = lambda *args: None  # killed bootstrap: reset connections
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def one_run(origin_port, limit):
    state = {"served": 0, "limit": limit, "times": [], "errors": [], "done": threading.Event()}
    runtime = serve(Runtime, state)
    env = dict(os.environ,
               AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{runtime.server_address[1]}",
               AWS_LAMBDA_FUNCTION_NAME="bench", AWS_LAMBDA_FUNCTION_VERSION="1",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
               HLS_KEY_FILE=key, HLS_KEY_PAIR_ID="KBENCH",
               HLS_ORIGIN=f"http://127.0.0.1:{origin_port}")
    start = time.perf_counter()
    process = subprocess.Popen([bootstrap], env=env, stdout=open(os.environ.get("LAMBDA_LOG", os.devnull), "w"),
                               stderr=subprocess.PIPE)
    finished = state["done"].wait(60)
    peak_kib = vm_hwm_kib(process.pid)
    process.kill()
    _, stderr = process.communicate()
    runtime.shutdown()
    if not finished or state["errors"]:
        sys.exit(f"lambda bench failed: {state['errors'][:3]} {stderr.decode()[-500:]}")
    times = state["times"]
    warm = [b - a for a, b in zip(times, times[1:])]
    return state["first_poll"] - start, times[0] - start, warm, peak_kib


def vm_hwm_kib(pid):
    """The process's peak resident memory so far (Linux VmHWM)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    origin = serve(Origin)
    port = origin.server_address[1]
    inits, colds, peaks = [], [], []
    for _ in range(runs):
        init, cold, _, peak = one_run(port, 1)
        inits.append(init)
        colds.append(cold)
        peaks.append(peak)
    _, _, warms, peak = one_run(port, WARM_EVENTS)
    peaks.append(peak)
    peak_kib = max(peaks)
    result = {
        "init_ms": statistics.median(inits) * 1000,
        "cold_ms": statistics.median(colds) * 1000,
        "warm_ms": statistics.median(warms) * 1000,
        "warm_p99_ms": sorted(warms)[int(len(warms) * 0.99) - 1] * 1000,
        "peak_rss_mib": peak_kib / 1024,
        "runs": runs,
        "warm_events": WARM_EVENTS,
    }
    pathlib.Path(out, "lambda.json").write_text(json.dumps(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
