-- wrk script for bench/dialects.sh: POSTs a small chat request in the dialect given by the
-- script arguments (wrk ... -s dialect.lua URL -- DIALECT MODEL STREAM), where DIALECT is
-- `openai` (URL ends in /v1/chat/completions) or `anthropic` (/v1/messages) and STREAM is 0
-- or 1. Prints one machine-readable line like chat.lua.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  local dialect, model, stream = args[1], args[2], args[3] == "1"
  local s = stream and "true" or "false"
  if dialect == "anthropic" then
    wrk.headers["anthropic-version"] = "2023-06-01"
    wrk.headers["x-api-key"] = "sk-switchyard-bench"
    wrk.body = '{"model":"' .. model .. '","max_tokens":64,"stream":' .. s .. ',' ..
      '"system":"You are a helpful assistant.",' ..
      '"messages":[{"role":"user","content":"Hello! What is the capital of France?"}]}'
  else
    wrk.headers["Authorization"] = "Bearer sk-switchyard-bench"
    wrk.body = '{"model":"' .. model .. '","max_tokens":64,"stream":' .. s .. ',' ..
      '"messages":[{"role":"system","content":"You are a helpful assistant."},' ..
      '{"role":"user","content":"Hello! What is the capital of France?"}]}'
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local bad = summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT p50_us=%d p90_us=%d p99_us=%d rps=%.1f requests=%d errors=%d non2xx=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.requests / secs, summary.requests, bad, summary.errors.status))
end
