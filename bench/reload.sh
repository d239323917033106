#!/usr/bin/env bash
# Hot-reload latency: plugin file write -> first request served by the new version, for a
# Rust, a Python and a JavaScript policy, cold (live on baseline code, then the time to
# optimized code) and cache hit. Knobs: RELOAD_BENCH_ITERS (10), RELOAD_BENCH_POLYGLOT_COLD
# (5), RELOAD_BENCH_POLYGLOT_HIT (5), RELOAD_BENCH_SETTLE_MS (the proxy's default, 50),
# RELOAD_BENCH_SKIP_JS. Pass --release to measure a release build (what the numbers in
# BENCHMARKS.md are).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test "$@" -p switchyard-tests --test reload_latency -- --ignored --nocapture
