#!/usr/bin/env bash
# bench/fuzz.sh: the longer fuzzing campaigns (the test command runs each
# for 60 s): fuzz_parse in-process and fuzz_sql through the whole parse path
# on a throwaway cluster, each for SECONDS (default 1800), seeded with the
# real saved pages and fuzz/seeds.py.  Prints executions, new inputs and any
# crash (libFuzzer keeps the input that did it in OUT).
# Usage: bash bench/fuzz.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/../scripts/common.sh"
cd "$OTTO_ROOT"
SECONDS_EACH=${1:-1800}
install_packages && build_and_install
bench_cluster fuzz 5443 "fsync = off"
OUT=${OUT:-/var/tmp/otto-fuzz-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/corpus" && cp ../shared/data/real/html/*.html "$OUT/corpus/" && python3 fuzz/seeds.py "$OUT/corpus"
cp -r "$OUT/corpus" "$OUT/corpus-sql"
make -s -C fuzz clean >/dev/null && make -s -C fuzz all 2>&1 | grep -v 'Wignored-attributes'
as_cluster_user psql -h "$WORK/pg" -p 5443 -qX -d otto -c 'CREATE EXTENSION otto' >/dev/null
status=0
for harness in fuzz_parse fuzz_sql; do
    corpus=$OUT/corpus; [ "$harness" = fuzz_sql ] && corpus=$OUT/corpus-sql
    (cd "$OUT" && ASAN_OPTIONS=detect_leaks=0 OTTO_FUZZ_CONNINFO="host=$WORK/pg port=5443 user=postgres dbname=otto" \
        "$OTTO_ROOT/fuzz/$harness" -max_total_time="$SECONDS_EACH" -max_len=1048576 -rss_limit_mb=4096 \
        -print_final_stats=1 "$corpus") > "$OUT/$harness.log" 2>&1
    rc=$?
    [ "$rc" -ne 0 ] && status=1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$harness.log")
    added=$(sed -n 's/^stat::new_units_added: *//p' "$OUT/$harness.log")
    grep -E 'ERROR|SUMMARY|^fuzz_sql:' "$OUT/$harness.log" | head -5
    bench_result fuzz "$harness, $SECONDS_EACH s: crashes" "$( [ "$rc" -eq 0 ] && echo 0 || echo 1)" - 0 "${execs:-0} executions, ${added:-0} new inputs" -
done
echo "logs and corpora: $OUT"
exit $status
