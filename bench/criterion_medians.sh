#!/usr/bin/env bash
# Prints the median (and its 95% confidence interval) of every benchmark of the last
# `cargo bench -p switchyard --bench plugin_stage` run, from criterion's estimates.json files.
# Usage: bench/criterion_medians.sh   (honours CARGO_TARGET_DIR; default <repo>/target)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${CARGO_TARGET_DIR:-$REPO/target}/criterion
fmt() { awk -v ns="$1" 'BEGIN { if (ns < 1e3) printf "%.0f ns", ns; else if (ns < 1e6) printf "%.2f µs", ns / 1e3; else printf "%.2f ms", ns / 1e6 }'; }
printf '%-42s %12s   %s\n' "benchmark" "median" "95% CI of the median"
for group in stage_warm stage_fresh load_complexity; do
  for f in "$DIR"/"$group"/*/new/estimates.json; do
    [[ -f $f ]] || continue
    id="$group/$(basename "$(dirname "$(dirname "$f")")")"
    read -r m lo hi < <(jq -r '.median | "\(.point_estimate) \(.confidence_interval.lower_bound) \(.confidence_interval.upper_bound)"' "$f")
    printf '%-42s %12s   [%s, %s]\n' "$id" "$(fmt "$m")" "$(fmt "$lo")" "$(fmt "$hi")"
  done
done
