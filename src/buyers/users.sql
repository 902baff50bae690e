-- src/buyers/users.sql: app users, sign-in, languages and labels, views and likes.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-- For buyers: app users and who a session acts for, what they view and like,
-- saved searches with alerts, reviews, similar cars, recommendations,
-- sharing, and labels in English and Serbian (Latin and Cyrillic).
--
-- Isolation: a front end connects as a member of otto_app and signs in with
-- otto.login(token); row-level security on every per-user table then shows
-- and lets it change only that user's rows.  The functions for buyers run as
-- the caller (so the same policies hold), except those that read across
-- users and return only what is theirs to see (recommend, ratings).
-------------------------------------------------------------------------------
CREATE TABLE otto.app_user (
    user_id     int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.@+-]{1,64}$'),
    lang        text NOT NULL DEFAULT 'sr-Latn' CHECK (lang IN ('en', 'sr-Latn', 'sr-Cyrl')),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE otto.app_user IS 'People who use Otto''s buyer functions through a front end; each signs in with a secret token (only its SHA-256 is kept)';
COMMENT ON COLUMN otto.app_user.lang IS 'Language of the sentences Otto writes for this user: en, sr-Latn or sr-Cyrl';
COMMENT ON COLUMN otto.app_user.token_hash IS 'SHA-256 of the user''s sign-in token (the token itself is not kept)';

CREATE OR REPLACE FUNCTION otto.current_user_id() RETURNS int
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_current_user_id';
COMMENT ON FUNCTION otto.current_user_id() IS 'The app user this session signed in as (otto.login), NULL when none';

-- Row-level security of a per-user table (a user_id column): a signed-in
-- front end (otto_app) sees and changes its user's rows only; otto_admin sees
-- all.  Each buyer stage calls it for its tables; every update re-runs it.
CREATE OR REPLACE FUNCTION otto.own_rows(t regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel name := (SELECT relname FROM pg_class WHERE oid = t);
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON %s', rel || '_own', t);
    EXECUTE format('CREATE POLICY %I ON %s TO otto_app USING (user_id = otto.current_user_id()) '
                   'WITH CHECK (user_id = otto.current_user_id())', rel || '_own', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON %s', rel || '_admin', t);
    EXECUTE format('CREATE POLICY %I ON %s TO otto_admin USING (true) WITH CHECK (true)', rel || '_admin', t);
END
$fn$;
COMMENT ON FUNCTION otto.own_rows(regclass) IS 'Turns on row-level security for a per-user table: otto_app sees and changes the signed-in user''s rows only, otto_admin all (run by the install and update scripts)';

CREATE OR REPLACE FUNCTION otto.require_user() RETURNS int
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    uid int := otto.current_user_id();
BEGIN
    IF uid IS NULL THEN
        RAISE EXCEPTION 'no Otto user is signed in' USING ERRCODE = 'invalid_authorization_specification',
              HINT = 'Call otto.login(token) first.';
    END IF;
    RETURN uid;
END
$fn$;

-- A new user and the token they sign in with (shown once).
CREATE OR REPLACE FUNCTION otto.user_add(name text, lang text DEFAULT 'sr-Latn', OUT user_id int, OUT token text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    token := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');    -- 244 random bits
    INSERT INTO otto.app_user (name, lang, token_hash) VALUES (user_add.name, user_add.lang, sha256(convert_to(token, 'UTF8')))
    RETURNING app_user.user_id INTO user_add.user_id;
END
$fn$;
COMMENT ON FUNCTION otto.user_add(text, text) IS 'Create an app user (admin): returns its id and its sign-in token, which Otto does not keep';

CREATE OR REPLACE FUNCTION otto.login(token text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    uid int;
BEGIN
    SELECT u.user_id INTO uid FROM otto.app_user u WHERE u.token_hash = sha256(convert_to(coalesce(token, ''), 'UTF8'));
    IF uid IS NULL THEN
        RAISE EXCEPTION 'otto.login: unknown token' USING ERRCODE = 'invalid_authorization_specification',
              HINT = 'Use the token otto.user_add returned for this user.';
    END IF;
    PERFORM set_config('otto.user_id', uid::text, false);    -- only a superuser (this function's owner) may
    RETURN uid;
END
$fn$;
COMMENT ON FUNCTION otto.login(text) IS 'Sign this session in as the app user with this token; every per-user table and buyer function then acts for that user';

CREATE OR REPLACE FUNCTION otto.logout() RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT set_config('otto.user_id', '0', false) $fn$;

-- The language of Otto's sentences: the argument, else the otto.lang setting,
-- else the signed-in user's, else English.  'sr' is Serbian in Latin script.
CREATE OR REPLACE FUNCTION otto.lang(lang text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    l text := coalesce(nullif(lang, ''), nullif(current_setting('otto.lang', true), ''),
                       (SELECT u.lang FROM otto.app_user u WHERE u.user_id = otto.current_user_id()), 'en');
BEGIN
    l := CASE lower(l) WHEN 'en' THEN 'en' WHEN 'sr' THEN 'sr-Latn' WHEN 'sr-latn' THEN 'sr-Latn' WHEN 'sr-cyrl' THEN 'sr-Cyrl' END;
    IF l IS NULL THEN
        RAISE EXCEPTION 'unknown language "%"', coalesce(lang, current_setting('otto.lang', true))
              USING ERRCODE = 'invalid_parameter_value', HINT = 'Languages: en, sr-Latn (or sr), sr-Cyrl.';
    END IF;
    RETURN l;
END
$fn$;
COMMENT ON FUNCTION otto.lang(text) IS 'The language Otto writes in: the argument, the otto.lang setting, the signed-in user''s language, or en';

-- A canonical value's label (otto.vocabulary) in a language.
CREATE OR REPLACE FUNCTION otto.label(field text, code text, lang text DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT otto.ask_text(otto.lang($3), v.label_en, v.label_sr) FROM otto.vocabulary v WHERE v.field = $1 AND v.code = $2
$fn$;
CREATE OR REPLACE FUNCTION otto.labels(lang text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT jsonb_build_object('lang', l.l, 'labels', jsonb_object_agg(f.field, f.codes))
      FROM (SELECT otto.lang($1) AS l) l,
           LATERAL (SELECT v.field, jsonb_object_agg(v.code, otto.ask_text(l.l, v.label_en, v.label_sr)) AS codes
                      FROM otto.vocabulary v GROUP BY v.field) f
     GROUP BY l.l
$fn$;
COMMENT ON FUNCTION otto.labels(text) IS 'Every canonical value''s label in a language (en, sr-Latn, sr-Cyrl), by field: for menus and filters';

-- Text people write, made safe to put into HTML.
CREATE OR REPLACE FUNCTION otto.html_escape(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT replace(replace(replace(replace(replace(s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;') $fn$;

-- A short description of an ad for people: "Volkswagen Golf 2015, 180.000 km, 8.900 €".
CREATE OR REPLACE FUNCTION otto.ad_line(a otto.ad, lang text) RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT concat_ws(', ', concat_ws(' ', a.make, a.model, a.year),
                     CASE WHEN a.mileage_km IS NOT NULL THEN otto.ask_num(a.mileage_km, lang) || ' km' END,
                     CASE WHEN a.price_eur > 0 THEN CASE lang WHEN 'en' THEN '€' || otto.ask_num(a.price_eur, lang)
                                                             ELSE otto.ask_num(a.price_eur, lang) || ' €' END END)
$fn$;

-------------------------------------------------------------------------------
-- Views and likes: an append-only log per user.
-------------------------------------------------------------------------------
CREATE TABLE otto.user_event (
    event_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     int NOT NULL DEFAULT otto.current_user_id() REFERENCES otto.app_user ON DELETE CASCADE,
    ad_id       bigint NOT NULL REFERENCES otto.ad,
    kind        text NOT NULL CHECK (kind IN ('view', 'like', 'unlike')),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_event_user_idx ON otto.user_event (user_id, ad_id, event_id);
CREATE INDEX user_event_ad_idx ON otto.user_event (ad_id, user_id) WHERE kind IN ('like', 'unlike');
COMMENT ON TABLE otto.user_event IS 'What each app user viewed, liked and unliked, in order; append-only';
COMMENT ON COLUMN otto.user_event.kind IS 'view, like or unlike; an ad is liked while its last like or unlike is a like (otto.user_like)';

CREATE OR REPLACE FUNCTION otto.append_only() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF pg_trigger_depth() < 2 THEN      -- deleting the user cascades (depth 2); nothing else changes the log
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END
$fn$;
CREATE OR REPLACE TRIGGER user_event_append_only BEFORE UPDATE OR DELETE ON otto.user_event
    FOR EACH ROW EXECUTE FUNCTION otto.append_only();

-- Each user's liked ads now: their last like or unlike of it was a like.
CREATE OR REPLACE VIEW otto.user_like WITH (security_barrier, security_invoker) AS
SELECT l.user_id, l.ad_id, l.at
  FROM (SELECT DISTINCT ON (e.user_id, e.ad_id) e.user_id, e.ad_id, e.at, e.kind
          FROM otto.user_event e WHERE e.kind IN ('like', 'unlike')
         ORDER BY e.user_id, e.ad_id, e.event_id DESC) l
 WHERE l.kind = 'like';
COMMENT ON VIEW otto.user_like IS 'The ads each user likes now (their last like or unlike was a like); shows the caller''s own rows only';

CREATE OR REPLACE FUNCTION otto.user_event_add(ad_id bigint, kind text) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    uid   int := otto.require_user();
    liked boolean;
    id    bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM otto.ad a WHERE a.ad_id = ad_id) THEN
        RAISE EXCEPTION 'no ad with id %', ad_id USING ERRCODE = 'no_data_found';
    END IF;
    liked := EXISTS (SELECT FROM otto.user_like l WHERE l.user_id = uid AND l.ad_id = ad_id);
    IF kind = 'view' OR (kind = 'like' AND NOT liked) OR (kind = 'unlike' AND liked) THEN
        INSERT INTO otto.user_event (user_id, ad_id, kind) VALUES (uid, ad_id, kind) RETURNING event_id INTO id;
    END IF;
    RETURN jsonb_build_object('ad_id', ad_id, 'event', kind, 'event_id', id,
                              'liked', CASE kind WHEN 'like' THEN true WHEN 'unlike' THEN false ELSE liked END);
END
$fn$;
CREATE OR REPLACE FUNCTION otto.view_ad(ad_id bigint) RETURNS jsonb LANGUAGE sql AS $fn$ SELECT otto.user_event_add($1, 'view') $fn$;
CREATE OR REPLACE FUNCTION otto.like_ad(ad_id bigint) RETURNS jsonb LANGUAGE sql AS $fn$ SELECT otto.user_event_add($1, 'like') $fn$;
CREATE OR REPLACE FUNCTION otto.unlike_ad(ad_id bigint) RETURNS jsonb LANGUAGE sql AS $fn$ SELECT otto.user_event_add($1, 'unlike') $fn$;
COMMENT ON FUNCTION otto.view_ad(bigint) IS 'Record that the signed-in user viewed an ad';
COMMENT ON FUNCTION otto.like_ad(bigint) IS 'The signed-in user likes an ad (a second like changes nothing)';
COMMENT ON FUNCTION otto.unlike_ad(bigint) IS 'The signed-in user no longer likes an ad';

CREATE OR REPLACE FUNCTION otto.my_likes() RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT jsonb_build_object('likes', coalesce(jsonb_agg(jsonb_build_object(
               'ad_id', a.ad_id, 'url', a.url, 'title', a.title, 'state', a.state, 'price_eur', a.price_eur,
               'text', otto.ad_line(a, g.l), 'liked_at', l.at) ORDER BY l.at DESC), '[]'),
           'n', count(*))
      FROM (SELECT otto.lang() AS l) g, otto.user_like l JOIN otto.ad a ON a.ad_id = l.ad_id
     WHERE l.user_id = otto.require_user()
$fn$;
COMMENT ON FUNCTION otto.my_likes() IS 'The signed-in user''s liked ads, latest first';

-------------------------------------------------------------------------------

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.app_user', '');
SELECT pg_catalog.pg_extension_config_dump('otto.app_user_user_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.user_event', '');
SELECT pg_catalog.pg_extension_config_dump('otto.user_event_event_id_seq', '');
SELECT otto.own_rows('otto.app_user'), otto.own_rows('otto.user_event');
GRANT SELECT ON otto.app_user, otto.user_event, otto.user_like TO otto_app;
GRANT UPDATE (lang) ON otto.app_user TO otto_app;
GRANT INSERT ON otto.user_event TO otto_app;
GRANT EXECUTE ON FUNCTION otto.login(text), otto.logout() TO otto_app, otto_chat;
GRANT EXECUTE ON FUNCTION otto.user_event_add(bigint, text), otto.view_ad(bigint), otto.like_ad(bigint),
    otto.unlike_ad(bigint) TO otto_app;
