#!/usr/bin/env bash
# The soak test (tests/tests/soak.rs) for longer than the test suite runs it, printing its
# figures: requests, errors, lost, fallbacks, reloads, flaps, RSS (KiB) and open fds.
#
#   bench/soak.sh            # 180 s
#   bench/soak.sh 600        # 10 min
#
# Loopback only. A debug build, like the rest of the test suite (set SOAK_RELEASE=1 for
# --release). Exits non-zero if any soak assertion fails.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-180}"
profile=()
if [ "${SOAK_RELEASE:-0}" = 1 ]; then profile=(--release); fi
SOAK_SECS="$secs" cargo test "${profile[@]}" -p switchyard-tests --test soak -- --nocapture 2>&1 \
  | tee /dev/stderr | grep '^SOAK ' | tr ' ' '\n' | tail -n +2
