#!/usr/bin/env bash
# bench/market.sh: the market stream at 1,000,000 ads.
#   A fresh cluster (fsync on, stream processor off) gets N synthetic ads
#   (40 makes x 25 models, model years 1995-2024, mileage and prices that
#   fall with age) and their "new" events, and builds the market tables
#   from scratch (otto.stream_rebuild).  Then, in the same run:
#     - 1,000 new events (price cuts, removals, new ads) applied
#       incrementally with otto.stream_apply, against a REFRESH MATERIALIZED
#       VIEW of the same aggregates (otto.market_groups_recompute) - the
#       baseline;
#     - otto.fair_value latency over 1,000 random cars (p50, p95).
# Targets (issue 6): incremental >= 100x cheaper than the refresh; fair_value
# p95 < 5 ms.  (Freshness under load is measured by t/110_freshness.pl.)
# Usage: bash bench/market.sh [ADS]   (default 1000000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ADS=${1:-1000000}
install_packages
build_and_install >/dev/null
bench_cluster market 5496 "otto.stream_processor = off
shared_buffers = '1GB'
max_wal_size = '8GB'
work_mem = '64MB'"
as_cluster_user psql -h "$WORK/pg" -p 5496 -U postgres -d otto -qXtA -v ads="$ADS" -v synthetic="$OTTO_ROOT/bench/synthetic_market.sql" <<'SQL'
\set ON_ERROR_STOP on
CREATE EXTENSION otto;
SELECT clock_timestamp() AS t0 \gset
\i :synthetic
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1) AS load_s \gset
SELECT clock_timestamp() AS t0 \gset
SELECT otto.stream_rebuild() IS NOT NULL AS ok \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1) AS rebuild_s \gset
VACUUM ANALYZE otto.market_ad;
CREATE MATERIALIZED VIEW market_mv AS SELECT * FROM otto.market_groups_recompute((SELECT watermark FROM otto.stream_state));

-- 1,000 events: 600 price cuts, 300 removals, 100 new ads
UPDATE otto.ad SET price_eur = price_eur - 100 WHERE ad_id % 1000 = 7 AND ad_id <= 600000;
INSERT INTO otto.ad_event (site_id, ad_id, kind, old_price_eur, new_price_eur)
SELECT site_id, ad_id, 'price_changed', price_eur + 100, price_eur FROM otto.ad WHERE ad_id % 1000 = 7 AND ad_id <= 600000;
UPDATE otto.ad SET state = 'removed', removed_at = now() WHERE ad_id % 1000 = 11 AND ad_id <= 300000;
INSERT INTO otto.ad_event (site_id, ad_id, kind, old_price_eur, days_on_market)
SELECT site_id, ad_id, 'removed', price_eur, 30 FROM otto.ad WHERE ad_id % 1000 = 11 AND ad_id <= 300000;
WITH n AS (INSERT INTO otto.ad (site_id, source_ad_id, url, make, model, year, mileage_km, price_eur)
           SELECT :site, 'n' || i, 'https://bench.invalid/ad/n' || i, 'Make' || (i % 40), 'Model' || (i % 25), 2015, 90000, 9000
             FROM generate_series(1, 100) i RETURNING site_id, ad_id, price_eur)
INSERT INTO otto.ad_event (site_id, ad_id, kind, new_price_eur) SELECT site_id, ad_id, 'new', price_eur FROM n;
CHECKPOINT;

SELECT clock_timestamp() AS t0 \gset
SELECT otto.stream_apply(1000)->>'events' AS applied \gset
SELECT extract(epoch FROM clock_timestamp() - :'t0') * 1000 AS inc_ms \gset
SELECT clock_timestamp() AS t0 \gset
REFRESH MATERIALIZED VIEW market_mv;
SELECT extract(epoch FROM clock_timestamp() - :'t0') * 1000 AS refresh_ms \gset
SELECT count(*) AS differing FROM ((TABLE market_mv EXCEPT TABLE otto.market_mmy) UNION ALL (TABLE otto.market_mmy EXCEPT TABLE market_mv)) x \gset

-- each call timed on its own (a statement's clock_timestamp() reads can be evaluated before the call)
CREATE TEMP TABLE fv_ms (ms float8);
DO $$
DECLARE
    t timestamptz;
BEGIN
    FOR i IN 1 .. 1000 LOOP
        t := clock_timestamp();
        PERFORM otto.fair_value('Make' || (i * 7 % 40), 'Model' || (i * 13 % 25), 1995 + i % 30, 150000);
        INSERT INTO fv_ms VALUES (extract(epoch FROM clock_timestamp() - t) * 1000);
    END LOOP;
END
$$;
\pset format aligned
\pset tuples_only off
\echo
SELECT :ads AS ads, :'load_s' AS load_s, :'rebuild_s' AS full_rebuild_s, (SELECT count(*) FROM otto.market_mmy) AS groups;
SELECT 'apply 1,000 events' AS figure, :applied AS events, round(:inc_ms::numeric, 1) AS otto_ms,
       round(:refresh_ms::numeric, 1) AS baseline_refresh_mv_ms, round((:refresh_ms / :inc_ms)::numeric, 1) AS ratio,
       '>= 100' AS target, :differing AS groups_differing;
SELECT 'fair_value latency' AS figure, count(*) AS calls,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p95_ms, '< 5' AS target_p95
  FROM fv_ms;
\pset format unaligned
\pset tuples_only on
SELECT format('RESULT|market|apply 1,000 events at %s ads|%s|ms|>= 100x|%s ms (refresh)|%s', :ads, round(:inc_ms::numeric, 1),
              round(:refresh_ms::numeric, 1), round((:refresh_ms / :inc_ms)::numeric, 1));
SELECT format('RESULT|market|fair_value p95 at %s ads|%s|ms|< 5|-|-', :ads,
              round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2)) FROM fv_ms;
SQL
