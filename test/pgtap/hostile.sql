-- Hostile input: what a web page, a chat user, a buyer or an otto_admin can
-- send must not crash a backend, outlast its timeout, cost more than linear
-- time, store text that is not text, or lend anyone rights (issue 18: each
-- finding and its neighbours).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION otto;
SELECT plan(47);
\set url 'https://www.polovniautomobili.com/auto-oglasi/1/x'
SET LOCAL hostile.url = :'url';

-------------------------------------------------------------------------------
-- NULL for each argument of every C function of the extension, from the
-- catalog (a new function is covered without anyone remembering to): it
-- returns (NULL when STRICT) or raises a clear error, never an internal one.
-------------------------------------------------------------------------------
CREATE TEMP TABLE null_calls (fn regprocedure, pos int, strict boolean, outcome text);
DO $$
DECLARE
    f record;
    call text;
    res text;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS fn, p.oid::regproc AS name, p.proisstrict, p.proretset,
                    p.proargtypes::regtype[] AS types, p.pronargs
               FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'otto'
              WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') AND p.pronargs > 0 LOOP
        FOR pos IN 0 .. f.pronargs LOOP          -- 0: every argument NULL
            call := format('SELECT %s(%s)::text', f.name,
                           (SELECT string_agg(CASE WHEN pos = 0 OR i = pos THEN 'NULL::' || t::text
                                                   ELSE CASE t WHEN 'text'::regtype THEN quote_literal(current_setting('hostile.url'))
                                                               WHEN 'jsonb'::regtype THEN '''{}''::jsonb'
                                                               WHEN 'bytea'::regtype THEN '''\x3c703e''::bytea'
                                                               WHEN 'numeric[]'::regtype THEN '''{1,2}''::numeric[]'
                                                               WHEN 'text[]'::regtype THEN '''{a,b}''::text[]'
                                                               WHEN 'real[]'::regtype THEN '''{1,2}''::real[]'
                                                               WHEN 'boolean'::regtype THEN 'true'
                                                               ELSE '1::' || t::text END END, ', ' ORDER BY i)
                              FROM unnest(f.types) WITH ORDINALITY x(t, i)));
            IF f.proretset THEN
                call := format('SELECT count(*)::text FROM (%s) x', call);
            END IF;
            BEGIN
                EXECUTE call INTO res;
                INSERT INTO null_calls VALUES (f.fn, pos, f.proisstrict, coalesce('returned ' || res, 'NULL'));
            EXCEPTION WHEN OTHERS THEN
                INSERT INTO null_calls VALUES (f.fn, pos, f.proisstrict, 'error ' || SQLSTATE || ': ' || SQLERRM);
            END;
        END LOOP;
    END LOOP;
END
$$;
SELECT cmp_ok(count(DISTINCT fn), '>=', 15::bigint, 'every C function with arguments was called with NULLs') FROM null_calls;
SELECT is(count(*), (SELECT sum(pronargs + 1) FROM pg_proc p
                      WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') AND p.pronargs > 0
                        AND p.pronamespace = 'otto'::regnamespace),
          'each argument NULL in turn, and all of them') FROM null_calls;
SELECT is(count(*), 0::bigint, 'no internal error (XX000) on NULL') FROM null_calls WHERE outcome LIKE 'error XX%';
SELECT is(count(*), 0::bigint, 'a STRICT function returns NULL') FROM null_calls WHERE strict AND outcome <> 'NULL' AND outcome NOT LIKE 'returned 0';
SELECT is(outcome, 'NULL', 'decode_body(NULL, content type) is NULL') FROM null_calls WHERE fn = 'otto.decode_body(bytea,text)'::regprocedure AND pos = 1;
SELECT is(outcome, 'error 22004: a tool query must not be NULL', 'tool_exec(NULL, ...) is a clear error')
  FROM null_calls WHERE fn = 'otto.tool_exec(text,jsonb)'::regprocedure AND pos = 1;

-------------------------------------------------------------------------------
-- Control characters 0x01-0x1F in each kind of field and each source: typed
-- values never travel with in-band separators, so they arrive as sent.
-------------------------------------------------------------------------------
CREATE TEMP TABLE ctl AS
SELECT c, kind, otto.parse_ad(page, current_setting('hostile.url')) AS ad
  FROM generate_series(1, 31) c,
       LATERAL (VALUES
         ('row byte', '<div class="divider"><div class="uk-width-1-2">Gorivo</div><div class="uk-width-1-2 uk-text-bold">D' || chr(c) || 'z</div></div>'),
         ('row entity', '<div class="divider"><div class="uk-width-1-2">Boja</div><div class="uk-width-1-2 uk-text-bold">D&#' || c || ';z</div></div>'),
         ('title', '<h1>D' || chr(c) || 'z &#' || c || ';</h1><span class="priceClassified">7.' || chr(c) || '200 €</span>'),
         ('json-ld', '<script type="application/ld+json">{"@type": "Car", "bodyType": "D\u' || lpad(to_hex(c), 4, '0') || 'z", "name": "T\u0001"}</script>'),
         ('script object', '<script>dataLayer.push({"object_uid": "5", "object_fuel": "D\u' || lpad(to_hex(c), 4, '0') || 'z"});</script>'),
         ('listing-like', '<article class="classified" data-classifiedid="1' || chr(c) || '"><h2><a href="/auto-oglasi/1/x" title="T' || chr(c) || '">t</a></h2></article>')
       ) k(kind, page);
SELECT is(count(*), 31 * 6::bigint, 'parse_ad answers every page with a control character') FROM ctl WHERE ad IS NOT NULL;
SELECT is(count(*), 0::bigint, 'and every answer is valid jsonb text') FROM ctl WHERE (ad::text)::jsonb IS DISTINCT FROM ad;
SELECT is(count(*), 27::bigint, 'an unknown fuel from the rows keeps its control character under raw (white space aside)')
  FROM ctl WHERE kind = 'row byte' AND ad->'raw'->>'fuel' = 'D' || chr(c) || 'z';
SELECT is(count(*), 31::bigint, 'and so does one written as an entity (white space too)')
  FROM ctl WHERE kind = 'row entity' AND ad->'raw'->>'color' = 'D' || chr(c) || 'z';
SELECT is(count(*), 31::bigint, 'JSON-LD escapes arrive decoded') FROM ctl WHERE kind = 'json-ld' AND ad->'raw'->>'body' = 'D' || chr(c) || 'z';
SELECT is(count(*), 31::bigint, 'script object escapes arrive decoded') FROM ctl WHERE kind = 'script object' AND ad->'raw'->>'fuel' = 'D' || chr(c) || 'z';
SELECT is(count(*), 27::bigint, 'parse_listing keeps control characters of a card''s id (white space aside)')
  FROM generate_series(1, 31) c,
       otto.parse_listing('<article class="classified" data-classifiedid="1' || chr(c) || '" data-price="7' || chr(c) || '"><h2><a href="/auto-oglasi/1/x" title="T'
                          || chr(c) || '">t</a></h2></article>', current_setting('hostile.url')) l
 WHERE l->'ads'->0->>'source_ad_id' = '1' || chr(c);

SELECT is(count(*), 1000::bigint, 'links inside 1,000 unclosed <a> elements (deeper than the element stack) are all found')
  FROM otto.extract_links((SELECT string_agg('<a href=/u/' || i || '>', '') FROM generate_series(1, 1000) i), :'url');
SELECT ok(otto.robots_allowed(repeat('#' || repeat('x', 98) || E'\n', 6000) || E'User-agent: *\nDisallow: /', 'OttoBot', :'url'),
          'robots.txt is read up to 500 KiB (RFC 9309 2.5), which bounds the rules a URL is matched against');

-------------------------------------------------------------------------------
-- Text is cut only at character boundaries.
-------------------------------------------------------------------------------
SELECT is(convert_from(convert_to(otto.parse_ad('<h1>a' || repeat('č', 40000) || '</h1>', :'url')->>'title', 'UTF8'), 'UTF8'),
          'a' || repeat('č', 32767), 'a 64 kB value is cut before the character that does not fit, not inside it');
SELECT is(otto.parse_ad('<div class="divider"><div class="uk-width-1-2">Gorivo</div><div class="uk-width-1-2 uk-text-bold">x' || repeat('ž', 40000)
                        || '</div></div>', :'url')->'raw'->>'fuel', 'x' || repeat('ž', 32767), 'so is a row''s value');

-------------------------------------------------------------------------------
-- Linear time: four times the input costs about four times the time (a
-- quadratic scan costs sixteen).  The best of three runs of each size.
-------------------------------------------------------------------------------
\i test/hostile_pages.sql
CREATE FUNCTION pg_temp.ms(fn text, page text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    best float8 := 'Infinity';
    t timestamptz;
BEGIN
    FOR i IN 1 .. 3 LOOP
        t := clock_timestamp();
        PERFORM hostile_run(fn, page);
        best := least(best, extract(epoch FROM clock_timestamp() - t) * 1000);
    END LOOP;
    RETURN best;
END $$;
CREATE TEMP TABLE growth AS     -- 1.5 MB, then 6 MB
SELECT name AS what, pg_temp.ms(fn, hostile_page(name, 1536)) AS small, pg_temp.ms(fn, hostile_page(name, 6144)) AS large
  FROM hostile_kind;
SELECT diag(format('%s: %s ms, four times as much: %s ms (x%s)', what, round(small::numeric, 1), round(large::numeric, 1),
                   round((large / small)::numeric, 1))) FROM growth;
SELECT ok(large < 8 * greatest(small, 1), what || ': time grows linearly with the page') FROM growth ORDER BY what;

-------------------------------------------------------------------------------
-- A long parse is cancelled on time.
-------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.cancel_ms(page text) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hostile_run('extract_links', page);
    RETURN -1;                          -- not cancelled
EXCEPTION WHEN query_canceled THEN
    RETURN extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000;
END $$;
-- the slowest kind per byte (bench/hostile.sh), about 200 ms at 8 MB
CREATE TEMP TABLE big AS SELECT hostile_page('unclosed links', 8000) AS page;
SET LOCAL statement_timeout = '20ms';
SELECT pg_temp.cancel_ms(page) AS cancel_ms FROM big \gset
RESET statement_timeout;
SELECT ok(:cancel_ms BETWEEN 0 AND 1000, format('statement_timeout (20 ms) stops an 8 MB parse after %s ms', round(:cancel_ms)));

-------------------------------------------------------------------------------
-- Escalation: tools run with otto.call_tool's rights, so only the
-- extension's own read-only functions can be tools; no role reachable by a
-- chat user or a buyer gets a function that runs SQL text.
-------------------------------------------------------------------------------
SET LOCAL ROLE otto_admin;
CREATE FUNCTION pg_temp.evil() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT to_jsonb(rolpassword) FROM pg_authid LIMIT 1 $$;
SELECT throws_ok($$INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema)
                   VALUES ('evil', 'x', 'x', 'pg_temp.evil()', '{"type": "object"}', '{"type": "object"}')$$,
                 '42501', NULL, 'otto_admin cannot make its own function a tool');
SELECT throws_ok($$INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema)
                   VALUES ('evil', 'x', 'x', 'pg_catalog.current_setting(text)', '{"type": "object"}', '{"type": "object"}')$$,
                 '42501', NULL, 'nor a built-in function of PostgreSQL');
SELECT throws_ok($$UPDATE otto.tool SET fn = 'pg_temp.evil()' WHERE name = 'search_ads'$$,
                 '42501', NULL, 'nor point a shipped tool at one');
SELECT throws_ok($$ALTER TABLE otto.tool DISABLE TRIGGER tool_check$$, '42501', NULL, 'nor switch the check off');
SELECT lives_ok($$UPDATE otto.tool SET description = description || ' ' WHERE name = 'search_ads'$$,
                'an admin can still edit a tool''s texts');
RESET ROLE;
-- a tool that got past the registration check is refused at the call
ALTER TABLE otto.tool DISABLE TRIGGER tool_check;
INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema)
VALUES ('evil', 'x', 'x', 'pg_catalog.pg_postmaster_start_time()', '{"type": "object"}', '{"type": "object"}');
ALTER TABLE otto.tool ENABLE TRIGGER tool_check;
SET LOCAL ROLE otto_chat;
SELECT throws_ok($$SELECT otto.call_tool('evil', '{}')$$, '42501', NULL, 'a foreign tool function is refused at each call too');
SELECT throws_ok($$SELECT otto.tool_exec('SELECT ''{}''::jsonb', '{}')$$, '42501', NULL, 'the chat role cannot run a query of its own');
SELECT lives_ok($$SELECT otto.call_tool('search_ads', '{"filters": {"make": "x''); DROP TABLE otto.ad; --"}}')$$,
                'SQL in a chat argument is only a value');
SELECT throws_ok($$SELECT otto.call_tool('search_ads', '[]')$$, '22023', 'arguments must be a JSON object, not array',
                 'an argument list that is not an object is refused in plain words');
SELECT is(otto.call_tool('search_ads', '{"limit": 5}')->>'limit', '5', 'search_ads reports the limit asked for');
RESET ROLE;
SET LOCAL ROLE otto_app;
SELECT throws_ok($$SELECT otto.search_estimate('true; SELECT 1', '{}')$$, '42883', NULL, 'search_estimate takes no SQL');
SELECT lives_ok($$SELECT otto.search_estimate('{"make": "Audi"}')$$, 'it estimates from filters');
RESET ROLE;
SELECT is(count(*), 0::bigint, 'no function otto_app or otto_chat may run executes one of its text arguments')
  FROM pg_proc p, unnest(p.proargnames, p.proargtypes::oid[]) a(name, type)
 WHERE p.pronamespace = 'otto'::regnamespace AND a.type = 'text'::regtype
   AND (has_function_privilege('otto_app', p.oid, 'EXECUTE') OR has_function_privilege('otto_chat', p.oid, 'EXECUTE'))
   AND (p.prosrc ~* ('EXECUTE[^;]*\|\|\s*' || a.name || '\M') OR p.prosrc ~* ('EXECUTE\s+' || a.name || '\M')
        OR (p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') AND a.name IN ('query', 'sql', 'conds')));

-------------------------------------------------------------------------------
-- Poison pages: deaths on a page (from the crawlers' crash records) are
-- counted; a quarantined page is left as it is; a page that is finished
-- starts again from 0 (t/150 and t/140 run it for real).
-------------------------------------------------------------------------------
INSERT INTO otto.frontier (site_id, url, kind) VALUES (1, :'url', 'ad');
SELECT is(otto.frontier_crashed(:'url') + otto.frontier_crashed(:'url'), 2::bigint, 'deaths are counted');
SELECT is(crashes, 2, 'each of them') FROM otto.frontier WHERE url = :'url';
SELECT otto.fetch_failed(1, :'url', 'http', 'HTTP 500') AS state \gset
SELECT is(crashes, 0, 'a page that is finished (here: a failed fetch recorded) starts again from 0') FROM otto.frontier WHERE url = :'url';

-------------------------------------------------------------------------------
-- Addresses that reach private networks through IPv6 are not public.
-------------------------------------------------------------------------------
SELECT is(array_agg(a ORDER BY a) FILTER (WHERE otto.address_is_private(a)),
          ARRAY['2001::1', '2002:7f00:1::', '2002:a00:1::', '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '::ffff:0:7f00:1', 'fec0::1'],
          'NAT64, 6to4, Teredo, site-local and IPv4-translated addresses of private networks are private; of public ones, public')
  FROM unnest(ARRAY['64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '64:ff9b::808:808', '2002:7f00:1::', '2002:a00:1::', '2002:808:808::',
                    'fec0::1', '::ffff:0:7f00:1', '::ffff:0:808:808', '2001::1', '2a00:1450:4001::1']) a;

-------------------------------------------------------------------------------
-- schema.org JSON-LD (jsonld.c): nesting is followed four levels deep, no
-- more; values of the wrong kind are passed over; absurd quantities type to
-- nothing.
-------------------------------------------------------------------------------
SELECT is(otto.parse_ad('<script type="application/ld+json">'
                        || repeat('{"@type": "Product", "offers": {"@type": "Offer", "itemOffered": ', 3000)
                        || '{"@type": "Car", "brand": "Deep"}' || repeat('}}', 3000) || '</script>', :'url') ? 'make',
          false, 'a Car nested 6,000 levels deep in JSON-LD is not reached (four levels are followed)');
SELECT is(otto.parse_ad('<script type="application/ld+json">{"@type": ["Car", 7, null], "brand": [[[{"name": "Nested"}]]],
    "model": {"name": {"x": 1}}, "productionDate": {"a": 1}, "vehicleEngine": [7, null, [], "x", {"enginePower": [5, {"value": "1e308", "unitCode": "KWT"}]}],
    "mileageFromOdometer": {"value": 1e308, "unitCode": "SMI"}, "offers": [1, {"price": [2]}]}</script>', :'url')
          - 'url' - 'source_ad_id' - 'seller_type',
          '{"make": "Nested", "power_kw": 7, "price_eur": 2}',
          'JSON-LD values of unexpected kinds: an array gives its first, an object where text belongs is passed over, an infinite mileage is no mileage');
SELECT lives_ok($$SELECT otto.parse_ad('<script type="application/ld+json">[' ||
    repeat('{"@type": "Car", "vehicleEngine": [' || repeat('{"enginePower": [{"value": 1, "unitCode": "BHP"}, 5]},', 100) || '7]},', 100)
    || '7]</script>', current_setting('hostile.url'))$$, 'ten thousand engines in one JSON-LD script');

SELECT * FROM finish();

ROLLBACK;
