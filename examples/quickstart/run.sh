#!/usr/bin/env bash
# The quickstart: build Switchyard and its first-party plugins, start the offline upstream
# simulator and the router, and send requests over real HTTP to show a cascade at work.
# Leaves both servers running until Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

rustup target list --installed 2>/dev/null | grep -q wasm32-wasip2 || rustup target add wasm32-wasip2
echo "==> building switchyard and the plugins (first time: several minutes)"
cargo build --release -p switchyard --quiet
cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml --target-dir target/guests --quiet
bin="$root/target/release/switchyard"

for port in 9001 8080; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use: stop whatever listens there (an earlier quickstart?) and retry" >&2
    exit 1
  fi
done

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin" simulate --listen 127.0.0.1:9001 --latency-scale 0.2 &
pids+=($!)
rm -f "$here/decisions.jsonl"
"$bin" serve --config "$here/switchyard.toml" &
pids+=($!)

for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break
  sleep 0.1
done

ask() {
  local title="$1" body="$2"
  echo
  echo "==> $title"
  curl -s -D /tmp/switchyard-headers -o /tmp/switchyard-body http://127.0.0.1:8080/v1/chat/completions \
    -H 'content-type: application/json' -d "$body"
  grep -i '^x-switchyard-' /tmp/switchyard-headers | tr -d '\r' | sed 's/^/    /'
  python3 -c 'import json,sys; b=json.load(open("/tmp/switchyard-body")); m=b.get("choices",[{}])[0].get("message",{}) if "choices" in b else {}; c=m.get("content") if "choices" in b else b; calls=m.get("tool_calls") or []; print("    answer:", "; ".join("calls %s(%s)" % (t["function"]["name"], t["function"]["arguments"]) for t in calls) if calls else (c if isinstance(c,str) else json.dumps(c))[:160].replace("\n"," "))'
}

# One tool offered, as an agent framework would send it.
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}}]'

ask "an easy question: the small model answers, no escalation" \
  '{"model":"auto","messages":[{"role":"user","content":"What is the capital of France?"}]}'
ask "a hard question: the small model fails a gate, the cascade escalates to large" \
  '{"model":"auto","messages":[{"role":"user","content":"Prove step by step that the square root of 2 is irrational, then explain why the proof generalises to every prime."}]}'
ask "JSON asked for: the json gate checks the small model's answer" \
  '{"model":"auto","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"Give me a JSON object describing a cat with name, age and three hobbies."}]}'
ask "a tool call: the small model's call is well formed, tool-args accepts it, small answers" \
  '{"model":"auto",'"$TOOLS"',"messages":[{"role":"user","content":"What is the weather in Lisbon right now?"}]}'
ask "a malformed tool call: the small model drops the required city, tool-args escalates to large" \
  '{"model":"auto",'"$TOOLS"',"messages":[{"role":"user","content":"What is the weather in Paris right now?"}]}'
ask "a concrete model: a plain gateway, no plugins" \
  '{"model":"small","messages":[{"role":"user","content":"Say hi."}]}'

echo
echo "==> the decision record of the escalated request ($here/decisions.jsonl):"
sleep 0.3
sed -n 2p "$here/decisions.jsonl" | python3 -m json.tool | head -60
echo
echo "Switchyard is serving on http://127.0.0.1:8080/v1 (metrics at /metrics). Ctrl-C stops it."
wait
