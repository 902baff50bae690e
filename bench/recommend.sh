#!/usr/bin/env bash
# bench/recommend.sh: offline evaluation of otto.recommend (test/recommend_eval.sql):
#   a simulated population with known tastes over a market of 4,000 ads; one
#   liked ad per user held out; hit rate at 10 of otto.recommend beside the
#   baseline measured in the same run, the 10 most liked ads not yet seen.
# Target (issue 8): at least 2x the baseline.
# Usage: bash bench/recommend.sh [USERS]   (default 1000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
USERS=${1:-1000}
install_packages
build_and_install >/dev/null
bench_cluster rec 5494 "otto.stream_processor = off"
cp "$OTTO_ROOT/test/recommend_eval.sql" "$WORK/" && chmod 644 "$WORK/recommend_eval.sql"
as_cluster_user psql -h "$WORK/pg" -p 5494 -U postgres -d otto -qX -v ON_ERROR_STOP=1 -v users="$USERS" \
    -c 'CREATE EXTENSION otto' -c '\timing on' -f "$WORK/recommend_eval.sql" \
    -c '\pset format unaligned' -c '\pset tuples_only on' \
    -c "SELECT format('RESULT|recommend|hit rate at 10, %s users|%s|%%|>= 2x|%s|%s', o.users, o.hit_rate_at_10_pct,
                      b.hit_rate_at_10_pct, round(o.hit_rate_at_10_pct / nullif(b.hit_rate_at_10_pct, 0), 2))
          FROM rec_eval o, rec_eval b WHERE o.method = 'otto.recommend' AND b.method <> 'otto.recommend'" \
    | grep -v '^Time: [0-9.]* ms$' | tail -n 7
echo "target: otto.recommend >= 2x the baseline"
