-- Offline evaluation of otto.recommend on a simulated population with known
-- tastes (psql script, run as a superuser in a database with otto):
--   psql -v users=400 -f test/recommend_eval.sql
-- A market of 4,000 live ads (20 makes x 5 models, each model one body; fuels,
-- model years and prices vary) with a hidden appeal per ad (a Gumbel spread
-- of 0.4, beside taste terms of 1-2).  Each user has a
-- hidden taste: a body, a fuel, a price level and two favourite makes.  They
-- browse the 20 ads they like best by that taste (with noise), view them, and
-- like the 6 best.  One liked ad per user is held out (all its events); the
-- user's recommendations are hit when the held-out ad is among the top 10.
-- Baseline: the 10 most liked ads the user has not seen.  Leaves the table
-- rec_eval (hits per method) and prints it.
\if :{?users}
\else
\set users 400
\endif
SET otto.user_id = 0;
SELECT otto.site_add('receval', 'recommendation evaluation', ARRAY['receval.invalid'], ARRAY['https://receval.invalid/'],
                     '^https://receval\.invalid/ad/([0-9]+)', '^https://receval\.invalid/list', 'polovniautomobili') AS site \gset
-- a uniform number in [0, 1) from a seed, and its Gumbel noise
CREATE FUNCTION pg_temp.u(seed text) RETURNS float8 LANGUAGE sql IMMUTABLE
    RETURN ((hashtext(seed)::bigint + 2147483648) % 1000003) / 1000003.0 * 0.999998 + 0.000001;
CREATE FUNCTION pg_temp.gumbel(seed text) RETURNS float8 LANGUAGE sql IMMUTABLE
    RETURN -ln(-ln(pg_temp.u(seed)));

CREATE TEMP TABLE sim_ad AS
SELECT i, 'Make' || (i % 20) AS make, 'Model' || (i % 100) AS model,
       (ARRAY['hatchback', 'sedan', 'estate', 'suv', 'mpv'])[1 + (i % 100) % 5] AS body,
       CASE WHEN pg_temp.u('fuel' || i) < 0.55 THEN 'diesel' WHEN pg_temp.u('fuel' || i) < 0.9 THEN 'petrol' ELSE 'petrol_lpg' END AS fuel,
       2008 + (i * 7) % 16 AS year,
       round(exp(ln(2500 + (i % 100) * 300) + ((2008 + (i * 7) % 16) - 2015) * 0.09 + (pg_temp.u('price' || i) - 0.5) * 0.5))::int AS price,
       pg_temp.gumbel('appeal' || i) * 0.4 AS appeal
  FROM generate_series(1, 4000) i;
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, power_kw,
                     first_seen_at, last_seen_at)
SELECT :site, 'r' || i, 'https://receval.invalid/ad/' || i, make || ' ' || model, make, model, year, (2024 - year) * 15000,
       price, fuel, body, 60 + i % 100, now() - interval '10 days', now()
  FROM sim_ad;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad WHERE site_id = :site;
SELECT otto.stream_rebuild() IS NOT NULL AS rebuilt \gset
CREATE TEMP TABLE sim_ad_id AS SELECT s.i, a.ad_id FROM sim_ad s JOIN otto.ad a ON a.site_id = :site AND a.source_ad_id = 'r' || s.i;

CREATE TEMP TABLE sim_user AS
SELECT u.user_id, n,
       (ARRAY['hatchback', 'sedan', 'estate', 'suv', 'mpv'])[1 + floor(pg_temp.u('body' || n) * 5)::int] AS body,
       CASE WHEN pg_temp.u('ufuel' || n) < 0.6 THEN 'diesel' ELSE 'petrol' END AS fuel,
       exp(ln(4000) + pg_temp.u('budget' || n) * 2) AS budget,
       ARRAY['Make' || floor(pg_temp.u('m1' || n) * 20)::int, 'Make' || floor(pg_temp.u('m2' || n) * 20)::int] AS makes
  FROM generate_series(1, :users) n, otto.user_add('eval' || n) u;

-- browsing: the 20 best ads by taste and noise are viewed, the 6 best of those by taste and new noise liked
CREATE TEMP TABLE sim_browse AS
SELECT * FROM (
    SELECT u.user_id, a.ad_id, x.affinity, row_number() OVER (PARTITION BY u.user_id ORDER BY x.affinity + pg_temp.gumbel('v' || u.n || '.' || s.i) DESC) AS view_rank
      FROM sim_user u CROSS JOIN sim_ad s JOIN sim_ad_id a ON a.i = s.i,
           LATERAL (SELECT 2.0 * (s.body = u.body)::int + 1.0 * (s.fuel = u.fuel)::int + 2.0 * (s.make = ANY (u.makes))::int
                           - 2.0 * abs(ln(s.price / u.budget)) + s.appeal AS affinity) x) b
 WHERE view_rank <= 20;
CREATE TEMP TABLE sim_like AS
SELECT user_id, ad_id, row_number() OVER (PARTITION BY user_id ORDER BY like_score DESC) AS like_rank
  FROM (SELECT b.*, b.affinity + pg_temp.gumbel('l' || b.user_id || '.' || b.ad_id) AS like_score FROM sim_browse b) x;
DELETE FROM sim_like WHERE like_rank > 6;
-- the held-out ad: a random one of each user's likes
CREATE TEMP TABLE sim_held AS
SELECT DISTINCT ON (user_id) user_id, ad_id FROM sim_like ORDER BY user_id, pg_temp.u('h' || user_id || '.' || ad_id);
INSERT INTO otto.user_event (user_id, ad_id, kind, at)
SELECT b.user_id, b.ad_id, 'view', now() - interval '5 days' + b.view_rank * interval '1 minute'
  FROM sim_browse b WHERE NOT EXISTS (SELECT FROM sim_held h WHERE h.user_id = b.user_id AND h.ad_id = b.ad_id)
UNION ALL
SELECT l.user_id, l.ad_id, 'like', now() - interval '4 days' + l.like_rank * interval '1 minute'
  FROM sim_like l WHERE NOT EXISTS (SELECT FROM sim_held h WHERE h.user_id = l.user_id AND h.ad_id = l.ad_id)
 ORDER BY 4;

-- recommendations, and the popularity baseline, for every user
CREATE TEMP TABLE sim_rec (user_id int, ad_id bigint);
DO $$
DECLARE
    u record;
BEGIN
    FOR u IN SELECT user_id FROM sim_user ORDER BY user_id LOOP
        PERFORM set_config('otto.user_id', u.user_id::text, false);
        INSERT INTO sim_rec SELECT u.user_id, (r->>'ad_id')::bigint
          FROM jsonb_array_elements(otto.recommend(10)->'recommendations') r;
    END LOOP;
    PERFORM set_config('otto.user_id', '0', false);
END
$$;
CREATE TEMP TABLE sim_pop AS
SELECT u.user_id, p.ad_id
  FROM sim_user u,
       LATERAL (SELECT l.ad_id FROM otto.user_like l
                 WHERE NOT EXISTS (SELECT FROM otto.user_event e WHERE e.user_id = u.user_id AND e.ad_id = l.ad_id)
                 GROUP BY l.ad_id ORDER BY count(*) DESC, l.ad_id LIMIT 10) p;

CREATE TEMP TABLE rec_eval AS
SELECT m.method, count(*) AS users, count(*) FILTER (WHERE m.hit) AS hits,
       round(100.0 * count(*) FILTER (WHERE m.hit) / count(*), 2) AS hit_rate_at_10_pct
  FROM (SELECT 'otto.recommend' AS method, h.user_id, EXISTS (SELECT FROM sim_rec r WHERE r.user_id = h.user_id AND r.ad_id = h.ad_id) AS hit
          FROM sim_held h
        UNION ALL
        SELECT 'baseline: most liked', h.user_id, EXISTS (SELECT FROM sim_pop p WHERE p.user_id = h.user_id AND p.ad_id = h.ad_id)
          FROM sim_held h) m
 GROUP BY 1;
SELECT method, users, hits, hit_rate_at_10_pct,
       round(hit_rate_at_10_pct / nullif((SELECT hit_rate_at_10_pct FROM rec_eval WHERE method <> 'otto.recommend'), 0), 2) AS ratio_to_baseline
  FROM rec_eval ORDER BY method DESC;
