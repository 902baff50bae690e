-- src/ingest/ingest.sql: ads and their event log; otto.ingest_page, the per-page pipeline.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-- Ads: one row per real ad, deduplicated by (site, source ad id).
-------------------------------------------------------------------------------
CREATE TABLE otto.ad (
    ad_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         int NOT NULL REFERENCES otto.site,
    source_ad_id    text NOT NULL CHECK (source_ad_id <> ''),
    url             text NOT NULL,
    state           text NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'removed')),
    title           text,
    make            text,
    model           text,
    year            int CHECK (year BETWEEN 1900 AND 2100),
    mileage_km      int CHECK (mileage_km >= 0),
    price_eur       int CHECK (price_eur >= 0),
    old_price_eur   int CHECK (old_price_eur >= 0),
    fuel            text,
    body            text,
    gearbox         text,
    power_kw        int CHECK (power_kw > 0),
    power_hp        int CHECK (power_hp > 0),
    engine_cc       int CHECK (engine_cc > 0),
    color           text,
    seats           int CHECK (seats BETWEEN 1 AND 99),
    doors           text,
    drive           text,
    emission_class  text,
    air_conditioning text,
    damage          text,
    origin          text,
    condition       text,
    registered_until date,
    location        text,
    region          text,
    seller_type     text,
    seller_id       text,
    seller_name     text,
    renewed_at      timestamptz,
    features        text[] NOT NULL DEFAULT '{}',
    images_count    int CHECK (images_count >= 0),
    raw             jsonb NOT NULL DEFAULT '{}',
    content_hash    bytea,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    UNIQUE (site_id, source_ad_id),
    UNIQUE (site_id, ad_id),
    CHECK ((state = 'removed') = (removed_at IS NOT NULL)),
    CHECK (last_seen_at >= first_seen_at)
);
-- Every sweep updates each live ad (last_seen_at): vacuum soon after, so that
-- the visibility map lets the search read its indexes alone.
ALTER TABLE otto.ad SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_insert_scale_factor = 0.05);
COMMENT ON TABLE otto.ad IS 'Ads: one row per real ad per site with typed, canonical fields (vocabulary codes in English)';
COMMENT ON COLUMN otto.ad.source_ad_id IS 'The site''s own ad id (e.g. 20645877 in /auto-oglasi/20645877/...)';
COMMENT ON COLUMN otto.ad.url IS 'Canonical ad URL (the page''s rel=canonical, tracking parameters removed)';
COMMENT ON COLUMN otto.ad.state IS 'live while the ad is listed; removed once confirmed gone (404/410, redirect to a listing, or absent from two complete sweeps)';
COMMENT ON COLUMN otto.ad.price_eur IS 'Asking price in whole euros; NULL for "Po dogovoru" (price on request)';
COMMENT ON COLUMN otto.ad.old_price_eur IS 'Price before the discount the ad shows, when it shows one';
COMMENT ON COLUMN otto.ad.power_kw IS 'Engine power in kW (power_hp is the advertised horsepower)';
COMMENT ON COLUMN otto.ad.engine_cc IS 'Engine displacement in cm3';
COMMENT ON COLUMN otto.ad.renewed_at IS 'When the seller last renewed (bumped) the ad, as the site states it';
COMMENT ON COLUMN otto.ad.fuel IS 'Fuel as a vocabulary code (e.g. diesel, petrol, lpg, electric, hybrid)';
COMMENT ON COLUMN otto.ad.body IS 'Body type as a vocabulary code (e.g. sedan, estate, hatchback, suv)';
COMMENT ON COLUMN otto.ad.gearbox IS 'Gearbox as a vocabulary code (manual_5, manual_6, automatic)';
COMMENT ON COLUMN otto.ad.color IS 'Exterior colour as a vocabulary code';
COMMENT ON COLUMN otto.ad.doors IS 'Door count as the site groups it (e.g. 4/5), hence text';
COMMENT ON COLUMN otto.ad.drive IS 'Driven wheels as a vocabulary code (front, rear, all)';
COMMENT ON COLUMN otto.ad.emission_class IS 'Emission standard as stated, e.g. Euro 6';
COMMENT ON COLUMN otto.ad.air_conditioning IS 'Air conditioning as a vocabulary code (none, manual, automatic)';
COMMENT ON COLUMN otto.ad.damage IS 'Damage state as a vocabulary code (none, damaged_drivable, damaged_not_drivable)';
COMMENT ON COLUMN otto.ad.origin IS 'Where the car is registered or comes from (domestic plates, foreign plates, ...) as a vocabulary code';
COMMENT ON COLUMN otto.ad.condition IS 'Used or new (vocabulary code)';
COMMENT ON COLUMN otto.ad.registered_until IS 'Registration valid until (first day of the month the site states)';
COMMENT ON COLUMN otto.ad.location IS 'Town the seller states';
COMMENT ON COLUMN otto.ad.region IS 'Region (okrug) of the town';
COMMENT ON COLUMN otto.ad.seller_type IS 'private or dealer (vocabulary code)';
COMMENT ON COLUMN otto.ad.seller_id IS 'The site''s id of the seller''s account, when the page states it (relist fingerprint)';
COMMENT ON COLUMN otto.ad.seller_name IS 'Dealer name as the page states it';
COMMENT ON COLUMN otto.ad.features IS 'Equipment list, as vocabulary codes where known';
COMMENT ON COLUMN otto.ad.images_count IS 'Number of photos on the ad page';
COMMENT ON COLUMN otto.ad.raw IS 'Values the vocabulary did not recognise, kept verbatim by field name';
COMMENT ON COLUMN otto.ad.content_hash IS 'Fingerprint of the ad''s meaningful content at the last fetch; equal hash = unchanged re-fetch';
COMMENT ON COLUMN otto.ad.first_seen_at IS 'First time Otto saw the ad (the site shows no posting date)';
COMMENT ON COLUMN otto.ad.last_seen_at IS 'Last time the ad was seen live, on its page or in a listing';
COMMENT ON COLUMN otto.ad.removed_at IS 'When the removal was confirmed';

-------------------------------------------------------------------------------
-- The ad event log: what happened to each ad, append-only.
-------------------------------------------------------------------------------
CREATE TABLE otto.ad_event (
    event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         int NOT NULL,
    ad_id           bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('new', 'price_changed', 'updated', 'removed', 'relisted')),
    at              timestamptz NOT NULL DEFAULT now(),
    old_price_eur   int,
    new_price_eur   int,
    changed_fields  text[],
    days_on_market  numeric(8,2) CHECK (days_on_market >= 0),
    details         jsonb NOT NULL DEFAULT '{}',
    FOREIGN KEY (site_id, ad_id) REFERENCES otto.ad (site_id, ad_id),
    CHECK (kind <> 'price_changed' OR old_price_eur IS DISTINCT FROM new_price_eur),
    CHECK (kind <> 'updated' OR cardinality(changed_fields) > 0),
    CHECK (kind <> 'removed' OR days_on_market IS NOT NULL)
);
CREATE INDEX ad_event_ad_idx ON otto.ad_event (ad_id, event_id);
CREATE INDEX ad_event_at_idx ON otto.ad_event (at);
CREATE INDEX ad_event_relist_of_idx ON otto.ad_event (((details->>'relist_of_ad_id')::bigint)) WHERE kind = 'relisted';
COMMENT ON TABLE otto.ad_event IS 'Ad log: new, price_changed, updated, removed, relisted; consumed in event_id order by the stream processor';
COMMENT ON COLUMN otto.ad_event.event_id IS 'Position in the log; consumers keep the last one they processed as their watermark';
COMMENT ON COLUMN otto.ad_event.kind IS 'new, price_changed, updated (other fields changed), removed (gone, counted sold), relisted (back after removal)';
COMMENT ON COLUMN otto.ad_event.at IS 'When Otto observed the change';
COMMENT ON COLUMN otto.ad_event.old_price_eur IS 'price_changed: price before (NULL = price on request); removed: the last price';
COMMENT ON COLUMN otto.ad_event.new_price_eur IS 'price_changed: price after; new/relisted: the first price';
COMMENT ON COLUMN otto.ad_event.changed_fields IS 'updated: names of the fields whose values changed';
COMMENT ON COLUMN otto.ad_event.days_on_market IS 'removed: days from first seen to the fetch that found it gone';
COMMENT ON COLUMN otto.ad_event.details IS 'Event specifics, e.g. old and new values of changed fields, or the ad a relist continues';

-------------------------------------------------------------------------------
CREATE OR REPLACE VIEW otto.vocabulary_unknown AS
    SELECT r.key AS field, r.value AS spelling, count(*) AS ads, min(a.url) AS example
      FROM otto.ad a, jsonb_each_text(a.raw) r
     GROUP BY r.key, r.value;
COMMENT ON VIEW otto.vocabulary_unknown IS 'Categorical values sites showed that the vocabulary does not know, with how many ads have them: add them to otto.vocabulary.spellings';

-- (PL/pgSQL, whose plan is kept for the session: as a SQL function called
-- once per new ad it was parsed and planned on every call, a third of the
-- ingest's time.)
CREATE OR REPLACE FUNCTION otto.relist_of(ad otto.ad) RETURNS otto.ad
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r otto.ad;
BEGIN
    SELECT o.* INTO r FROM otto.ad o
     WHERE o.site_id = ad.site_id AND o.state = 'removed' AND o.ad_id <> ad.ad_id
       AND o.make = ad.make AND o.model = ad.model AND o.year = ad.year
       AND o.fuel IS NOT DISTINCT FROM ad.fuel
       AND (o.seller_id = ad.seller_id
            OR (o.seller_id IS NULL AND ad.seller_id IS NULL AND o.seller_name IS NOT DISTINCT FROM ad.seller_name
                AND o.location IS NOT DISTINCT FROM ad.location))
       AND ad.mileage_km BETWEEN o.mileage_km AND o.mileage_km + 3000
       AND (o.price_eur IS NULL OR ad.price_eur IS NULL OR ad.price_eur BETWEEN o.price_eur * 0.85 AND o.price_eur * 1.15)
       AND o.removed_at > ad.first_seen_at - interval '30 days'
       AND NOT EXISTS (SELECT FROM otto.ad_event e
                        WHERE e.kind = 'relisted' AND (e.details->>'relist_of_ad_id')::bigint = o.ad_id)
     ORDER BY ad.mileage_km - o.mileage_km, o.removed_at DESC
     LIMIT 1;
    RETURN r;
END
$fn$;
COMMENT ON FUNCTION otto.relist_of(otto.ad) IS 'The removed ad a new ad continues (the same car back under a new id), by fingerprint: same site, make, model, year, fuel and seller (seller id; without one, seller name and location), mileage not lower and at most 3,000 km higher, price within 15% when both are stated, removed at most 30 days before it appeared, not already continued; the closest mileage wins';

CREATE OR REPLACE FUNCTION otto.page_links(site otto.site, html text, base_url text)
RETURNS TABLE (url text, kind text)
LANGUAGE sql STABLE
AS $fn$
    SELECT l.url, l.kind
      FROM (SELECT u AS url, CASE WHEN u ~ site.ad_url_pattern THEN 'ad'
                                  WHEN u ~ site.listing_url_pattern THEN 'listing' END AS kind
              FROM otto.extract_links(html, base_url) u
             WHERE otto.url_host(u) = ANY (site.hosts)) l
     WHERE l.kind IS NOT NULL;
$fn$;
COMMENT ON FUNCTION otto.page_links(otto.site, text, text) IS 'The links of a page that the site''s crawl follows, with their class (ad or listing)';

-- The per-page pipeline in named steps: the page log, the links, the ad
-- (with its events).  otto.ingest_page is the API (any URL); the crawler calls
-- otto.ingest_site_page with what it already knows: the site and the URL as
-- the frontier has it.

-- Step 1, the page log: the fetch's row in otto.page and the URL's frontier
-- row done.  Validators are kept from a 200 answer (a 304 keeps the ones it
-- confirmed), except for listings: a sweep needs their links, so they are
-- always fetched.
CREATE OR REPLACE FUNCTION otto.ingest_page_log(s otto.site, u text, final text, kind text, d int, html text,
                                                status int, fetched_at timestamptz, fetch_info jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO otto.page (site_id, url, final_url, fetched_at, status, elapsed_ms, redirects, wire_bytes, body_bytes,
                           content_type, etag, last_modified, content_hash, body)
    VALUES (s.site_id, u, nullif(final, u), fetched_at, status, (fetch_info->>'elapsed_ms')::int,
            coalesce((fetch_info->>'redirects')::int, 0), (fetch_info->>'wire_bytes')::bigint, octet_length(html),
            fetch_info->>'content_type', fetch_info->>'etag', fetch_info->>'last_modified',
            CASE WHEN html IS NOT NULL THEN sha256(convert_to(html, 'UTF8')) END,
            CASE WHEN current_setting('otto.page_body_retention', true) NOT IN ('0', '')
                 THEN convert_to(html, 'UTF8') END);
    INSERT INTO otto.frontier AS f (site_id, url, kind, depth, state, last_status, last_fetched_at, discovered_at,
                                    etag, last_modified)
    VALUES (s.site_id, u, kind, d, 'done', status, fetched_at, fetched_at,
            CASE WHEN status = 200 AND kind <> 'listing' THEN fetch_info->>'etag' END,
            CASE WHEN status = 200 AND kind <> 'listing' THEN fetch_info->>'last_modified' END)
    ON CONFLICT (site_id, url) DO UPDATE
       SET state = 'done', last_status = excluded.last_status, last_fetched_at = excluded.last_fetched_at,
           lease_owner = NULL, lease_until = NULL, attempts = 0, last_error = NULL, crashes = 0,
           etag = CASE WHEN excluded.last_status = 304 THEN f.etag ELSE excluded.etag END,
           last_modified = CASE WHEN excluded.last_status = 304 THEN f.last_modified ELSE excluded.last_modified END;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_page_log(otto.site, text, text, text, int, text, int, timestamptz, jsonb) IS 'Step of otto.ingest_page: the fetch into otto.page, the URL''s frontier row done';

-- Step 2, the links: those of this site that the crawl follows go into the
-- frontier one level deeper (the pagination of a listing stays on its level);
-- a page fetched before the current sweep started is due again.  Returns how
-- many URLs were queued.
CREATE OR REPLACE FUNCTION otto.ingest_links(s otto.site, kind text, d int, html text, final text, fetched_at timestamptz)
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    links    int;
    to_fetch text[];            -- listings mode: the ads of a listing worth fetching
BEGIN
    IF d >= s.max_depth THEN
        RETURN 0;
    END IF;
    IF kind = 'listing' THEN
        IF s.sweep_mode = 'listings' THEN
            -- the cards show each ad's price: a known live ad listed at its stored
            -- price is seen without fetching its page; the others (new, repriced) are
            -- queued from their cards (a promoted repeat is left to its own page)
            WITH cards AS (SELECT c->>'source_ad_id' AS id, (c->>'price_eur')::int AS price
                             FROM jsonb_array_elements(otto.parse_listing(html, final)->'ads') c),
                 seen AS (UPDATE otto.ad a SET last_seen_at = greatest(a.last_seen_at, ingest_links.fetched_at)
                            FROM cards c
                           WHERE a.site_id = s.site_id AND a.source_ad_id = c.id AND a.state = 'live'
                             AND a.price_eur IS NOT DISTINCT FROM c.price
                          RETURNING a.source_ad_id)
            SELECT coalesce(array_agg(c.id) FILTER (WHERE c.id NOT IN (SELECT source_ad_id FROM seen)), '{}')
              INTO to_fetch FROM cards c;
        END IF;
        -- a listing drives the sweep: what it links and was fetched before is due again
        -- listings jump the queue (due a day early): the sweep reaches every ad sooner
        INSERT INTO otto.frontier AS f (site_id, url, kind, depth, discovered_at, due_at)
        SELECT s.site_id, l.url, l.kind, CASE WHEN l.kind = 'listing' THEN d ELSE d + 1 END, fetched_at,
               CASE WHEN l.kind = 'listing' THEN fetched_at - interval '1 day' ELSE fetched_at END
          FROM otto.page_links(s, html, final) l
         WHERE (l.kind = 'listing' OR to_fetch IS NULL OR substring(l.url FROM s.ad_url_pattern) = ANY (to_fetch))
           -- a known URL the upsert would leave alone is left out first: the upsert
           -- locks the row it meets, and waits for the worker storing that page
           AND NOT EXISTS (SELECT FROM otto.frontier k
                            WHERE k.site_id = s.site_id AND k.url = l.url
                              AND NOT (k.state IN ('done', 'failed', 'refused') AND k.last_fetched_at < s.sweep_started_at))
         ORDER BY l.url        -- one lock order for all workers
        ON CONFLICT (site_id, url) DO UPDATE
           SET state = 'queued', due_at = excluded.due_at, attempts = 0,
               depth = least(f.depth, excluded.depth)
         WHERE f.state IN ('done', 'failed', 'refused')
           AND f.last_fetched_at < s.sweep_started_at;
    ELSE
        -- only the URLs not yet known: an insert that meets another worker's
        -- uncommitted row of the same URL waits for its transaction, and the
        -- ad pages all link the same listings and neighbours
        INSERT INTO otto.frontier (site_id, url, kind, depth, discovered_at)
        SELECT s.site_id, l.url, l.kind, d + 1, fetched_at
          FROM otto.page_links(s, html, final) l
         WHERE NOT EXISTS (SELECT FROM otto.frontier f WHERE f.site_id = s.site_id AND f.url = l.url)
         ORDER BY l.url
        ON CONFLICT (site_id, url) DO NOTHING;
    END IF;
    GET DIAGNOSTICS links = ROW_COUNT;
    IF links > 0 THEN
        PERFORM otto.crawler_wake();
    END IF;
    RETURN links;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_links(otto.site, text, int, text, text, timestamptz) IS 'Step of otto.ingest_page: the links the site''s crawl follows into the frontier; how many were queued';

-- The ad's columns Otto keeps itself; every other column of otto.ad is what
-- a page states, written by otto.ad_update below, which is generated from
-- the table, so that the ad's columns are listed in one place: otto.ad.
CREATE OR REPLACE FUNCTION otto.ad_kept_columns() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '{ad_id,site_id,source_ad_id,state,first_seen_at,last_seen_at,removed_at}'::text[];
COMMENT ON FUNCTION otto.ad_kept_columns() IS 'Columns of otto.ad that Otto keeps itself; the others are what an ad page states';

DO $do$
BEGIN
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION otto.ad_update(r otto.ad) RETURNS otto.ad
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE otto.ad a SET %s, state = 'live', removed_at = NULL, last_seen_at = greatest(a.last_seen_at, r.last_seen_at)
     WHERE a.ad_id = r.ad_id
    RETURNING * INTO r;
    RETURN r;
END
$fn$ $f$, (SELECT string_agg(format('%1$I = r.%1$I', attname), ', ' ORDER BY attnum)
             FROM pg_catalog.pg_attribute
            WHERE attrelid = 'otto.ad'::regclass AND attnum > 0 AND NOT attisdropped
              AND attname <> ALL (otto.ad_kept_columns())));
END
$do$;
COMMENT ON FUNCTION otto.ad_update(otto.ad) IS 'Writes what an ad page states onto the ad r.ad_id (every column but otto.ad_kept_columns()) and marks it live and seen';

-- Step 3a: an ad page that is gone (404, 410) or now leads elsewhere (a
-- redirect to a listing): the ad was removed, counted sold once.
CREATE OR REPLACE FUNCTION otto.ingest_ad_gone(s otto.site, u text, final text, status int, fetched_at timestamptz,
                                               OUT ad_id bigint, OUT event text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    gone otto.ad;
BEGIN
    UPDATE otto.ad a SET state = 'removed', removed_at = ingest_ad_gone.fetched_at
     WHERE a.site_id = s.site_id AND a.source_ad_id = substring(u FROM s.ad_url_pattern) AND a.state = 'live'
    RETURNING * INTO gone;
    IF FOUND THEN
        INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, days_on_market, details)
        VALUES (s.site_id, gone.ad_id, 'removed', fetched_at, gone.price_eur,
                greatest(0, round(extract(epoch FROM fetched_at - gone.first_seen_at) / 86400, 2)),
                jsonb_strip_nulls(jsonb_build_object('http_status', status, 'redirected_to', nullif(final, u))));
        ad_id := gone.ad_id;
        event := 'removed';
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_ad_gone(otto.site, text, text, int, timestamptz) IS 'Step of otto.ingest_page: a live ad whose page is gone or redirects away is removed, with its removed event';

-- Step 3b: an ad page parsed and its ad inserted or updated, with its events:
-- new or relisted (the same car back, see otto.relist_of) for a new ad;
-- price_changed, updated (the fields that differ) and relisted for a known
-- one.  An unchanged page (same content hash) writes no event.
CREATE OR REPLACE FUNCTION otto.ingest_ad(s otto.site, u text, html text, fetched_at timestamptz,
                                          OUT ad_id bigint, OUT event text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    parsed  jsonb := otto.parse_ad(html, u);
    r       otto.ad;
    old     otto.ad;
    changed text[];
BEGIN
    IF parsed->>'source_ad_id' IS NULL THEN
        RAISE EXCEPTION 'ad page "%" has no ad id', left(u, 200)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The site''s ad_url_pattern must capture the id, or its rules must find it on the page.';
    END IF;
    r := jsonb_populate_record(NULL::otto.ad, parsed);
    r.ad_id := NULL;
    r.removed_at := NULL;
    r.site_id := s.site_id;
    r.state := 'live';
    r.features := coalesce(r.features, '{}');
    r.raw := coalesce(parsed->'raw', '{}');
    r.content_hash := otto.content_hash(parsed);
    r.first_seen_at := fetched_at;
    r.last_seen_at := fetched_at;
    -- (a plan kept from when otto.ad was nearly empty scans the site's every ad
    -- through the (site_id, ad_id) key: otto.stats_refresh keeps it replanned)
    SELECT * INTO old FROM otto.ad a WHERE a.site_id = s.site_id AND a.source_ad_id = r.source_ad_id FOR UPDATE;
    IF NOT FOUND THEN
        r.ad_id := nextval('otto.ad_ad_id_seq');
        INSERT INTO otto.ad OVERRIDING SYSTEM VALUE SELECT r.*;
        ad_id := r.ad_id;
        old := otto.relist_of(r);
        IF old.ad_id IS NOT NULL THEN
            INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur, details)
            VALUES (s.site_id, r.ad_id, 'relisted', fetched_at, r.price_eur,
                    jsonb_build_object('relist_of', old.source_ad_id, 'relist_of_ad_id', old.ad_id,
                                       'removed_at', old.removed_at, 'old_price_eur', old.price_eur));
            event := 'relisted';
        ELSE
            INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
            VALUES (s.site_id, r.ad_id, 'new', fetched_at, r.price_eur);
            event := 'new';
        END IF;
        RETURN;
    END IF;
    r.ad_id := old.ad_id;
    ad_id := old.ad_id;
    IF old.content_hash IS DISTINCT FROM r.content_hash THEN
        -- the fields a page states whose values differ, price, renewal and raw values apart
        SELECT array_agg(k ORDER BY k) INTO changed
          FROM jsonb_each(to_jsonb(r) - otto.ad_kept_columns()) n(k, v)
         WHERE k NOT IN ('content_hash', 'renewed_at', 'price_eur', 'old_price_eur', 'raw')
           AND n.v IS DISTINCT FROM to_jsonb(old) -> k;
        IF r.price_eur IS DISTINCT FROM old.price_eur THEN
            INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, new_price_eur)
            VALUES (s.site_id, old.ad_id, 'price_changed', fetched_at, old.price_eur, r.price_eur);
            event := 'price_changed';
        END IF;
        IF changed IS NOT NULL THEN
            INSERT INTO otto.ad_event (site_id, ad_id, kind, at, changed_fields, details)
            VALUES (s.site_id, old.ad_id, 'updated', fetched_at, changed,
                    (SELECT jsonb_object_agg(k, jsonb_build_array(to_jsonb(old) -> k, to_jsonb(r) -> k))
                       FROM unnest(changed) k));
            event := coalesce(event, 'updated');
        END IF;
    END IF;
    IF old.state = 'removed' THEN
        INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur, details)
        VALUES (s.site_id, old.ad_id, 'relisted', fetched_at, r.price_eur, jsonb_build_object('removed_at', old.removed_at));
        event := 'relisted';
    END IF;
    PERFORM otto.ad_update(r);
END
$fn$;
COMMENT ON FUNCTION otto.ingest_ad(otto.site, text, text, timestamptz) IS 'Step of otto.ingest_page: an ad page parsed, its ad inserted or updated with its new, relisted, price_changed or updated events';

-- The pipeline for a page of a known site at its normalised URL (as the
-- frontier holds it): the crawler's entry, called once per page.
CREATE OR REPLACE FUNCTION otto.ingest_site_page(site_id int, url text, html text, status int DEFAULT 200,
                                                 fetched_at timestamptz DEFAULT now(), fetch_info jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    s       otto.site;
    u       text := url;
    final   text := coalesce(otto.normalize_url(fetch_info->>'final_url'), url);
    kind    text;
    to_ad   boolean;            -- the page, after any redirect, is an ad page
    d       int;
    links   int := 0;
    aid     bigint;
    ev      text;
BEGIN
    SELECT * INTO s FROM otto.site WHERE otto.site.site_id = ingest_site_page.site_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no site %', site_id USING ERRCODE = 'no_data_found';
    END IF;
    kind := coalesce(otto.url_kind(s, u), 'other');
    to_ad := CASE WHEN final = u THEN kind = 'ad' ELSE otto.url_kind(s, final) IS NOT DISTINCT FROM 'ad' END;
    SELECT f.depth INTO d FROM otto.frontier f WHERE f.site_id = s.site_id AND f.url = u;
    d := coalesce(d, 0);
    PERFORM otto.ingest_page_log(s, u, final, kind, d, html, status, fetched_at, fetch_info);
    IF kind = 'ad' AND (status IN (404, 410) OR (status = 200 AND NOT to_ad)) THEN
        SELECT g.ad_id, g.event INTO aid, ev FROM otto.ingest_ad_gone(s, u, final, status, fetched_at) g;
    ELSIF kind = 'ad' AND status = 304 THEN
        -- not modified: the ad is still there, nothing to parse
        UPDATE otto.ad a SET last_seen_at = greatest(a.last_seen_at, ingest_site_page.fetched_at)
         WHERE a.site_id = s.site_id AND a.source_ad_id = substring(u FROM s.ad_url_pattern) AND a.state = 'live';
    END IF;
    IF status = 200 AND html IS NOT NULL THEN
        links := otto.ingest_links(s, kind, d, html, final, fetched_at);
        -- a page that redirected elsewhere (an ad to a listing) is not that ad
        IF kind = 'ad' AND to_ad THEN
            SELECT g.ad_id, g.event INTO aid, ev FROM otto.ingest_ad(s, u, html, fetched_at) g;
        END IF;
    END IF;
    PERFORM pg_notify('otto_page', jsonb_build_object('site', s.name, 'url', left(u, 500), 'status', status)::text);
    IF ev IS NOT NULL THEN
        PERFORM pg_notify('otto_ad', jsonb_build_object('ad_id', aid, 'event', ev)::text);
    END IF;
    RETURN jsonb_build_object('site', s.name, 'url', u, 'kind', kind, 'status', status, 'links_added', links,
                              'ad_id', aid, 'event', ev);
END
$fn$;
COMMENT ON FUNCTION otto.ingest_site_page(int, text, text, int, timestamptz, jsonb) IS 'otto.ingest_page for a page of a known site at its normalised URL, as the crawler has both from the frontier';

CREATE OR REPLACE FUNCTION otto.ingest_page(url text, html text, status int DEFAULT 200, fetched_at timestamptz DEFAULT now(),
                                            fetch_info jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    u text := otto.normalize_url(url);
    s otto.site := otto.site_for_url(u);
BEGIN
    IF s IS NULL THEN
        RAISE EXCEPTION 'no site owns the host of "%"', left(url, 200)
            USING ERRCODE = 'no_data_found',
                  HINT = 'Add the host to otto.site.hosts, or add a site.';
    END IF;
    RETURN otto.ingest_site_page(s.site_id, u, html, status, fetched_at, fetch_info);
END
$fn$;
COMMENT ON FUNCTION otto.ingest_page(text, text, int, timestamptz, jsonb) IS 'The per-page pipeline, run by the crawler for every page and callable on pages fetched elsewhere (saved pages, archives, re-parses): page log, links into the frontier, ad upsert with new/price_changed/updated/relisted events, NOTIFY otto_page/otto_ad. An unchanged re-fetch writes no event; a 304 only confirms the ad. fetch_info: the crawler''s metadata (final_url, redirects, elapsed_ms, wire_bytes, content_type, etag, last_modified).';


-------------------------------------------------------------------------------

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.ad', '');
SELECT pg_catalog.pg_extension_config_dump('otto.ad_ad_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.ad_event', '');
SELECT pg_catalog.pg_extension_config_dump('otto.ad_event_event_id_seq', '');
GRANT SELECT ON otto.ad, otto.ad_event TO otto_app;
