#!/usr/bin/env bash
# End-to-end proxy overhead on loopback, in one run.
#
#   upstream : nginx answering POST /v1/chat/completions with a fixed chat.completion (:18001)
#   (a) direct          : wrk -> upstream
#   (b) nginx-proxy     : wrk -> nginx proxy_pass (keepalive pool) -> upstream          (:18002)
#   (c) switchyard-model: wrk -> switchyard, model "small" (no plugin runs) -> upstream  (:18003)
#   (d) switchyard-full : wrk -> switchyard, route "auto": complexity -> cascade -> sanity
#   each of (a)-(d) also as `-sse`: the client asks for a stream and the upstream answers with
#   a fixed SSE stream (5 content chunks, a usage chunk, [DONE]) from /sse/v1
#   (e) litellm         : only with LITELLM=1 and `litellm` on PATH                     (:18004)
#
# Each variant is measured at concurrency 1 (wrk -t1 -c1) and 32 (wrk -t2 -c32): a warm-up
# of WARMUP seconds, then DURATION seconds measured. CPU pinning: the load generator (wrk) runs
# on core 1 (`taskset -c 1`), everything under test (upstream, proxies) on core 0
# (`taskset -c 0`), so they never share a core with wrk. The upstream shares core 0 with the
# proxy: what each proxy costs shows as lost throughput of the whole pair.
#
# Usage: bench/proxy.sh            (from anywhere; ~2.5 min with the defaults)
#   DURATION=10 WARMUP=3           seconds per measurement / warm-up
#   SKIP_BUILD=1                   use the binaries already built
#   LITELLM=1                      also measure a LiteLLM proxy (pip install 'litellm[proxy]')
#   LITELLM_BIN                    its `litellm` executable (default: `litellm` on PATH)
#   CARGO_TARGET_DIR               where the release switchyard binary is (default <repo>/target)
#
# Needs nginx and wrk (installed with apt-get when missing). Builds the release binary and the
# release guests with cargo unless SKIP_BUILD=1 (into the usual target directories); at run time
# it writes only under /tmp/switchyard-bench, and stops everything it started on exit.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
WORK=/tmp/switchyard-bench
LOAD_CPU=1
SUT_CPU=0
UP_PORT=18001 NGX_PORT=18002 SY_PORT=18003 LL_PORT=18004
# Every request carries a client key (as real clients do); only LiteLLM checks it.
AUTH='authorization: Bearer sk-switchyard-bench'

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '==> %s\n' "$*" >&2; }

# --- prerequisites -------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
  say "installing ${missing[*]} with apt-get"
  apt-get install -y -qq "${missing[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
if [[ $(nproc) -lt 2 ]]; then
  say "warning: fewer than 2 cores; wrk and the proxies will share a core"
  LOAD_CPU=0
fi

if [[ -z ${SKIP_BUILD:-} ]]; then
  say "building the release binary and the release guests"
  (cd "$REPO" && cargo build --release -p switchyard --quiet)
  (cd "$REPO" && cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml \
    --target-dir target/guests --quiet)
fi
[[ -x $TARGET/release/switchyard ]] || { say "no release binary in $TARGET/release (cargo build --release -p switchyard)"; exit 1; }

rm -rf "$WORK/nginx-up" "$WORK/nginx-proxy" "$WORK/decisions.jsonl"
mkdir -p "$WORK/nginx-up" "$WORK/nginx-proxy"
# A private copy: a target directory shared with other checkouts may be rebuilt mid-run.
SWITCHYARD=$WORK/switchyard
cp "$TARGET/release/switchyard" "$SWITCHYARD"

# --- the fixed upstream and the nginx reverse proxy ----------------------------------------
RESPONSE='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"fixed","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":8,"total_tokens":32}}'

chunk() { # content [finish]
  local finish=null
  [[ -n ${2:-} ]] && finish="\"$2\""
  printf 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"fixed","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":%s}]}\n\n' "$1" "$finish"
}
SSE_RESPONSE="$(chunk 'The ')$(chunk 'capital ')$(chunk 'of France ')$(chunk 'is ')$(chunk 'Paris.' stop)"
SSE_RESPONSE+='data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"fixed","choices":[],"usage":{"prompt_tokens":24,"completion_tokens":8,"total_tokens":32}}'$'\n\n'
SSE_RESPONSE+='data: [DONE]'$'\n\n'

nginx_common() { # $1: prefix dir
  cat <<EOF
daemon off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
EOF
}

{
  nginx_common "$WORK/nginx-up"
  cat <<EOF
  server {
    listen 127.0.0.1:$UP_PORT;
    location = /v1/chat/completions {
      default_type application/json;
      return 200 '$RESPONSE';
    }
    location = /sse/v1/chat/completions {
      default_type text/event-stream;
      return 200 '$SSE_RESPONSE';
    }
  }
}
EOF
} >"$WORK/nginx-up/nginx.conf"

{
  nginx_common "$WORK/nginx-proxy"
  cat <<EOF
  upstream fixed {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      proxy_pass http://fixed;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
EOF
} >"$WORK/nginx-proxy/nginx.conf"

start() { # name, command...: runs pinned to the SUT core, in the background
  local name=$1
  shift
  taskset -c "$SUT_CPU" "$@" >"$WORK/$name.out" 2>&1 &
  PIDS+=($!)
}

wait_ready() { # url body
  local i
  for i in $(seq 1 200); do
    if curl -sf -o /dev/null -H "$AUTH" -H 'content-type: application/json' -d "$2" "$1"; then
      return 0
    fi
    sleep 0.1
  done
  say "$1 did not answer in 20 s; logs in $WORK"
  exit 1
}

body() { printf '{"model":"%s","messages":[{"role":"user","content":"Hello! What is the capital of France?"}]}' "$1"; }

say "starting the upstream, the nginx proxy and switchyard on core $SUT_CPU"
start upstream nginx -p "$WORK/nginx-up" -c "$WORK/nginx-up/nginx.conf" -e "$WORK/nginx-up/error.log"
start nginx-proxy nginx -p "$WORK/nginx-proxy" -c "$WORK/nginx-proxy/nginx.conf" -e "$WORK/nginx-proxy/error.log"
SWITCHYARD_LOG=warn start switchyard "$SWITCHYARD" serve --config "$REPO/bench/switchyard-bench.toml"
wait_ready "http://127.0.0.1:$UP_PORT/v1/chat/completions" "$(body x)"
wait_ready "http://127.0.0.1:$NGX_PORT/v1/chat/completions" "$(body x)"
wait_ready "http://127.0.0.1:$SY_PORT/v1/chat/completions" "$(body small)"
wait_ready "http://127.0.0.1:$SY_PORT/v1/chat/completions" "$(body auto)"

# name port model path [stream]
VARIANTS=("direct $UP_PORT x /v1" "nginx-proxy $NGX_PORT x /v1" "switchyard-model $SY_PORT small /v1"
  "switchyard-full $SY_PORT auto /v1"
  "direct-sse $UP_PORT x /sse/v1 stream" "nginx-proxy-sse $NGX_PORT x /sse/v1 stream"
  "switchyard-model-sse $SY_PORT small-sse /v1 stream" "switchyard-full-sse $SY_PORT auto-sse /v1 stream")

if [[ -n ${LITELLM:-} ]]; then
  LITELLM_BIN=${LITELLM_BIN:-litellm}
  command -v "$LITELLM_BIN" >/dev/null || { say "LITELLM=1 but $LITELLM_BIN is not found"; exit 1; }
  cat >"$WORK/litellm.yaml" <<EOF
model_list:
  - model_name: small
    litellm_params:
      model: openai/fixed-small
      api_base: http://127.0.0.1:$UP_PORT/v1
      api_key: none
litellm_settings:
  telemetry: false
general_settings:
  master_key: sk-switchyard-bench
EOF
  say "starting litellm on core $SUT_CPU"
  LITELLM_LOG=ERROR LITELLM_LOCAL_MODEL_COST_MAP=True start litellm \
    "$LITELLM_BIN" --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$LL_PORT" --num_workers 1
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null -H "$AUTH" -H 'content-type: application/json' -d "$(body small)" \
      "http://127.0.0.1:$LL_PORT/v1/chat/completions" && break
    sleep 0.2
  done
  wait_ready "http://127.0.0.1:$LL_PORT/v1/chat/completions" "$(body small)"
  VARIANTS+=("litellm $LL_PORT small /v1")
fi

say "switchyard answered with: $(curl -s -D - -o /dev/null -H 'content-type: application/json' \
  -d "$(body auto)" "http://127.0.0.1:$SY_PORT/v1/chat/completions" | grep -i '^x-switchyard-\(model\|attempts\|reason\)' | tr -d '\r' | tr '\n' ' ')"

# --- measurements --------------------------------------------------------------------------
RESULTS=$WORK/results.txt
: >"$RESULTS"
run_wrk() { # threads conns seconds url model [stream]
  taskset -c "$LOAD_CPU" wrk -t"$1" -c"$2" -d"$3"s --timeout 5s -s "$REPO/bench/chat.lua" "$4" -- "$5" ${6:-}
}
for conc in 1 32; do
  threads=$((conc == 1 ? 1 : 2))
  for v in "${VARIANTS[@]}"; do
    read -r name port model path stream <<<"$v"
    url="http://127.0.0.1:$port$path/chat/completions"
    say "$name c=$conc: warm-up ${WARMUP}s, measure ${DURATION}s"
    run_wrk "$threads" "$conc" "$WARMUP" "$url" "$model" "$stream" >/dev/null
    line=$(run_wrk "$threads" "$conc" "$DURATION" "$url" "$model" "$stream" | grep '^RESULT')
    echo "$name $conc $line" | tee -a "$RESULTS" >&2
  done
done

# --- report --------------------------------------------------------------------------------
echo
echo "Proxy overhead on loopback — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "wrk pinned to core $LOAD_CPU; upstream and proxies pinned to core $SUT_CPU; ${DURATION}s per measurement after ${WARMUP}s warm-up"
awk '
  function field(s, key,   n, a, i) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return "" }
  {
    name = $1; c = $2
    p50[name, c] = field($0, "p50_us"); p99[name, c] = field($0, "p99_us"); rps[name, c] = field($0, "rps")
    err[name, c] = field($0, "errors")
    if (!(name in seen)) { seen[name] = 1; order[++n] = name }
  }
  END {
    printf "\n%-21s %4s %10s %10s %10s %13s %7s\n", "variant", "conc", "p50 ms", "p99 ms", "req/s", "added p50 ms", "errors"
    for (ci = 1; ci <= 2; ci++) {
      c = (ci == 1) ? 1 : 32
      for (i = 1; i <= n; i++) {
        v = order[i]
        base = (v ~ /-sse$/) ? "direct-sse" : "direct"
        added = (v == base) ? "-" : sprintf("%+.3f", (p50[v, c] - p50[base, c]) / 1000)
        printf "%-21s %4d %10.3f %10.3f %10.0f %13s %7d\n", v, c, p50[v, c] / 1000, p99[v, c] / 1000, rps[v, c], added, err[v, c]
      }
    }
    printf "\nTargets:\n"
    for (i = 1; i <= n; i++) {
      v = order[i]
      if (v ~ /^(direct|nginx-proxy)(-sse)?$/ || v == "litellm") continue
      sse = (v ~ /-sse$/) ? "-sse" : ""
      full = (v ~ /^switchyard-full/)
      a = (p50[v, 1] - p50["direct" sse, 1]) / 1000
      target_a = full ? 0.15 : 0.10
      printf "  %-21s c=1 added p50 %.3f ms (nginx adds %.3f; target <= %.2f): %s\n", v, a,
        (p50["nginx-proxy" sse, 1] - p50["direct" sse, 1]) / 1000, target_a, (a <= target_a) ? "MET" : "MISSED"
      r = 100 * rps[v, 32] / rps["nginx-proxy" sse, 32]
      target_r = full ? 35 : 60
      printf "  %-21s c=32 throughput %.1f%% of nginx-proxy%s (target >= %d%%): %s\n", v, r, sse, target_r, (r >= target_r) ? "MET" : "MISSED"
    }
  }' "$RESULTS" | tee "$WORK/report.txt"
echo
echo "raw results: $RESULTS; process logs: $WORK/*.out"
