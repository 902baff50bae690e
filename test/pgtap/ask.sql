-- otto.ask: the question router on the evaluation sets, and the answer's contract.
-- test/ask/questions.tsv was written with the router; test/ask/heldout.tsv after
-- it was frozen (its first score, 38 of 40, is in the issue's closing note).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION otto;
SELECT plan(18);

CREATE TEMP TABLE qs (question text, tool text, arguments jsonb);
\copy qs FROM 'test/ask/questions.tsv' WITH (FORMAT text, HEADER true)
CREATE TEMP TABLE heldout (question text, tool text, arguments jsonb);
\copy heldout FROM 'test/ask/heldout.tsv' WITH (FORMAT text, HEADER true)
CREATE TEMP TABLE ev AS
SELECT 'main' AS set, q.*, otto.ask_route(q.question) AS r FROM qs q
UNION ALL
SELECT 'heldout', h.*, otto.ask_route(h.question) FROM heldout h;

SELECT cmp_ok(count(*), '>=', 150::bigint, 'at least 150 evaluation questions') FROM qs;
SELECT ok(count(*) FILTER (WHERE question ~ '[Ѐ-ӿ]') >= 25 AND count(*) FILTER (WHERE r->>'language' = 'sr-Latn') >= 40
          AND count(*) FILTER (WHERE r->>'language' = 'en') >= 40, 'in English, Serbian Latin and Serbian Cyrillic') FROM ev;
SELECT diag(format('%s set: %s of %s routed exactly right (%s%%)', set, count(*) FILTER (WHERE r->>'tool' = tool AND r->'arguments' = arguments),
                   count(*), round(100.0 * count(*) FILTER (WHERE r->>'tool' = tool AND r->'arguments' = arguments) / count(*), 1)))
  FROM ev GROUP BY set;
SELECT diag(format('misrouted: %s -> %s %s (expected %s %s)', question, r->>'tool', r->'arguments', tool, arguments))
  FROM ev WHERE NOT (r->>'tool' = tool AND r->'arguments' = arguments);
SELECT cmp_ok(100.0 * count(*) FILTER (WHERE r->>'tool' = tool AND r->'arguments' = arguments) / count(*), '>=', 95.0,
              'at least 95% of the questions get exactly the expected tool and arguments') FROM ev WHERE set = 'main';
SELECT cmp_ok(100.0 * count(*) FILTER (WHERE r->>'tool' = tool AND r->'arguments' = arguments) / count(*), '>=', 95.0,
              'and at least 95% of the held-out ones') FROM ev WHERE set = 'heldout';

-- Buyers' phrasing (test/ask/buyers.tsv, issue 21): generations and classes
-- as the market lists them (Golf 7, Passat B6, C Klasa), Serbian case endings
-- (Astru H, Passata B6, C klasu), price verdicts, "cheap", typos, Cyrillic;
-- on a market that has those models (the sets above route without one)
\i test/ask/market.sql
CREATE TEMP TABLE buyers (question text, tool text, arguments jsonb);
\copy buyers FROM 'test/ask/buyers.tsv' WITH (FORMAT text, HEADER true)
CREATE TEMP TABLE bev AS SELECT b.*, otto.ask_route(b.question) AS r FROM buyers b;
SELECT diag(format('buyers'' set: %s of %s routed exactly right', count(*) FILTER (WHERE r->>'tool' = tool AND r->'arguments' = arguments), count(*)))
  FROM bev;
SELECT diag(format('misrouted: %s -> %s %s (expected %s %s)', question, r->>'tool', r->'arguments', tool, arguments))
  FROM bev WHERE NOT (r->>'tool' = tool AND r->'arguments' = arguments);
SELECT cmp_ok(count(*), '>=', 60::bigint, 'at least 60 questions in buyers'' phrasing') FROM bev;
SELECT cmp_ok(100.0 * count(*) FILTER (WHERE r->>'tool' = tool AND r->'arguments' = arguments) / count(*), '>=', 95.0,
              'at least 95% of them get exactly the expected tool and arguments') FROM bev;

-- The answer: language, sentence, the tool's result, what was not understood
SELECT is(otto.ask('Koliko vredi Audi A4 iz 2008?')->>'language', 'sr-Latn', 'Serbian in Latin script is recognised');
SELECT is(otto.ask('Колико вреди Ауди А4 из 2008?')->>'language', 'sr-Cyrl', 'and in Cyrillic');
SELECT matches(otto.ask('Колико вреди Ауди А4 из 2008?')->>'answer', '^[^a-z]*Audi A4[^a-z]*$',
               'a Cyrillic question gets a Cyrillic answer (names stay as the market writes them)');
SELECT matches(otto.ask('What is the fair value of a 2015 VW Golf with 180,000 km?')->>'answer', 'Golf',
               'an English question gets an English sentence');
SELECT is(otto.ask('What is the fair value of a 2015 VW Golf with 180,000 km?')->'result'->>'make', 'Volkswagen',
          'with the tool''s structured result');
SELECT is(otto.ask('How much is a Golf worth?')->'missing', '["year"]', 'a fair value without a year asks for it');
SELECT is(otto.ask('What is the weather in Belgrade?')->>'tool', NULL, 'a question Otto cannot answer routes nowhere');
SELECT is(otto.ask('What is the weather in Belgrade?')->'not_understood', '["Belgrade"]', 'and says what it did not understand');
SELECT throws_ok($$SELECT otto.ask(repeat('x', 1001))$$, '22023', NULL, 'a huge question is refused');

-- Through the chat door
SET LOCAL ROLE otto_chat;
SELECT is(otto.call_tool('ask', '{"question": "Which cars sell fastest under 10,000 €?"}')->>'tool', 'fastest_selling',
          'the chat role asks through call_tool');
SELECT is(otto.call_tool('ask', '{"question": "x''); DROP TABLE otto.ad; -- Golf 2015 worth"}')->>'tool', 'fair_value',
          'SQL in a question is only words');
RESET ROLE;
SELECT has_table('otto', 'ad', 'and changes nothing');

SELECT * FROM finish();
ROLLBACK;
