#!/usr/bin/env bash
# What governance costs on the request path: the full pipeline (route `auto`: complexity ->
# cascade -> sanity) with budgets and rate limits on, shared through a Redis on loopback,
# against the same pipeline with them off. One run, side by side.
#
#   upstream : nginx answering POST /v1/chat/completions with a fixed chat.completion (:18001)
#   redis    : redis-server on :18379, no persistence
#   (a) governance-off: switchyard, bench/switchyard-bench.toml as is              (:18003)
#   (b) governance-on : the same plus [state] backend = "redis", a key in a team with a
#       daily and a monthly budget, and per-minute request and token limits on the key and
#       the team: 6 counters reserved per request in one EVALSHA, settled in another   (:18005)
#
# Each at concurrency 1 and 32 (wrk, pinned to core 1; everything else on core 0), WARMUP
# seconds of warm-up then DURATION measured. Usage: bench/governance.sh (SKIP_BUILD=1 to use
# the built binary; CARGO_TARGET_DIR for where it is). Needs nginx, wrk, redis-server
# (apt-get installs the missing ones).
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
WORK=/tmp/switchyard-bench-governance
LOAD_CPU=1
SUT_CPU=0
UP_PORT=18001 OFF_PORT=18003 ON_PORT=18005 REDIS_PORT=18379

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
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
  say "installing ${missing[*]} with apt-get"
  apt-get install -y -qq "${missing[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
[[ $(nproc) -ge 2 ]] || LOAD_CPU=0
if [[ -z ${SKIP_BUILD:-} ]]; then
  say "building the release binary and the release guests"
  (cd "$REPO" && cargo build --release -p switchyard --quiet)
  (cd "$REPO" && cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml \
    --target-dir target/guests --quiet)
fi
rm -rf "$WORK" && mkdir -p "$WORK/nginx-up"
SWITCHYARD=$WORK/switchyard
cp "$TARGET/release/switchyard" "$SWITCHYARD"

RESPONSE='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"fixed","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":8,"total_tokens":32}}'
cat >"$WORK/nginx-up/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx-up/nginx.pid;
error_log $WORK/nginx-up/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-up/body;
  proxy_temp_path $WORK/nginx-up/proxy;
  fastcgi_temp_path $WORK/nginx-up/fastcgi;
  uwsgi_temp_path $WORK/nginx-up/uwsgi;
  scgi_temp_path $WORK/nginx-up/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$UP_PORT;
    location = /v1/chat/completions { default_type application/json; return 200 '$RESPONSE'; }
  }
}
EOF

# (b): the bench config with absolute plugin paths, its own port and log, and governance.
KEY_SHA=$(printf '%s' sk-switchyard-bench | sha256sum | cut -d' ' -f1)
sed -e "s|\.\./target/guests|$REPO/target/guests|" \
  -e "s|^listen = .*|listen = \"127.0.0.1:$ON_PORT\"|" \
  -e "s|/tmp/switchyard-bench/decisions.jsonl|$WORK/decisions-on.jsonl|" \
  -e "s|/tmp/switchyard-bench/cache|$WORK/cache|" \
  "$REPO/bench/switchyard-bench.toml" >"$WORK/on.toml"
cat >>"$WORK/on.toml" <<EOF

[state]
backend = "redis"
redis_url = "redis://127.0.0.1:$REDIS_PORT/"

[teams.bench]
budgets = [{ name = "team-daily", usd = 1000000.0, period = "day" }]
rate_limits = { requests_per_minute = 1000000000, tokens_per_minute = 1000000000000 }

[keys.bench]
team = "bench"
key_sha256 = "$KEY_SHA"
budgets = [{ name = "key-monthly", usd = 1000000.0, period = "month" }]
rate_limits = { requests_per_minute = 1000000000, tokens_per_minute = 1000000000000 }
EOF
sed -e "s|\.\./target/guests|$REPO/target/guests|" \
  -e "s|/tmp/switchyard-bench/decisions.jsonl|$WORK/decisions-off.jsonl|" \
  -e "s|/tmp/switchyard-bench/cache|$WORK/cache|" \
  "$REPO/bench/switchyard-bench.toml" >"$WORK/off.toml"

start() { local name=$1; shift; taskset -c "$SUT_CPU" "$@" >"$WORK/$name.out" 2>&1 & PIDS+=($!); }
body='{"model":"auto","messages":[{"role":"user","content":"Hello! What is the capital of France?"}]}'
wait_ready() {
  for _ in $(seq 1 200); do
    curl -sf -o /dev/null -H 'authorization: Bearer sk-switchyard-bench' -H 'content-type: application/json' -d "$body" "$1" && return 0
    sleep 0.1
  done
  say "$1 did not answer in 20 s; logs in $WORK"; exit 1
}
say "starting the upstream, redis and both switchyards on core $SUT_CPU"
start upstream nginx -p "$WORK/nginx-up" -c "$WORK/nginx-up/nginx.conf" -e "$WORK/nginx-up/error.log"
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK"
SWITCHYARD_LOG=warn start off "$SWITCHYARD" serve --config "$WORK/off.toml" --no-watch
SWITCHYARD_LOG=warn start on "$SWITCHYARD" serve --config "$WORK/on.toml" --no-watch
wait_ready "http://127.0.0.1:$OFF_PORT/v1/chat/completions"
wait_ready "http://127.0.0.1:$ON_PORT/v1/chat/completions"
say "governance-on answers with: $(curl -s -D - -o /dev/null -H 'authorization: Bearer sk-switchyard-bench' \
  -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$ON_PORT/v1/chat/completions" |
  grep -i '^x-\(switchyard-budget-remaining\|ratelimit-remaining-requests\)' | tr -d '\r' | tr '\n' ' ')"

RESULTS=$WORK/results.txt
: >"$RESULTS"
run_wrk() { taskset -c "$LOAD_CPU" wrk -t"$1" -c"$2" -d"$3"s --timeout 5s -s "$REPO/bench/chat.lua" "$4" -- auto; }
for conc in 1 32; do
  threads=$((conc == 1 ? 1 : 2))
  for v in "governance-off $OFF_PORT" "governance-on $ON_PORT"; do
    read -r name port <<<"$v"
    url="http://127.0.0.1:$port/v1/chat/completions"
    say "$name c=$conc: warm-up ${WARMUP}s, measure ${DURATION}s"
    run_wrk "$threads" "$conc" "$WARMUP" "$url" >/dev/null
    echo "$name $conc $(run_wrk "$threads" "$conc" "$DURATION" "$url" | grep '^RESULT')" | tee -a "$RESULTS" >&2
  done
done

echo
echo "Governance overhead on loopback — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "wrk on core $LOAD_CPU; upstream, redis and switchyard on core $SUT_CPU; ${DURATION}s per measurement after ${WARMUP}s warm-up"
awk '
  function field(s, key,   n, a, i) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return "" }
  { p50[$1, $2] = field($0, "p50_us"); p99[$1, $2] = field($0, "p99_us"); rps[$1, $2] = field($0, "rps"); err[$1, $2] = field($0, "errors") + field($0, "non2xx") }
  END {
    printf "\n%-15s %4s %9s %9s %9s %7s\n", "variant", "conc", "p50 ms", "p99 ms", "req/s", "errors"
    split("governance-off governance-on", names, " ")
    for (ci = 1; ci <= 2; ci++) { c = (ci == 1) ? 1 : 32
      for (i = 1; i <= 2; i++) { v = names[i]; printf "%-15s %4d %9.3f %9.3f %9.0f %7d\n", v, c, p50[v, c] / 1000, p99[v, c] / 1000, rps[v, c], err[v, c] } }
    added = (p50["governance-on", 1] - p50["governance-off", 1]) / 1000
    ratio = 100 * rps["governance-on", 32] / rps["governance-off", 32]
    printf "\nc=1 p50 added by governance: %.3f ms (target <= 0.300): %s\n", added, (added <= 0.3) ? "MET" : "MISSED"
    printf "c=32 throughput with governance: %.1f%% of off (target >= 70%%): %s\n", ratio, (ratio >= 70) ? "MET" : "MISSED"
  }' "$RESULTS" | tee "$WORK/report.txt"
echo "raw results: $RESULTS; logs: $WORK/*.out"
