-- Summary line for bench/load.sh: requests, failed answers (non-2xx, and
-- connect/read/write/timeout errors) and latency percentiles of one bounded
-- wrk run.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOAD requests=%d errors_status=%d errors_socket=%d p50_us=%d p99_us=%d duration_us=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
