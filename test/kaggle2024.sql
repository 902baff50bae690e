-- Another year's market, for benchmarks (psql script; run as a superuser).
--   psql -v csv=PATH/serbia_car_sales_price_2024.csv -v seed=1 -f test/kaggle2024.sql
-- Loads ../shared/data/real/kaggle-serbia-2024 (8,413 Serbian used-car ads of
-- 2024) into the temp table "cars" (the columns of test/trsavi.sql's and the
-- rest the set states), draws 2,000 of them by a hash with :seed as live ads
-- of site "kaggle" (held_out false) and 500 others as held out (true; the
-- rest NULL), with their "new" events.  The caller builds the market tables.
SELECT otto.site_add('kaggle', 'Serbian used-car ads, 2024 (Kaggle)', ARRAY['kaggle.invalid'],
                     ARRAY['https://kaggle.invalid/'], '^https://kaggle\.invalid/ad/([0-9]+)',
                     '^https://kaggle\.invalid/list', 'polovniautomobili') AS site \gset
CREATE TEMP TABLE raw (views text, favorite text, post_info text, price text, car_name text, year text, a_c text,
                       emission_class text, seats text, horsepower text, color text, km text, cc text, drive text,
                       doors text, fuel text, body text, gearbox text);
COPY raw FROM :'csv' WITH (FORMAT csv, HEADER);
CREATE TEMP TABLE cars AS
SELECT n, w[1] || CASE WHEN w[1] IN ('Alfa', 'Land') THEN ' ' || w[2] ELSE '' END AS make,
       w[CASE WHEN w[1] IN ('Alfa', 'Land') THEN 3 ELSE 2 END] AS model, car_name AS title, price::int AS price,
       year::int AS year, CASE WHEN km ~ '^[0-9]{1,7}$' THEN km::int END AS km, nullif(fuel, '') AS fuel, nullif(body, '') AS body,
       CASE WHEN cc ~ '^[0-9]{1,5}$' THEN nullif(cc::int, 0) END AS engine_cc, substring(horsepower FROM '\(([0-9]+) kW\)')::int AS power_kw,
       nullif(gearbox, '') AS gearbox, nullif(drive, '') AS drive, nullif(doors, '') AS doors,
       nullif(a_c, '') AS air_conditioning, nullif(emission_class, '') AS emission_class, nullif(color, '') AS color,
       CASE WHEN seats ~ '^[0-9]{1,2}$' THEN nullif(seats::int, 0) END AS seats
  FROM (SELECT row_number() OVER () AS n, r.*, regexp_split_to_array(r.car_name, '\s+') AS w FROM raw r) r
 WHERE price ~ '^[0-9]{1,7}$' AND price::int > 0 AND year ~ '^(19|20)[0-9]{2}$' AND cardinality(w) >= 2;
ALTER TABLE cars ADD held_out boolean;
UPDATE cars c SET held_out = d.rank > 2000
  FROM (SELECT n, row_number() OVER (ORDER BY hashint8extended(n, :seed)) AS rank FROM cars) d
 WHERE d.n = c.n AND d.rank <= 2500;
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, engine_cc,
                     power_kw, gearbox, drive, doors, air_conditioning, emission_class, color, seats,
                     first_seen_at, last_seen_at)
SELECT :site, n::text, 'https://kaggle.invalid/ad/' || n, title, make, model, year, km, price, fuel, body, engine_cc,
       nullif(power_kw, 0), gearbox, drive, doors, air_conditioning, emission_class, color, seats,
       '2024-11-01'::timestamptz - (n % 7) * interval '1 day', '2024-11-01'
  FROM cars WHERE NOT held_out;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad WHERE site_id = :site;
