-- src/buyers/alerts.sql: saved searches and alerts.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-- Saved searches and alerts.  A saved search is filters (as otto.search_ads
-- takes them) and the alerts it wants: new (a new matching listing),
-- price_drop (a matching ad got cheaper) and back_on_market (a matching ad
-- relisted).  Price drops and relists of a liked ad alert too.  The stream
-- processor matches each batch of the ad log as it arrives (otto.alerts_apply)
-- and writes otto.alert rows, at most one per user, ad and reason, with the
-- alert watermark in the same transaction; each row sends NOTIFY otto_alert
-- (a trigger), delivered when it commits.
-------------------------------------------------------------------------------
CREATE TABLE otto.saved_search (
    search_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     int NOT NULL DEFAULT otto.current_user_id() REFERENCES otto.app_user ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    filters     jsonb NOT NULL,
    alerts      text[] NOT NULL DEFAULT '{new,price_drop,back_on_market}'
                CHECK (cardinality(alerts) > 0 AND alerts <@ ARRAY['new', 'price_drop', 'back_on_market']),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);
COMMENT ON TABLE otto.saved_search IS 'Users'' saved searches: filters as otto.search_ads takes them (kept canonical) and the alerts wanted';
COMMENT ON COLUMN otto.saved_search.filters IS 'Filters of otto.search_ads, in the canonical form otto.search_filter gives them (checked on every write)';
COMMENT ON COLUMN otto.saved_search.alerts IS 'Which alerts it wants: new (a new matching ad), price_drop (a matching ad got cheaper), back_on_market (a matching ad relisted)';

-- Filters are checked and made canonical however the row is written.
CREATE OR REPLACE FUNCTION otto.saved_search_check() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    NEW.filters := (otto.search_filter(NEW.filters)).f;
    RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER saved_search_check BEFORE INSERT OR UPDATE OF filters ON otto.saved_search
    FOR EACH ROW EXECUTE FUNCTION otto.saved_search_check();

CREATE OR REPLACE FUNCTION otto.search_save(name text, filters jsonb, alerts text[] DEFAULT '{new,price_drop,back_on_market}')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    s otto.saved_search;
BEGIN
    INSERT INTO otto.saved_search AS x (user_id, name, filters, alerts)
    VALUES (otto.require_user(), search_save.name, search_save.filters, search_save.alerts)
    ON CONFLICT (user_id, name) DO UPDATE SET filters = excluded.filters, alerts = excluded.alerts
    RETURNING * INTO s;
    RETURN jsonb_build_object('search_id', s.search_id, 'name', s.name, 'filters', s.filters, 'alerts', to_jsonb(s.alerts));
END
$fn$;
COMMENT ON FUNCTION otto.search_save(text, jsonb, text[]) IS 'Save (or replace, by name) a search of the signed-in user with the alerts it wants';

CREATE TABLE otto.alert (
    alert_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     int NOT NULL REFERENCES otto.app_user ON DELETE CASCADE,
    ad_id       bigint NOT NULL REFERENCES otto.ad,
    reason      text NOT NULL CHECK (reason IN ('new', 'price_drop', 'back_on_market')),
    search_id   bigint REFERENCES otto.saved_search ON DELETE SET NULL,
    event_id    bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    UNIQUE (user_id, ad_id, reason)
);
CREATE INDEX alert_user_idx ON otto.alert (user_id, alert_id);
CREATE OR REPLACE FUNCTION otto.alert_notify() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM pg_notify('otto_alert', jsonb_build_object('user_id', NEW.user_id, 'alert_id', NEW.alert_id)::text);
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER alert_notify AFTER INSERT ON otto.alert FOR EACH ROW EXECUTE FUNCTION otto.alert_notify();
COMMENT ON TABLE otto.alert IS 'Alerts for users, durable: one per user, ad and reason, written as the ad log is processed (otto.alerts_apply); a listener catches up with otto.my_alerts(after)';
COMMENT ON COLUMN otto.alert.search_id IS 'The saved search that matched; NULL for a liked ad';
COMMENT ON COLUMN otto.alert.event_id IS 'The ad event that caused it';
COMMENT ON COLUMN otto.alert.reason IS 'new, price_drop or back_on_market: at most one alert per user, ad and reason';
COMMENT ON COLUMN otto.alert.read_at IS 'When the user marked it read (otto.alerts_read); NULL while unread';

CREATE TABLE otto.alert_state (
    watermark   bigint NOT NULL DEFAULT 0,
    applied_at  timestamptz,
    alerts      bigint NOT NULL DEFAULT 0,
    single      boolean PRIMARY KEY DEFAULT true CHECK (single)
);
COMMENT ON TABLE otto.alert_state IS 'Where alert matching is in the ad log: every event up to watermark has been matched (no row: none yet; made on first use, so that a restored dump brings its own)';
COMMENT ON COLUMN otto.alert_state.alerts IS 'Alerts written, in all';
COMMENT ON COLUMN otto.alert_state.single IS 'Keeps the table to one row';

-- The ad events that can alert, between two event ids: new listings, relists
-- (pred: the ad a relist under a new id continues) and price drops.
CREATE OR REPLACE FUNCTION otto.alert_events(after bigint, upto bigint)
RETURNS TABLE (event_id bigint, ad_id bigint, reason text, pred bigint)
LANGUAGE sql STABLE
AS $fn$
    SELECT e.event_id, e.ad_id,
           CASE e.kind WHEN 'new' THEN 'new' WHEN 'relisted' THEN 'back_on_market' ELSE 'price_drop' END,
           (e.details->>'relist_of_ad_id')::bigint
      FROM otto.ad_event e
     WHERE e.event_id > $1 AND e.event_id <= $2
       AND (e.kind IN ('new', 'relisted') OR (e.kind = 'price_changed' AND e.new_price_eur < e.old_price_eur))
$fn$;

-- Match the ad events after the alert watermark (up to the market stream's,
-- so that the market tables a good_deal filter reads include them) against
-- every saved search and like; returns what it did.
CREATE OR REPLACE FUNCTION otto.alerts_apply(max_events int DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    wm      bigint;
    upto    bigint;
    last_id bigint;
    n       int;
    reasons text[];
    s       record;
    sf      record;
    added   bigint := 0;
    k       bigint;
BEGIN
    IF max_events < 1 THEN
        RAISE EXCEPTION 'max_events must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT m.watermark INTO upto FROM otto.stream_state m WHERE m.stream = 'market';
    IF (SELECT a.watermark FROM otto.alert_state a) >= upto THEN       -- nothing new: no lock, no write
        RETURN jsonb_build_object('events', 0, 'alerts', 0, 'watermark', upto);
    END IF;
    SELECT a.watermark INTO wm FROM otto.alert_state a FOR UPDATE;      -- one matcher at a time
    IF NOT FOUND THEN                                                   -- the first run: make the row
        INSERT INTO otto.alert_state DEFAULT VALUES ON CONFLICT DO NOTHING;
        SELECT a.watermark INTO STRICT wm FROM otto.alert_state a FOR UPDATE;
    END IF;
    SELECT count(*), max(e.event_id) INTO n, last_id
      FROM (SELECT e.event_id FROM otto.ad_event e WHERE e.event_id > wm AND e.event_id <= upto
             ORDER BY e.event_id LIMIT max_events) e;
    IF n = 0 THEN
        RETURN jsonb_build_object('events', 0, 'alerts', 0, 'watermark', wm);
    END IF;
    reasons := ARRAY(SELECT DISTINCT b.reason FROM otto.alert_events(wm, last_id) b);

    -- saved searches: each one's conditions, built from its canonical filters, over the batch's ads
    FOR s IN SELECT x.* FROM otto.saved_search x WHERE x.alerts && reasons ORDER BY x.search_id LOOP
        BEGIN
            sf := otto.search_filter(s.filters);
        EXCEPTION WHEN invalid_parameter_value THEN
            RAISE WARNING 'otto: saved search % has filters Otto no longer accepts: %', s.search_id, SQLERRM;
            CONTINUE;
        END;
        EXECUTE format($q$
            INSERT INTO otto.alert (user_id, ad_id, reason, search_id, event_id)
            SELECT DISTINCT ON (b.ad_id, b.reason) $2, b.ad_id, b.reason, $3, b.event_id
              FROM otto.alert_events($5, $6) b JOIN otto.ad a ON a.ad_id = b.ad_id
             WHERE b.reason = ANY ($4) AND %s %s
             ORDER BY b.ad_id, b.reason, b.event_id
            ON CONFLICT (user_id, ad_id, reason) DO NOTHING $q$,
            array_to_string(sf.conds, ' AND '),
            CASE WHEN sf.deals THEN 'AND otto.line_deal(otto.ad_line_gap(a.make, a.model, a.price_eur, a.year, a.mileage_km))'
                 ELSE '' END)
          USING sf.f, s.user_id, s.search_id, s.alerts, wm, last_id;
        GET DIAGNOSTICS k = ROW_COUNT;
        added := added + k;
    END LOOP;

    -- liked ads that got cheaper or came back (under a new id too: the ad it continues was liked)
    INSERT INTO otto.alert (user_id, ad_id, reason, event_id)
    SELECT DISTINCT ON (l.user_id, b.ad_id, b.reason) l.user_id, b.ad_id, b.reason, b.event_id
      FROM otto.alert_events(wm, last_id) b JOIN otto.user_like l ON l.ad_id IN (b.ad_id, b.pred)
     WHERE b.reason IN ('price_drop', 'back_on_market')
     ORDER BY l.user_id, b.ad_id, b.reason, b.event_id
    ON CONFLICT (user_id, ad_id, reason) DO NOTHING;
    GET DIAGNOSTICS k = ROW_COUNT;
    added := added + k;
    IF added > 0 THEN           -- a listener may act on the NOTIFY: the alerts must outlive a crash
        PERFORM set_config('synchronous_commit', 'on', true);
    END IF;
    UPDATE otto.alert_state SET watermark = last_id, applied_at = clock_timestamp(), alerts = alerts + added;
    RETURN jsonb_build_object('events', n, 'alerts', added, 'watermark', last_id);
END
$fn$;
COMMENT ON FUNCTION otto.alerts_apply(int) IS 'Match the next ad events (up to the market stream''s watermark) against saved searches and likes: otto.alert rows (each sends NOTIFY otto_alert {user_id, alert_id}) and the alert watermark, in one transaction';

-- The signed-in user's alerts after an alert id (0: all), oldest first.
CREATE OR REPLACE FUNCTION otto.my_alerts(after bigint DEFAULT 0, lim int DEFAULT 50) RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT jsonb_build_object('alerts', coalesce(jsonb_agg(x.j ORDER BY x.alert_id), '[]'), 'n', count(*))
      FROM (SELECT al.alert_id, jsonb_build_object(
                'alert_id', al.alert_id, 'reason', al.reason, 'ad_id', al.ad_id, 'url', a.url, 'search', s.name,
                'created_at', al.created_at, 'read', al.read_at IS NOT NULL,
                'text', format(CASE al.reason
                                   WHEN 'new' THEN otto.ask_text(g.l, 'New for "%s": %s', 'Novo za „%s”: %s')
                                   WHEN 'price_drop' THEN otto.ask_text(g.l, 'Cheaper%s: %s', 'Pojeftinilo%s: %s')
                                   ELSE otto.ask_text(g.l, 'Back on the market%s: %s', 'Ponovo u prodaji%s: %s') END,
                               CASE WHEN al.reason = 'new' THEN coalesce(s.name, '')
                                    WHEN s.name IS NOT NULL THEN ' (' || s.name || ')'
                                    ELSE otto.ask_text(g.l, ' (liked)', ' (sviđa vam se)') END,
                               otto.ad_line(a, g.l))) AS j
              FROM (SELECT otto.lang() AS l) g, otto.alert al JOIN otto.ad a ON a.ad_id = al.ad_id
              LEFT JOIN otto.saved_search s ON s.search_id = al.search_id
             WHERE al.user_id = otto.require_user() AND al.alert_id > coalesce($1, 0)
             ORDER BY al.alert_id LIMIT least(greatest($2, 1), 1000)) x
$fn$;
COMMENT ON FUNCTION otto.my_alerts(bigint, int) IS 'The signed-in user''s alerts after an alert id, oldest first, each with a sentence in the user''s language: how a listener that connects late catches up';

CREATE OR REPLACE FUNCTION otto.alerts_read(upto bigint) RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH r AS (UPDATE otto.alert SET read_at = now()
                WHERE user_id = otto.require_user() AND alert_id <= $1 AND read_at IS NULL RETURNING 1)
    SELECT count(*) FROM r
$fn$;
COMMENT ON FUNCTION otto.alerts_read(bigint) IS 'Mark the signed-in user''s alerts up to an id as read; returns how many';

-------------------------------------------------------------------------------

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.saved_search', '');
SELECT pg_catalog.pg_extension_config_dump('otto.saved_search_search_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.alert', '');
SELECT pg_catalog.pg_extension_config_dump('otto.alert_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.alert_state', '');
SELECT otto.own_rows('otto.saved_search'), otto.own_rows('otto.alert');
GRANT SELECT ON otto.saved_search, otto.alert TO otto_app;
GRANT INSERT, DELETE, UPDATE (name, filters, alerts) ON otto.saved_search TO otto_app;
GRANT UPDATE (read_at) ON otto.alert TO otto_app;
GRANT EXECUTE ON FUNCTION otto.search_save(text, jsonb, text[]), otto.alerts_read(bigint) TO otto_app;
