#!/usr/bin/env bash
# Hot-reload latency: plugin file write -> first request served by the new version, for a
# Rust and a Python policy, cold and cache hit. Knobs: RELOAD_BENCH_ITERS (10),
# RELOAD_BENCH_PY_COLD (3), RELOAD_BENCH_PY_HIT (5), RELOAD_BENCH_SETTLE_MS (20).
# Pass --release to measure a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test "$@" -p switchyard-tests --test reload_latency -- --ignored --nocapture
