-- Summary line for bench/load.sh: requests, non-2xx answers and latency
-- percentiles of one bounded wrk run.
function done(summary, latency, requests)
  io.write(string.format("LOAD requests=%d errors_status=%d p50_us=%d p99_us=%d duration_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99),
    summary.duration))
end
