#!/usr/bin/env bash
# Dialect overhead end to end on loopback: what translating between OpenAI chat completions
# and Anthropic Messages costs over same-dialect passthrough, in one run.
#
#   upstream: nginx on :18011 answering both dialects with fixed bodies, plain and SSE
#             (/v1/chat/completions, /v1/messages, and the same under /sse/ for streams)
#   switchyard on :18013 (bench/dialects.toml, no plugins):
#     openai->openai        OpenAI client, OpenAI-compatible model      (passthrough)
#     anthropic->anthropic  Anthropic client, Anthropic model           (passthrough)
#     anthropic->openai     Anthropic client, OpenAI-compatible model   (translated)
#     openai->anthropic     OpenAI client, Anthropic model              (translated)
#   each plain and streamed, at concurrency 1 (wrk -t1 -c1) and 32 (wrk -t2 -c32).
#
# wrk runs on core 1, nginx and switchyard on core 0 (as bench/proxy.sh). For a stream, wrk's
# latency is the whole (short, fixed) stream, an upper bound of time to first byte.
#
# Usage: bench/dialects.sh   (~2 min)   DURATION=5 WARMUP=2 SKIP_BUILD=1 CARGO_TARGET_DIR=...
set -euo pipefail

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
WORK=/tmp/switchyard-dialects
LOAD_CPU=1
SUT_CPU=0
UP_PORT=18011 SY_PORT=18013

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
  say "installing ${missing[*]} with apt-get"
  apt-get install -y -qq "${missing[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
[[ $(nproc) -ge 2 ]] || LOAD_CPU=0
if [[ -z ${SKIP_BUILD:-} ]]; then
  say "building the release binary"
  (cd "$REPO" && cargo build --release -p switchyard --bin switchyard --quiet)
fi
[[ -x $TARGET/release/switchyard ]] || { say "no release binary in $TARGET/release"; exit 1; }

rm -rf "$WORK" && mkdir -p "$WORK/nginx"
cp "$TARGET/release/switchyard" "$WORK/switchyard"

# Fixed answers: nginx unescapes \n in quoted strings; the JSON holds no backslash.
OAI_JSON='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"fixed","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":8,"total_tokens":32}}'
chunk() { printf 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"fixed","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}\\n\\n' "$1" "$2"; }
OAI_SSE="$(chunk '{"role":"assistant","content":"The capital"}' null)$(chunk '{"content":" of France is Paris."}' null)$(chunk '{}' '"stop"')"'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"fixed","choices":[],"usage":{"prompt_tokens":24,"completion_tokens":8,"total_tokens":32}}\n\ndata: [DONE]\n\n'
ANT_JSON='{"id":"msg_bench","type":"message","role":"assistant","model":"fixed","content":[{"type":"text","text":"The capital of France is Paris."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":24,"output_tokens":8}}'
ev() { printf 'event: %s\\ndata: %s\\n\\n' "$1" "$2"; }
ANT_SSE="$(ev message_start '{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"fixed","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":24,"output_tokens":1}}}')$(ev content_block_start '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')$(ev ping '{"type":"ping"}')$(ev content_block_delta '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The capital"}}')$(ev content_block_delta '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" of France is Paris."}}')$(ev content_block_stop '{"type":"content_block_stop","index":0}')$(ev message_delta '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":8}}')$(ev message_stop '{"type":"message_stop"}')"

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
  server {
    listen 127.0.0.1:$UP_PORT;
    location = /v1/chat/completions { default_type application/json; return 200 '$OAI_JSON'; }
    location = /sse/v1/chat/completions { default_type text/event-stream; return 200 '$OAI_SSE'; }
    location = /v1/messages { default_type application/json; return 200 '$ANT_JSON'; }
    location = /sse/v1/messages { default_type text/event-stream; return 200 '$ANT_SSE'; }
  }
}
EOF

start() { local name=$1; shift; taskset -c "$SUT_CPU" "$@" >"$WORK/$name.out" 2>&1 & PIDS+=($!); }
start upstream nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"
SWITCHYARD_LOG=warn start switchyard "$WORK/switchyard" serve --config "$REPO/bench/dialects.toml"

# name path dialect model stream
VARIANTS=(
  "openai->openai /v1/chat/completions openai oai 0"
  "anthropic->anthropic /v1/messages anthropic ant 0"
  "anthropic->openai /v1/messages anthropic oai 0"
  "openai->anthropic /v1/chat/completions openai ant 0"
  "openai->openai/sse /v1/chat/completions openai oai-s 1"
  "anthropic->anthropic/sse /v1/messages anthropic ant-s 1"
  "anthropic->openai/sse /v1/messages anthropic oai-s 1"
  "openai->anthropic/sse /v1/chat/completions openai ant-s 1"
)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$SY_PORT/healthz" && break; sleep 0.2; done
for v in "${VARIANTS[@]}"; do # every variant answers 200 before anything is measured
  read -r name path dialect model stream <<<"$v"
  code=$(taskset -c "$LOAD_CPU" wrk -t1 -c1 -d1s -s "$REPO/bench/dialect.lua" "http://127.0.0.1:$SY_PORT$path" -- "$dialect" "$model" "$stream" | grep '^RESULT' | sed 's/.*non2xx=//')
  [[ $code == 0 ]] || { say "$name answered non-2xx; logs in $WORK"; exit 1; }
done

RESULTS=$WORK/results.txt
: >"$RESULTS"
for conc in 1 32; do
  threads=$((conc == 1 ? 1 : 2))
  for v in "${VARIANTS[@]}"; do
    read -r name path dialect model stream <<<"$v"
    url="http://127.0.0.1:$SY_PORT$path"
    run() { taskset -c "$LOAD_CPU" wrk -t"$threads" -c"$conc" -d"$1"s --timeout 5s -s "$REPO/bench/dialect.lua" "$url" -- "$dialect" "$model" "$stream"; }
    say "$name c=$conc"
    run "$WARMUP" >/dev/null
    echo "$name $conc $(run "$DURATION" | grep '^RESULT')" | tee -a "$RESULTS" >&2
  done
done

echo
echo "Dialect overhead on loopback — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; ${DURATION}s per measurement after ${WARMUP}s warm-up"
awk '
  function field(s, key,   n, a, i) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return "" }
  { p50[$1, $2] = field($0, "p50_us"); p99[$1, $2] = field($0, "p99_us"); rps[$1, $2] = field($0, "rps"); err[$1, $2] = field($0, "errors")
    if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
  END {
    printf "\n%-25s %4s %9s %9s %9s %22s\n", "client->upstream", "conc", "p50 us", "p99 us", "req/s", "p50 vs passthrough us"
    for (ci = 1; ci <= 2; ci++) {
      c = (ci == 1) ? 1 : 32
      for (i = 1; i <= n; i++) {
        v = order[i]; base = ""
        split(v, parts, "/"); sse = (parts[2] == "sse") ? "/sse" : ""
        if (index(v, "anthropic->openai") == 1) base = "anthropic->anthropic" sse
        if (index(v, "openai->anthropic") == 1) base = "openai->openai" sse
        delta = (base == "") ? "-" : sprintf("%+d", p50[v, c] - p50[base, c])
        printf "%-25s %4d %9d %9d %9.0f %22s\n", v, c, p50[v, c], p99[v, c], rps[v, c], delta
      }
    }
  }' "$RESULTS" | tee "$WORK/report.txt"
