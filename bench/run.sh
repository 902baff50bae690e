#!/usr/bin/env bash
# bench/run.sh: every benchmark in bench/, one after the other, then one
# table of their headline figures: value, target, the baseline measured in
# the same run, and the ratio.  Each benchmark's full output is kept in
# OUT (default /var/tmp/otto-bench-<time>); its RESULT|... lines (see
# bench_result in scripts/common.sh) are the stable, comparable record
# (OUT/results.txt).  About an hour on 2 cores.
# Usage: bash bench/run.sh [BENCH ...]   (default: all of them)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/var/tmp/otto-bench-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
BENCHES=("$@")
[ ${#BENCHES[@]} -gt 0 ] || BENCHES=(simulator parse hostile crawl fair_value answers market mcp web search recommend soak)
for b in "${BENCHES[@]}"; do
    t0=$(date +%s)
    printf '%-12s ' "$b"
    if bash "bench/$b.sh" >"$OUT/$b.log" 2>&1; then status=ok; else status="FAILED (see $OUT/$b.log)"; fi
    echo "$status, $(( $(date +%s) - t0 )) s"
done
for b in "${BENCHES[@]}"; do grep -h '^RESULT|' "$OUT/$b.log"; done >"$OUT/results.txt"
echo
{
    echo "bench|figure|value|unit|target|baseline (same run)|ratio"
    sed 's/^RESULT|//' "$OUT/results.txt"
} | column -t -s '|'
echo
echo "raw output: $OUT"
