-- The parse stage on the real saved pages of polovniautomobili.com
-- (../shared/data/real/html).  Every field a person can read on each page.
CREATE EXTENSION otto;
\getenv abs_srcdir PG_ABS_SRCDIR
\set html :abs_srcdir '/../shared/data/real/html/'
CREATE TEMP TABLE page (name text PRIMARY KEY, url text, html text);
INSERT INTO page VALUES
 ('private ad', 'https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4-20-tdi-f-u-l?attp=p3_pv0_pc1_pl1_plv0',
  pg_read_file(:'html' || 'maxandreevich_2022-12_ad_20645877_audi_a4_private.html')),
 ('dealer ad', 'https://www.polovniautomobili.com/auto-oglasi/20627707/audi-a4-20-tdi-sw',
  pg_read_file(:'html' || 'maxandreevich_2022-12_ad_20627707_audi_a4_dealer.html')),
 ('audi listing 2022', 'https://www.polovniautomobili.com/auto-oglasi/audi',
  pg_read_file(:'html' || 'maxandreevich_2022-12_search_audi_page1.html')),
 ('volvo listing 2025', 'https://www.polovniautomobili.com/auto-oglasi/pretraga?brand=volvo&model[]=xc60&year_from=2020',
  pg_read_file(:'html' || 'dun4ev_2025-08-23_search_volvo_xc60_2020plus_page1.html'));

-- Ad pages: every field, typed and canonical.
SELECT name, jsonb_pretty(otto.parse_ad(html, url)) FROM page WHERE name LIKE '%ad' ORDER BY name;

-- Listing pages: 25 ads each (promoted repeats left out), next page, total.
SELECT name, jsonb_array_length(l->'ads') AS ads, l->>'total' AS total, l->>'next_url' AS next_url,
       l->>'duplicates_skipped' AS duplicates
  FROM page, otto.parse_listing(html, url) l WHERE name LIKE '%listing%' ORDER BY name;
SELECT a->>'source_ad_id' AS id, a->>'price_eur' AS price, a->>'renewed_at' AS renewed, a->>'title' AS title, a->>'url' AS url
  FROM page, jsonb_array_elements(otto.parse_listing(html, url)->'ads') a
 WHERE name = 'audi listing 2022';
-- Every card's id agrees with its URL, and no ad appears twice.
SELECT name, count(*) FILTER (WHERE a->>'url' NOT LIKE '%/auto-oglasi/' || (a->>'source_ad_id') || '/%') AS id_url_mismatch,
       count(*) - count(DISTINCT a->>'source_ad_id') AS repeats
  FROM page, jsonb_array_elements(otto.parse_listing(html, url)->'ads') a
 WHERE name LIKE '%listing%' GROUP BY name ORDER BY name;

-- Links: absolute, normalised (no attp), unique; javascript:, mailto: and # skipped.
SELECT count(*) AS links, count(DISTINCT l) = count(*) AS unique_links,
       count(*) FILTER (WHERE l LIKE '%attp=%') AS tracking_left,
       count(*) FILTER (WHERE l !~ '^https?://') AS not_absolute,
       count(*) FILTER (WHERE l ~ '/auto-oglasi/[0-9]+/') AS ad_links
  FROM page, otto.extract_links(html, url) l WHERE name = 'audi listing 2022';

-- The content hash ignores the renewal time and nothing else.
SELECT otto.content_hash(a) = otto.content_hash(a || '{"renewed_at": "2030-01-01T00:00:00Z"}') AS renewal_ignored,
       otto.content_hash(a) <> otto.content_hash(a || '{"price_eur": 7100}') AS price_counts
  FROM page, otto.parse_ad(html, url) a WHERE name = 'private ad';

DROP EXTENSION otto;
