#!/usr/bin/env bash
# Plugins in Rust, Python and JavaScript behind one route: builds Switchyard, the Rust
# plugins and the Python/JS examples, starts the offline simulator and the router, and sends a
# few requests. Needs the polyglot toolchains (bash scripts/install-polyglot-toolchains.sh).
# Leaves both servers running until Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

rustup target list --installed 2>/dev/null | grep -q wasm32-wasip2 || rustup target add wasm32-wasip2
bash scripts/install-polyglot-toolchains.sh
echo "==> building switchyard and the plugins (first time: several minutes)"
cargo build --release -p switchyard --quiet
cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml --target-dir target/guests --quiet
bin="$root/target/release/switchyard"
for project in plugins/python/topics plugins/python/tiered plugins/js/hedge; do
  "$bin" plugin build "$project"
done

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin" simulate --listen 127.0.0.1:9001 --latency-scale 0.2 &
pids+=($!)
rm -f "$here/decisions.jsonl"
"$bin" serve --config "$here/switchyard.toml" &
pids+=($!)

echo "==> waiting for the router (the first start compiles the Python and JS plugins: up to a minute)"
for _ in $(seq 1 1800); do
  curl -sf http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break
  sleep 0.1
done

ask() {
  echo
  echo "==> $1"
  curl -s -D /tmp/switchyard-headers -o /dev/null http://127.0.0.1:8080/v1/chat/completions \
    -H 'content-type: application/json' -d "$2"
  grep -i '^x-switchyard-' /tmp/switchyard-headers | tr -d '\r' | sed 's/^/    /'
}

ask "easy: the Python policy starts at tier 0" \
  '{"model":"auto","messages":[{"role":"user","content":"What is the capital of France?"}]}'
ask "hard: complexity.score >= 0.5, the Python policy starts at large" \
  '{"model":"auto","messages":[{"role":"user","content":"Prove step by step that the square root of 2 is irrational, then explain why the proof generalises to every prime."}]}'
ask "a tier hint header overrides the score" \
  '{"model":"auto","messages":[{"role":"user","content":"Hi!"}],"metadata":{"tier":"1"}}'

echo
echo "Switchyard is serving on http://127.0.0.1:8080/v1. Ctrl-C stops it."
wait
