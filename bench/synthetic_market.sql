-- A synthetic market for benchmarks (psql script): :ads live ads of site
-- "bench" (40 makes x 25 models, model years 1995-2024, mileage and prices
-- that fall with age, each price off its line by up to ±20%; bodies,
-- gearboxes, colours, regions, cities, sellers, doors, seats, engines and
-- damage spread as on a real site), listed over the 28 days up to 2 days ago, with their "new"
-- events.
--   psql -v ads=100000 -f bench/synthetic_market.sql
SELECT otto.site_add('bench', 'bench', ARRAY['bench.invalid'], ARRAY['https://bench.invalid/'],
                     '^https://bench\.invalid/ad/([0-9]+)', '^https://bench\.invalid/list', 'polovniautomobili') AS site \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, gearbox,
                     power_kw, engine_cc, color, seats, doors, drive, damage, location, region, seller_type,
                     first_seen_at, last_seen_at)
SELECT :site, i::text, 'https://bench.invalid/ad/' || i,
       'Make' || (i % 40) || ' Model' || (i % 1000 / 40) || ' ' || (ARRAY['1.6', '2.0 TDI', '1.4 TSI', '1.9 d', '3.0 V6'])[1 + i % 5]
           || (ARRAY['', ' Comfort', ' Sport', ' Navi', ' Highline', ' 4x4', ' Automatik'])[1 + i % 7],
       'Make' || (i % 40), 'Model' || (i % 1000 / 40), y,
       (2025 - y) * 15000 + (i * 7919) % 30000,
       round((3000 + (i % 1000) * 40) * 0.88 ^ (2025 - y) * exp(((i * 104729) % 10007) / 10007.0 * 0.4 - 0.2)),
       CASE WHEN h.f % 3 = 0 THEN 'petrol' ELSE 'diesel' END,
       (ARRAY['hatchback', 'sedan', 'estate', 'suv', 'mpv', 'coupe', 'hatchback', 'sedan', 'estate', 'suv'])[1 + (i % 1000 / 40) % 10],
       (ARRAY['manual_5', 'manual_6', 'manual_5', 'automatic'])[1 + h.g % 4],
       50 + i % 150, (ARRAY[1398, 1598, 1968, 1896, 2993])[1 + i % 5],
       (ARRAY['black', 'white', 'grey', 'silver', 'blue', 'red', 'green', 'brown'])[1 + h.c % 8],
       CASE WHEN h.s % 20 = 0 THEN 7 ELSE 5 END, CASE WHEN h.d % 10 = 0 THEN '2/3' ELSE '4/5' END,
       (ARRAY['front', 'front', 'rear', 'all'])[1 + h.w % 4],
       CASE WHEN h.x % 50 = 0 THEN 'damaged_drivable' ELSE 'none' END,
       'City' || h.l % 60, 'Region' || (h.l % 60) / 4,
       CASE WHEN h.t % 3 = 0 THEN 'dealer' ELSE 'private' END,
       now() - interval '30 days' + (i % 40320) * interval '1 minute', now()   -- over 28 days, none in the last two
  FROM generate_series(1::bigint, :ads) i, LATERAL (SELECT 1995 + (i * 31) % 30 AS y) y,
       LATERAL (SELECT (hashint8(i * 8 + 1) & 2147483647) AS g, (hashint8(i * 8 + 2) & 2147483647) AS c, (hashint8(i * 8 + 3) & 2147483647) AS s,   -- independent draws
                       (hashint8(i * 8 + 4) & 2147483647) AS d, (hashint8(i * 8 + 5) & 2147483647) AS w, (hashint8(i * 8 + 6) & 2147483647) AS x,
                       (hashint8(i * 8 + 7) & 2147483647) AS l, (hashint8(i * 8) & 2147483647) AS t, (hashint8(-i) & 2147483647) AS f) h;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad;
VACUUM ANALYZE otto.ad;
VACUUM ANALYZE otto.ad_event;
