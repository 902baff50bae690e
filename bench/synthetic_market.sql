-- A synthetic market for benchmarks (psql script): :ads live ads of site
-- "bench" (40 makes x 25 models, model years 1995-2024, mileage and prices
-- that fall with age, each price off its line by up to ±20%), listed 30 days
-- ago, with their "new" events.
--   psql -v ads=100000 -f bench/synthetic_market.sql
SELECT otto.site_add('bench', 'bench', ARRAY['bench.invalid'], ARRAY['https://bench.invalid/'],
                     '^https://bench\.invalid/ad/([0-9]+)', '^https://bench\.invalid/list', 'polovniautomobili') AS site \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, make, model, year, mileage_km, price_eur, fuel, power_kw,
                     first_seen_at, last_seen_at)
SELECT :site, i::text, 'https://bench.invalid/ad/' || i, 'Make' || (i % 40), 'Model' || (i % 1000 / 40), y,
       (2025 - y) * 15000 + (i * 7919) % 30000,
       round((3000 + (i % 1000) * 40) * 0.88 ^ (2025 - y) * exp(((i * 104729) % 10007) / 10007.0 * 0.4 - 0.2)),
       CASE WHEN i % 3 = 0 THEN 'petrol' ELSE 'diesel' END, 50 + i % 150,
       now() - interval '30 days', now() - interval '30 days'
  FROM generate_series(1::bigint, :ads) i, LATERAL (SELECT 1995 + (i * 31) % 30 AS y) y;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad;
VACUUM ANALYZE otto.ad;
VACUUM ANALYZE otto.ad_event;
