-- The schema's constraints hold: what a crawler bug could write is refused.
-- Runs in the test cluster's "otto" database, next to pg_cron.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION otto;
SELECT plan(32);

SELECT has_schema('otto');
SELECT has_table('otto', t, 'table otto.' || t || ' exists')
  FROM unnest(ARRAY['site', 'frontier', 'page', 'ad', 'ad_event']) t;
SELECT col_is_pk('otto', 'frontier', ARRAY['site_id', 'url'], 'the frontier holds one row per (site, URL)');
SELECT ok(EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron'), 'otto installs beside pg_cron');

-- A valid site, ad and event go in.
SELECT lives_ok($$INSERT INTO otto.site (name, title, hosts, ad_url_pattern, listing_url_pattern)
                  VALUES ('example', 'Example cars', '{cars.example}', '/ad/([0-9]+)', '/list')$$,
                'a site is added with SQL alone');
SELECT lives_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url, make, model, year, mileage_km, price_eur)
                  SELECT site_id, '100', 'https://cars.example/ad/100', 'Audi', 'A4', 2008, 184150, 7200
                    FROM otto.site WHERE name = 'example'$$,
                'a valid ad is stored');
SELECT lives_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind, new_price_eur)
                  SELECT site_id, ad_id, 'new', price_eur FROM otto.ad WHERE source_ad_id = '100'$$,
                'a valid event is stored');

-- Ads: one per (site, source ad id), sane values.
SELECT throws_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url)
                   SELECT site_id, '100', 'https://cars.example/ad/100?x' FROM otto.site WHERE name = 'example'$$,
                 '23505', NULL, 'a duplicate ad per site is refused');
SELECT lives_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url)
                  SELECT site_id, '100', 'https://www.polovniautomobili.com/auto-oglasi/100/x'
                    FROM otto.site WHERE name = 'polovniautomobili'$$,
                'the same source id on another site is another ad');
SELECT throws_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url, mileage_km)
                   SELECT site_id, '101', 'u', -1 FROM otto.site WHERE name = 'example'$$,
                 '23514', NULL, 'negative mileage is refused');
SELECT throws_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url, year)
                   SELECT site_id, '102', 'u', 208 FROM otto.site WHERE name = 'example'$$,
                 '23514', NULL, 'an impossible year is refused');
SELECT throws_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url, state)
                   SELECT site_id, '103', 'u', 'removed' FROM otto.site WHERE name = 'example'$$,
                 '23514', NULL, 'a removed ad needs removed_at');
SELECT throws_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url)
                   SELECT site_id, '', 'u' FROM otto.site WHERE name = 'example'$$,
                 '23514', NULL, 'an empty source ad id is refused');
SELECT throws_ok($$INSERT INTO otto.ad (site_id, source_ad_id, url) VALUES (999999, '104', 'u')$$,
                 '23503', NULL, 'an ad needs an existing site');

-- Events: need an existing ad of the same site, and a coherent kind.
SELECT throws_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind) VALUES (1, 999999999, 'new')$$,
                 '23503', NULL, 'an ad event needs an existing ad');
SELECT throws_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind)
                   SELECT s.site_id, a.ad_id, 'new' FROM otto.ad a, otto.site s
                    WHERE a.source_ad_id = '100' AND a.site_id <> s.site_id AND s.name = 'polovniautomobili'
                      AND a.url LIKE 'https://cars.example/%'$$,
                 '23503', NULL, 'an ad event names its ad''s own site');
SELECT throws_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind)
                   SELECT site_id, ad_id, 'sold' FROM otto.ad WHERE url = 'https://cars.example/ad/100'$$,
                 '23514', NULL, 'an unknown event kind is refused');
SELECT throws_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind, old_price_eur, new_price_eur)
                   SELECT site_id, ad_id, 'price_changed', 7200, 7200 FROM otto.ad WHERE url = 'https://cars.example/ad/100'$$,
                 '23514', NULL, 'a price change must change the price');
SELECT throws_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind, changed_fields)
                   SELECT site_id, ad_id, 'updated', '{}' FROM otto.ad WHERE url = 'https://cars.example/ad/100'$$,
                 '23514', NULL, 'an update names the fields that changed');
SELECT throws_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind)
                   SELECT site_id, ad_id, 'removed' FROM otto.ad WHERE url = 'https://cars.example/ad/100'$$,
                 '23514', NULL, 'a removal states the days on market');
SELECT throws_ok($$DELETE FROM otto.ad WHERE url = 'https://cars.example/ad/100'$$,
                 '23503', NULL, 'an ad with events cannot be deleted out from under its log');

-- Frontier and sites.
SELECT throws_ok($$INSERT INTO otto.frontier (site_id, url, kind)
                   SELECT site_id, 'https://cars.example/' || repeat('x', 2100), 'ad' FROM otto.site WHERE name = 'example'$$,
                 '23514', NULL, 'a URL longer than 2048 bytes is refused');
SELECT throws_ok($$INSERT INTO otto.frontier (site_id, url, kind, state)
                   SELECT site_id, 'https://cars.example/list', 'listing', 'leased' FROM otto.site WHERE name = 'example'$$,
                 '23514', NULL, 'a leased URL needs a lease expiry');
SELECT throws_ok($$INSERT INTO otto.site (name, title, hosts, ad_url_pattern, listing_url_pattern)
                   VALUES ('Bad Name!', 'x', '{x}', 'x', 'x')$$,
                 '23514', NULL, 'a site name must be a short identifier');
SELECT throws_ok($$INSERT INTO otto.site (name, title, hosts, ad_url_pattern, listing_url_pattern)
                   VALUES ('nohosts', 'x', '{}', 'x', 'x')$$,
                 '23514', NULL, 'a site needs at least one host');

-- The chat role can read no table and write none.
SET LOCAL ROLE otto_chat;
SELECT throws_ok($$SELECT count(*) FROM otto.ad$$, '42501', NULL, 'the chat role cannot read ads directly');
SELECT throws_ok($$UPDATE otto.site SET enabled = true$$, '42501', NULL, 'the chat role cannot enable a site');
RESET ROLE;

-- The crawlers' error counters live in shared memory, sized when the server
-- starts, so src/ops/metrics.c lists the error kinds itself: exactly those
-- otto.page allows.
SELECT is((SELECT array_agg(label ORDER BY label) FROM otto.fetch_counters() WHERE counter = 'errors'),
          (SELECT array_agg(k[1] ORDER BY k[1])
             FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') k
            WHERE c.conrelid = 'otto.page'::regclass AND pg_get_constraintdef(c.oid) LIKE '%error_kind%'),
          'the error kinds the crawlers count are the ones otto.page.error_kind allows');

SELECT * FROM finish();
ROLLBACK;
