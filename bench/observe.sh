#!/usr/bin/env bash
# What watching costs: the full pipeline (route "auto": complexity -> cascade -> sanity) on
# loopback, measured three ways in one run, on one switchyard binary:
#
#   off      : no traces exported, nobody on the dashboard's live stream
#   traced   : [telemetry.otlp] at 100 % sampling, exported to a collector stand-in (nginx
#              answering POST /v1/traces with an empty ExportTraceServiceResponse)
#   watched  : traced, and a dashboard client (curl) reading /ui/api/stream all along
#
# Each at concurrency 1 (wrk -t1 -c1, p50) and 32 (wrk -t2 -c32, throughput), WARMUP seconds
# of warm-up then DURATION seconds measured, with bench/proxy.sh's method: wrk on core 1,
# everything under test (upstream, collector, switchyard) on core 0.
#
# Usage: bench/observe.sh   (DURATION=10 WARMUP=3 SKIP_BUILD=1 as in bench/proxy.sh)
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
WORK=/tmp/switchyard-bench-observe
LOAD_CPU=1
SUT_CPU=0
UP_PORT=18011 SY_PORT=18013
TOKEN=bench-admin-token
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '==> %s\n' "$*" >&2; }

missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
  apt-get install -y -qq "${missing[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
[[ $(nproc) -ge 2 ]] || LOAD_CPU=0
if [[ -z ${SKIP_BUILD:-} ]]; then
  say "building the release binary and the release guests"
  (cd "$REPO" && cargo build --release -p switchyard --quiet)
  (cd "$REPO" && cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml \
    --target-dir target/guests --quiet)
fi
rm -rf "$WORK" && mkdir -p "$WORK/nginx"
SWITCHYARD=$WORK/switchyard
cp "$TARGET/release/switchyard" "$SWITCHYARD"

RESPONSE='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"fixed","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":8,"total_tokens":32}}'
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_buffer_size 16m;
  server {
    listen 127.0.0.1:$UP_PORT;
    location = /v1/chat/completions { default_type application/json; return 200 '$RESPONSE'; }
    # An empty ExportTraceServiceResponse: the collector accepted everything.
    location = /v1/traces { default_type application/x-protobuf; return 200 ''; }
  }
}
EOF

# The bench config, on this script's ports, with the admin API (for the stream) and
# optionally the OTLP exporter (appended last, so it follows [telemetry]'s own keys).
config() { # $1: "otlp" or ""
  sed -e "s/127.0.0.1:18003/127.0.0.1:$SY_PORT/" -e "s/127.0.0.1:18001/127.0.0.1:$UP_PORT/" \
    -e "s|/tmp/switchyard-bench/|$WORK/|" -e "s|\"\.\./target/|\"$REPO/target/|" \
    "$REPO/bench/switchyard-bench.toml"
  printf '\n[admin]\ntoken_sha256 = "%s"\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
  if [[ $1 == otlp ]]; then
    printf '\n[telemetry.otlp]\nendpoint = "http://127.0.0.1:%s/v1/traces"\nsample_ratio = 1.0\n' "$UP_PORT"
  fi
}
config "" >"$WORK/off.toml"
config otlp >"$WORK/traced.toml"

body='{"model":"auto","messages":[{"role":"user","content":"Hello! What is the capital of France?"}]}'
wait_ready() {
  for _ in $(seq 1 200); do
    curl -sf -o /dev/null -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$SY_PORT/v1/chat/completions" && return 0
    sleep 0.1
  done
  say "switchyard did not answer; logs in $WORK"
  exit 1
}

taskset -c "$SUT_CPU" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
PIDS+=($!)

RESULTS=$WORK/results.txt
: >"$RESULTS"
run_wrk() { taskset -c "$LOAD_CPU" wrk -t"$1" -c"$2" -d"$3"s --timeout 5s -s "$REPO/bench/chat.lua" "http://127.0.0.1:$SY_PORT/v1/chat/completions" -- auto; }
for variant in off traced watched; do
  cfg=$WORK/$([[ $variant == off ]] && echo off || echo traced).toml
  say "$variant: starting switchyard on core $SUT_CPU"
  SWITCHYARD_LOG=warn taskset -c "$SUT_CPU" "$SWITCHYARD" serve --config "$cfg" >"$WORK/$variant.out" 2>&1 &
  sy=$!
  wait_ready
  watcher=
  if [[ $variant == watched ]]; then
    taskset -c "$LOAD_CPU" curl -sN -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$SY_PORT/ui/api/stream" >"$WORK/stream.txt" &
    watcher=$!
    sleep 0.5
  fi
  for conc in 1 32; do
    threads=$((conc == 1 ? 1 : 2))
    run_wrk "$threads" "$conc" "$WARMUP" >/dev/null
    line=$(run_wrk "$threads" "$conc" "$DURATION" | grep '^RESULT')
    echo "$variant $conc $line" | tee -a "$RESULTS" >&2
  done
  if [[ -n $watcher ]]; then
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
    say "the dashboard client received $(grep -c '^event: decision' "$WORK/stream.txt") decision events"
  fi
  kill -TERM "$sy" 2>/dev/null || true
  wait "$sy" 2>/dev/null || true
done

echo
echo "Watching costs — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "route auto (complexity -> cascade -> sanity); wrk on core $LOAD_CPU, nginx + switchyard on core $SUT_CPU; ${DURATION}s after ${WARMUP}s warm-up"
awk '
  function field(s, key,   n, a, i) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return "" }
  { v = $1; c = $2; p50[v, c] = field($0, "p50_us"); p99[v, c] = field($0, "p99_us"); rps[v, c] = field($0, "rps"); err[v, c] = field($0, "errors") }
  END {
    printf "\n%-8s %4s %10s %10s %10s %7s\n", "variant", "conc", "p50 us", "p99 us", "req/s", "errors"
    split("off traced watched", names, " ")
    for (ci = 1; ci <= 2; ci++) { c = (ci == 1) ? 1 : 32
      for (i = 1; i <= 3; i++) { v = names[i]; printf "%-8s %4d %10.0f %10.0f %10.0f %7d\n", v, c, p50[v, c], p99[v, c], rps[v, c], err[v, c] } }
    printf "\nTargets (against off):\n"
    for (i = 2; i <= 3; i++) { v = names[i]
      r = 100 * rps[v, 32] / rps["off", 32]; d = p50[v, 1] - p50["off", 1]
      printf "  %-8s c=32 throughput %.1f%% (target >= 85%%): %s;  c=1 p50 %+.0f us (target <= 15): %s\n", v, r, (r >= 85 ? "MET" : "MISSED"), d, (d <= 15 ? "MET" : "MISSED") }
  }' "$RESULTS"
