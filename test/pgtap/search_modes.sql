-- otto.search_ads finds a page three ways (the first run of the sort's index,
-- a walk along it to the end, or every match through the filters' indexes),
-- the first two also per model year (by price, mileage or power with a
-- year-bound filter): each must give exactly the page a plain query gives.  The run and the
-- bitmap threshold are set small so that a 3,000-ad market takes every way.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION otto;
SELECT plan(8);

SELECT otto.site_add('m', 'modes', ARRAY['m.invalid'], ARRAY['https://m.invalid/'], '^https://m\.invalid/ad/([0-9]+)',
                     '^https://m\.invalid/list', 'polovniautomobili') AS site \gset
-- prices fall and mileage grows with age, as on a real market: the cheapest
-- ads are old, so a cheap recent car is far down the price order
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, gearbox,
                     power_kw, color, seats, doors, damage, location, region, seller_type, first_seen_at, last_seen_at)
SELECT :site, i::text, 'https://m.invalid/ad/' || i, 'Make' || i % 4 || ' Model' || i % 12 || (ARRAY[' TDI', ' Navi', ''])[1 + i % 3],
       'Make' || i % 4, 'Model' || i % 12, y, (2025 - y) * 15000 + (i * 7919) % 20000,
       round(20000 * 0.85 ^ (2025 - y) * (0.8 + ((i * 104729) % 1009) / 2500.0)),
       (ARRAY['petrol', 'diesel'])[1 + (hashint4(i) & 1)], (ARRAY['hatchback', 'sedan', 'estate', 'suv'])[1 + (hashint4(i + 7) & 3)],
       (ARRAY['manual_5', 'automatic'])[1 + (hashint4(i + 9) & 1)], 50 + i % 100,
       (ARRAY['black', 'white', 'grey', 'red'])[1 + (hashint4(i + 11) & 3)], 5, '4/5', 'none',
       'City' || i % 9, 'Region' || i % 3, (ARRAY['private', 'dealer'])[1 + (hashint4(i + 13) & 1)],
       now() - interval '20 days' + i * interval '5 minutes', now()
  FROM generate_series(1, 3000) i, LATERAL (SELECT 1998 + (i * 31) % 27 AS y) y;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad;
SELECT otto.stream_rebuild() IS NOT NULL AS rebuilt \gset
ANALYZE otto.ad;
SET otto.search_run_ads = 100;
SET otto.search_bitmap_ads = 200;

-- The page as a plain query over otto.search_filter's own conditions gives it.
CREATE FUNCTION pg_temp.truth(filters jsonb, sort text, lim int DEFAULT 20, off int DEFAULT 0) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    sf  record := otto.search_filter(filters);
    key text := CASE sort WHEN 'newest' THEN 'a.first_seen_at DESC' WHEN 'price_asc' THEN 'a.price_eur'
                          WHEN 'price_desc' THEN 'a.price_eur DESC' WHEN 'mileage_asc' THEN 'a.mileage_km'
                          WHEN 'year_desc' THEN 'a.year DESC' WHEN 'power_desc' THEN 'a.power_kw DESC' END;
    res bigint[];
BEGIN
    EXECUTE format('SELECT array_agg(ad_id) FROM (SELECT a.ad_id FROM otto.ad a WHERE %s %s
                     ORDER BY %s NULLS LAST, a.ad_id DESC LIMIT %s OFFSET %s) x',
                   array_to_string(sf.conds, ' AND '),
                   CASE WHEN sf.deals THEN 'AND otto.line_deal(otto.ad_line_gap(a.make, a.model, a.price_eur, a.year, a.mileage_km))' ELSE '' END,
                   key, lim, off) INTO res USING sf.f;
    RETURN coalesce(res, '{}');
END $$;

CREATE TEMP TABLE q (filters jsonb, sort text);
INSERT INTO q VALUES
    ('{}', 'newest'),
    ('{"fuel": "diesel"}', 'price_asc'),                             -- common: in the first run
    ('{"year_min": 2020}', 'price_asc'),                             -- many, but past the cheap old cars: a walk
    ('{"year_min": 2018, "color": "black"}', 'price_asc'),
    ('{"mileage_max": 60000}', 'price_asc'),
    ('{"year_min": 2022, "make": "Make1", "model": "Model5"}', 'price_asc'),   -- few: the filters' indexes
    ('{"region": "Region2", "body": "suv", "year_min": 2021}', 'mileage_asc'),
    ('{"price_max": 3000}', 'year_desc'),
    ('{"text": "navi", "year_min": 2019}', 'price_asc'),
    ('{"good_deal": true, "year_min": 2019}', 'price_asc'),
    ('{"good_deal": true}', 'price_desc'),
    ('{"damaged": false, "year_min": 2020, "gearbox": "automatic"}', 'power_desc'),
    ('{"seller_type": "dealer", "price_min": 9000}', 'newest'),
    ('{"year_min": 2015, "fuel": "petrol"}', 'mileage_asc'),
    ('{"year_max": 2010, "color": "red"}', 'power_desc'),
    ('{"mileage_max": 90000, "good_deal": true}', 'price_desc'),
    ('{"mileage_max": 150000, "make": "Make2", "model": "Model2"}', 'price_desc'),
    ('{"year_min": 2004, "year_max": 2012, "body": "estate", "fuel": "diesel", "color": "grey"}', 'price_asc'),
    ('{"text": "tdi", "good_deal": true}', 'price_desc'),                -- the title read for the entries that pass
    ('{"text": "navi", "fuel": "diesel", "color": "red"}', 'newest'),
    ('{"text": "navi"}', 'newest'),
    ('{"text": "tdi", "fuel": "diesel"}', 'price_asc');
CREATE TEMP TABLE r AS
SELECT q.filters, q.sort, x->>'found_by' AS found_by,
       ARRAY(SELECT (e->>'ad_id')::bigint FROM jsonb_array_elements(x->'ads') e) AS got, pg_temp.truth(q.filters, q.sort) AS want
  FROM q, LATERAL otto.search_ads(q.filters, q.sort, 20) x;

SELECT is((SELECT count(*) FROM r WHERE got IS DISTINCT FROM want), 0::bigint,
          'every page is exactly the plain query''s: ' ||
          coalesce((SELECT string_agg(filters::text || ' ' || sort || ' by ' || found_by, '; ') FROM r WHERE got IS DISTINCT FROM want), 'all equal'));
SELECT ok((SELECT count(*) FROM r WHERE found_by = 'sort_index_run') >= 2, 'pages found in the first run of the sort''s index');
SELECT ok((SELECT count(*) FROM r WHERE found_by = 'sort_index_walk') >= 2, 'pages found by a walk along the sort''s index');
SELECT ok((SELECT count(*) FROM r WHERE found_by = 'filter_indexes') >= 2, 'pages found through the filters'' indexes');
SELECT ok((SELECT count(*) FROM r WHERE found_by = 'sort_index_run_by_year') >= 2, 'pages found in the first runs of each model year');
SELECT ok((SELECT count(*) FROM r WHERE found_by = 'sort_index_walk_by_year') >= 1, 'pages found by walks within each model year');
SELECT ok((SELECT bool_and(cardinality(want) > 0) FROM r), 'every combination has matches (the comparison is not of empty pages)');
-- a later page, per model year, with the ads that state no year among them
UPDATE otto.ad SET year = NULL WHERE ad_id % 97 = 0;
SELECT is(ARRAY(SELECT (e->>'ad_id')::bigint FROM jsonb_array_elements(otto.search_ads(q.filters, q.sort, 10, 15)->'ads') e),
          pg_temp.truth(q.filters, q.sort, 10, 15), 'page 2 of ' || q.filters::text || ' by ' || q.sort)
  FROM (VALUES ('{"mileage_max": 400000, "fuel": "diesel"}'::jsonb, 'price_asc')) q(filters, sort);

SELECT * FROM finish();
ROLLBACK;
