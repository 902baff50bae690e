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

-- The store path: a batch of fetched pages of one site in named steps, each
-- step one statement (or a few) for the whole batch, so that what a
-- statement costs to start (plan, executor, constraints) is paid once per
-- batch, not once per page: the page log, the ads that are gone, the links,
-- the ads.  otto.ingest_site_pages is the crawler's entry (a batch per
-- transaction); otto.ingest_site_page and otto.ingest_page, the per-page API,
-- are a batch of one: one implementation.  A step's arrays hold one element
-- per page of the batch, in the batch's order.

-- Step 1, the page log: each fetch's row in otto.page and its URL's frontier
-- row done.  Validators are kept from a 200 answer (a 304 keeps the ones it
-- confirmed), except for listings: a sweep needs their links, so they are
-- always fetched.
CREATE OR REPLACE FUNCTION otto.ingest_page_log(s otto.site, urls text[], finals text[], kinds text[], depths int[],
                                                bodies text[], statuses int[], fetched_at timestamptz[], fetch_info jsonb[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO otto.page (site_id, url, final_url, fetched_at, status, elapsed_ms, redirects, wire_bytes, body_bytes,
                           content_type, etag, last_modified, content_hash, body)
    SELECT s.site_id, p.u, nullif(p.final, p.u), p.at, p.status, (p.info->>'elapsed_ms')::int,
           coalesce((p.info->>'redirects')::int, 0), (p.info->>'wire_bytes')::bigint, octet_length(p.html),
           p.info->>'content_type', p.info->>'etag', p.info->>'last_modified', sha256(p.bytes),
           CASE WHEN current_setting('otto.page_body_retention', true) NOT IN ('0', '') THEN p.bytes END
      FROM (SELECT q.*, convert_to(q.html, 'UTF8') AS bytes
              FROM unnest(urls, finals, bodies, statuses, fetched_at, fetch_info) q(u, final, html, status, at, info)) p;
    INSERT INTO otto.frontier AS f (site_id, url, kind, depth, state, last_status, last_fetched_at, discovered_at,
                                    etag, last_modified)
    SELECT s.site_id, p.u, p.kind, p.d, 'done', p.status, p.at, p.at,
           CASE WHEN p.status = 200 AND p.kind <> 'listing' THEN p.info->>'etag' END,
           CASE WHEN p.status = 200 AND p.kind <> 'listing' THEN p.info->>'last_modified' END
      FROM unnest(urls, kinds, depths, statuses, fetched_at, fetch_info) p(u, kind, d, status, at, info)
     ORDER BY p.u              -- one lock order for all workers
    ON CONFLICT (site_id, url) DO UPDATE
       SET state = 'done', last_status = excluded.last_status, last_fetched_at = excluded.last_fetched_at,
           lease_owner = NULL, lease_until = NULL, attempts = 0, last_error = NULL, crashes = 0,
           etag = CASE WHEN excluded.last_status = 304 THEN f.etag ELSE excluded.etag END,
           last_modified = CASE WHEN excluded.last_status = 304 THEN f.last_modified ELSE excluded.last_modified END;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_page_log(otto.site, text[], text[], text[], int[], text[], int[], timestamptz[], jsonb[]) IS 'Step of otto.ingest_site_pages: the fetches into otto.page, their URLs'' frontier rows done';

-- Step 2, the ads that are gone: an ad page that answers 404 or 410, or now
-- leads elsewhere (a redirect to a listing), removes its live ad, counted
-- sold once.  Returns the removed ads by the index of their page.
CREATE OR REPLACE FUNCTION otto.ingest_ads_gone(s otto.site, urls text[], finals text[], statuses int[],
                                                fetched_at timestamptz[])
RETURNS TABLE (i int, ad_id bigint, event text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH gone AS (
        UPDATE otto.ad a SET state = 'removed', removed_at = p.at
          FROM unnest(urls, finals, statuses, fetched_at) WITH ORDINALITY p(u, final, status, at, i)
         WHERE a.site_id = s.site_id AND a.source_ad_id = substring(p.u FROM s.ad_url_pattern) AND a.state = 'live'
        RETURNING a.ad_id, a.price_eur, a.first_seen_at, p.*),
    ev AS (
        INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, days_on_market, details)
        SELECT s.site_id, g.ad_id, 'removed', g.at, g.price_eur,
               greatest(0, round(extract(epoch FROM g.at - g.first_seen_at) / 86400, 2)),
               jsonb_strip_nulls(jsonb_build_object('http_status', g.status, 'redirected_to', nullif(g.final, g.u)))
          FROM gone g ORDER BY g.i)
    SELECT g.i::int, g.ad_id, 'removed' FROM gone g;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_ads_gone(otto.site, text[], text[], int[], timestamptz[]) IS 'Step of otto.ingest_site_pages: live ads whose pages are gone or redirect away are removed, with their removed events';

-- Step 3, the links of the pages that answered 200: those of this site that
-- the crawl follows go into the frontier one level deeper (the pagination of
-- a listing stays on its level); a page fetched before the current sweep
-- started is due again.  Returns how many URLs each page queued (a URL two
-- pages link counts for the first).
CREATE OR REPLACE FUNCTION otto.ingest_links(s otto.site, kinds text[], depths int[], bodies text[], statuses int[],
                                             finals text[], fetched_at timestamptz[])
RETURNS int[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n        int := cardinality(kinds);
    queued   int[];
    to_fetch text[];            -- listings mode: the ads of the listings worth fetching
BEGIN
    IF s.sweep_mode = 'listings' AND 'listing' = ANY (kinds) THEN
        -- the cards show each ad's price: a known live ad listed at its stored
        -- price is seen without fetching its page; the others (new, repriced) are
        -- queued from their cards (a promoted repeat is left to its own page)
        WITH cards AS (SELECT c->>'source_ad_id' AS id, (c->>'price_eur')::int AS price, p.at
                         FROM unnest(kinds, depths, bodies, statuses, finals, fetched_at) p(kind, d, html, status, final, at),
                              jsonb_array_elements(otto.parse_listing(p.html, p.final)->'ads') c
                        WHERE p.kind = 'listing' AND p.status = 200 AND p.d < s.max_depth),
             seen AS (UPDATE otto.ad a SET last_seen_at = greatest(a.last_seen_at, c.at)
                        FROM cards c
                       WHERE a.site_id = s.site_id AND a.source_ad_id = c.id AND a.state = 'live'
                         AND a.price_eur IS NOT DISTINCT FROM c.price
                      RETURNING a.source_ad_id)
        SELECT coalesce(array_agg(DISTINCT c.id) FILTER (WHERE c.id NOT IN (SELECT source_ad_id FROM seen)), '{}')
          INTO to_fetch FROM cards c;
    END IF;
    WITH links AS (
        -- each URL once, from the page that links it at the least depth
        SELECT DISTINCT ON (l.url) l.url, l.kind, p.i, p.kind AS from_kind, p.at,
               CASE WHEN p.kind = 'listing' AND l.kind = 'listing' THEN p.d ELSE p.d + 1 END AS depth
          FROM unnest(kinds, depths, bodies, statuses, finals, fetched_at) WITH ORDINALITY p(kind, d, html, status, final, at, i),
               otto.page_links(s, p.html, p.final) l
         WHERE p.status = 200 AND p.d < s.max_depth
           AND (p.kind <> 'listing' OR l.kind = 'listing' OR to_fetch IS NULL
                OR substring(l.url FROM s.ad_url_pattern) = ANY (to_fetch))
         ORDER BY l.url, (p.kind = 'listing') DESC, depth, p.i),
    -- a listing drives the sweep: what it links and was fetched before is due again;
    -- listings jump the queue (due a day early): the sweep reaches every ad sooner
    swept AS (
        INSERT INTO otto.frontier AS f (site_id, url, kind, depth, discovered_at, due_at)
        SELECT s.site_id, l.url, l.kind, l.depth, l.at,
               CASE WHEN l.kind = 'listing' THEN l.at - interval '1 day' ELSE l.at END
          FROM links l
         WHERE l.from_kind = 'listing'
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
           AND f.last_fetched_at < s.sweep_started_at
        RETURNING f.url),
    -- other pages add only the URLs not yet known: an insert that meets another
    -- worker's uncommitted row of the same URL waits for its transaction, and
    -- the ad pages all link the same listings and neighbours
    found AS (
        INSERT INTO otto.frontier (site_id, url, kind, depth, discovered_at)
        SELECT s.site_id, l.url, l.kind, l.depth, l.at
          FROM links l
         WHERE l.from_kind <> 'listing'
           AND NOT EXISTS (SELECT FROM otto.frontier f WHERE f.site_id = s.site_id AND f.url = l.url)
         ORDER BY l.url
        ON CONFLICT (site_id, url) DO NOTHING
        RETURNING url),
    per_page AS (
        SELECT l.i, count(*)::int AS queued
          FROM links l
         WHERE l.url IN (SELECT url FROM swept UNION ALL SELECT url FROM found)
         GROUP BY l.i)
    SELECT array_agg(coalesce(pp.queued, 0) ORDER BY g.i) INTO queued
      FROM generate_series(1, n) g(i) LEFT JOIN per_page pp ON pp.i = g.i;
    IF 0 < ANY (queued) THEN
        PERFORM otto.crawler_wake();
    END IF;
    RETURN queued;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_links(otto.site, text[], int[], text[], int[], text[], timestamptz[]) IS 'Step of otto.ingest_site_pages: the links the site''s crawl follows into the frontier; how many each page queued';

-- The ad's columns Otto keeps itself; every other column of otto.ad is what
-- a page states, written by otto.ads_update below, which is generated from
-- the table, so that the ad's columns are listed in one place: otto.ad.
CREATE OR REPLACE FUNCTION otto.ad_kept_columns() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '{ad_id,site_id,source_ad_id,state,first_seen_at,last_seen_at,removed_at}'::text[];
COMMENT ON FUNCTION otto.ad_kept_columns() IS 'Columns of otto.ad that Otto keeps itself; the others are what an ad page states';

DO $do$
BEGIN
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION otto.ads_update(rs otto.ad[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE otto.ad a SET %s, state = 'live', removed_at = NULL, last_seen_at = greatest(a.last_seen_at, r.last_seen_at)
      FROM unnest(rs) r
     WHERE a.ad_id = r.ad_id;
END
$fn$ $f$, (SELECT string_agg(format('%1$I = r.%1$I', attname), ', ' ORDER BY attnum)
             FROM pg_catalog.pg_attribute
            WHERE attrelid = 'otto.ad'::regclass AND attnum > 0 AND NOT attisdropped
              AND attname <> ALL (otto.ad_kept_columns())));
END
$do$;
COMMENT ON FUNCTION otto.ads_update(otto.ad[]) IS 'Writes what ad pages state onto their ads (r.ad_id; every column but otto.ad_kept_columns()) and marks them live and seen; each ad once';

-- An ad page parsed into the ad it states (not stored: no ad_id yet).
CREATE OR REPLACE FUNCTION otto.ad_from_page(s otto.site, u text, html text, fetched_at timestamptz)
RETURNS otto.ad
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    parsed jsonb := otto.parse_ad(html, u);
    r      otto.ad;
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
    RETURN r;
END
$fn$;
COMMENT ON FUNCTION otto.ad_from_page(otto.site, text, text, timestamptz) IS 'The ad an ad page states, parsed and typed as an otto.ad row (ad_id not yet given); an error when the page has no ad id';

-- Step 4, the ads: ad pages parsed, their ads inserted or updated, with
-- their events: new or relisted (the same car back, see otto.relist_of) for
-- a new ad; price_changed, updated (the fields that differ) and relisted for
-- a known one.  An unchanged page (same content hash) writes no event.  The
-- pages read are the batch's pages at the indexes pages, which state each ad
-- once (otto.ingest_site_pages sees to it).  Returns each one's ad and event
-- by its index.
CREATE OR REPLACE FUNCTION otto.ingest_ads(s otto.site, urls text[], bodies text[], fetched_at timestamptz[], pages int[])
RETURNS TABLE (i int, ad_id bigint, event text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    n       int := coalesce(cardinality(pages), 0);
    rs      otto.ad[];                  -- the ads as their pages state them, in the order of pages
    olds    otto.ad[];                  -- the same ads as stored (locked), NULL for new ones
    r       otto.ad;
    old     otto.ad;
    changed text[];
    news    otto.ad[] := '{}';
    known   otto.ad[] := '{}';
    evs     otto.ad_event[] := '{}';    -- the events, in the order they happened
    e       otto.ad_event;
    evk     text[] := array_fill(NULL::text, ARRAY[n]);
BEGIN
    SELECT array_agg(otto.ad_from_page(s, urls[k], bodies[k], fetched_at[k]) ORDER BY j) INTO rs
      FROM unnest(pages) WITH ORDINALITY p(k, j);
    -- the stored ads, locked in one order for all workers: an index probe
    -- per ad (a join would be planned for the hundred rows an array is
    -- guessed to hold, and scan otto.ad whole)
    SELECT array_agg(l.o ORDER BY x.ordinality) INTO olds
      FROM unnest(rs) WITH ORDINALITY x
      LEFT JOIN (SELECT k.o FROM (SELECT DISTINCT y.source_ad_id AS id FROM unnest(rs) y ORDER BY 1) i,
                                 LATERAL (SELECT a FROM otto.ad a
                                           WHERE a.site_id = s.site_id AND a.source_ad_id = i.id FOR UPDATE) k(o)) l
        ON (l.o).source_ad_id = x.source_ad_id;
    e.site_id := s.site_id;
    e.details := '{}';
    FOR j IN 1 .. n LOOP
        r := rs[j];
        old := olds[j];
        e.at := r.last_seen_at;
        IF old.ad_id IS NULL THEN
            r.ad_id := nextval('otto.ad_ad_id_seq');
            news := news || r;
            rs[j] := r;
            CONTINUE;
        END IF;
        r.ad_id := old.ad_id;
        e.ad_id := old.ad_id;
        known := known || r;
        rs[j] := r;
        IF old.content_hash IS DISTINCT FROM r.content_hash THEN
            IF r.price_eur IS DISTINCT FROM old.price_eur THEN
                e.kind := 'price_changed';
                e.old_price_eur := old.price_eur;
                e.new_price_eur := r.price_eur;
                evs := evs || e;
                evk[j] := 'price_changed';
                e.old_price_eur := NULL;
                e.new_price_eur := NULL;
            END IF;
            -- the fields a page states whose values differ, price, renewal and raw values apart
            SELECT array_agg(f ORDER BY f) INTO changed
              FROM jsonb_each(to_jsonb(r) - otto.ad_kept_columns()) c(f, v)
             WHERE f NOT IN ('content_hash', 'renewed_at', 'price_eur', 'old_price_eur', 'raw')
               AND c.v IS DISTINCT FROM to_jsonb(old) -> f;
            IF changed IS NOT NULL THEN
                e.kind := 'updated';
                e.changed_fields := changed;
                e.details := (SELECT jsonb_object_agg(f, jsonb_build_array(to_jsonb(old) -> f, to_jsonb(r) -> f))
                                FROM unnest(changed) f);
                evs := evs || e;
                evk[j] := coalesce(evk[j], 'updated');
                e.changed_fields := NULL;
                e.details := '{}';
            END IF;
        END IF;
        IF old.state = 'removed' THEN
            e.kind := 'relisted';
            e.new_price_eur := r.price_eur;
            e.details := jsonb_build_object('removed_at', old.removed_at);
            evs := evs || e;
            evk[j] := 'relisted';
            e.new_price_eur := NULL;
            e.details := '{}';
        END IF;
    END LOOP;
    IF cardinality(news) > 0 THEN
        INSERT INTO otto.ad OVERRIDING SYSTEM VALUE SELECT * FROM unnest(news) x ORDER BY x.source_ad_id;
        -- a new ad is the same car back when otto.relist_of finds the ad it
        -- continues; each relist is written at once, so that no other new ad of
        -- the batch continues the same ad
        FOR j IN 1 .. n LOOP
            CONTINUE WHEN (olds[j]).ad_id IS NOT NULL;
            r := rs[j];
            old := otto.relist_of(r);
            IF old.ad_id IS NOT NULL THEN
                INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur, details)
                VALUES (s.site_id, r.ad_id, 'relisted', r.first_seen_at, r.price_eur,
                        jsonb_build_object('relist_of', old.source_ad_id, 'relist_of_ad_id', old.ad_id,
                                           'removed_at', old.removed_at, 'old_price_eur', old.price_eur));
                evk[j] := 'relisted';
            ELSE
                e.ad_id := r.ad_id;
                e.at := r.first_seen_at;
                e.kind := 'new';
                e.new_price_eur := r.price_eur;
                evs := evs || e;
                evk[j] := 'new';
                e.new_price_eur := NULL;
            END IF;
        END LOOP;
    END IF;
    IF cardinality(evs) > 0 THEN
        INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, new_price_eur, changed_fields, details)
        SELECT x.site_id, x.ad_id, x.kind, x.at, x.old_price_eur, x.new_price_eur, x.changed_fields, x.details
          FROM unnest(evs) WITH ORDINALITY x
         ORDER BY x.ordinality;
    END IF;
    IF cardinality(known) > 0 THEN
        PERFORM otto.ads_update(known);
    END IF;
    RETURN QUERY SELECT pages[j], (rs[j]).ad_id, evk[j] FROM generate_series(1, n) j;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_ads(otto.site, text[], text[], timestamptz[], int[]) IS 'Step of otto.ingest_site_pages: the ad pages at the indexes pages parsed, their ads inserted or updated with their new, relisted, price_changed or updated events';

-- The pipeline for a batch of fetched pages of a known site at their
-- normalised URLs (as the frontier holds them): the crawler's entry, one
-- transaction per batch.  Each page's result is what otto.ingest_page
-- returns for it, in the batch's order.
CREATE OR REPLACE FUNCTION otto.ingest_site_pages(site_id int, urls text[], bodies text[], statuses int[],
                                                  fetched_at timestamptz[], fetch_info jsonb[])
RETURNS SETOF jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    s       otto.site;
    n       int := coalesce(cardinality(urls), 0);
    finals  text[];
    kinds   text[];
    depths  int[];
    gone    text[];             -- the URLs of the ad pages that are gone, NULL for the others
    ad_idx  int[];              -- the pages whose ads step 4 reads (in rounds: each ad once a round)
    rounds  int[];
    links   int[];
    aids    bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    evs     text[] := array_fill(NULL::text, ARRAY[n]);
    x       record;
BEGIN
    SELECT * INTO s FROM otto.site WHERE otto.site.site_id = ingest_site_pages.site_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no site %', site_id USING ERRCODE = 'no_data_found';
    END IF;
    IF n = 0 THEN
        RETURN;
    END IF;
    IF coalesce(cardinality(bodies), 0) <> n OR coalesce(cardinality(statuses), 0) <> n
       OR coalesce(cardinality(fetched_at), 0) <> n OR coalesce(cardinality(fetch_info), n) <> n
       -- (each a plain list from 1: the steps read the arrays by index)
       OR array_ndims(urls) <> 1 OR array_ndims(bodies) <> 1 OR array_ndims(statuses) <> 1
       OR array_ndims(fetched_at) <> 1 OR coalesce(array_ndims(fetch_info), 1) <> 1
       OR array_lower(urls, 1) <> 1 OR array_lower(bodies, 1) <> 1 OR array_lower(statuses, 1) <> 1
       OR array_lower(fetched_at, 1) <> 1 OR coalesce(array_lower(fetch_info, 1), 1) <> 1 THEN
        RAISE EXCEPTION 'a batch has one body, status, fetch time and fetch_info per URL, each array a list from 1'
            USING ERRCODE = 'array_subscript_error',
                  DETAIL = format('%s URLs, %s bodies, %s statuses, %s fetch times, %s fetch_info', n,
                                  coalesce(cardinality(bodies), 0), coalesce(cardinality(statuses), 0),
                                  coalesce(cardinality(fetched_at), 0), coalesce(cardinality(fetch_info)::text, 'no'));
    END IF;
    IF array_position(urls, NULL) IS NOT NULL OR array_position(statuses, NULL) IS NOT NULL
       OR array_position(fetched_at, NULL) IS NOT NULL
       OR (SELECT count(DISTINCT u) FROM unnest(urls) u) <> n THEN
        RAISE EXCEPTION 'a batch names each URL once, each with its status and fetch time'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    fetch_info := coalesce(fetch_info, array_fill(NULL::jsonb, ARRAY[n]));
    -- each page's final URL, class and depth; which ones are ads gone, and
    -- which are ad pages to read (an ad page that redirected to a listing is
    -- not that ad, but gone)
    SELECT array_agg(p.final ORDER BY p.i), array_agg(p.kind ORDER BY p.i), array_agg(p.d ORDER BY p.i),
           array_agg(CASE WHEN p.kind = 'ad' AND (p.status IN (404, 410) OR (p.status = 200 AND NOT p.to_ad)) THEN p.u END
                     ORDER BY p.i),
           array_agg(p.i ORDER BY p.i) FILTER (WHERE p.kind = 'ad' AND p.status = 200 AND p.to_ad AND p.html IS NOT NULL)
      INTO finals, kinds, depths, gone, ad_idx
      FROM (SELECT q.*, f.final, f.kind, coalesce(k.depth, 0) AS d,
                   f.final = q.u OR otto.url_kind(s, f.final) IS NOT DISTINCT FROM 'ad' AS to_ad
              FROM unnest(urls, statuses, bodies, fetch_info) WITH ORDINALITY q(u, status, html, info, i)
              CROSS JOIN LATERAL (SELECT coalesce(otto.normalize_url(q.info->>'final_url'), q.u) AS final,
                                   coalesce(otto.url_kind(s, q.u), 'other') AS kind) f
              LEFT JOIN otto.frontier k ON k.site_id = s.site_id AND k.url = q.u) p;

    PERFORM otto.ingest_page_log(s, urls, finals, kinds, depths, bodies, statuses, fetched_at, fetch_info);

    -- ad pages gone (404, 410, or leading elsewhere); a 304 only confirms its ad is still there
    IF cardinality(array_remove(gone, NULL)) > 0 THEN
        FOR x IN SELECT g.* FROM otto.ingest_ads_gone(s, gone, finals, statuses, fetched_at) g LOOP
            aids[x.i] := x.ad_id;
            evs[x.i] := x.event;
        END LOOP;
    END IF;
    IF 304 = ANY (statuses) THEN
        UPDATE otto.ad a SET last_seen_at = greatest(a.last_seen_at, p.at)
          FROM unnest(urls, kinds, statuses, fetched_at) p(u, kind, status, at)
         WHERE p.kind = 'ad' AND p.status = 304
           AND a.site_id = s.site_id AND a.source_ad_id = substring(p.u FROM s.ad_url_pattern) AND a.state = 'live';
    END IF;

    links := otto.ingest_links(s, kinds, depths, bodies, statuses, finals, fetched_at);

    -- the ad pages, in rounds that hold each ad once (two URLs of one ad go in
    -- two rounds, as if stored one after the other)
    IF ad_idx IS NOT NULL THEN
        SELECT array_agg(q.rnd ORDER BY q.k) INTO rounds
          FROM (SELECT k, row_number() OVER (PARTITION BY coalesce(substring(urls[k] FROM s.ad_url_pattern), urls[k])
                                             ORDER BY k) AS rnd
                  FROM unnest(ad_idx) k) q;
        FOR rnd IN 1 .. (SELECT max(r) FROM unnest(rounds) r) LOOP
            FOR x IN SELECT g.* FROM otto.ingest_ads(s, urls, bodies, fetched_at,
                                                     (SELECT array_agg(t.k ORDER BY t.k) FROM unnest(ad_idx, rounds) t(k, r)
                                                       WHERE t.r = rnd)) g LOOP
                aids[x.i] := x.ad_id;
                evs[x.i] := x.event;
            END LOOP;
        END LOOP;
    END IF;

    PERFORM pg_notify('otto_page', jsonb_build_object('site', s.name, 'url', left(p.u, 500), 'status', p.status)::text)
       FROM unnest(urls, statuses) p(u, status);
    PERFORM pg_notify('otto_ad', jsonb_build_object('ad_id', p.aid, 'event', p.ev)::text)
       FROM unnest(aids, evs) p(aid, ev) WHERE p.ev IS NOT NULL;
    RETURN QUERY
    SELECT jsonb_build_object('site', s.name, 'url', p.u, 'kind', p.kind, 'status', p.status, 'links_added', p.links,
                              'ad_id', p.aid, 'event', p.ev)
      FROM unnest(urls, kinds, statuses, links, aids, evs) WITH ORDINALITY p(u, kind, status, links, aid, ev, i)
     ORDER BY p.i;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_site_pages(int, text[], text[], int[], timestamptz[], jsonb[]) IS 'The per-page pipeline for a batch of fetched pages of one site at their normalised URLs, set-based, in one transaction (the crawler stores a batch per transaction): one result per page, in order, as otto.ingest_page returns it. The arrays hold one element per page (fetch_info may be NULL); each URL once.';

-- The pipeline for one page of a known site at its normalised URL: a batch of one.
CREATE OR REPLACE FUNCTION otto.ingest_site_page(site_id int, url text, html text, status int DEFAULT 200,
                                                 fetched_at timestamptz DEFAULT now(), fetch_info jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT r FROM otto.ingest_site_pages(site_id, ARRAY[url], ARRAY[html], ARRAY[status], ARRAY[fetched_at],
                                         ARRAY[fetch_info]) r;
$fn$;
COMMENT ON FUNCTION otto.ingest_site_page(int, text, text, int, timestamptz, jsonb) IS 'otto.ingest_page for a page of a known site at its normalised URL: otto.ingest_site_pages with a batch of one';

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
