-- wrk-bench.lua -- one request shape for wrk: BENCH_METHOD (GET, POST), BENCH_BODY (a file, for POST); prints one JSON line when done.
-- The path and query come from wrk's URL. No response() hook: it would cost wrk a Lua call and
-- a header table per answer; wrk counts answers >= 400 in errors.status by itself.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body_path = os.getenv("BENCH_BODY")
if body_path and body_path ~= "" then
  local file = assert(io.open(body_path, "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  io.write(string.format(
    '\nRESULT {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"timeouts":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
