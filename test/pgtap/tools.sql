-- The chat tool layer: the registry, argument checking, limits, and that the
-- chat role can do nothing but call the tools - read-only, under a deadline.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION otto;
SELECT plan(43);

-- A small market: 30 Golfs and 5 Octavias, all live.
SELECT otto.site_add('t', 'test', ARRAY['t.invalid'], ARRAY['https://t.invalid/'], '^https://t\.invalid/ad/([0-9]+)',
                     '^https://t\.invalid/list', 'polovniautomobili') AS site \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, power_kw)
SELECT :site, i::text, 'https://t.invalid/ad/' || i, 'Golf ' || i, 'Volkswagen', 'Golf', 2008 + i % 10,
       200000 - (i % 10) * 15000, 4000 + (i % 10) * 900 + i * 7, CASE WHEN i % 2 = 0 THEN 'diesel' ELSE 'petrol' END,
       'hatchback', 77
  FROM generate_series(1, 30) i
UNION ALL
SELECT :site, 'o' || i, 'https://t.invalid/ad/o' || i, 'Octavia', 'Skoda', 'Octavia', 2012, 150000, 7000 + i * 100,
       'diesel', 'estate', 81
  FROM generate_series(1, 5) i;
INSERT INTO otto.ad_event (site_id, ad_id, kind, new_price_eur) SELECT site_id, ad_id, 'new', price_eur FROM otto.ad;
SELECT otto.stream_rebuild() IS NOT NULL AS rebuilt \gset
CREATE TEMP TABLE before AS SELECT (SELECT count(*) FROM otto.ad) AS ads, (SELECT count(*) FROM otto.tool) AS tools,
                                   (SELECT md5(string_agg(t::text, '' ORDER BY name)) FROM otto.tool t) AS registry;
GRANT SELECT ON before TO otto_chat;

-- The registry as MCP lists it
SELECT cmp_ok(jsonb_array_length(otto.tools()->'tools'), '>=', 8, 'at least 8 tools');
SELECT is(ARRAY(SELECT t->>'name' FROM jsonb_array_elements(otto.tools()->'tools') t
                 WHERE t->>'name' IN ('fair_value', 'depreciation', 'fastest_selling', 'good_deals', 'search_ads',
                                      'ad_details', 'compare_ads', 'market_overview', 'price_verdict') ORDER BY 1),
          ARRAY['ad_details', 'compare_ads', 'depreciation', 'fair_value', 'fastest_selling', 'good_deals',
                'market_overview', 'price_verdict', 'search_ads'], 'the nine answers are tools');
SELECT ok(bool_and(t ? 'description' AND t->'inputSchema'->>'type' = 'object' AND t->'outputSchema'->>'type' = 'object'
                   AND (t->'annotations'->>'readOnlyHint')::boolean AND NOT (t->'annotations'->>'openWorldHint')::boolean),
          'each tool has a description, input and output schemas, and read-only, closed-world annotations')
  FROM jsonb_array_elements(otto.tools()->'tools') t;
SELECT is(count(*), 0::bigint, 'no tool is backed by a volatile function')
  FROM otto.tool t JOIN pg_proc p ON p.oid = t.fn WHERE p.provolatile = 'v';
SELECT throws_ok($$INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema)
                   VALUES ('bad', 'x', 'x', 'otto.crawl_start(text)', '{"type": "object"}', '{"type": "object"}')$$,
                 '22023', NULL, 'a volatile function cannot become a tool');

-- Answers, defaults and limits
SELECT is((otto.call_tool('fair_value', '{"make": "volkswagen", "model": "golf", "year": 2012}')->>'make'), 'Volkswagen',
          'fair_value answers through call_tool (the make as the market spells it)');
SELECT ok(otto.call_tool('fair_value', '{"make": "Volkswagen", "model": "Golf", "year": 2012}') ?& ARRAY['estimate_eur', 'as_of', 'currency', 'n'],
          'results state as_of, currency and the sample size');
SELECT is((otto.call_tool('fastest_selling', '{}')->>'min_sold')::int, 10, 'defaults are applied');
SELECT is(jsonb_array_length(otto.call_tool('search_ads', '{"filters": {"make": "Volkswagen"}, "limit": 5}')->'ads'), 5,
          'search_ads returns the limit');
SELECT is(otto.call_tool('search_ads', '{"filters": {"make": "Volkswagen"}, "limit": 5}')->'truncated', 'true',
          'and says the list was truncated');
SELECT is(otto.call_tool('search_ads', '{"filters": {"make": "Skoda"}, "limit": 5}')->'truncated', 'false',
          'not truncated when everything fits');
SELECT is(jsonb_array_length(otto.call_tool('search_ads', '{}')->'ads'), 20, 'the default limit is 20');
SELECT is((SELECT count(*) FROM jsonb_array_elements(otto.call_tool('search_ads',
             '{"filters": {"make": "Volkswagen", "fuel": "Dizel", "year_min": 2015, "price_max": 9000}, "limit": 100}')->'ads') a
            WHERE a->>'fuel' = 'diesel' AND (a->>'year')::int >= 2015 AND (a->>'price_eur')::int <= 9000),
          (SELECT count(*) FROM otto.ad WHERE make = 'Volkswagen' AND fuel = 'diesel' AND year >= 2015 AND price_eur <= 9000),
          'search_ads filters combine (a fuel label becomes its code)');
SELECT is(jsonb_array_length(otto.call_tool('compare_ads', format('{"ad_ids": [%s, %s]}',
              (SELECT min(ad_id) FROM otto.ad), (SELECT max(ad_id) FROM otto.ad))::jsonb)->'ads'), 2, 'compare_ads compares two ads');
SELECT is(otto.call_tool('ad_details', format('{"ad_id": %s}', (SELECT min(ad_id) FROM otto.ad))::jsonb)->>'title', 'Golf 1',
          'ad_details returns the ad');

-- Bad arguments: errors that say what to send instead
SELECT throws_ok($$SELECT otto.call_tool('fair_value', '{"make": "VW", "model": "Golf", "year": 2012, "colour": "red"}')$$,
                 '22023', 'unknown argument "colour"', 'an unknown argument is refused');
SELECT throws_ok($$SELECT otto.call_tool('fair_value', '{"make": "VW", "model": "Golf", "year": "2012"}')$$,
                 '22023', 'argument "year" must be an integer from 1950 to 2030, not "2012"', 'a wrong type is refused, saying what to send');
SELECT throws_ok($$SELECT otto.call_tool('fair_value', '{"make": "VW", "model": "Golf", "year": 2012.5}')$$,
                 '22023', NULL, 'a fraction is not an integer');
SELECT throws_ok($$SELECT otto.call_tool('fair_value', '{"make": "VW", "model": "Golf"}')$$,
                 '22023', 'missing argument "year"', 'a missing required argument is refused');
SELECT throws_ok($$SELECT otto.call_tool('fair_value', '{"make": "VW", "model": "Golf", "year": 2012, "fuel": "coal"}')$$,
                 '22023', 'argument "fuel" must be a string, one of diesel, petrol, petrol_lpg, petrol_cng, hybrid, electric, not "coal"',
                 'a value outside the enum is refused with the list');
SELECT throws_ok($$SELECT otto.call_tool('search_ads', '{"limit": 1000000}')$$,
                 '22023', 'argument "limit" must be an integer from 1 to 100, not 1000000', 'a huge limit is refused');
SELECT throws_ok($$SELECT otto.call_tool('search_ads', '{"filters": {"price_max": "cheap"}}')$$,
                 '22023', 'argument "filters.price_max" must be an integer from 0 to 10000000, not "cheap"', 'nested arguments are checked');
SELECT throws_ok($$SELECT otto.call_tool('compare_ads', '{"ad_ids": [1, 2, 3, 4, 5, 6]}')$$,
                 '22023', NULL, 'list sizes are checked');
SELECT throws_ok($$SELECT otto.call_tool('fair_value', '[1, 2]')$$, '22023', NULL, 'arguments must be an object');
SELECT throws_ok($$SELECT otto.call_tool('drop_everything', '{}')$$, '42883', 'unknown tool "drop_everything"', 'an unknown tool is refused');

-- The chat role: tools and nothing else
SELECT is(ARRAY(SELECT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'otto'::regnamespace AND has_function_privilege('otto_chat', p.oid, 'EXECUTE')
                 ORDER BY 1),
          ARRAY['build_info', 'call_tool', 'login', 'logout', 'tools'],
          'the chat role may execute build_info, tools and call_tool only, and sign a user in and out');
SET LOCAL ROLE otto_chat;
SELECT isnt(otto.call_tool('market_overview', '{}')->'n', NULL, 'the chat role calls tools');
SELECT lives_ok($$SELECT otto.call_tool('search_ads', '{"filters": {"make": "x''); DROP TABLE otto.ad; --"}}')$$,
                'SQL in an argument is only a value');
SELECT lives_ok($$SELECT otto.call_tool('search_ads', '{"filters": {"text": "%'' OR 1=1; DELETE FROM otto.ad; --"}}')$$,
                'SQL in free text is only a value');
SELECT throws_ok($$SELECT otto.call_tool('COMMIT; DROP TABLE otto.ad; --', '{}')$$, '42883', NULL,
                 'SQL as a tool name is an unknown tool');
SELECT throws_ok($$SELECT otto.call_tool('fair_value', '{"make": "VW", "model": "Golf", "year": 2012, "fuel": "diesel; COMMIT; DROP TABLE otto.ad"}')$$,
                 '22023', NULL, 'SQL in an enum argument is refused');
SELECT throws_ok($$SELECT otto.crawl_start('t')$$, '42501', NULL, 'the chat role cannot start a crawl');
SELECT throws_ok($$SELECT otto.site_add('evil', 'x', ARRAY['evil.example'], ARRAY['https://evil.example/'], 'x', 'y')$$,
                 '42501', NULL, 'nor add a site to fetch from');
SELECT throws_ok($$SELECT otto.tool_exec('DELETE FROM otto.ad RETURNING 1', '{}')$$, '42501', NULL, 'nor run queries through the tool engine');
SELECT throws_ok($$SELECT otto.search_ads('{}')$$, '42501', NULL, 'nor call the functions behind the tools directly');
SELECT throws_ok($$DELETE FROM otto.ad$$, '42501', NULL, 'nor write a table');
SELECT throws_ok($$INSERT INTO otto.tool SELECT * FROM otto.tool$$, '42501', NULL, 'nor add a tool');
SELECT throws_ok($$SET otto.tool_timeout = '1h'$$, '42501', NULL, 'nor lengthen the tool deadline');
RESET ROLE;
SELECT is((SELECT ads FROM before), (SELECT count(*) FROM otto.ad), 'every ad is still there');
SELECT is((SELECT registry FROM before), (SELECT md5(string_agg(t::text, '' ORDER BY name)) FROM otto.tool t), 'the registry is unchanged');

-- Read-only and deadline, even for a tool that tries.  Only the extension's
-- own functions can be tools (test/pgtap/hostile.sql tries others), so the
-- test makes its tools members of the extension (and rolls back).
CREATE FUNCTION otto.test_writer() RETURNS jsonb LANGUAGE sql VOLATILE AS $$ DELETE FROM otto.ad RETURNING '{}'::jsonb $$;
CREATE FUNCTION otto.test_sneaky() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN otto.test_writer(); END $$;
CREATE FUNCTION otto.test_slow() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT pg_sleep(5)::text::jsonb $$;
ALTER EXTENSION otto ADD FUNCTION otto.test_sneaky();
ALTER EXTENSION otto ADD FUNCTION otto.test_slow();
INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema)
VALUES ('sneaky', 'x', 'x', 'otto.test_sneaky()', '{"type": "object"}', '{"type": "object"}'),
       ('slow', 'x', 'x', 'otto.test_slow()', '{"type": "object"}', '{"type": "object"}');
SELECT throws_ok($$SELECT otto.call_tool('sneaky', '{}')$$, '25006', NULL, 'a tool runs read-only: its writes fail');
SET LOCAL otto.tool_timeout = 200;
CREATE FUNCTION pg_temp.cancelled() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM otto.call_tool('slow', '{}');
    RETURN 'ran to the end';
EXCEPTION WHEN query_canceled THEN      -- not caught by throws_ok's WHEN OTHERS
    RETURN SQLERRM;
END $$;
SELECT is(pg_temp.cancelled(), 'canceling statement due to statement timeout', 'a tool is cancelled at otto.tool_timeout');
SELECT lives_ok($$INSERT INTO otto.ad_event (site_id, ad_id, kind) SELECT site_id, ad_id, 'updated' FROM otto.ad LIMIT 1$$,
                'the caller''s transaction is writable again after a call');

SELECT * FROM finish();
ROLLBACK;
