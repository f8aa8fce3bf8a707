#!/usr/bin/env python3
"""Cold start, peak memory and warm request time of the real Lambda binary.

Starts `hls-edge-signer` (the bootstrap) against a minimal Lambda Runtime API
served here on loopback, with a loopback HTTP origin holding the bench's
1000-segment playlist (an origin-request event: its 1 MB limit fits the rewritten playlist) and a key from a file (no network, no AWS). Measures:
- init: process start -> first poll for an event (ready to serve),
- cold: process start -> first response posted (init, including the key
  load and AWS-LC's one-time random-generator seeding, + first invocation),
- warm: per-invocation time over the following events,
- peak RSS of the process.
Writes OUT/lambda.json.

usage: lambda_cold.py BOOTSTRAP KEY_PEM PLAYLIST_DIR OUT [RUNS]
"""
import http.server
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import threading
import time

bootstrap, key, playlists, out = sys.argv[1:5]
runs = int(sys.argv[5]) if len(sys.argv) > 5 else 5
WARM_EVENTS = 200


class Origin(http.server.SimpleHTTPRequestHandler):
    # Headers and body go out in separate writes: without this, Nagle's
    # algorithm and delayed ACKs add ~40 ms to each exchange.
    disable_nagle_algorithm = True

    def __init__(self, *a, **k):
        super().__init__(*a, directory=playlists, **k)

    def log_message(self, *a):
        pass


def event(n):
    return json.dumps({"Records": [{"cf": {
        "config": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
                   "distributionId": "EBENCH", "eventType": "origin-request",
                   "requestId": f"bench-{n}"},
        "request": {"clientIp": "203.0.113.9", "method": "GET",
                    "uri": "/media-1000._m3u8", "querystring": "",
                    "headers": {"accept-encoding": [{"key": "Accept-Encoding", "value": "gzip"}], "host": [{"key": "Host",
                                          "value": "d111111abcdef8.cloudfront.net"}]}}}}]})


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
            status = json.loads(payload).get("status")
            if status != "200":
                state["errors"].append(f"status {status}")
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
    process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    finished = state["done"].wait(60)
    process.kill()
    _, stderr = process.communicate()
    runtime.shutdown()
    if not finished or state["errors"]:
        sys.exit(f"lambda bench failed: {state['errors'][:3]} {stderr.decode()[-500:]}")
    times = state["times"]
    warm = [b - a for a, b in zip(times, times[1:])]
    return state["first_poll"] - start, times[0] - start, warm


def main():
    origin = serve(Origin)
    port = origin.server_address[1]
    inits, colds = [], []
    for _ in range(runs):
        init, cold, _ = one_run(port, 1)
        inits.append(init)
        colds.append(cold)
    _, _, warms = one_run(port, WARM_EVENTS)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
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
