#!/usr/bin/env bash
# bench/fuzz.sh: the longer fuzzing campaigns (the test command runs each
# for 60 s): fuzz_parse in-process and fuzz_sql through the whole parse path
# on a throwaway cluster, each for SECONDS (default 1800), inputs up to 1 MB,
# seeded with the real saved pages and fuzz/seeds.py.  Prints executions,
# new inputs and any crash (libFuzzer keeps the input that did it in OUT).
# Usage: bash bench/fuzz.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/../scripts/common.sh"
cd "$OTTO_ROOT"
SECONDS_EACH=${1:-1800}
install_packages && build_and_install
bench_cluster fuzz 5443 "fsync = off"
OUT=${OUT:-/var/tmp/otto-fuzz-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
as_cluster_user psql -h "$WORK/pg" -p 5443 -qX -d otto -c 'CREATE EXTENSION otto' >/dev/null
run_fuzzers "$OUT" "$SECONDS_EACH" "host=$WORK/pg port=5443 user=postgres dbname=otto" 1048576
bench_result fuzz "harnesses that found a crash, $SECONDS_EACH s each" "$FUZZ_FAIL" - 0 "of 2 (fuzz_parse, fuzz_sql)" -
echo "logs and corpora: $OUT"
[ "$FUZZ_FAIL" -eq 0 ]
