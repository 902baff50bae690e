-- A second real site with SQL alone: AutoScout24's Dutch edition
-- (../shared/data/real/html), added as a user would, with the generic
-- schema.org profile.  Its JSON-LD nests the Car in Product -> offers ->
-- itemOffered, states mileage and power as QuantitativeValues with unit
-- codes, the year as productionDate, and its values in Dutch.
CREATE EXTENSION otto;
\getenv abs_srcdir PG_ABS_SRCDIR
\set html :abs_srcdir '/../shared/data/real/html/'
SELECT otto.site_add('autoscout24_nl', 'AutoScout24 NL', '{www.autoscout24.nl}', '{https://www.autoscout24.nl/lst}',
                     '^https://www\.autoscout24\.nl/aanbod/[^?#]*-([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$',
                     '^https://www\.autoscout24\.nl/lst', 'schema_org') IS NOT NULL AS added;
CREATE TEMP TABLE page (name text PRIMARY KEY, url text, html text);
INSERT INTO page VALUES
 ('bmw i4 ad', 'https://www.autoscout24.nl/aanbod/bmw-i4-edrive40-high-executive-m-sport-schuif-kanteldak-elektrisch-grijs-d0a81c19-b380-4d5a-a10d-f123711b4605',
  pg_read_file(:'html' || 'i4scout_2026-01_autoscout24_nl_ad_bmw_i4.html')),
 ('bmw i4 listing', 'https://www.autoscout24.nl/lst/bmw/i4',
  pg_read_file(:'html' || 'i4scout_2026-01_autoscout24_nl_search_bmw_i4.html'));

-- The ad: every field its JSON-LD states, typed and in the vocabulary's codes.
SELECT jsonb_pretty(otto.parse_ad(html, url)) FROM page WHERE name = 'bmw i4 ad';

-- Its listing, with rules written in SQL: the cards, their ids, prices and links.
UPDATE otto.site SET rules = rules || '{"listing": {"card": "article.cldt-summary-full-item", "id_attr": "data-guid",
    "price_attr": "data-price", "link": "a.ListItemTitle_anchor__4TrfR"}}' WHERE name = 'autoscout24_nl';
SELECT jsonb_array_length(l->'ads') AS ads, l->>'next_url' AS next_url
  FROM page, otto.parse_listing(html, url) l WHERE name = 'bmw i4 listing';
SELECT a->>'source_ad_id' AS id, a->>'price_eur' AS price, a->>'url' AS url
  FROM page, jsonb_array_elements(otto.parse_listing(html, url)->'ads') a
 WHERE name = 'bmw i4 listing' LIMIT 5;
-- Every card's id is the id in its URL (the site's ad_url_pattern), and no ad appears twice.
SELECT count(*) FILTER (WHERE substring(a->>'url' FROM s.ad_url_pattern) IS DISTINCT FROM a->>'source_ad_id') AS id_url_mismatch,
       count(*) - count(DISTINCT a->>'source_ad_id') AS repeats, count(*) FILTER (WHERE a->>'price_eur' IS NULL) AS no_price
  FROM page, otto.site s, jsonb_array_elements(otto.parse_listing(html, url)->'ads') a
 WHERE page.name = 'bmw i4 listing' AND s.name = 'autoscout24_nl';

-- Ingested as a user would: an ad with its events, stored in Otto's codes.
SELECT otto.ingest_page(url, html, 200, '2026-01-15 12:00+00')->>'event' AS event FROM page WHERE name = 'bmw i4 ad';
SELECT make, model, year, mileage_km, price_eur, fuel, body, gearbox, drive, color, power_kw, power_hp, doors, seats,
       condition, seller_type, seller_name, location, raw
  FROM otto.ad WHERE site_id = (SELECT site_id FROM otto.site WHERE name = 'autoscout24_nl');

-- How other sites write the same: @graph, a list of types, miles, litres, a
-- model year, enumeration URLs, German values; nesting deeper than four
-- levels is not followed.
SELECT otto.site_add('jsonld', 'JSON-LD', '{cars.example}', '{https://cars.example/}', '^https://cars\.example/ad/([0-9]+)',
                     '^https://cars\.example/list') IS NOT NULL AS added;
SELECT jsonb_pretty(otto.parse_ad($$<html><head><script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "name": "Angebot"},
 {"@type": ["Car", "Product"], "name": "VW Golf 2.0 TDI", "brand": "Volkswagen", "model": {"@type": "ProductModel", "name": "Golf"},
  "vehicleModelDate": "2019", "mileageFromOdometer": {"@type": "QuantitativeValue", "value": "10000", "unitCode": "SMI"},
  "vehicleEngine": {"@type": "EngineSpecification", "fuelType": "Benzin",
                    "engineDisplacement": {"value": 2.0, "unitCode": "LTR"}, "enginePower": {"value": 110}},
  "driveWheelConfiguration": "https://schema.org/FrontWheelDriveConfiguration", "vehicleTransmission": "Automatik",
  "color": "Weiß", "bodyType": "Kombi",
  "offers": [{"@type": "Offer", "price": "18500", "priceCurrency": "EUR", "itemCondition": "https://schema.org/UsedCondition",
              "seller": {"@type": "Person", "name": "Hans", "address": {"addressLocality": "Köln", "addressRegion": "NRW"}}}]}]}
</script></head><body></body></html>$$, 'https://cars.example/ad/42'));
SELECT otto.parse_ad($$<script type="application/ld+json">
{"@graph": [{"@type": "WebPage", "mainEntity": {"@type": "WebPage", "mainEntity": {"@type": "WebPage", "mainEntity":
 {"@type": "WebPage", "mainEntity": {"@type": "Car", "brand": "Too deep", "offers": {"price": 1}}}}}}]}
</script>$$, 'https://cars.example/ad/43') AS too_deep;
DROP EXTENSION otto;
