-- src/buyers/recommend.sql: similar cars, recommendations, sharing.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-------------------------------------------------------------------------------
-- Similar cars, recommendations, sharing.
-------------------------------------------------------------------------------
-- How far apart two ads are for a buyer: model and make first, then body and
-- fuel, then model year, price, mileage, power and gearbox.  0 = the same car.
CREATE OR REPLACE FUNCTION otto.ad_distance(a otto.ad, b otto.ad) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT (a.make IS DISTINCT FROM b.make)::int * 1.0 + (a.model IS DISTINCT FROM b.model)::int * 1.5
         + (a.body IS DISTINCT FROM b.body)::int * 1.0 + (a.fuel IS DISTINCT FROM b.fuel)::int * 0.7
         + (a.gearbox IS DISTINCT FROM b.gearbox)::int * 0.4
         + coalesce(abs(a.year - b.year) * 0.35, 0.7)
         + coalesce(abs(ln(greatest(a.price_eur, 1)::float8 / greatest(b.price_eur, 1))) * 4, 0.7)
         + coalesce(abs(a.mileage_km - b.mileage_km) / 50000.0, 0.5)
         + coalesce(abs(ln(a.power_kw::float8 / b.power_kw)) * 2, 0.3)
$fn$;

-- How b differs from a, in words: "same model, 1 year newer, 12% cheaper, 20.000 km less".
CREATE OR REPLACE FUNCTION otto.ad_difference(a otto.ad, b otto.ad, lang text) RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT concat_ws(', ',
        CASE WHEN a.make = b.make AND a.model = b.model THEN otto.ask_text(lang, 'same model', 'isti model')
             WHEN a.make = b.make THEN otto.ask_text(lang, 'same make', 'ista marka')
             ELSE otto.ask_text(lang, 'another make', 'druga marka') END,
        CASE WHEN b.year > a.year THEN format(otto.ask_text(lang, '%s years newer', '%s god. novije'), b.year - a.year)
             WHEN b.year < a.year THEN format(otto.ask_text(lang, '%s years older', '%s god. starije'), a.year - b.year)
             WHEN b.year = a.year THEN otto.ask_text(lang, 'same year', 'isto godište') END,
        CASE WHEN b.price_eur > 0 AND a.price_eur > 0 AND b.price_eur < a.price_eur * 0.995
             THEN format(otto.ask_text(lang, '%s%% cheaper', '%s%% jeftinije'), round(100 * (1 - b.price_eur::numeric / a.price_eur)))
             WHEN b.price_eur > 0 AND a.price_eur > 0 AND b.price_eur > a.price_eur * 1.005
             THEN format(otto.ask_text(lang, '%s%% dearer', '%s%% skuplje'), round(100 * (b.price_eur::numeric / a.price_eur - 1)))
             WHEN b.price_eur > 0 AND a.price_eur > 0 THEN otto.ask_text(lang, 'same price', 'ista cena') END,
        CASE WHEN b.mileage_km < a.mileage_km - 1000
             THEN format(otto.ask_text(lang, '%s km less', '%s km manje'), otto.ask_num(a.mileage_km - b.mileage_km, lang))
             WHEN b.mileage_km > a.mileage_km + 1000
             THEN format(otto.ask_text(lang, '%s km more', '%s km više'), otto.ask_num(b.mileage_km - a.mileage_km, lang)) END,
        CASE WHEN a.body IS DISTINCT FROM b.body AND b.body IS NOT NULL THEN otto.label('body', b.body, lang) END,
        CASE WHEN a.fuel IS DISTINCT FROM b.fuel AND b.fuel IS NOT NULL THEN otto.label('fuel', b.fuel, lang) END,
        CASE WHEN a.gearbox IS DISTINCT FROM b.gearbox AND b.gearbox IS NOT NULL THEN otto.label('gearbox', b.gearbox, lang) END)
$fn$;

CREATE OR REPLACE FUNCTION otto.similar_ads(ad_id bigint, lim int DEFAULT 10, lang text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    a   otto.ad;
    l   text := otto.lang(lang);
    res jsonb;
    fac text[];
BEGIN
    SELECT * INTO a FROM otto.ad x WHERE x.ad_id = ad_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no ad with id %', ad_id USING ERRCODE = 'no_data_found',
              HINT = 'Ad ids come from search_ads, good_deals or a comparable''s examples.';
    END IF;
    IF lim NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'similar_ads: limit must be 1-100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the same body and fuel in about the same price band, whatever the make (the facet index)
    fac := array_remove(ARRAY['bo:' || a.body, 'fu:' || a.fuel], NULL);
    WITH cand AS (
        SELECT x.ad_id FROM otto.ad x               -- the same model, model years within 3
         WHERE x.state = 'live' AND x.make = a.make AND x.model = a.model AND x.year BETWEEN a.year - 3 AND a.year + 3
           AND x.ad_id <> a.ad_id
        UNION
        (SELECT x.ad_id FROM otto.ad x
          WHERE x.state = 'live' AND x.ad_id <> a.ad_id AND cardinality(fac) > 0 AND a.price_eur > 0
            AND otto.ad_facets(x.fuel, x.body, x.gearbox, x.drive, x.color, x.seller_type, x.region, x.location, x.damage,
                               x.doors) @> fac
            AND x.price_eur BETWEEN a.price_eur * 0.75 AND a.price_eur * 1.33
            AND x.year BETWEEN coalesce(a.year, 1900) - 3 AND coalesce(a.year, 2100) + 3
          LIMIT 2000)),
    ranked AS (SELECT c, otto.ad_distance(a, c) AS d FROM otto.ad c WHERE c.ad_id IN (SELECT cand.ad_id FROM cand)
                ORDER BY 2, c.ad_id LIMIT lim)
    SELECT jsonb_agg(jsonb_build_object(
               'ad_id', (r.c).ad_id, 'url', (r.c).url, 'title', (r.c).title, 'make', (r.c).make, 'model', (r.c).model,
               'year', (r.c).year, 'mileage_km', (r.c).mileage_km, 'price_eur', (r.c).price_eur, 'fuel', (r.c).fuel,
               'body', (r.c).body, 'similarity', round((100 * exp(-r.d / 2))::numeric),
               'why', otto.ad_difference(a, r.c, l)) ORDER BY r.d, (r.c).ad_id)
      INTO res FROM ranked r;
    RETURN jsonb_build_object('ad', jsonb_build_object('ad_id', a.ad_id, 'url', a.url, 'text', otto.ad_line(a, l)),
        'similar', coalesce(res, '[]'), 'lang', l, 'currency', 'EUR',
        'method', 'live ads of the same model (model years within 3) and of the same body and fuel priced within -25%/+33%, '
                  'ranked by a distance over make, model, body, fuel, gearbox, model year, price, mileage and power; '
                  'similarity = 100 * exp(-distance / 2)',
        'n', jsonb_array_length(coalesce(res, '[]')), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.similar_ads(bigint, int, text) IS 'Live ads most like a given one (content-based: make, model, body, fuel, gearbox, model year, price, mileage, power), each with a similarity score and how it differs, in the chosen language';

-- For the signed-in user: live ads they have not seen, from what they liked
-- (weight 3) and viewed (1), and what users who liked the same ads liked.
-- With nothing to go on: fresh good deals, then the most liked and viewed.
CREATE OR REPLACE FUNCTION otto.recommend(lim int DEFAULT 10, lang text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER       -- reads other users' likes, returns only counts of them
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    uid  int := otto.require_user();
    l    text := otto.lang(lang);
    res  jsonb;
    cold boolean;
BEGIN
    IF lim NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'recommend: limit must be 1-100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cold := NOT EXISTS (SELECT FROM otto.user_event e WHERE e.user_id = uid);
    IF NOT cold THEN
        WITH mine AS (      -- the user's signal per ad: likes 3, views 1 (an unliked ad counts as viewed)
            SELECT e.ad_id, max(CASE WHEN lk.ad_id IS NOT NULL THEN 3 ELSE 1 END) AS w
              FROM otto.user_event e LEFT JOIN otto.user_like lk ON lk.user_id = uid AND lk.ad_id = e.ad_id
             WHERE e.user_id = uid GROUP BY e.ad_id),
        prof AS (
            SELECT a.make, a.model, a.body, a.fuel, m.w, ln(greatest(a.price_eur, 1)) AS lp, a.year
              FROM mine m JOIN otto.ad a ON a.ad_id = m.ad_id),
        total AS (SELECT sum(w) AS w, sum(w * lp) FILTER (WHERE lp > 0) / nullif(sum(w) FILTER (WHERE lp > 0), 0) AS lp,
                         sum(w * year) FILTER (WHERE year IS NOT NULL) / nullif(sum(w) FILTER (WHERE year IS NOT NULL), 0) AS year
                    FROM prof),
        pmodel AS (SELECT make, model, sum(w) AS w, count(*) AS ads FROM prof GROUP BY 1, 2),
        pmake AS (SELECT make, sum(w) AS w FROM prof GROUP BY 1),
        pbody AS (SELECT body, sum(w) AS w FROM prof GROUP BY 1),
        pfuel AS (SELECT fuel, sum(w) AS w FROM prof GROUP BY 1),
        co AS (             -- what others who like what this user likes also like
            SELECT o.ad_id, count(DISTINCT o.user_id) AS users
              FROM otto.user_like me
              JOIN otto.user_like peer ON peer.ad_id = me.ad_id AND peer.user_id <> uid
              JOIN otto.user_like o ON o.user_id = peer.user_id AND o.ad_id <> me.ad_id
             WHERE me.user_id = uid GROUP BY 1),
        cand AS (           -- the liked and viewed models and makes, the co-liked ads, the same body in the price band
            SELECT a.* FROM otto.ad a JOIN (SELECT * FROM pmodel ORDER BY w DESC LIMIT 5) p
                ON a.state = 'live' AND a.make = p.make AND a.model = p.model
            UNION
            SELECT a.* FROM otto.ad a JOIN co ON co.ad_id = a.ad_id WHERE a.state = 'live'
            UNION
            SELECT a.* FROM otto.ad a JOIN (SELECT * FROM pmake ORDER BY w DESC LIMIT 3) p
                ON a.state = 'live' AND a.make = p.make
            UNION
            (SELECT a.* FROM otto.ad a, (SELECT body FROM pbody ORDER BY w DESC LIMIT 1) b, total t
              WHERE a.state = 'live' AND a.body = b.body AND a.price_eur BETWEEN exp(t.lp) * 0.7 AND exp(t.lp) * 1.4
              LIMIT 2000)),
        scored AS (
            SELECT c.*, coalesce(pm.w, 0) / (SELECT max(w) FROM pmodel) AS s_model,        -- each 1 for the favourite
                   coalesce(pk.w, 0) / (SELECT max(w) FROM pmake) AS s_make,
                   coalesce(pb.w, 0) / (SELECT max(w) FROM pbody) AS s_body, coalesce(pf.w, 0) / (SELECT max(w) FROM pfuel) AS s_fuel,
                   coalesce(-abs(ln(greatest(c.price_eur, 1)) - t.lp), -1) AS s_price,
                   coalesce(-abs(c.year - t.year) / 3.0, -1) AS s_year,
                   coalesce(co.users, 0) AS peers, pm.ads AS model_ads, lk.n AS likes
              FROM cand c CROSS JOIN total t
              LEFT JOIN pmodel pm ON pm.make = c.make AND pm.model = c.model
              LEFT JOIN pmake pk ON pk.make = c.make
              LEFT JOIN pbody pb ON pb.body IS NOT DISTINCT FROM c.body
              LEFT JOIN pfuel pf ON pf.fuel IS NOT DISTINCT FROM c.fuel
              LEFT JOIN co ON co.ad_id = c.ad_id
              CROSS JOIN LATERAL (SELECT count(*) AS n FROM otto.user_like x WHERE x.ad_id = c.ad_id) lk
             WHERE NOT EXISTS (SELECT FROM mine m WHERE m.ad_id = c.ad_id)),
        ranked AS (         -- taste (what was liked and viewed) plus how much others like it
            SELECT s.*, 2 * s.s_body + s.s_fuel + 2 * s.s_make + s.s_model + 2 * s.s_price + 0.3 * s.s_year
                        + ln(1 + s.likes) + ln(1 + s.peers) AS score
              FROM scored s ORDER BY score DESC, s.ad_id LIMIT lim)
        SELECT jsonb_agg(jsonb_build_object(
                   'ad_id', r.ad_id, 'url', r.url, 'title', r.title, 'make', r.make, 'model', r.model, 'year', r.year,
                   'mileage_km', r.mileage_km, 'price_eur', r.price_eur, 'score', round(r.score::numeric, 3),
                   'why', CASE WHEN r.peers > 0 AND 2 * r.peers >= coalesce(r.model_ads, 0)
                               THEN format(otto.ask_text(l, '%s people who like what you like also like it',
                                                            'Sviđa se i %s korisnika kojima se sviđa isto što i vama'), r.peers)
                               WHEN r.model_ads IS NOT NULL
                               THEN format(otto.ask_text(l, 'like the %s %s you looked at (%s)', 'kao %s %s koje ste gledali (%s)'),
                                           r.make, r.model, r.model_ads)
                               ELSE format(otto.ask_text(l, 'a %s, like cars you looked at', '%s, kao automobili koje ste gledali'), r.make)
                          END || CASE WHEN r.s_price > 0.8 THEN otto.ask_text(l, ', in your price range', ', u vašem cenovnom rangu') ELSE '' END)
                   ORDER BY r.score DESC, r.ad_id)
          INTO res FROM ranked r;
    END IF;
    IF res IS NULL THEN             -- nothing to go on yet
        cold := true;
        WITH q AS (
            SELECT (d->>'ad_id')::bigint AS ad, i AS o,
                   jsonb_build_object('ad_id', (d->>'ad_id')::bigint, 'url', d->>'url', 'title', d->>'title', 'make', d->>'make',
                                      'model', d->>'model', 'year', d->'year', 'mileage_km', d->'mileage_km', 'price_eur', d->'price_eur',
                                      'why', format(otto.ask_text(l, 'a good deal: %s%% under its fair value',
                                                                     'dobra ponuda: %s%% ispod procenjene vrednosti'), d->>'gap_pct')) AS j
              FROM jsonb_array_elements(otto.good_deals('7 days', lim)->'deals') WITH ORDINALITY g(d, i)
            UNION ALL
            SELECT a.ad_id, 1000 + row_number() OVER (ORDER BY p.users DESC, a.ad_id),
                   jsonb_build_object('ad_id', a.ad_id, 'url', a.url, 'title', a.title, 'make', a.make, 'model', a.model,
                                      'year', a.year, 'mileage_km', a.mileage_km, 'price_eur', a.price_eur,
                                      'why', format(otto.ask_text(l, 'popular: liked or viewed by %s users',
                                                                     'popularno: sviđa se ili je gledalo korisnika: %s'), p.users))
              FROM (SELECT e.ad_id, count(DISTINCT e.user_id) AS users FROM otto.user_event e
                     WHERE e.at > now() - interval '30 days' AND e.user_id <> uid GROUP BY 1
                     ORDER BY 2 DESC, 1 LIMIT lim) p
              JOIN otto.ad a ON a.ad_id = p.ad_id AND a.state = 'live')
        SELECT jsonb_agg(x.j ORDER BY x.o) INTO res
          FROM (SELECT * FROM (SELECT DISTINCT ON (q.ad) q.* FROM q ORDER BY q.ad, q.o) d ORDER BY d.o LIMIT lim) x;
    END IF;
    RETURN jsonb_build_object('recommendations', coalesce(res, '[]'), 'cold_start', cold, 'lang', l,
        'method', CASE WHEN cold THEN 'nothing viewed or liked yet: fresh good deals, then the ads other users liked or viewed most in 30 days'
                       ELSE 'live ads not yet seen, scored by the models, makes, bodies, fuels, price and model year of the ads liked (weight 3) and viewed (1), plus how many users who like the same ads like them' END,
        'n', jsonb_array_length(coalesce(res, '[]')), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.recommend(int, text) IS 'Recommendations for the signed-in user: live ads they have not seen, from their likes and views and from what users who like the same ads like, each with a reason; cold start: good deals and popular ads';

-- A canonical link to an ad and a short text to send, for a channel.
CREATE OR REPLACE FUNCTION otto.url_encode(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT coalesce(string_agg(CASE WHEN (b BETWEEN 48 AND 57) OR (b BETWEEN 65 AND 90) OR (b BETWEEN 97 AND 122) OR b IN (45, 46, 95, 126)
                                    THEN chr(b) ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END, '' ORDER BY i), '')
      FROM (SELECT get_byte(convert_to(s, 'UTF8'), i) AS b, i FROM generate_series(0, octet_length(convert_to(s, 'UTF8')) - 1) i) x
$fn$;

CREATE OR REPLACE FUNCTION otto.share_ad(ad_id bigint, channel text DEFAULT 'link', lang text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    a    otto.ad;
    l    text := otto.lang(lang);
    link text;
    txt  text;
    subj text;
BEGIN
    SELECT * INTO a FROM otto.ad x WHERE x.ad_id = ad_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no ad with id %', ad_id USING ERRCODE = 'no_data_found';
    END IF;
    IF channel NOT IN ('link', 'email', 'whatsapp', 'viber', 'telegram', 'facebook', 'x') THEN
        RAISE EXCEPTION 'share_ad: unknown channel "%"', channel USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Channels: link, email, whatsapp, viber, telegram, facebook, x.';
    END IF;
    link := coalesce(otto.normalize_url(a.url), a.url);
    subj := otto.ad_line(a, l);
    txt := subj || CASE WHEN a.state = 'removed' THEN otto.ask_text(l, ' (no longer listed)', ' (više nije u prodaji)') ELSE '' END;
    RETURN jsonb_build_object('ad_id', a.ad_id, 'channel', channel, 'url', link, 'text', txt || ': ' || link, 'lang', l,
        'subject', CASE WHEN channel = 'email' THEN subj END,
        'share_url', CASE channel
            WHEN 'link' THEN link
            WHEN 'email' THEN 'mailto:?subject=' || otto.url_encode(subj) || '&body=' || otto.url_encode(txt || E'\n' || link)
            WHEN 'whatsapp' THEN 'https://wa.me/?text=' || otto.url_encode(txt || ' ' || link)
            WHEN 'viber' THEN 'viber://forward?text=' || otto.url_encode(txt || ' ' || link)
            WHEN 'telegram' THEN 'https://t.me/share/url?url=' || otto.url_encode(link) || '&text=' || otto.url_encode(txt)
            WHEN 'facebook' THEN 'https://www.facebook.com/sharer/sharer.php?u=' || otto.url_encode(link)
            ELSE 'https://twitter.com/intent/tweet?url=' || otto.url_encode(link) || '&text=' || otto.url_encode(txt) END);
END
$fn$;
COMMENT ON FUNCTION otto.share_ad(bigint, text, text) IS 'A canonical link to an ad, a short text in the chosen language, and the link that shares it by email, WhatsApp, Viber, Telegram, Facebook or X';

-------------------------------------------------------------------------------
-- The chat tools: a registry of Otto's answers for chat assistants (the MCP
-- server otto-mcp lists and calls them), argument checking, and the one door
-- the chat role has: otto.call_tool.
-------------------------------------------------------------------------------
