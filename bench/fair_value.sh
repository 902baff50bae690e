#!/usr/bin/env bash
# bench/fair_value.sh: otto.fair_value against two standard gradient-boosted
# models, on the same rows in the same run (bench/fair_value_baselines.py).
#   Splits: ../shared/data/real/trsavi-pa-2019 80/20 (a hash of the row
#   number, as test/trsavi.sql); draws of 2,000 training and 500 test ads of
#   ../shared/data/real/kaggle-serbia-2024 (test/kaggle2024.sql), one per
#   seed; the simulated market (sim/otto-sim, 10,000 ads, two days) per seed,
#   80% of its live ads in the market and 20% held out, scored against the
#   simulator's hidden value of each car; and every live ad of the
#   simulated market priced as its own row, as good_deals and the ad page
#   price it (Otto: by the booster of its fold, which has not seen its
#   price; the baselines in-sample, so no ratio there).  In each split the
#   training ads are the live ads of a fresh database, otto.fair_value_train() trains and
#   calibrates the price model, and every test car is priced by
#   otto.fair_value from what its ad states.
#   Then, at OTTO_FV_BIG ads (default 1,000,000) of bench/synthetic_market.sql:
#   one training run (seconds, peak memory) and otto.fair_value's p95 over
#   1,000 ads.
# Targets (issue 20): MdAPE at most 0.97 of the best baseline's on each
# split; the 80% range holds 78-82%; 100% coverage; cars worth under 1,500 EUR
# (simulated) with a median signed error within 3%; p95 under 5 ms and a
# training run under 60 s at 1,000,000 ads.
# Usage: bash bench/fair_value.sh   (OTTO_FV_SEEDS="1 2 3", OTTO_FV_BIG=1000000; 0 skips it)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
REAL=$OTTO_ROOT/../shared/data/real
SEEDS=${OTTO_FV_SEEDS:-"1 2 3"}
BIG=${OTTO_FV_BIG:-1000000}
install_packages
install_packages python3-xgboost python3-sklearn
build_and_install >/dev/null
bench_cluster fv 5497 "otto.stream_processor = off
max_wal_size = 4GB"
cp "$REAL/trsavi-pa-2019/cars.csv" "$WORK/trsavi.csv"
cp "$REAL/kaggle-serbia-2024/serbia_car_sales_price_2024.csv" "$WORK/kaggle.csv"
cp "$OTTO_ROOT/test/trsavi.sql" "$OTTO_ROOT/test/kaggle2024.sql" "$WORK/"
chmod 644 "$WORK"/*.csv "$WORK"/*.sql
psql_fv() { as_cluster_user psql -h "$WORK/pg" -p 5497 -U postgres -qXtA -v ON_ERROR_STOP=1 "$@"; }
: > "$WORK/results.jsonl"

# One split: a fresh database, the loader's temp table "cars" (held_out false:
# in the market), training, and the three CSVs for the baselines.
run_split() {
    local name=$1 dir=$WORK/split-$2 loader=$3
    shift 3
    mkdir -p "$dir" && chown "$(cluster_user)" "$dir"
    psql_fv -d postgres -c "DROP DATABASE IF EXISTS fv" -c "CREATE DATABASE fv"
    psql_fv -d fv "$@" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION otto;
$loader
SELECT otto.stream_rebuild() IS NOT NULL AS rebuilt \gset
SELECT otto.fair_value_train() IS NOT NULL AS trained \gset
-- in_market: a training ad; test: priced and scored (an ad in the market is priced as its own row, ad_id and all)
CREATE TEMP VIEW car AS
SELECT c.n AS id, c.price, c.truth, c.in_market, c.test,
       coalesce((SELECT to_jsonb(a) FROM otto.ad a WHERE a.source_ad_id = c.n::text AND c.in_market AND c.test), c.ad,
                jsonb_strip_nulls(to_jsonb(c) - 'n' - 'held_out' - 'in_market' - 'test' - 'price' - 'truth' - 'ad' - 'km'
                                  - 'power_kw' || jsonb_build_object('mileage_km', CASE WHEN c.km BETWEEN 1 AND 1000000 THEN c.km END,
                                                                     'power_kw', nullif(c.power_kw, 0)))) AS car
  FROM cars c WHERE c.in_market OR c.test;
\copy (SELECT id, price, truth, car FROM car WHERE in_market) TO '$dir/train.csv' WITH (FORMAT csv, HEADER)
\copy (SELECT id, price, truth, car FROM car WHERE test) TO '$dir/test.csv' WITH (FORMAT csv, HEADER)
\copy (SELECT id, f->>'estimate_eur' AS estimate, f->'range_80_eur'->>0 AS lo, f->'range_80_eur'->>1 AS hi, f->'comparables'->>'estimate_eur' AS comparables, f->'price_model'->>'estimate_eur' AS model FROM (SELECT id, otto.fair_value(car) f FROM car WHERE test) x) TO '$dir/otto.csv' WITH (FORMAT csv, HEADER)
SQL
    /usr/bin/python3 "$OTTO_ROOT/bench/fair_value_baselines.py" "$name" "$dir" >> "$WORK/results.jsonl"
}

# the real sets: cars gets the columns the baseline script reads (truth: none, ad: none)
REAL_COLS="ALTER TABLE cars ADD truth int, ADD ad jsonb, ADD in_market boolean, ADD test boolean;
UPDATE cars SET in_market = NOT held_out, test = held_out;"
run_split "trsavi 2019, 80/20" trsavi "\\i $WORK/trsavi.sql
$REAL_COLS" -v csv="$WORK/trsavi.csv"
for s in $SEEDS; do
    run_split "kaggle 2024, 2,000/500, seed $s" "kaggle$s" "\\i $WORK/kaggle2024.sql
$REAL_COLS" -v csv="$WORK/kaggle.csv" -v seed="$s"
done

# the simulated market: each live ad's truth (its fields and hidden value)
# loaded as if crawled; 20% held out (new cars), then every live ad in the
# market priced as its own row (what good_deals and the ad page show)
export PYTHONDONTWRITEBYTECODE=1
for s in $SEEDS; do
    sim=$WORK/sim$s
    "$OTTO_ROOT/sim/otto-sim" init "$sim" --ads 10000 --seed "$((s + 100))" --port 18700 >/dev/null 2>&1
    "$OTTO_ROOT/sim/otto-sim" advance "$sim" >/dev/null 2>&1
    "$OTTO_ROOT/sim/otto-sim" advance "$sim" >/dev/null 2>&1
    chmod -R a+rX "$sim"
    day=$(ls -d "$sim"/truth/day-* | tail -1)
    for mode in "held out" "live ads in the market"; do
        if [ "$mode" = "held out" ]; then share=5; else share=1000000000; fi
        run_split "simulated seed $((s + 100)), $mode" "sim$s-$share" "
SELECT otto.site_add('sim', 'simulated', ARRAY['sim.invalid'], ARRAY['https://sim.invalid/'], '^https://sim\\.invalid/ad/([0-9]+)',
                     '^https://sim\\.invalid/list', 'polovniautomobili') AS site \\gset
CREATE TEMP TABLE raw (j jsonb);
COPY raw FROM '$day/ads.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02');
CREATE TEMP TABLE cars AS
SELECT (j->>'source_ad_id')::bigint AS n, (j->>'price_eur')::int AS price, (j->'hidden'->>'fair_value_eur')::int AS truth,
       abs(hashtext(j->>'source_ad_id')) % $share = 0 AS held_out, j - 'hidden' - 'url' - 'renewed_at' AS ad,
       NULL::int AS km, NULL::int AS power_kw
  FROM raw WHERE (j->>'price_eur')::int > 0;
ALTER TABLE cars ADD in_market boolean, ADD test boolean;
UPDATE cars SET in_market = NOT held_out, test = held_out OR $share > 5;
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, gearbox,
                     power_kw, power_hp, engine_cc, color, seats, doors, drive, emission_class, air_conditioning, damage,
                     origin, condition, region, location, seller_type, features, images_count, first_seen_at, last_seen_at)
SELECT :site, r.source_ad_id, 'https://sim.invalid/ad/' || r.source_ad_id, r.title, r.make, r.model, r.year, r.mileage_km,
       r.price_eur, r.fuel, r.body, r.gearbox, r.power_kw, r.power_hp, r.engine_cc, r.color, r.seats, r.doors, r.drive,
       r.emission_class, r.air_conditioning, r.damage, r.origin, r.condition, r.region, r.location, r.seller_type,
       r.features, r.images_count, now() - interval '3 days', now()
  FROM cars c, jsonb_populate_record(NULL::otto.ad, c.ad) r WHERE c.in_market;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad;"
    done
done

/usr/bin/python3 - "$WORK/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
splits = list(dict.fromkeys(r["split"] for r in rows))
def cheap(r, k):
    return "-" if r.get(k + "_median_signed_pct") is None else "%+.1f (%d)" % (r[k + "_median_signed_pct"], r[k + "_n"])
print("MdAPE against the asking price (simulated: against the hidden value); range80: held-out prices inside the 80% range;")
print("<1500: median signed error of the cars worth under 1,500 EUR, and of those estimated under 1,500 (simulated only)\n")
print("%-44s %-24s %6s %7s %7s %9s %13s %13s" % ("split", "method", "n", "cover%", "MdAPE%", "range80%", "<1500 worth", "<1500 est."))
fails = 0
for s in splits:
    rs = [r for r in rows if r["split"] == s]
    sim = s.startswith("simulated")
    for r in rs:
        print("%-44s %-24s %6d %7.2f %7.2f %9s %13s %13s" % (s, r["method"], r["n"], r["coverage_pct"], r["mdape_pct"],
              r.get("range_80_holds_pct", "-"), cheap(r, "cheap") if sim else "-", cheap(r, "est_cheap") if sim else "-"))
    o = rs[0]
    best = min(r["mdape_pct"] for r in rs if r["method"] in ("XGBoost", "HistGradientBoosting"))
    ratio = o["mdape_pct"] / best
    checks = [("MdAPE ratio to the best baseline %.3f (<= 0.97)" % ratio, ratio <= 0.97),
              ("range holds %.1f%% (78-82)" % o["range_80_holds_pct"], 78 <= o["range_80_holds_pct"] <= 82),
              ("coverage %.0f%% (100)" % o["coverage_pct"], o["coverage_pct"] == 100)]
    if sim:
        checks.append(("worth under 1,500: %+.1f%% (within 3%%)" % o["cheap_median_signed_pct"], abs(o["cheap_median_signed_pct"]) <= 3))
    if "in the market" in s:    # the baselines have seen these prices: no ratio
        checks = checks[1:]
    fails += not all(ok for _, ok in checks)
    print("%-44s => %s\n" % (s, "; ".join("%s %s" % (t, "met" if ok else "NOT MET") for t, ok in checks)))
    if "in the market" not in s:
        print("RESULT|fair_value|MdAPE, %s|%.2f|%%|<= 0.97 x best baseline|%.2f (best baseline)|%.3f" % (s, o["mdape_pct"], best, ratio))
print("splits meeting every target: %d of %d" % (len(splits) - fails, len(splits)))
PY

# the learned model at scale: one training, and fair_value's latency
if [ "$BIG" -gt 0 ]; then
    psql_fv -d postgres -c "DROP DATABASE IF EXISTS fv" -c "CREATE DATABASE fv"
    psql_fv -d fv -v ads="$BIG" -v synthetic="$OTTO_ROOT/bench/synthetic_market.sql" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION otto;
\i :synthetic
SELECT otto.stream_rebuild() IS NOT NULL AS rebuilt \gset
SELECT otto.fair_value_train() AS t \gset
SELECT format('%s ads: a training run %s s (boosting %s s) on %s ads (calibrated on %s), peak memory of the training process %s MB, boosters %s MB',
              :ads, :'t'::jsonb->>'seconds', :'t'::jsonb->>'train_seconds', :'t'::jsonb->>'n_train', :'t'::jsonb->>'n_holdout',
              round((:'t'::jsonb->>'peak_memory_kb')::numeric / 1024),
              (SELECT round(sum(octet_length(m)) / 1048576.0, 1) FROM otto.price_model, unnest(model) m));
SELECT format('RESULT|fair_value|training run at %s ads|%s|s|< 60|-|-', :ads, :'t'::jsonb->>'seconds');
CREATE TEMP TABLE lat AS
SELECT a.ad_id, clock_timestamp() AS t0, otto.fair_value(to_jsonb(a)) IS NOT NULL AS ok, clock_timestamp() AS t1
  FROM (SELECT * FROM otto.ad ORDER BY hashint8(ad_id) LIMIT 1000) a;
SELECT format('fair_value of 1,000 ads: p50 %s ms, p95 %s ms, all answered: %s',
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t1 - t0) * 1000)::numeric, 2),
              round(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t1 - t0) * 1000)::numeric, 2), bool_and(ok))
  FROM lat;
SELECT format('RESULT|fair_value|p95 at %s ads|%s|ms|< 5|-|-', :ads,
              round(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t1 - t0) * 1000)::numeric, 2))
  FROM lat;
SQL
fi
