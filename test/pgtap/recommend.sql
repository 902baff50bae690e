-- otto.recommend on a simulated population with known tastes (the offline
-- evaluation of test/recommend_eval.sql, 400 users): its hit rate at 10
-- beats the most-liked baseline by half again at least (bench/recommend.sh
-- reports the full run).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION otto;
SELECT plan(3);
\set users 400
\o /dev/null
\i test/recommend_eval.sql
\o
SELECT is((SELECT count(*) FROM sim_rec GROUP BY user_id ORDER BY 1 LIMIT 1), 10::bigint, 'every user gets 10 recommendations');
SELECT cmp_ok((SELECT hit_rate_at_10_pct FROM rec_eval WHERE method = 'otto.recommend'), '>', 5.0,
              'otto.recommend finds the held-out liked car for more than 5% of users');
SELECT cmp_ok((SELECT hit_rate_at_10_pct FROM rec_eval WHERE method = 'otto.recommend'), '>=',
              1.5 * (SELECT hit_rate_at_10_pct FROM rec_eval WHERE method <> 'otto.recommend'),
              'at least 1.5 times the most-liked baseline');
SELECT * FROM finish();
ROLLBACK;
