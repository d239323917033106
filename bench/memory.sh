#!/usr/bin/env bash
# Memory that comes back (issue 12, part 7): VmRSS of `switchyard serve` with the polyglot
# config (Rust, Python and JS plugins), in three situations, in one run:
#
#   warm start : started against a compiled-artifact cache that already holds every plugin
#   cold start : started with an empty cache, so it compiles everything itself (baseline tier
#                first, then the optimized tier in the background); RSS once every tier-up ended
#   redeploy   : NEW_VERSIONS new versions of each Python and JS plugin (new bytes: a custom
#                section appended), one after another, each compiled by the running proxy;
#                RSS once the last tier-up ended
#
# Target: RSS after the redeploys <= 1.5x the warm-start RSS.
#
# Usage: bench/memory.sh  (needs the release binary, the release guests and the polyglot
#   plugins built: see examples/polyglot/run.sh)   NEW_VERSIONS=3 SETTLE=3
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$REPO/target/release/switchyard}
NEW_VERSIONS=${NEW_VERSIONS:-3}
SETTLE=${SETTLE:-3}
WORK=/tmp/switchyard-memory
PORT=18090
TOKEN=bench-admin-token
rm -rf "$WORK"; mkdir -p "$WORK/plugins"
cp "$REPO/target/guests/wasm32-wasip2/release/"{complexity,sanity}.wasm "$WORK/plugins/"
cp "$REPO/plugins/python/topics/build/topics.wasm" "$REPO/plugins/python/tiered/build/tiered.wasm" \
  "$REPO/plugins/js/hedge/build/hedge.wasm" "$WORK/plugins/"
sed -e "s|^listen = .*|listen = \"127.0.0.1:$PORT\"|" \
    -e "s|^decision_log = .*|decision_log = \"off\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$WORK/cache\"|" \
    -e "s|path = \".*/\([a-z]*\.wasm\)\"|path = \"plugins/\1\"|" \
    "$REPO/examples/polyglot/switchyard.toml" >"$WORK/switchyard.toml"
printf '\n[admin]\ntoken_env = "SWITCHYARD_BENCH_ADMIN"\n' >>"$WORK/switchyard.toml"

PID=
stop() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap stop EXIT
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }
# Where the RSS is: heap and other anonymous memory, and file-backed pages (compiled code mapped
# from cache_dir, the binary).
parts() { awk '/^RssAnon|^RssFile|^RssShmem/ {printf "%s %.1f ", $1, $2 / 1024}' "/proc/$PID/status"; }
admin() { curl -sf -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1"; }
start() {
  SWITCHYARD_BENCH_ADMIN=$TOKEN SWITCHYARD_LOG=warn "$BIN" serve --config "$WORK/switchyard.toml" \
    >>"$WORK/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 1200); do admin /admin/plugins >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "switchyard did not start; see $WORK/serve.log" >&2; exit 1
}
# Waits until no plugin is on the baseline tier or tiering up, then SETTLE seconds more.
settled() {
  for _ in $(seq 1 1800); do
    if ! admin /admin/plugins | grep -q '"state":"pending"'; then
      sleep "$SETTLE"; return 0
    fi
    sleep 0.1
  done
  echo "tier-ups did not finish in 180 s:" >&2
  admin /admin/plugins | grep -o '"name":"[^"]*"\|"tier":"[a-z]*"\|"state":"[a-z_]*"' | tr '\n' ' ' >&2; exit 1
}
# A new version of a component: the same code with a custom section appended (new bytes, new hash).
bump() { # file n
  local name="switchyard-bench-v$2"
  { printf '\x00'; printf "\\x$(printf %02x $((${#name} + 2)))"; printf "\\x$(printf %02x ${#name})"; printf '%s' "$name"; printf 'x'; } >>"$1"
}

start; settled; cold=$(rss)
echo "cold start: $cold MiB ($(parts)); compile workers: $(admin /admin/memory | grep -o '"compile_worker":{[^}]*}')" >&2
stop
start; settled; warm=$(rss)
echo "warm start: $warm MiB ($(parts))" >&2
for n in $(seq 1 "$NEW_VERSIONS"); do
  for p in topics tiered hedge; do bump "$WORK/plugins/$p.wasm" "$n"; done
  admin /admin/reload -X POST >/dev/null || true
  settled
  echo "after redeploy $n: $(rss) MiB ($(parts))" >&2
done
redeploy=$(rss)
echo "caches after the redeploys: $(admin /admin/memory | grep -o '"caches":{.*}' | head -c 900)" >&2
stop
echo "RSS MiB: warm start $warm · cold start (compiled everything) $cold · after $NEW_VERSIONS redeploys of 3 Python/JS plugins $redeploy"
awk -v w="$warm" -v r="$redeploy" 'BEGIN { printf "redeploy / warm = %.2fx (target <= 1.5x): %s\n", r / w, (r / w <= 1.5) ? "MET" : "MISSED" }'
