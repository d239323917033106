-- wrk script for bench/proxy.sh: POSTs a small chat request; the model comes from the first
-- script argument (wrk ... -s chat.lua URL -- MODEL). Prints one machine-readable line.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- A client key, as real clients send; only the LiteLLM variant checks it.
wrk.headers["Authorization"] = "Bearer sk-switchyard-bench"

function init(args)
  local model = args[1] or "auto"
  -- Second argument `stream`: ask for a server-sent-event stream.
  local stream = (args[2] == "stream") and '"stream":true,' or ''
  wrk.body = '{"model":"' .. model .. '",' .. stream .. '"max_tokens":64,"messages":[' ..
    '{"role":"system","content":"You are a helpful assistant."},' ..
    '{"role":"user","content":"Hello! What is the capital of France?"}]}'
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local bad = summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout
  -- latencies in microseconds
  io.write(string.format("RESULT p50_us=%d p90_us=%d p99_us=%d rps=%.1f requests=%d errors=%d non2xx=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.requests / secs, summary.requests, bad, summary.errors.status))
end
