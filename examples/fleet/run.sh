#!/usr/bin/env bash
# A fleet on one machine: redis-server, three `switchyard serve` replicas with one config, and
# nginx balancing across them, all on loopback; then traffic that shows the budget, the rate
# limit, a revocation and the class clamp holding across replicas. Stops everything on exit.
#
#   redis :16379   simulator :19001   replicas :18091 :18092 :18093   nginx :8090
#
# Installs redis-server and nginx with apt-get when missing. SKIP_BUILD=1 uses the binary
# already in target/release (or SWITCHYARD_BIN).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work=/tmp/switchyard-fleet
cd "$root"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || missing+=(nginx)
if ((${#missing[@]})); then
  echo "==> installing ${missing[*]} with apt-get"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [[ -z ${SKIP_BUILD:-} ]]; then
  echo "==> building switchyard (first time: several minutes)"
  cargo build --release -p switchyard --quiet
fi
bin="${SWITCHYARD_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/switchyard}"

for port in 16379 19001 18091 18092 18093 8090; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use: stop whatever listens there (an earlier run?) and retry" >&2
    exit 1
  fi
done

rm -rf "$work" && mkdir -p "$work/nginx"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

redis-server --port 16379 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
"$bin" simulate --listen 127.0.0.1:19001 --latency-scale 0.1 >"$work/sim.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do
  SWITCHYARD_LOG=warn "$bin" serve --config "$here/switchyard.toml" --listen "127.0.0.1:1809$i" --no-watch \
    >"$work/replica$i.log" 2>&1 &
  pids+=($!)
done
cat >"$work/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream fleet { server 127.0.0.1:18091; server 127.0.0.1:18092; server 127.0.0.1:18093; keepalive 32; }
  server {
    listen 127.0.0.1:8090;
    location / {
      proxy_pass http://fleet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)

for port in 18091 18092 18093 8090; do
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
echo "==> redis, the simulator, three replicas and nginx are up (logs in $work)"

lb=http://127.0.0.1:8090
chat() { # key, extra curl args...: prints "status replica-snapshot model"
  local key=$1; shift
  curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' "$lb/v1/chat/completions" \
    -H "authorization: Bearer $key" -H 'content-type: application/json' "$@" \
    -d '{"model":"auto","max_tokens":64,"messages":[{"role":"user","content":"Say hi in one line."}]}'
}
header() { grep -i "^$1:" "$work/headers" | cut -d' ' -f2- | tr -d '\r'; }

echo
echo "==> the class clamp: team research is class standard (tier 0); the plan [large, small] is clamped"
chat sk-alice >/dev/null
echo "    answered by $(header x-switchyard-model); x-switchyard-dropped: $(header x-switchyard-dropped)"
chat sk-alice -H 'x-switchyard-approve-escalation: true' >/dev/null
echo "    with x-switchyard-approve-escalation: answered by $(header x-switchyard-model)"

echo
echo "==> spending the team's \$0.002 daily budget through the load balancer (three replicas)"
ok=0 refused=0
for i in $(seq 1 60); do
  code=$(chat sk-alice)
  if [[ $code == 200 ]]; then ok=$((ok + 1)); elif [[ $code == 429 ]]; then refused=$((refused + 1)); fi
  if [[ $code == 429 && $refused == 1 ]]; then
    echo "    first refusal after $ok answers: $(python3 -c 'import json;print(json.load(open("'"$work/body"'"))["error"]["message"])')"
    echo "    retry-after: $(header retry-after)s, x-switchyard-budget-remaining-usd: $(header x-switchyard-budget-remaining-usd)"
  fi
done
echo "    $ok answered, $refused refused (429) - the replicas shared one budget"
spent=$(redis-cli -p 16379 --scan --pattern 'switchyard:c:team:research:budget:*' | xargs -r -n1 redis-cli -p 16379 GET |
  python3 -c 'import sys; print(f"{sum(int(l) for l in sys.stdin if l.strip())/1e9:.6f}")')
echo "    Redis holds \$$spent spent of \$0.002"

echo
echo "==> a key created on one replica, revoked through another"
admin() { curl -s -H 'authorization: Bearer fleet-admin' -H 'content-type: application/json' "$@"; }
created=$(admin -X POST http://127.0.0.1:18091/admin/keys -d '{"name":"ci-bot","team":"research","class":"standard"}')
id=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["id"])' "$created")
key=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["key"])' "$created")
echo "    created $id on :18091"
sleep 0.5
admin -X DELETE "http://127.0.0.1:18092/admin/keys/$id" >/dev/null
echo "    revoked through :18092"
sleep 0.5
for port in 18091 18092 18093; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/chat/completions" -H "authorization: Bearer $key" \
    -H 'content-type: application/json' -d '{"model":"auto","messages":[{"role":"user","content":"hi"}]}')
  echo "    :$port answers $code"
done

echo
echo "==> each replica's view of the shared state:"
for port in 18091 18092 18093; do echo "    :$port $(admin "http://127.0.0.1:$port/admin/state")"; done
echo
echo "The fleet keeps serving on $lb/v1 (key sk-alice). Ctrl-C stops everything."
wait
