-- Real ads as a market, for tests and benchmarks (psql script; run as a superuser).
--   psql -v csv=PATH/cars.csv -f test/trsavi.sql
-- Loads ../shared/data/real/trsavi-pa-2019/cars.csv (17,672 ads of
-- polovniautomobili.com, July 2019) into the temp table "cars" with a fixed
-- 80/20 split (held_out: a hash of the row number), and the 80% into otto.ad
-- as live ads of site "trsavi" with their "new" events.  Set :seen_at to date
-- them (default 2019-07-15); the caller builds the market tables.
\if :{?seen_at}
\else
\set seen_at 2019-07-15
\endif
SELECT otto.site_add('trsavi', 'polovniautomobili.com, July 2019 (trsavi)', ARRAY['trsavi.invalid'],
                     ARRAY['https://trsavi.invalid/'], '^https://trsavi\.invalid/ad/([0-9]+)',
                     '^https://trsavi\.invalid/list', 'polovniautomobili') AS site \gset
CREATE TEMP TABLE raw (make text, model text, title text, price int, year int, km int, fuel text, cc int, body text, power text);
COPY raw FROM :'csv' WITH (FORMAT csv, HEADER);
CREATE TEMP TABLE cars AS
SELECT row_number() OVER () AS n, initcap(make) AS make, initcap(model) AS model, title, price, year, km,
       otto.vocabulary_code('fuel', trim(fuel)) AS fuel, otto.vocabulary_code('body', trim(body)) AS body,
       nullif(cc, 0) AS engine_cc, substring(power FROM '^([0-9]+)kW')::int AS power_kw
  FROM raw WHERE price > 0;
ALTER TABLE cars ADD held_out boolean;
UPDATE cars SET held_out = abs(hashtext(n::text)) % 5 = 0;
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, engine_cc,
                     power_kw, first_seen_at, last_seen_at)
SELECT :site, n::text, 'https://trsavi.invalid/ad/' || n, title, make, model, year, km, price, fuel, body, engine_cc,
       nullif(power_kw, 0), :'seen_at'::timestamptz - (n % 7) * interval '1 day', :'seen_at'
  FROM cars WHERE NOT held_out;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad WHERE site_id = :site;
