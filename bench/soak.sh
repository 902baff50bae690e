#!/usr/bin/env bash
# bench/soak.sh: the long soak, t/140_soak.pl at full length: 30 simulated
# days over 20,000 ads, the simulator's fault modes on, crawlers and the
# stream processor killed -9 at random moments, the server stopped hard
# twice; at the end no ad lost or duplicated, the event log equal to the
# truth's, the market tables equal to a recompute, every alert once, the
# workers' memory flat.  (The test command runs the same test short.)
# Usage: bash bench/soak.sh [DAYS] [ADS]   (default 30 20000; OTTO_SOAK_SEED)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
DAYS=${1:-30} ADS=${2:-20000}
install_packages
build_and_install >/dev/null
WORK=$(mktemp -d /var/tmp/otto-bench-soak.XXXXXX)
chmod 755 "$WORK" && chown "$(cluster_user)" "$WORK"
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
set +e
# a day's sweep of 20,000 ads takes longer than PostgreSQL::Test's default 180 s wait
(cd "$WORK" && as_cluster_user env TESTDIR="$WORK" PATH="$PG_BIN:$PATH" OTTO_ROOT="$OTTO_ROOT" PG_TEST_TIMEOUT_DEFAULT=3600 \
    PG_REGRESS="$PG_BIN/../lib/pgxs/src/test/regress/pg_regress" OTTO_SOAK_DAYS="$DAYS" OTTO_SOAK_ADS="$ADS" \
    prove -v -I "$PG_BIN/../lib/pgxs/src/test/perl" -I "$OTTO_ROOT/t" "$OTTO_ROOT/t/140_soak.pl") 2>&1 | tee "$WORK/soak.log"
rc=${PIPESTATUS[0]}
set -e
# the test's own log (why it stopped, if it did) outlives the work directory
cp "$WORK"/tmp_check/log/regress_log_140_soak "/var/tmp/otto-soak-$(date -u +%Y%m%dT%H%M%SZ).log" 2>/dev/null || true
[ "$rc" = 0 ] || tail -n 20 "$WORK"/tmp_check/log/regress_log_140_soak 2>/dev/null || true
passed=$(grep -c '^ok ' "$WORK/soak.log" || true)
failed=$(grep -c '^not ok ' "$WORK/soak.log" || true)
bench_result soak "checks passed, $DAYS days x $ADS ads" "$passed" checks "all, and a plan met" - \
    "$([ "$rc" = 0 ] && echo complete || echo "FAILED (exit $rc, $failed failed)")"
bench_result soak "wall time" "$(( $(date +%s) - t0 ))" s - - -
exit "$rc"
