-- The market stream and the answers on a small, exactly known market:
-- 60 Volkswagen Golf ads whose prices fall 10% a model year and 2% per
-- 10,000 km, events written as the ingest writes them.
CREATE EXTENSION otto;
SELECT otto.site_add('t', 'test', ARRAY['cars.test'], ARRAY['https://cars.test/'], '^https://cars\.test/ad/([0-9]+)',
                     '^https://cars\.test/list', 'polovniautomobili') AS site_id \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, make, model, year, mileage_km, price_eur, fuel, body, power_kw,
                     first_seen_at, last_seen_at)
SELECT :site_id, i::text, 'https://cars.test/ad/' || i, 'Volkswagen', 'Golf', 2008 + i % 12, 80000 + (i * 7919) % 160000,
       round(25000 * 0.9 ^ (2026 - 2008 - i % 12) * 0.98 ^ ((80000 + (i * 7919) % 160000) / 10000.0)),
       CASE WHEN i % 3 = 0 THEN 'petrol' ELSE 'diesel' END, 'hatchback', 77 + (i % 4) * 10,
       '2026-01-01'::timestamptz + i * interval '1 minute', '2026-01-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 60) i;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad ORDER BY ad_id;

-- Batches move the watermark; nothing is applied twice.
SELECT otto.stream_apply(25);
SELECT otto.stream_apply(25);
SELECT otto.stream_apply(25);
SELECT otto.stream_apply(25);
SELECT watermark, events, batches FROM otto.stream_state;
SELECT ads, live, priced, price_mean, regression_n, sold FROM otto.market_model;
SELECT year, live FROM otto.market_model_year ORDER BY year LIMIT 3;

-- Price cuts, sales, and a car back under a new id (its first listing was no sale)
UPDATE otto.ad SET price_eur = price_eur - 500 WHERE ad_id IN (1, 2, 3);
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, new_price_eur)
SELECT site_id, ad_id, 'price_changed', '2026-01-03', price_eur + 500, price_eur FROM otto.ad WHERE ad_id IN (1, 2, 3);
UPDATE otto.ad SET state = 'removed', removed_at = '2026-01-01'::timestamptz + ad_id * interval '1 day'
 WHERE ad_id BETWEEN 1 AND 10;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, days_on_market)
SELECT site_id, ad_id, 'removed', removed_at, price_eur, round(extract(epoch FROM removed_at - first_seen_at) / 86400, 2)
  FROM otto.ad WHERE ad_id BETWEEN 1 AND 10 ORDER BY ad_id;
INSERT INTO otto.ad (site_id, source_ad_id, url, make, model, year, mileage_km, price_eur, fuel, body, power_kw,
                     first_seen_at, last_seen_at)
SELECT site_id, '1001', 'https://cars.test/ad/1001', make, model, year, mileage_km + 100, price_eur - 200, fuel, body,
       power_kw, '2026-01-15', '2026-01-15'
  FROM otto.ad WHERE ad_id = 4;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur, details)
SELECT site_id, ad_id, 'relisted', first_seen_at, price_eur, '{"relist_of_ad_id": 4}' FROM otto.ad WHERE source_ad_id = '1001';
SELECT otto.stream_apply();
SELECT ads, live, sold, days_on_market_mean, sold_within_7d, ads_price_cut, price_cuts, price_cut_eur, relisted
  FROM otto.market_model;
-- the relist sells after 3 more days: one sale of 3 + 3 days on market
UPDATE otto.ad SET state = 'removed', removed_at = '2026-01-18' WHERE source_ad_id = '1001';
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, days_on_market)
SELECT site_id, ad_id, 'removed', removed_at, price_eur, 3 FROM otto.ad WHERE source_ad_id = '1001';
SELECT otto.stream_apply();
SELECT ad_id, live, continued, removed_days, prior_days FROM otto.market_ad WHERE ad_id IN (4, 61);
SELECT sold, days_on_market_mean, relisted FROM otto.market_model;
-- the incremental tables equal a recompute from scratch
SELECT otto.stream_check() - 'watermark';

-- The answers
SELECT r->'estimate_eur' AS estimate, r->'range_80_eur' AS range, r->'confidence' AS confidence,
       r->'comparables'->'count' AS n, r->'comparables'->>'which' AS comparables, r->'adjustment' AS adjustment
  FROM otto.fair_value('volkswagen', 'GOLF', 2015, 150000) r;
SELECT r->'estimate_eur' AS estimate, r->'comparables'->>'which' AS comparables, r->>'fallback' AS fallback
  FROM otto.fair_value('Volkswagen', 'Golf', 2015, 150000, 'petrol', 107) r;
SELECT r->'estimate_eur' AS estimate, r->>'fallback' AS fallback, r->'confidence' AS confidence, r->'adjustment'->'fit_of' AS fit
  FROM otto.fair_value('Volkswagen', 'Passat', 2015) r;
SELECT otto.fair_value('Lada', 'Niva', 2015) - 'as_of';
SELECT r->'annual_rate_pct' AS rate, r->'per_10000_km_pct' AS per_10000_km, r->'n' AS n,
       r->'value_curve'->0 AS newest, r->'price_cuts_live' AS cuts
  FROM otto.depreciation('Volkswagen', 'Golf') r;
SELECT otto.depreciation_ranking(min_ads => 10) -> 'ranking';
SELECT otto.fastest_selling(min_sold => 1) -> 'ranking';
SELECT otto.fastest_selling(level => 'model_year', min_sold => 1, price_max => 3000) -> 'ranking';
-- a fresh ad a quarter under its value and one at half of it, where every
-- comparable is within 1% of the others: too far out of line to trust, so
-- both are suspicious rather than deals (otto.price_suspect)
UPDATE otto.ad SET price_eur = round(price_eur * 0.75) WHERE ad_id = 30;
UPDATE otto.ad SET price_eur = price_eur / 2 WHERE ad_id = 31;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, new_price_eur)
SELECT site_id, ad_id, 'price_changed', now(), CASE ad_id WHEN 30 THEN round(price_eur / 0.75) ELSE price_eur * 2 END, price_eur
  FROM otto.ad WHERE ad_id IN (30, 31) ORDER BY ad_id;
SELECT otto.stream_apply() - 'watermark';
SELECT d->'ad_id' AS ad_id, d->'deal' AS deal, d->'gap_pct' AS gap_pct, d->'price_eur' AS price, d->'fair_value_eur' AS fair,
       split_part(d->>'why', ';', 1) AS why
  FROM jsonb_array_elements(otto.good_deals()->'deals') d;
SELECT d->'ad_id' AS ad_id, d->'deal' AS deal, d->'gap_pct' AS gap_pct, d->>'reason' AS reason
  FROM jsonb_array_elements(otto.good_deals()->'suspicious') d;
SELECT r->'live' AS live, r->'price_median_eur' AS median, r->'popular' AS popular, r->'histograms'->'price_eur' AS prices
  FROM otto.market_overview() r;
SELECT r->'live' AS live, r->'popular' AS popular, r->'histograms'->'model_year'->0 AS oldest
  FROM otto.market_overview('VOLKSWAGEN', 'golf') r;
SELECT otto.market_overview('Lada') - 'as_of';

-- Wrong arguments say what to send instead (the message and hint, not the
-- call stack they came through)
\set SHOW_CONTEXT never
SELECT otto.fair_value('Volkswagen', 'Golf', NULL);
SELECT otto.fair_value('Volkswagen', 'Golf', 2015, -5);
SELECT otto.fastest_selling(level => 'colour');
SELECT otto.stream_apply(0);
SELECT otto.vec_add('{1,2}', '{1}');
SELECT otto.vec_add('{1,2}', '{0.5,NULL}'), otto.vec_neg('{1,-2}'), otto.vec_sum(v) FROM (VALUES ('{1,2}'::numeric[]), ('{3,4}')) x(v);

-- Rebuilding from scratch gives the same tables
CREATE TEMP TABLE before AS SELECT * FROM otto.market_mmy;
SELECT otto.stream_rebuild() - 'watermark';
SELECT count(*) AS differing FROM ((TABLE before EXCEPT TABLE otto.market_mmy) UNION ALL (TABLE otto.market_mmy EXCEPT TABLE before)) x;
DROP EXTENSION otto;
