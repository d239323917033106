#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a while each, on the stable toolchain.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      # default: 60 s each, all targets
#   SANITIZER=address fuzz/run.sh 300 sse             # ASan (needs RUSTC_BOOTSTRAP, set below)
#
# cargo-fuzz wants nightly only for `-Zsanitizer`; with `--sanitizer none` every flag it
# passes is stable, so the default here works on stable Rust. Safe Rust needs no ASan to
# catch what matters (panics, overflows with debug assertions on, timeouts, OOM); asking
# for ASan sets RUSTC_BOOTSTRAP=1 so stable rustc accepts the -Z flag.
#
# New inputs go to fuzz/corpus/TARGET (only the committed seed-* files are tracked); a crash
# is saved under fuzz/artifacts/TARGET and the script fails. Replay one with
#   fuzz/run.sh replay sse fuzz/artifacts/sse/crash-...
# The quick, fixed-iteration smoke run for CI is `cargo test -p switchyard-tests --test fuzz_smoke`.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo-fuzz >/dev/null; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 1
fi
sanitizer="${SANITIZER:-none}"
if [ "$sanitizer" != none ]; then
  export RUSTC_BOOTSTRAP=1
fi
build=(cargo fuzz build --sanitizer "$sanitizer" --debug-assertions)

if [ "${1:-}" = replay ]; then
  target="$2"; input="$3"
  "${build[@]}" "$target"
  exec cargo fuzz run --sanitizer "$sanitizer" --debug-assertions "$target" "$input"
fi

secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

"${build[@]}"
for target in "${targets[@]}"; do
  echo "==> $target for ${secs}s"
  mkdir -p "corpus/$target"
  # -timeout: one input taking over 10 s is a hang (the parsers are linear); -rss_limit_mb
  # and -malloc_limit_mb turn runaway allocation into a reported crash.
  cargo fuzz run --sanitizer "$sanitizer" --debug-assertions "$target" "corpus/$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 \
    -print_final_stats=1
done
