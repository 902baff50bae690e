-- otto.ingest_page: the per-page pipeline on saved pages, and the admin API.
CREATE EXTENSION otto;
\getenv abs_srcdir PG_ABS_SRCDIR
\set html :abs_srcdir '/../shared/data/real/html/'
CREATE TEMP TABLE saved (name text PRIMARY KEY, url text, html text);
INSERT INTO saved VALUES
 ('ad', 'https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4-20-tdi-f-u-l?attp=p3_pv0_pc1_pl1_plv0',
  pg_read_file(:'html' || 'maxandreevich_2022-12_ad_20645877_audi_a4_private.html')),
 ('listing', 'https://www.polovniautomobili.com/auto-oglasi/audi',
  pg_read_file(:'html' || 'maxandreevich_2022-12_search_audi_page1.html'));

-- A new ad: stored once, one "new" event; its links go to the frontier, classified.
SELECT otto.ingest_page(url, html, 200, '2022-12-19 10:00+00') FROM saved WHERE name = 'ad';
SELECT source_ad_id, make, model, year, price_eur, mileage_km, state, first_seen_at FROM otto.ad;
SELECT kind, new_price_eur, at FROM otto.ad_event ORDER BY event_id;
SELECT kind, depth, count(*) FROM otto.frontier GROUP BY 1, 2 ORDER BY 1, 2;

-- The same page again: no event, only last seen moves.
SELECT otto.ingest_page(url, html, 200, '2022-12-20 10:00+00') ->> 'event' AS event FROM saved WHERE name = 'ad';
SELECT count(*) AS events, (SELECT last_seen_at FROM otto.ad) FROM otto.ad_event;

-- A price cut (on the page and in its dataLayer): one price_changed event with both prices.
SELECT otto.ingest_page(url, replace(replace(html, '7.200 €', '6.900 €'), '"object_price":"7200"', '"object_price":"6900"'),
                        200, '2022-12-21 10:00+00') ->> 'event' AS event FROM saved WHERE name = 'ad';
SELECT kind, old_price_eur, new_price_eur, changed_fields FROM otto.ad_event ORDER BY event_id;
-- Another colour: an "updated" event naming the field, with old and new values.
SELECT otto.ingest_page(url, replace(replace(html, '7.200 €', '6.900 €'), '>Crna <', '>Bela <'), 200, '2022-12-22 10:00+00') ->> 'event' AS event
  FROM saved WHERE name = 'ad';
SELECT kind, changed_fields, details FROM otto.ad_event WHERE kind = 'updated';
-- Gone: a 404 removes the ad with its days on market; a later 410 adds nothing.
SELECT otto.ingest_page(url, NULL, 404, '2022-12-23 10:00+00') ->> 'event' AS event FROM saved WHERE name = 'ad';
SELECT otto.ingest_page(url, NULL, 410, '2022-12-23 12:00+00') ->> 'event' AS event FROM saved WHERE name = 'ad';
SELECT kind, at, old_price_eur, days_on_market, details FROM otto.ad_event WHERE kind = 'removed';
-- Seen again after a removal: relisted, and live again.
SELECT otto.ingest_page(url, replace(replace(html, '7.200 €', '6.900 €'), '>Crna <', '>Bela <'), 200, '2022-12-24 10:00+00') ->> 'event' AS event
  FROM saved WHERE name = 'ad';
SELECT state, removed_at FROM otto.ad;
-- An ad page that now redirects to its make's listing: removed again.
SELECT otto.ingest_page(url, '<html></html>', 200, '2022-12-25 10:00+00',
                        '{"final_url": "https://www.polovniautomobili.com/auto-oglasi/audi", "redirects": 1}') ->> 'event' AS event
  FROM saved WHERE name = 'ad';
SELECT kind, days_on_market, details FROM otto.ad_event WHERE kind IN ('removed', 'relisted') ORDER BY event_id;
SELECT state, removed_at FROM otto.ad;

-- A listing page: its 25 ads and the next page are queued.
SELECT otto.ingest_page(url, html, 200, '2022-12-19 10:00+00') - 'ad_id' FROM saved WHERE name = 'listing';
SELECT kind, count(*) FROM otto.frontier WHERE state = 'queued' GROUP BY 1 ORDER BY 1;
-- A 404 of an ad Otto never stored is only logged.
SELECT otto.ingest_page('https://www.polovniautomobili.com/auto-oglasi/20645878/audi-a6', NULL, 404) - 'ad_id';
SELECT status, count(*) FROM otto.page GROUP BY 1 ORDER BY 1;
SELECT otto.ingest_page('https://elsewhere.example/x', '<html></html>');

-- A batch, as the crawler stores pages (otto.ingest_site_pages: one
-- transaction, set-based steps, a result per page in order).  Two URLs of one
-- ad go in two rounds, as if stored one after the other: the first relists
-- the removed ad, the second finds it unchanged; a 404 of an ad never stored
-- is only logged.
SELECT r - 'ad_id' AS result
  FROM saved, otto.ingest_site_pages((SELECT site_id FROM otto.site WHERE name = 'polovniautomobili'),
         ARRAY['https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4-b',
               'https://www.polovniautomobili.com/auto-oglasi/20645879/audi-a8',
               'https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4-c'],
         ARRAY[html, NULL, html], ARRAY[200, 404, 200],
         ARRAY['2022-12-26 10:00+00', '2022-12-26 10:00+00', '2022-12-26 10:01+00']::timestamptz[], NULL) r
 WHERE name = 'ad';
SELECT count(*) AS ads, count(*) FILTER (WHERE state = 'live') AS live FROM otto.ad;
SELECT kind, count(*) FROM otto.ad_event GROUP BY 1 ORDER BY 1;
-- Batches that cannot be stored say why, and store nothing.
SELECT otto.ingest_site_pages(1, ARRAY['https://www.polovniautomobili.com/x', 'https://www.polovniautomobili.com/x'],
                              ARRAY[NULL, NULL]::text[], ARRAY[404, 404], ARRAY[now(), now()], NULL);
SELECT otto.ingest_site_pages(1, ARRAY['https://www.polovniautomobili.com/x'], '{}', ARRAY[404], ARRAY[now()], NULL);
SELECT otto.ingest_site_pages(1, '[0:0]={https://www.polovniautomobili.com/x}', ARRAY[NULL]::text[], ARRAY[404],
                              ARRAY[now()], NULL);
SELECT otto.ingest_site_pages(1, ARRAY['https://www.polovniautomobili.com/x'], ARRAY[NULL]::text[], ARRAY[NULL]::int[],
                              ARRAY[now()], NULL);
SELECT otto.ingest_site_pages(-1, ARRAY['https://www.polovniautomobili.com/x'], ARRAY[NULL]::text[], ARRAY[404],
                              ARRAY[now()], NULL);
SELECT count(*) AS results FROM otto.ingest_site_pages(1, '{}', '{}', '{}', '{}', NULL);
SELECT count(*) AS pages FROM otto.page WHERE url = 'https://www.polovniautomobili.com/x';

-- Admin API.
SELECT otto.site_add('autoplac', 'AutoPlac', '{WWW.AutoPlac.example}', '{https://www.autoplac.example/lista}',
                     '^https://www\.autoplac\.example/oglas/([0-9]+)', '^https://www\.autoplac\.example/lista') IS NOT NULL AS added;
SELECT name, hosts, enabled, rules FROM otto.site WHERE name = 'autoplac';
SELECT otto.crawl_start('autoplac') AS seeds_queued;
SELECT site, enabled, queued, due, in_flight, done, failed, delay_ms, sweep_mode, sweep FROM otto.crawl_status ORDER BY site;
SELECT otto.crawl_stop('autoplac');
SELECT enabled FROM otto.site WHERE name = 'autoplac';
SELECT otto.crawl_start('nope');
SELECT site, errors_1h FROM otto.crawl_status WHERE site = 'polovniautomobili';

-- The chat role can neither ingest nor control crawls.
SET ROLE otto_chat;
SELECT otto.ingest_page('https://www.polovniautomobili.com/x', '');
SELECT otto.crawl_start('polovniautomobili');
RESET ROLE;
DROP EXTENSION otto;
