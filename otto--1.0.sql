-- otto--1.0.sql: Otto's schema, the first tables of the pipeline and its roles.
\echo Use "CREATE EXTENSION otto" to load this file. \quit

CREATE SCHEMA otto;
COMMENT ON SCHEMA otto IS 'Otto: car-market intelligence engine (crawler, ad log, market analytics, chat tools)';

-------------------------------------------------------------------------------
-- Roles.  Roles are cluster-wide, so they are created only if missing and are
-- deliberately left behind by DROP EXTENSION: another database's otto may be
-- using them.  Everything they were granted in this database goes with it.
-------------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'otto_admin') THEN
        CREATE ROLE otto_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'otto_chat') THEN
        CREATE ROLE otto_chat NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'otto_app') THEN
        CREATE ROLE otto_app NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE otto_admin IS 'Otto administrators: configure sites, start and stop crawls, read and write every Otto table';
COMMENT ON ROLE otto_chat IS 'Otto chat front ends: may only execute Otto''s read-only tool functions';
COMMENT ON ROLE otto_app IS 'Otto buyer front ends: sign in a user with otto.login(token), then read the market and that user''s own likes, saved searches, alerts and reviews';

-------------------------------------------------------------------------------
-- Sites are data: one row per crawled site, with its rules.
-------------------------------------------------------------------------------
CREATE TABLE otto.site (
    site_id             int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
    title               text NOT NULL,
    hosts               text[] NOT NULL CHECK (cardinality(hosts) > 0),
    seed_urls           text[] NOT NULL DEFAULT '{}',
    ad_url_pattern      text NOT NULL,
    listing_url_pattern text NOT NULL,
    enabled             boolean NOT NULL DEFAULT false,
    allow_private_addresses boolean NOT NULL DEFAULT false,
    crawl_delay_ms      int NOT NULL DEFAULT 1000 CHECK (crawl_delay_ms >= 0),
    max_concurrency     int NOT NULL DEFAULT 1 CHECK (max_concurrency BETWEEN 1 AND 64),
    max_depth           int NOT NULL DEFAULT 50 CHECK (max_depth >= 0),
    rules               jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rules) = 'object'),
    sweep_schedule      text NOT NULL DEFAULT '0 3 * * *',
    sweep_mode          text NOT NULL DEFAULT 'listings' CHECK (sweep_mode IN ('listings', 'full')),
    sweep_started_at    timestamptz,
    sweep_checked_at    timestamptz,
    builtin             boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE otto.site IS 'Crawled sites: hosts, seeds, URL classes, politeness and extraction rules. A new site is added with INSERT alone.';
COMMENT ON COLUMN otto.site.name IS 'Short stable name used by the admin API, e.g. crawl_start(''polovniautomobili'')';
COMMENT ON COLUMN otto.site.hosts IS 'Host names this site owns (lower case); URLs of any other host are never fetched for it';
COMMENT ON COLUMN otto.site.seed_urls IS 'Where a crawl starts: listing pages whose pagination reaches every live ad';
COMMENT ON COLUMN otto.site.ad_url_pattern IS 'POSIX regex on the normalised URL matching ad pages; its first capture group is the source ad id';
COMMENT ON COLUMN otto.site.listing_url_pattern IS 'POSIX regex on the normalised URL matching listing (search result) pages';
COMMENT ON COLUMN otto.site.enabled IS 'Only enabled sites are crawled';
COMMENT ON COLUMN otto.site.allow_private_addresses IS 'Allow fetching from loopback, private and link-local addresses (checked on the resolved address); only for local simulators';
COMMENT ON COLUMN otto.site.crawl_delay_ms IS 'Minimum gap between two request starts to one host; a longer robots.txt Crawl-delay wins';
COMMENT ON COLUMN otto.site.max_concurrency IS 'Requests in flight to one host at once';
COMMENT ON COLUMN otto.site.max_depth IS 'Links followed from a seed before the frontier stops adding URLs (a listing''s pagination does not count)';
COMMENT ON COLUMN otto.site.rules IS 'Extraction rules for this site''s markup (see otto.site_profile); {} reads schema.org JSON-LD only';
COMMENT ON COLUMN otto.site.sweep_schedule IS 'pg_cron schedule of the full sweep (otto.schedule_install)';
COMMENT ON COLUMN otto.site.sweep_mode IS 'listings: a sweep fetches the listing pages and only the ads that are new, show another price, or were not listed; full: every ad page again (conditional GET)';
COMMENT ON COLUMN otto.site.sweep_started_at IS 'Start of the current sweep: pages fetched before it are fetched again when a listing links them';
COMMENT ON COLUMN otto.site.sweep_checked_at IS 'When otto.sweep_check found the current sweep finished and queued its unseen ads for confirmation';
COMMENT ON COLUMN otto.site.builtin IS 'Shipped with Otto; user-added rows (false) are kept by pg_dump';

-- Extraction profiles: rules a site row can copy (sites are data).
CREATE TABLE otto.site_profile (
    name        text PRIMARY KEY,
    description text NOT NULL,
    rules       jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'object')
);
COMMENT ON TABLE otto.site_profile IS 'Extraction rule sets shipped with Otto; copy one into otto.site.rules when adding a site';
COMMENT ON COLUMN otto.site_profile.rules IS 'Rules in the form otto.site.rules takes: ad (rows, text, own_text, list, count, script_object, jsonld), listing, timezone';
INSERT INTO otto.site_profile VALUES
 ('polovniautomobili', 'polovniautomobili.com markup: label/value rows, dataLayer object, JSON-LD, listing cards',
  $rules${
  "timezone": "Europe/Belgrade",
  "ad": {
    "rows": {"row": "div.divider", "label": ".uk-width-1-2", "value": ".uk-text-bold",
             "labels": {"Stanje:": "condition", "Marka": "make", "Model": "model", "Godište": "year",
                        "Kilometraža": "mileage_km", "Karoserija": "body", "Gorivo": "fuel",
                        "Kubikaža": "engine_cc", "Snaga motora": "power", "Broj oglasa:": "source_ad_id",
                        "Emisiona klasa motora": "emission_class", "Pogon": "drive", "Menjač": "gearbox",
                        "Broj vrata": "doors", "Broj sedišta": "seats", "Klima": "air_conditioning",
                        "Boja": "color", "Registrovan do": "registered_until", "Poreklo vozila": "origin",
                        "Oštećenje": "damage"}},
    "own_text": {"title": "h1"},
    "text": {"price": "span.priceClassified", "old_price": "span.oldPriceClassified",
             "seller_name": ".js-tutorial-logo h3"},
    "list": {"features": ".infoBox .uk-width-medium-1-4.uk-margin-small-bottom"},
    "count": {"images_count": "ul#image-gallery li"},
    "script_object": {"marker": "dataLayer.push(", "require_key": "object_uid",
                      "keys": {"object_uid": "source_ad_id", "object_brand": "make", "object_model": "model",
                               "object_production_year": "year", "object_mileage": "mileage_km",
                               "object_price": "price", "object_fuel": "fuel", "object_chassis": "body",
                               "object_engine_volume": "engine_cc", "object_engine_horsepower": "power_hp",
                               "object_gear_box": "gearbox", "object_air_conditioner": "air_conditioning",
                               "object_damage": "damage", "object_origin": "origin", "object_door_num": "doors",
                               "object_city": "location", "object_area": "region",
                               "object_last_renewed_date": "renewed_at", "object_images_count": "images_count",
                               "companyName": "seller_name", "object_owner_uid": "seller_id", "name": "title"}}
  },
  "listing": {"card": "article.classified", "id_attr": "data-classifiedid", "price_attr": "data-price",
              "renew_attr": "data-renewdate", "link": "h2 a", "next": "a.js-pagination-next",
              "total_marker": "od ukupno"}
}$rules$),
 ('schema_org', 'Any site embedding schema.org JSON-LD Car/Vehicle/Product with an Offer; no listing rules', '{}');

INSERT INTO otto.site (name, title, hosts, seed_urls, ad_url_pattern, listing_url_pattern,
                       crawl_delay_ms, max_concurrency, builtin, rules)
VALUES ('polovniautomobili', 'polovniautomobili.com',
        ARRAY['www.polovniautomobili.com', 'polovniautomobili.com'],
        ARRAY['https://www.polovniautomobili.com/auto-oglasi/pretraga?page=1&sort=renewDate_desc'],
        '^https://(?:www\.)?polovniautomobili\.com/auto-oglasi/([0-9]+)/[^?#]*$',
        '^https://(?:www\.)?polovniautomobili\.com/auto-oglasi/(?:pretraga\?|[a-z][a-z0-9-]*(?:/[a-z0-9-]+)*/?(?:\?|$))',
        1000, 1, true, (SELECT rules FROM otto.site_profile WHERE name = 'polovniautomobili'));

-------------------------------------------------------------------------------
-- One canonical vocabulary: English codes, Serbian and English labels, and
-- every other spelling seen in the real data (matched without diacritics).
-------------------------------------------------------------------------------
CREATE TABLE otto.vocabulary (
    field     text NOT NULL CHECK (field IN ('fuel', 'body', 'gearbox', 'drive', 'color', 'air_conditioning',
                                             'damage', 'origin', 'condition', 'seller_type')),
    code      text NOT NULL CHECK (code ~ '^[a-z0-9_]+$'),
    label_sr  text NOT NULL,
    label_en  text NOT NULL,
    spellings text[] NOT NULL DEFAULT '{}',
    builtin   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (field, code)
);
COMMENT ON TABLE otto.vocabulary IS 'Canonical values of categorical ad fields; parse_ad maps any listed spelling (compared lower-case, without diacritics) to code';
COMMENT ON COLUMN otto.vocabulary.field IS 'The ad column this value belongs to';
COMMENT ON COLUMN otto.vocabulary.code IS 'Canonical value stored in otto.ad (English, lower case)';
COMMENT ON COLUMN otto.vocabulary.label_sr IS 'Label as polovniautomobili.com shows it';
COMMENT ON COLUMN otto.vocabulary.label_en IS 'English label for people';
COMMENT ON COLUMN otto.vocabulary.builtin IS 'Shipped with Otto; rows users add (false) are kept by pg_dump';
COMMENT ON COLUMN otto.vocabulary.spellings IS 'Other spellings seen on sites and in data sets, besides the two labels and the code';
INSERT INTO otto.vocabulary (field, code, label_sr, label_en, spellings) VALUES
 ('fuel', 'diesel', 'Dizel', 'Diesel', '{}'),
 ('fuel', 'petrol', 'Benzin', 'Petrol', '{Gasoline}'),
 ('fuel', 'petrol_lpg', 'Benzin + Gas (TNG)', 'Petrol + LPG', '{"petrol + gas","Benzin + gas"}'),
 ('fuel', 'petrol_cng', 'Benzin + Metan (CNG)', 'Petrol + CNG', '{"Metan CNG",methane,"petrol + methane"}'),
 ('fuel', 'hybrid', 'Hibridni pogon', 'Hybrid', '{Hibrid,"Hibridni pogon (Benzin)","Hibridni pogon (Dizel)"}'),
 ('fuel', 'electric', 'Električni pogon', 'Electric', '{}'),
 ('body', 'sedan', 'Limuzina', 'Sedan', '{limousine}'),
 ('body', 'hatchback', 'Hečbek', 'Hatchback', '{}'),
 ('body', 'estate', 'Karavan', 'Estate', '{caravan,"station wagon"}'),
 ('body', 'coupe', 'Kupe', 'Coupe', '{}'),
 ('body', 'convertible', 'Kabriolet/Roadster', 'Convertible', '{cabriolet,roadster}'),
 ('body', 'mpv', 'Monovolumen (MiniVan)', 'MPV', '{minivan,Monovolumen}'),
 ('body', 'suv', 'Džip/SUV', 'SUV', '{jeep,"Džip"}'),
 ('body', 'pickup', 'Pickup', 'Pickup', '{}'),
 ('gearbox', 'manual_4', 'Manuelni 4 brzine', 'Manual, 4 gears', '{"manual, 4 speeds"}'),
 ('gearbox', 'manual_5', 'Manuelni 5 brzina', 'Manual, 5 gears', '{"manual, 5 speeds"}'),
 ('gearbox', 'manual_6', 'Manuelni 6 brzina', 'Manual, 6 gears', '{"manual, 6 speeds"}'),
 ('gearbox', 'automatic', 'Automatski / poluautomatski', 'Automatic / semi-automatic',
  '{Automatski,Poluautomatski,automatic,semi-automatic}'),
 ('drive', 'front', 'Prednji', 'Front-wheel', '{front}'),
 ('drive', 'rear', 'Zadnji', 'Rear-wheel', '{rear}'),
 ('drive', 'all', '4x4', 'All-wheel', '{"4x4 reduktor",all-wheel}'),
 ('color', 'black', 'Crna', 'Black', '{}'), ('color', 'white', 'Bela', 'White', '{}'),
 ('color', 'grey', 'Siva', 'Grey', '{gray}'), ('color', 'silver', 'Srebrna', 'Silver', '{}'),
 ('color', 'blue', 'Plava', 'Blue', '{}'), ('color', 'navy', 'Teget', 'Navy blue', '{teget}'),
 ('color', 'red', 'Crvena', 'Red', '{}'), ('color', 'green', 'Zelena', 'Green', '{}'),
 ('color', 'burgundy', 'Bordo', 'Burgundy', '{}'), ('color', 'beige', 'Bež', 'Beige', '{}'),
 ('color', 'brown', 'Braon', 'Brown', '{}'), ('color', 'yellow', 'Žuta', 'Yellow', '{}'),
 ('color', 'orange', 'Narandžasta', 'Orange', '{}'), ('color', 'purple', 'Ljubičasta', 'Purple', '{}'),
 ('color', 'gold', 'Zlatna', 'Gold', '{}'),
 ('air_conditioning', 'none', 'Nema klimu', 'None', '{}'),
 ('air_conditioning', 'manual', 'Manuelna klima', 'Manual A/C', '{"manual A/C"}'),
 ('air_conditioning', 'automatic', 'Automatska klima', 'Automatic A/C', '{"automatic A/C"}'),
 ('damage', 'none', 'Nije oštećen', 'Not damaged', '{}'),
 ('damage', 'damaged_drivable', 'Oštećen - u voznom stanju', 'Damaged, drivable', '{}'),
 ('damage', 'damaged_not_drivable', 'Oštećen - nije u voznom stanju', 'Damaged, not drivable', '{}'),
 ('origin', 'domestic_plates', 'Domaće tablice', 'Domestic plates', '{}'),
 ('origin', 'foreign_plates', 'Strane tablice', 'Foreign plates', '{}'),
 ('origin', 'buyer_name', 'Na ime kupca', 'Registered to the buyer', '{}'),
 ('origin', 'customs_cleared', 'Ocarinjen', 'Customs cleared', '{}'),
 ('condition', 'used', 'Polovno vozilo', 'Used', '{polovno}'),
 ('condition', 'new', 'Novo vozilo', 'New', '{novo}'),
 ('seller_type', 'private', 'Privatno lice', 'Private seller', '{}'),
 ('seller_type', 'dealer', 'Prodavac', 'Dealer', '{"Auto kuća"}');
UPDATE otto.vocabulary SET builtin = true;

-------------------------------------------------------------------------------
-- The frontier: every URL Otto knows, and when to fetch it next.
-------------------------------------------------------------------------------
CREATE TABLE otto.frontier (
    site_id         int NOT NULL REFERENCES otto.site ON DELETE CASCADE,
    url             text NOT NULL CHECK (length(url) <= 2048),
    kind            text NOT NULL CHECK (kind IN ('listing', 'ad', 'robots', 'other')),
    depth           int NOT NULL DEFAULT 0 CHECK (depth >= 0),
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'leased', 'done', 'failed', 'refused', 'quarantined')),
    due_at          timestamptz NOT NULL DEFAULT now(),
    lease_owner     int,
    lease_until     timestamptz,
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status     int,
    last_error      text,
    etag            text,
    last_modified   text,
    discovered_at   timestamptz NOT NULL DEFAULT now(),
    last_fetched_at timestamptz,
    crashes         int NOT NULL DEFAULT 0 CHECK (crashes >= 0),
    PRIMARY KEY (site_id, url),
    CHECK ((state = 'leased') = (lease_until IS NOT NULL))
);
CREATE INDEX frontier_due_idx ON otto.frontier (due_at) WHERE state = 'queued';
CREATE INDEX frontier_lease_idx ON otto.frontier (lease_until) WHERE state = 'leased';
COMMENT ON TABLE otto.frontier IS 'Crawl queue: one row per normalised URL per site; workers claim due rows with FOR UPDATE SKIP LOCKED and a lease';
COMMENT ON COLUMN otto.frontier.url IS 'Normalised absolute URL (tracking parameters removed); at most 2048 bytes';
COMMENT ON COLUMN otto.frontier.kind IS 'Page class from the site rules: listing, ad, robots (robots.txt) or other';
COMMENT ON COLUMN otto.frontier.depth IS 'Links followed from a seed to reach this URL (a listing''s pagination does not count)';
COMMENT ON COLUMN otto.frontier.state IS 'queued (waiting for due_at), leased (a worker holds it), done, failed (gave up), refused (policy: robots, host, address), quarantined (its page killed the worker that processed it twice; see last_error)';
COMMENT ON COLUMN otto.frontier.crashes IS 'Times a crawler worker died while processing this URL''s page (0 once one finishes it); a page that has is processed alone, and at 2 the URL is quarantined instead';
COMMENT ON COLUMN otto.frontier.due_at IS 'Earliest time the URL may be fetched (next visit, or retry after backoff)';
COMMENT ON COLUMN otto.frontier.lease_owner IS 'PID of the worker holding the lease';
COMMENT ON COLUMN otto.frontier.lease_until IS 'When the lease expires; an expired lease makes the URL claimable again';
COMMENT ON COLUMN otto.frontier.attempts IS 'Failed fetches since the last success (drives exponential backoff)';
COMMENT ON COLUMN otto.frontier.last_status IS 'HTTP status of the last fetch (NULL when no response arrived)';
COMMENT ON COLUMN otto.frontier.last_error IS 'Error of the last failed fetch, for people';
COMMENT ON COLUMN otto.frontier.etag IS 'ETag of the last 200 response, sent as If-None-Match';
COMMENT ON COLUMN otto.frontier.last_modified IS 'Last-Modified of the last 200 response, sent as If-Modified-Since';

-------------------------------------------------------------------------------
-- The page log: one row per fetch attempt.
-------------------------------------------------------------------------------
CREATE TABLE otto.page (
    page_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         int NOT NULL REFERENCES otto.site ON DELETE CASCADE,
    url             text NOT NULL,
    final_url       text,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    status          int CHECK (status BETWEEN 100 AND 599),
    error_kind      text CHECK (error_kind IN ('timeout', 'connect', 'dns', 'reset', 'too_large',
                                               'too_many_redirects', 'refused', 'robots',
                                               'http', 'parse', 'charset', 'content_type', 'other', 'crash')),
    error           text,
    elapsed_ms      int CHECK (elapsed_ms >= 0),
    redirects       int NOT NULL DEFAULT 0 CHECK (redirects >= 0),
    wire_bytes      bigint CHECK (wire_bytes >= 0),
    body_bytes      bigint CHECK (body_bytes >= 0),
    content_type    text,
    etag            text,
    last_modified   text,
    content_hash    bytea,
    body            bytea,
    CHECK (status IS NOT NULL OR error_kind IS NOT NULL)
);
CREATE INDEX page_fetched_at_idx ON otto.page (fetched_at);
CREATE INDEX page_site_url_idx ON otto.page (site_id, url);
COMMENT ON TABLE otto.page IS 'Page log: every fetch with its outcome; bodies are kept compressed for a limited retention time';
COMMENT ON COLUMN otto.page.final_url IS 'URL after redirects, when it differs from url';
COMMENT ON COLUMN otto.page.status IS 'HTTP status; NULL when no response arrived (see error_kind)';
COMMENT ON COLUMN otto.page.error_kind IS 'Why the fetch or parse failed, as a fixed set of kinds for counting (crash: the URL was quarantined, its page having killed the worker twice)';
COMMENT ON COLUMN otto.page.error IS 'Error message of a failed fetch, for people';
COMMENT ON COLUMN otto.page.redirects IS 'Redirects followed before the final answer';
COMMENT ON COLUMN otto.page.elapsed_ms IS 'Wall time from request start to last byte';
COMMENT ON COLUMN otto.page.wire_bytes IS 'Bytes received on the wire (compressed)';
COMMENT ON COLUMN otto.page.body_bytes IS 'Bytes of the decoded body';
COMMENT ON COLUMN otto.page.content_hash IS 'Fingerprint of the meaningful content (an unchanged page hashes the same)';
COMMENT ON COLUMN otto.page.body IS 'Compressed body, NULL once the retention time has passed or for 304 answers';

ALTER TABLE otto.page ALTER COLUMN body SET COMPRESSION lz4;

-- robots.txt per host, as last fetched.
CREATE TABLE otto.robots (
    host            text PRIMARY KEY,
    site_id         int NOT NULL REFERENCES otto.site ON DELETE CASCADE,
    status          int NOT NULL,
    body            text NOT NULL,
    crawl_delay_ms  int,
    fetched_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE otto.robots IS 'robots.txt of each crawled host (an empty body after a 4xx: everything allowed); re-read after otto.robots_max_age';
COMMENT ON COLUMN otto.robots.crawl_delay_ms IS 'Crawl-delay of the group that applies to otto.user_agent';

-------------------------------------------------------------------------------
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
-- The make and model filters' index, carrying the searchable fields (and the
-- sort keys) so that otto.search_ads reads a make's or a model's ads from it alone.
CREATE INDEX ad_live_make_model_idx ON otto.ad (make, model, year)
    INCLUDE (ad_id, price_eur, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
-- otto.search_ads' sort orders, each exactly as it sorts (ties newest first), so
-- that a page of live ads is read in order and filtered, not sorted.  Each
-- carries every searchable field but the title, so that the filters are
-- tested on the index entries alone (an index-only scan reads about five
-- times as many entries per millisecond as a walk through the heap).
CREATE INDEX ad_live_newest_idx ON otto.ad (first_seen_at DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, year, price_eur, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors) WHERE state = 'live';
CREATE INDEX ad_live_price_asc_idx ON otto.ad (price_eur, ad_id DESC)
    INCLUDE (make, model, year, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_price_desc_idx ON otto.ad (price_eur DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, year, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_mileage_idx ON otto.ad (mileage_km, ad_id DESC)
    INCLUDE (make, model, year, price_eur, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_idx ON otto.ad (year DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, price_eur, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_power_idx ON otto.ad (power_kw DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, year, price_eur, mileage_km, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
-- The price, mileage and power orders again within each model year: those
-- keys follow the car's age, so with a filter on year or mileage one long
-- walk would meet every old car first ("the cheapest from 2018 on"), while
-- the years' own walks, merged, each start at their first match.
CREATE INDEX ad_live_year_price_asc_idx ON otto.ad (year, price_eur, ad_id DESC)
    INCLUDE (make, model, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_price_desc_idx ON otto.ad (year, price_eur DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_mileage_idx ON otto.ad (year, mileage_km, ad_id DESC)
    INCLUDE (make, model, price_eur, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_power_idx ON otto.ad (year, power_kw DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, price_eur, mileage_km, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_removed_make_model_idx ON otto.ad (site_id, make, model, year) WHERE state = 'removed';
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
-- Functions.
-------------------------------------------------------------------------------
CREATE FUNCTION otto.build_info() RETURNS jsonb
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_build_info';
COMMENT ON FUNCTION otto.build_info() IS 'Versions of Otto, PostgreSQL, libcurl and libxml2, and whether the workers are preloaded';

CREATE FUNCTION otto.normalize_url(url text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_normalize_url';
COMMENT ON FUNCTION otto.normalize_url(text) IS 'RFC 3986 normal form of an absolute http(s) URL, without tracking parameters (otto.tracking_params) and with sorted query parameters; an invalid URL is an error';

CREATE FUNCTION otto.resolve_url(base text, ref text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_resolve_url';
COMMENT ON FUNCTION otto.resolve_url(text, text) IS 'Resolve a reference against a base URL and normalise it as normalize_url does; NULL when the result is not a fetchable http(s) URL';

CREATE FUNCTION otto.vocabulary_code(field text, spelling text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_vocabulary_code';
COMMENT ON FUNCTION otto.vocabulary_code(text, text) IS 'Canonical code of a spelling of a categorical field, NULL when unknown';

CREATE FUNCTION otto.extract_links(html text, base_url text) RETURNS SETOF text
    LANGUAGE c STABLE STRICT PARALLEL SAFE ROWS 100
    AS 'MODULE_PATHNAME', 'otto_extract_links';
COMMENT ON FUNCTION otto.extract_links(text, text) IS 'Absolute, normalised, unique links of <a href> in document order, honouring <base href>; javascript:, mailto:, fragment-only and invalid links are skipped';

CREATE FUNCTION otto.parse_listing(html text, url text) RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_parse_listing';
COMMENT ON FUNCTION otto.parse_listing(text, text) IS 'Ads on a listing page (source_ad_id, url, price_eur, renewed_at, title) without repeats, the next page URL and the stated total, by the rules of the site owning the URL''s host';

CREATE FUNCTION otto.parse_ad(html text, url text) RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_parse_ad';
COMMENT ON FUNCTION otto.parse_ad(text, text) IS 'One ad with typed, canonical fields, by the rules of the site owning the URL''s host; fields the page lacks are absent, unknown categorical values are kept under raw';

CREATE FUNCTION otto.robots_allowed(robots_txt text, user_agent text, url text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_robots_allowed';
COMMENT ON FUNCTION otto.robots_allowed(text, text, text) IS 'May a crawler with this User-Agent fetch the URL under this robots.txt (RFC 9309: its own group or *, longest rule wins, Allow wins ties, * and $ patterns)?';
CREATE FUNCTION otto.robots_crawl_delay(robots_txt text, user_agent text) RETURNS float8
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_robots_crawl_delay';
COMMENT ON FUNCTION otto.robots_crawl_delay(text, text) IS 'Crawl-delay in seconds of the group that applies to this User-Agent, NULL when not stated';

CREATE FUNCTION otto.content_hash(ad jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN sha256(convert_to((ad - 'renewed_at')::text, 'UTF8'));
COMMENT ON FUNCTION otto.content_hash(jsonb) IS 'Fingerprint of an ad''s meaningful content (parse_ad output without the renewal time): equal for an unchanged re-fetch';

CREATE FUNCTION otto.url_filter_add(url text) RETURNS boolean
    LANGUAGE c VOLATILE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_url_filter_add';
COMMENT ON FUNCTION otto.url_filter_add(text) IS 'Add a URL to the shared-memory Bloom filter; true when it was maybe there already';
CREATE FUNCTION otto.url_filter_test(url text) RETURNS boolean
    LANGUAGE c VOLATILE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_url_filter_test';
COMMENT ON FUNCTION otto.url_filter_test(text) IS 'false: the URL was definitely never added; true: maybe (confirm with otto.url_seen)';
CREATE FUNCTION otto.url_filter_stats() RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_url_filter_stats';
COMMENT ON FUNCTION otto.url_filter_stats() IS 'Bloom filter size, hash count, URLs added, fill ratio and estimated false-positive rate (fill^k)';
CREATE FUNCTION otto.url_filter_rebuild() RETURNS bigint
    LANGUAGE sql VOLATILE
    RETURN (SELECT count(otto.url_filter_add(url)) FROM otto.frontier);
COMMENT ON FUNCTION otto.url_filter_rebuild() IS 'Add every frontier URL to the Bloom filter (shared memory starts empty at server start; the launcher calls this)';
-- Every URL that enters the frontier, by any path, enters the filter too (a
-- rolled-back insert leaves its bits: a false "maybe", which url_seen confirms).
-- Without shared_preload_libraries there is no filter (and no crawler) to keep.
CREATE FUNCTION otto.frontier_filter_add() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF (otto.build_info()->>'preloaded')::boolean THEN
        PERFORM count(otto.url_filter_add(n.url)) FROM new_urls n;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER frontier_filter_add AFTER INSERT ON otto.frontier REFERENCING NEW TABLE AS new_urls
    FOR EACH STATEMENT EXECUTE FUNCTION otto.frontier_filter_add();
CREATE FUNCTION otto.url_seen(site_id int, url text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    RETURN otto.url_filter_test(url) AND EXISTS (SELECT FROM otto.frontier f WHERE f.site_id = url_seen.site_id AND f.url = url_seen.url);
COMMENT ON FUNCTION otto.url_seen(int, text) IS 'Is the (normalised) URL in the frontier? "Definitely new" from memory, "maybe seen" confirmed by the unique index';

CREATE VIEW otto.vocabulary_unknown AS
    SELECT r.key AS field, r.value AS spelling, count(*) AS ads, min(a.url) AS example
      FROM otto.ad a, jsonb_each_text(a.raw) r
     GROUP BY r.key, r.value;
COMMENT ON VIEW otto.vocabulary_unknown IS 'Categorical values sites showed that the vocabulary does not know, with how many ads have them: add them to otto.vocabulary.spellings';

CREATE VIEW otto.workers AS
    SELECT pid, backend_type, datname AS database, application_name, backend_start, state, wait_event
      FROM pg_catalog.pg_stat_activity
     WHERE backend_type LIKE 'otto %';
COMMENT ON VIEW otto.workers IS 'Otto''s background workers now running (launcher, crawlers, stream processor)';

-------------------------------------------------------------------------------
-- The per-page pipeline (the crawler calls the same function for every page).
-------------------------------------------------------------------------------
CREATE FUNCTION otto.url_host(url text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN split_part(split_part(url, '://', 2), '/', 1);
COMMENT ON FUNCTION otto.url_host(text) IS 'host[:port] of a normalised URL, as otto.site.hosts lists them';

CREATE FUNCTION otto.site_for_url(url text) RETURNS otto.site
    LANGUAGE sql STABLE STRICT
    RETURN (SELECT s FROM otto.site s
             WHERE otto.url_host(otto.normalize_url(url)) = ANY (s.hosts)
             ORDER BY s.enabled DESC, s.site_id LIMIT 1);
COMMENT ON FUNCTION otto.site_for_url(text) IS 'The site owning the URL''s host (enabled sites first), or NULL';

CREATE FUNCTION otto.url_kind(site otto.site, url text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN CASE WHEN url ~ site.ad_url_pattern THEN 'ad'
                WHEN url ~ site.listing_url_pattern THEN 'listing' END;
COMMENT ON FUNCTION otto.url_kind(otto.site, text) IS 'ad or listing by the site''s URL patterns; NULL for URLs the crawl does not follow';

CREATE FUNCTION otto.relist_of(ad otto.ad) RETURNS otto.ad
LANGUAGE sql STABLE
AS $fn$
    SELECT o.* FROM otto.ad o
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
$fn$;
COMMENT ON FUNCTION otto.relist_of(otto.ad) IS 'The removed ad a new ad continues (the same car back under a new id), by fingerprint: same site, make, model, year, fuel and seller (seller id; without one, seller name and location), mileage not lower and at most 3,000 km higher, price within 15% when both are stated, removed at most 30 days before it appeared, not already continued; the closest mileage wins';

CREATE FUNCTION otto.page_links(site otto.site, html text, base_url text)
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

CREATE FUNCTION otto.ingest_page(url text, html text, status int DEFAULT 200, fetched_at timestamptz DEFAULT now(),
                                 fetch_info jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    u       text := otto.normalize_url(url);
    s       otto.site := otto.site_for_url(u);
    final   text := otto.normalize_url(coalesce(fetch_info->>'final_url', url));
    kind    text;
    d       int;
    links   int := 0;
    parsed  jsonb;
    hash    bytea;
    old     otto.ad;
    new_ad  otto.ad;
    changed text[];
    ev      text := NULL;
    result  jsonb;
    to_fetch text[];            -- listings mode: the ads of a listing worth fetching
BEGIN
    IF s IS NULL THEN
        RAISE EXCEPTION 'no site owns the host of "%"', left(url, 200)
            USING ERRCODE = 'no_data_found',
                  HINT = 'Add the host to otto.site.hosts, or add a site.';
    END IF;
    kind := coalesce(otto.url_kind(s, u), 'other');
    SELECT f.depth INTO d FROM otto.frontier f WHERE f.site_id = s.site_id AND f.url = u;
    d := coalesce(d, 0);

    INSERT INTO otto.page (site_id, url, final_url, fetched_at, status, elapsed_ms, redirects, wire_bytes, body_bytes,
                           content_type, etag, last_modified, content_hash, body)
    VALUES (s.site_id, u, nullif(final, u), fetched_at, status, (fetch_info->>'elapsed_ms')::int,
            coalesce((fetch_info->>'redirects')::int, 0), (fetch_info->>'wire_bytes')::bigint, octet_length(html),
            fetch_info->>'content_type', fetch_info->>'etag', fetch_info->>'last_modified',
            CASE WHEN html IS NOT NULL THEN sha256(convert_to(html, 'UTF8')) END,
            CASE WHEN current_setting('otto.page_body_retention', true) NOT IN ('0', '')
                 THEN convert_to(html, 'UTF8') END);
    -- validators are kept from a 200 answer (a 304 keeps the ones it confirmed),
    -- except for listings: a sweep needs their links, so they are always fetched
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

    -- An ad page that is gone (404, 410) or now leads elsewhere (a redirect
    -- to a listing): the ad was removed, counted sold once.
    IF kind = 'ad' AND (status IN (404, 410) OR (status = 200 AND otto.url_kind(s, final) IS DISTINCT FROM 'ad')) THEN
        UPDATE otto.ad a SET state = 'removed', removed_at = ingest_page.fetched_at
         WHERE a.site_id = s.site_id AND a.source_ad_id = substring(u FROM s.ad_url_pattern) AND a.state = 'live'
        RETURNING * INTO new_ad;
        IF FOUND THEN
            INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, days_on_market, details)
            VALUES (s.site_id, new_ad.ad_id, 'removed', fetched_at, new_ad.price_eur,
                    greatest(0, round(extract(epoch FROM fetched_at - new_ad.first_seen_at) / 86400, 2)),
                    jsonb_strip_nulls(jsonb_build_object('http_status', status, 'redirected_to', nullif(final, u))));
            ev := 'removed';
        END IF;
    END IF;

    IF status = 304 AND kind = 'ad' THEN
        -- not modified: the ad is still there, nothing to parse
        UPDATE otto.ad a SET last_seen_at = greatest(a.last_seen_at, ingest_page.fetched_at)
         WHERE a.site_id = s.site_id AND a.source_ad_id = substring(u FROM s.ad_url_pattern) AND a.state = 'live';
    ELSIF status = 200 AND html IS NOT NULL THEN
        -- Links of this site that the crawl follows, one level deeper (the
        -- pagination of a listing stays on its level); a page fetched before
        -- the current sweep started is due again.
        IF d < s.max_depth THEN
            IF kind = 'listing' THEN
                IF s.sweep_mode = 'listings' THEN
                    -- the cards show each ad's price: a known live ad listed at its stored
                    -- price is seen without fetching its page; the others (new, repriced) are
                    -- queued from their cards (a promoted repeat is left to its own page)
                    WITH cards AS (SELECT c->>'source_ad_id' AS id, (c->>'price_eur')::int AS price
                                     FROM jsonb_array_elements(otto.parse_listing(html, final)->'ads') c),
                         seen AS (UPDATE otto.ad a SET last_seen_at = greatest(a.last_seen_at, ingest_page.fetched_at)
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
                 WHERE l.kind = 'listing' OR to_fetch IS NULL OR substring(l.url FROM s.ad_url_pattern) = ANY (to_fetch)
                 ORDER BY l.url        -- one lock order for all workers
                ON CONFLICT (site_id, url) DO UPDATE
                   SET state = 'queued', due_at = excluded.due_at, attempts = 0,
                       depth = least(f.depth, excluded.depth)
                 WHERE f.state IN ('done', 'failed', 'refused')
                   AND f.last_fetched_at < s.sweep_started_at;
            ELSE
                INSERT INTO otto.frontier (site_id, url, kind, depth, discovered_at)
                SELECT s.site_id, l.url, l.kind, d + 1, fetched_at
                  FROM otto.page_links(s, html, final) l
                 ORDER BY l.url
                ON CONFLICT (site_id, url) DO NOTHING;
            END IF;
            GET DIAGNOSTICS links = ROW_COUNT;
            IF links > 0 THEN
                PERFORM otto.crawler_wake();
            END IF;
        END IF;

        -- a page that redirected elsewhere (an ad to a listing) is not that ad
        IF kind = 'ad' AND otto.url_kind(s, final) = 'ad' THEN
            parsed := otto.parse_ad(html, u);
            IF parsed->>'source_ad_id' IS NULL THEN
                RAISE EXCEPTION 'ad page "%" has no ad id', left(u, 200)
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'The site''s ad_url_pattern must capture the id, or its rules must find it on the page.';
            END IF;
            hash := otto.content_hash(parsed);
            new_ad := jsonb_populate_record(NULL::otto.ad, parsed);
            SELECT * INTO old FROM otto.ad a
             WHERE a.site_id = s.site_id AND a.source_ad_id = parsed->>'source_ad_id' FOR UPDATE;
            IF NOT FOUND THEN
                INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur,
                    old_price_eur, fuel, body, gearbox, power_kw, power_hp, engine_cc, color, seats, doors, drive,
                    emission_class, air_conditioning, damage, origin, condition, registered_until, location, region,
                    seller_type, seller_id, seller_name, renewed_at, features, images_count, raw, content_hash,
                    first_seen_at, last_seen_at)
                VALUES (s.site_id, new_ad.source_ad_id, new_ad.url, new_ad.title, new_ad.make, new_ad.model,
                    new_ad.year, new_ad.mileage_km, new_ad.price_eur, new_ad.old_price_eur, new_ad.fuel, new_ad.body,
                    new_ad.gearbox, new_ad.power_kw, new_ad.power_hp, new_ad.engine_cc, new_ad.color, new_ad.seats,
                    new_ad.doors, new_ad.drive, new_ad.emission_class, new_ad.air_conditioning, new_ad.damage,
                    new_ad.origin, new_ad.condition, new_ad.registered_until, new_ad.location, new_ad.region,
                    new_ad.seller_type, new_ad.seller_id, new_ad.seller_name, new_ad.renewed_at,
                    coalesce(new_ad.features, '{}'), new_ad.images_count,
                    coalesce(parsed->'raw', '{}'), hash, fetched_at, fetched_at)
                RETURNING * INTO new_ad;
                -- the same car back under a new id? (see otto.relist_of)
                old := otto.relist_of(new_ad);
                IF old.ad_id IS NOT NULL THEN
                    INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur, details)
                    VALUES (s.site_id, new_ad.ad_id, 'relisted', fetched_at, new_ad.price_eur,
                            jsonb_build_object('relist_of', old.source_ad_id, 'relist_of_ad_id', old.ad_id,
                                               'removed_at', old.removed_at, 'old_price_eur', old.price_eur));
                    ev := 'relisted';
                ELSE
                    INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
                    VALUES (s.site_id, new_ad.ad_id, 'new', fetched_at, new_ad.price_eur);
                    ev := 'new';
                END IF;
            ELSE
                IF old.content_hash IS DISTINCT FROM hash THEN
                    -- the typed fields whose values differ, price apart
                    SELECT array_agg(k ORDER BY k) INTO changed
                      FROM jsonb_each(to_jsonb(new_ad)) n(k, v)
                     WHERE k NOT IN ('ad_id', 'site_id', 'state', 'first_seen_at', 'last_seen_at', 'removed_at',
                                     'content_hash', 'renewed_at', 'price_eur', 'old_price_eur', 'raw')
                       AND n.v IS DISTINCT FROM to_jsonb(old) -> k
                       AND NOT (k = 'features' AND n.v = 'null' AND to_jsonb(old) -> k = '[]');
                    IF new_ad.price_eur IS DISTINCT FROM old.price_eur THEN
                        INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, new_price_eur)
                        VALUES (s.site_id, old.ad_id, 'price_changed', fetched_at, old.price_eur, new_ad.price_eur);
                        ev := 'price_changed';
                    END IF;
                    IF changed IS NOT NULL THEN
                        INSERT INTO otto.ad_event (site_id, ad_id, kind, at, changed_fields, details)
                        VALUES (s.site_id, old.ad_id, 'updated', fetched_at, changed,
                                (SELECT jsonb_object_agg(k, jsonb_build_array(to_jsonb(old) -> k, to_jsonb(new_ad) -> k))
                                   FROM unnest(changed) k));
                        ev := coalesce(ev, 'updated');
                    END IF;
                END IF;
                IF old.state = 'removed' THEN
                    INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur, details)
                    VALUES (s.site_id, old.ad_id, 'relisted', fetched_at, new_ad.price_eur,
                            jsonb_build_object('removed_at', old.removed_at));
                    ev := 'relisted';
                END IF;
                UPDATE otto.ad a SET
                    url = new_ad.url, title = new_ad.title, make = new_ad.make, model = new_ad.model,
                    year = new_ad.year, mileage_km = new_ad.mileage_km, price_eur = new_ad.price_eur,
                    old_price_eur = new_ad.old_price_eur, fuel = new_ad.fuel, body = new_ad.body,
                    gearbox = new_ad.gearbox, power_kw = new_ad.power_kw, power_hp = new_ad.power_hp,
                    engine_cc = new_ad.engine_cc, color = new_ad.color, seats = new_ad.seats, doors = new_ad.doors,
                    drive = new_ad.drive, emission_class = new_ad.emission_class,
                    air_conditioning = new_ad.air_conditioning, damage = new_ad.damage, origin = new_ad.origin,
                    condition = new_ad.condition, registered_until = new_ad.registered_until,
                    location = new_ad.location, region = new_ad.region, seller_type = new_ad.seller_type,
                    seller_id = new_ad.seller_id, seller_name = new_ad.seller_name,
                    renewed_at = new_ad.renewed_at, features = coalesce(new_ad.features, '{}'),
                    images_count = new_ad.images_count, raw = coalesce(parsed->'raw', '{}'), content_hash = hash,
                    state = 'live', removed_at = NULL,
                    last_seen_at = greatest(a.last_seen_at, ingest_page.fetched_at)
                 WHERE a.ad_id = old.ad_id
                RETURNING * INTO new_ad;
            END IF;
        END IF;
    END IF;

    result := jsonb_build_object('site', s.name, 'url', u, 'kind', kind, 'status', status, 'links_added', links,
                                 'ad_id', new_ad.ad_id, 'event', ev);
    PERFORM pg_notify('otto_page', jsonb_build_object('site', s.name, 'url', left(u, 500), 'status', status)::text);
    IF ev IS NOT NULL THEN
        PERFORM pg_notify('otto_ad', jsonb_build_object('ad_id', new_ad.ad_id, 'event', ev)::text);
    END IF;
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION otto.ingest_page(text, text, int, timestamptz, jsonb) IS 'The per-page pipeline, run by the crawler for every page and callable on pages fetched elsewhere (saved pages, archives, re-parses): page log, links into the frontier, ad upsert with new/price_changed/updated/relisted events, NOTIFY otto_page/otto_ad. An unchanged re-fetch writes no event; a 304 only confirms the ad. fetch_info: the crawler''s metadata (final_url, redirects, elapsed_ms, wire_bytes, content_type, etag, last_modified).';


-------------------------------------------------------------------------------
-- Admin API (otto_admin): sites and crawls.
-------------------------------------------------------------------------------
CREATE FUNCTION otto.site_add(name text, title text, hosts text[], seed_urls text[], ad_url_pattern text,
                              listing_url_pattern text, profile text DEFAULT 'schema_org',
                              allow_private_addresses boolean DEFAULT false)
RETURNS int
LANGUAGE sql
AS $fn$
    INSERT INTO otto.site (name, title, hosts, seed_urls, ad_url_pattern, listing_url_pattern, rules,
                           allow_private_addresses)
    SELECT site_add.name, site_add.title, (SELECT array_agg(lower(h)) FROM unnest(site_add.hosts) h),
           site_add.seed_urls, site_add.ad_url_pattern, site_add.listing_url_pattern, p.rules,
           site_add.allow_private_addresses
      FROM otto.site_profile p WHERE p.name = site_add.profile
    RETURNING site_id;
$fn$;
COMMENT ON FUNCTION otto.site_add(text, text, text[], text[], text, text, text, boolean) IS 'Add a (disabled) site with the rules of an extraction profile; returns its id (NULL when the profile does not exist)';

CREATE FUNCTION otto.site_enable(name text, enabled boolean DEFAULT true) RETURNS boolean
LANGUAGE sql
AS $fn$
    WITH u AS (UPDATE otto.site s SET enabled = site_enable.enabled WHERE s.name = site_enable.name RETURNING 1)
    SELECT count(*) = 1 FROM u;
$fn$;
COMMENT ON FUNCTION otto.site_enable(text, boolean) IS 'Enable (or, with false, disable) a site; false when there is no such site';

CREATE FUNCTION otto.crawl_start(site text) RETURNS int
LANGUAGE plpgsql
AS $fn$
DECLARE
    s otto.site;
    n int;
BEGIN
    UPDATE otto.site SET enabled = true, sweep_started_at = now() WHERE name = crawl_start.site RETURNING * INTO s;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no site named "%"', crawl_start.site USING ERRCODE = 'no_data_found',
              HINT = 'SELECT name FROM otto.site lists the sites.';
    END IF;
    INSERT INTO otto.frontier AS f (site_id, url, kind, depth, state, due_at)
    SELECT s.site_id, seed.url, coalesce(otto.url_kind(s, seed.url), 'listing'), 0, 'queued', now()
      FROM (SELECT otto.normalize_url(unnest(s.seed_urls)) AS url) seed
    ON CONFLICT (site_id, url) DO UPDATE SET state = 'queued', due_at = now(), lease_owner = NULL, lease_until = NULL,
                                             attempts = 0
     WHERE f.state <> 'leased';
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM otto.crawler_wake();
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION otto.crawl_start(text) IS 'Start a sweep of the site: enable it and queue its seed URLs; every page the sweep reaches that was fetched before it is fetched again (conditional GET). Returns the number of seeds queued';

CREATE FUNCTION otto.crawl_stop(site text) RETURNS boolean
LANGUAGE sql
RETURN otto.site_enable(site, false);
COMMENT ON FUNCTION otto.crawl_stop(text) IS 'Disable the site: workers stop claiming its URLs (leases in flight finish or expire); the frontier is kept for the next crawl_start';

CREATE VIEW otto.crawl_status AS
SELECT s.name AS site, s.enabled,
       count(*) FILTER (WHERE f.state = 'queued') AS queued,
       count(*) FILTER (WHERE f.state = 'queued' AND f.due_at <= now()) AS due,
       count(*) FILTER (WHERE f.state = 'leased') AS in_flight,
       count(*) FILTER (WHERE f.state = 'done') AS done,
       count(*) FILTER (WHERE f.state = 'failed') AS failed,
       count(*) FILTER (WHERE f.state = 'refused') AS refused,
       count(*) FILTER (WHERE f.state = 'quarantined') AS quarantined,
       (SELECT round(count(*) / 60.0, 2) FROM otto.page p
         WHERE p.site_id = s.site_id AND p.fetched_at > now() - interval '1 minute') AS pages_per_s,
       (SELECT count(*) FROM otto.ad_event e WHERE e.site_id = s.site_id AND e.kind = 'new'
           AND e.at > now() - interval '1 hour') AS ads_new_1h,
       (SELECT count(*) FROM otto.ad_event e WHERE e.site_id = s.site_id AND e.kind IN ('price_changed', 'updated')
           AND e.at > now() - interval '1 hour') AS ads_updated_1h,
       (SELECT count(*) FROM otto.ad_event e WHERE e.site_id = s.site_id AND e.kind = 'removed'
           AND e.at > now() - interval '1 hour') AS ads_removed_1h,
       (SELECT jsonb_object_agg(k, n) FROM (SELECT coalesce(p.error_kind, 'http_' || p.status) AS k, count(*) AS n
                                              FROM otto.page p
                                             WHERE p.site_id = s.site_id AND p.fetched_at > now() - interval '1 hour'
                                               AND (p.error_kind IS NOT NULL OR p.status >= 400)
                                             GROUP BY 1) e) AS errors_1h,
       greatest(s.crawl_delay_ms, (SELECT max(r.crawl_delay_ms) FROM otto.robots r WHERE r.site_id = s.site_id)) AS delay_ms,
       s.max_concurrency, s.sweep_mode,
       CASE WHEN s.sweep_started_at IS NULL THEN 'never'
            WHEN s.sweep_checked_at IS NULL OR s.sweep_checked_at < s.sweep_started_at THEN 'sweeping'
            -- any queued URL is unsettled: due, waiting out a retry's backoff, or postponed while
            -- its host's robots.txt is unreachable
            WHEN count(*) FILTER (WHERE f.state IN ('leased', 'queued')) > 0 THEN 'confirming'
            ELSE 'done' END AS sweep,
       s.sweep_started_at
  FROM otto.site s LEFT JOIN otto.frontier f ON f.site_id = s.site_id
 GROUP BY s.site_id;
COMMENT ON VIEW otto.crawl_status IS 'Crawl progress per site at a glance: URLs by state (quarantined: pages that killed the worker twice), pages/s over the last minute, ads new/updated/removed and errors by kind in the last hour, politeness in force (the longer of the site''s delay and robots.txt Crawl-delay), and where the current sweep is (never, sweeping, confirming the ads it did not reach, done)';


-------------------------------------------------------------------------------
-- The frontier as a queue: claim with SKIP LOCKED and a lease, fail with
-- backoff, release a dead worker's leases.  Short transactions: no worker
-- holds a transaction open during network I/O.
-------------------------------------------------------------------------------
CREATE FUNCTION otto.frontier_claim(max_urls int DEFAULT 32, lease interval DEFAULT '5 minutes',
                                    owner int DEFAULT pg_backend_pid())
RETURNS TABLE (site_id int, url text, kind text, depth int, etag text, last_modified text, attempts int, crashes int)
LANGUAGE sql
AS $fn$
    -- two index scans in due order (queued, then expired leases), never a sort of the whole queue
    WITH enabled AS (SELECT array_agg(s.site_id) AS ids FROM otto.site s WHERE s.enabled),
    due AS (SELECT c.site_id, c.url FROM otto.frontier c, enabled
             WHERE c.state = 'queued' AND c.due_at <= now() AND c.site_id = ANY (enabled.ids)
             ORDER BY c.due_at LIMIT frontier_claim.max_urls
               FOR UPDATE OF c SKIP LOCKED),
    expired AS (SELECT c.site_id, c.url FROM otto.frontier c, enabled
                 WHERE c.state = 'leased' AND c.lease_until < now() AND c.site_id = ANY (enabled.ids)
                 ORDER BY c.lease_until LIMIT frontier_claim.max_urls
                   FOR UPDATE OF c SKIP LOCKED)
    UPDATE otto.frontier f
       SET state = 'leased', lease_owner = frontier_claim.owner, lease_until = now() + frontier_claim.lease
      FROM (SELECT * FROM due UNION ALL (SELECT * FROM expired LIMIT frontier_claim.max_urls - (SELECT count(*) FROM due))) c
     WHERE f.site_id = c.site_id AND f.url = c.url
    RETURNING f.site_id, f.url, f.kind, f.depth, f.etag, f.last_modified, f.attempts, f.crashes;
$fn$;
COMMENT ON FUNCTION otto.frontier_claim(int, interval, int) IS 'Lease up to max_urls due URLs of enabled sites (and URLs whose lease expired) to a worker; concurrent callers never get the same URL (FOR UPDATE SKIP LOCKED)';

CREATE FUNCTION otto.frontier_fail(site_id int, url text, error_kind text, error text,
                                   retry_after interval DEFAULT NULL, max_attempts int DEFAULT 5)
RETURNS text
LANGUAGE sql
AS $fn$
    UPDATE otto.frontier f
       SET attempts = f.attempts + 1, last_error = left(frontier_fail.error, 1000),
           lease_owner = NULL, lease_until = NULL, last_fetched_at = now(), crashes = 0,
           state = CASE WHEN f.attempts + 1 >= frontier_fail.max_attempts THEN 'failed' ELSE 'queued' END,
           -- exponential backoff from otto.retry_base (30 s), at most 6 h; a server's Retry-After wins when longer
           due_at = now() + greatest(coalesce(frontier_fail.retry_after, '0'),
                                     least(coalesce(current_setting('otto.retry_base', true), '30s')::interval
                                           * power(2, f.attempts), interval '6 hours'))
     WHERE f.site_id = frontier_fail.site_id AND f.url = frontier_fail.url
    RETURNING f.state;
$fn$;
-- A crawler worker died while processing the URL's page (its crash record,
-- src/crawler.c, says so after the restart): count it.  Finishing a page
-- (otto.ingest_page, otto.fetch_failed) sets the count back to 0.
CREATE FUNCTION otto.frontier_crashed(url text) RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH u AS (UPDATE otto.frontier f SET crashes = f.crashes + 1
                WHERE f.url = frontier_crashed.url AND f.state <> 'quarantined' RETURNING 1)
    SELECT count(*) FROM u;
$fn$;
COMMENT ON FUNCTION otto.frontier_crashed(text) IS 'Count a crawler''s death while processing the URL''s page (frontier.crashes; the crawler processes such a page alone, and quarantines it at 2)';

COMMENT ON FUNCTION otto.frontier_fail(int, text, text, text, interval, int) IS 'Record a failed fetch: retry with exponential backoff (otto.retry_base, 30 s, x 2^attempts, at most 6 h, or Retry-After when longer), give up after max_attempts; returns the new state';

CREATE FUNCTION otto.frontier_release(owner int) RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH r AS (UPDATE otto.frontier f SET state = 'queued', lease_owner = NULL, lease_until = NULL
                WHERE f.state = 'leased' AND f.lease_owner = frontier_release.owner RETURNING 1)
    SELECT count(*) FROM r;
$fn$;
COMMENT ON FUNCTION otto.frontier_release(int) IS 'Requeue every URL a (dead or restarting) worker had leased; returns how many';

CREATE FUNCTION otto.frontier_postpone(site_id int, url text, delay interval DEFAULT '0') RETURNS boolean
LANGUAGE sql
AS $fn$
    WITH p AS (UPDATE otto.frontier f SET state = 'queued', lease_owner = NULL, lease_until = NULL,
                                          due_at = now() + frontier_postpone.delay
                WHERE f.site_id = frontier_postpone.site_id AND f.url = frontier_postpone.url
                  AND f.state = 'leased' AND f.lease_owner = pg_backend_pid()
               RETURNING 1)
    SELECT count(*) = 1 FROM p;
$fn$;
COMMENT ON FUNCTION otto.frontier_postpone(int, text, interval) IS 'Give back a URL the calling worker leased, due again after delay, without counting an attempt';

CREATE FUNCTION otto.frontier_release_orphans() RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH r AS (UPDATE otto.frontier f SET state = 'queued', lease_owner = NULL, lease_until = NULL
                WHERE f.state = 'leased'
                  AND f.lease_owner NOT IN (SELECT a.pid FROM pg_stat_activity a WHERE a.backend_type = 'otto crawler')
               RETURNING 1)
    SELECT count(*) FROM r;
$fn$;
COMMENT ON FUNCTION otto.frontier_release_orphans() IS 'Requeue URLs leased by crawler workers that no longer run (after a crash or kill -9); returns how many';

CREATE FUNCTION otto.fetch_failed(site_id int, url text, error_kind text, error text, status int DEFAULT NULL,
                                  retry_after_s float8 DEFAULT NULL, retry boolean DEFAULT true,
                                  fetch_info jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    st text;
BEGIN
    INSERT INTO otto.page (site_id, url, final_url, status, error_kind, error, elapsed_ms, redirects, wire_bytes,
                           content_type)
    VALUES (fetch_failed.site_id, fetch_failed.url, nullif(fetch_info->>'final_url', fetch_failed.url),
            fetch_failed.status, fetch_failed.error_kind, left(fetch_failed.error, 1000),
            (fetch_info->>'elapsed_ms')::int, coalesce((fetch_info->>'redirects')::int, 0),
            (fetch_info->>'wire_bytes')::bigint, fetch_info->>'content_type');
    IF retry THEN
        st := otto.frontier_fail(fetch_failed.site_id, fetch_failed.url, fetch_failed.error_kind, fetch_failed.error,
                                 make_interval(secs => fetch_failed.retry_after_s));
    ELSE
        UPDATE otto.frontier f
           SET state = CASE WHEN fetch_failed.error_kind IN ('refused', 'robots') THEN 'refused'
                            WHEN fetch_failed.error_kind = 'crash' THEN 'quarantined' ELSE 'failed' END,
               attempts = f.attempts + 1, last_status = fetch_failed.status,
               crashes = CASE WHEN fetch_failed.error_kind = 'crash' THEN f.crashes ELSE 0 END,
               last_error = left(fetch_failed.error_kind || ': ' || fetch_failed.error, 1000),
               lease_owner = NULL, lease_until = NULL, last_fetched_at = now()
         WHERE f.site_id = fetch_failed.site_id AND f.url = fetch_failed.url
        RETURNING f.state INTO st;
    END IF;
    PERFORM pg_notify('otto_page', jsonb_build_object('url', left(fetch_failed.url, 500), 'status', fetch_failed.status,
                                                      'error_kind', fetch_failed.error_kind)::text);
    RETURN st;
END
$fn$;
COMMENT ON FUNCTION otto.fetch_failed(int, text, text, text, int, float8, boolean, jsonb) IS 'Record a fetch that failed or was refused: a page log row with its error kind, then a retry with backoff (retry) or the URL marked failed (refused for policy: robots, host, address); returns the frontier state';

CREATE FUNCTION otto.robots_store(host text, site_id int, status int, body text) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    before text;
BEGIN
    SELECT r.body INTO before FROM otto.robots r WHERE r.host = robots_store.host;
    INSERT INTO otto.robots AS r (host, site_id, status, body, crawl_delay_ms, fetched_at)
    VALUES (robots_store.host, robots_store.site_id, robots_store.status, robots_store.body,
            (1000 * otto.robots_crawl_delay(robots_store.body, current_setting('otto.user_agent')))::int, now())
    ON CONFLICT ON CONSTRAINT robots_pkey DO UPDATE
       SET site_id = excluded.site_id, status = excluded.status, body = excluded.body,
           crawl_delay_ms = excluded.crawl_delay_ms, fetched_at = excluded.fetched_at;
    RETURN before IS DISTINCT FROM robots_store.body;
END
$fn$;
COMMENT ON FUNCTION otto.robots_store(text, int, int, text) IS 'Keep a host''s freshly fetched robots.txt; true when it is new or changed';

CREATE FUNCTION otto.address_is_private(address text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'otto_address_is_private' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION otto.address_is_private(text) IS 'Is this IPv4/IPv6 address loopback, private, link-local or otherwise not public? The crawler refuses such addresses unless the site allows them';

CREATE FUNCTION otto.decode_body(body bytea, content_type text) RETURNS text
    AS 'MODULE_PATHNAME', 'otto_decode_body' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION otto.decode_body(bytea, text) IS 'A fetched body as text, converted from the charset of its Content-Type (or its <meta charset>), UTF-8 when none';

CREATE FUNCTION otto.retry_after(value text) RETURNS float8
    AS 'MODULE_PATHNAME', 'otto_retry_after' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION otto.retry_after(text) IS 'Seconds a Retry-After header asks to wait (delta-seconds or HTTP-date); NULL when unreadable';

CREATE FUNCTION otto.crawler_wake() RETURNS int
    AS 'MODULE_PATHNAME', 'otto_crawler_wake' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION otto.crawler_wake() IS 'Wake the crawler workers (new URLs are due); returns how many were woken';

CREATE FUNCTION otto.politeness(OUT host text, OUT next_start timestamptz, OUT in_flight int) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'otto_politeness' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION otto.politeness() IS 'Each crawled host''s shared politeness clock: earliest start of its next request, requests in flight';

CREATE FUNCTION otto.sweep_busy(site_id int) RETURNS boolean
LANGUAGE sql STABLE
-- clock_timestamp: a URL another transaction queued "due now" after ours began is due;
-- attempts = 0 and not due: postponed while its host's robots.txt is unreachable
RETURN EXISTS (SELECT FROM otto.frontier f
                WHERE f.site_id = sweep_busy.site_id
                  AND (f.state = 'leased' OR (f.state = 'queued' AND (f.due_at <= clock_timestamp() OR f.attempts = 0))));
COMMENT ON FUNCTION otto.sweep_busy(int) IS 'Whether a site''s sweep still has URLs in flight, due, or postponed (not counting retries waiting out their backoff)';
CREATE FUNCTION otto.sweep_check() RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s otto.site;
    n bigint;
    total bigint := 0;
BEGIN
    -- sweeps not checked yet with nothing left in flight or to fetch, except retries waiting out
    -- their backoff (a page that keeps failing does not hold the sweep open for hours)
    FOR s IN SELECT * FROM otto.site x
              WHERE x.enabled AND x.sweep_started_at IS NOT NULL
                AND (x.sweep_checked_at IS NULL OR x.sweep_checked_at < x.sweep_started_at)
                AND NOT otto.sweep_busy(x.site_id)
                FOR UPDATE SKIP LOCKED
    LOOP
        -- the lock may be on a version committed after this query's snapshot (a crawl_start
        -- that has just queued its seeds): ask again with a new one
        CONTINUE WHEN otto.sweep_busy(s.site_id);
        -- live ads the sweep did not reach: fetch each once more to learn whether it is gone
        INSERT INTO otto.frontier AS f (site_id, url, kind, depth)
        SELECT s.site_id, a.url, 'ad', 1 FROM otto.ad a
         WHERE a.site_id = s.site_id AND a.state = 'live' AND a.last_seen_at < s.sweep_started_at
        ON CONFLICT (site_id, url) DO UPDATE SET state = 'queued', due_at = now(), attempts = 0
         WHERE f.state <> 'leased';
        GET DIAGNOSTICS n = ROW_COUNT;
        UPDATE otto.site x SET sweep_checked_at = now() WHERE x.site_id = s.site_id;
        total := total + n;
    END LOOP;
    IF total > 0 THEN
        PERFORM otto.crawler_wake();
    END IF;
    RETURN total;
END
$fn$;
COMMENT ON FUNCTION otto.sweep_check() IS 'Close finished sweeps: queue each live ad the sweep did not reach for one more fetch, which tells removed (404, 410, redirect to a listing) from merely unlisted. The launcher calls it every otto.launcher_naptime; returns the ads queued';

-------------------------------------------------------------------------------
-- Schedules and upkeep: pg_cron when present, direct calls otherwise.
-------------------------------------------------------------------------------
CREATE FUNCTION otto.maintenance() RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    keep interval := coalesce(nullif(current_setting('otto.page_body_retention', true), ''), '0')::interval;
    n bigint;
BEGIN
    UPDATE otto.page SET body = NULL WHERE body IS NOT NULL AND fetched_at < now() - keep;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN jsonb_build_object('page_bodies_dropped', n, 'released_leases', otto.frontier_release_orphans(),
                              'ads_to_confirm', otto.sweep_check());
END
$fn$;
COMMENT ON FUNCTION otto.maintenance() IS 'Upkeep: drop page bodies older than otto.page_body_retention, requeue leases of workers that are gone, close finished sweeps';

CREATE FUNCTION otto.schedule_install() RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s otto.site;
    jobs jsonb := '[]';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE NOTICE 'pg_cron is not installed in this database, so no schedule was installed'
            USING HINT = 'CREATE EXTENSION pg_cron (with cron.database_name set to this database), or run '
                         'SELECT otto.crawl_start(name) FROM otto.site WHERE enabled daily and SELECT otto.maintenance() hourly.';
        RETURN jobs;
    END IF;
    FOR s IN SELECT * FROM otto.site WHERE enabled ORDER BY site_id LOOP
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
          USING 'otto-sweep-' || s.name, s.sweep_schedule, format('SELECT otto.crawl_start(%L)', s.name);
        jobs := jobs || jsonb_build_object('job', 'otto-sweep-' || s.name, 'schedule', s.sweep_schedule);
    END LOOP;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' USING 'otto-maintenance', '17 * * * *', 'SELECT otto.maintenance()';
    RETURN jobs || jsonb_build_object('job', 'otto-maintenance', 'schedule', '17 * * * *');
END
$fn$;
COMMENT ON FUNCTION otto.schedule_install() IS 'Install (or update) Otto''s pg_cron jobs: a full sweep per enabled site on its sweep_schedule, hourly maintenance; without pg_cron, says which calls to run instead';

-------------------------------------------------------------------------------
-- The market stream.  The stream processor (a background worker, see
-- src/stream.c; or otto.stream_apply by hand) folds otto.ad_event, in
-- event_id order from a stored watermark, into a per-ad state
-- (otto.market_ad) and per-group sums (otto.market_mmy per make, model and
-- year; otto.market_mm per make and model), in the same transaction as the
-- new watermark: a crash neither loses nor double-counts an event.
--
-- Each ad contributes a vector of terms (otto.market_terms) to its group's
-- sums; an event subtracts the ad's old vector and adds its new one.  Terms
-- are exact numerics (log prices rounded to 6 places before summing), so
-- the sums do not depend on the order they were added in and the
-- incremental tables equal a recompute from scratch exactly.
-------------------------------------------------------------------------------
CREATE FUNCTION otto.vec_add(a numeric[], b numeric[]) RETURNS numeric[]
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_vec_add';
COMMENT ON FUNCTION otto.vec_add(numeric[], numeric[]) IS 'Element-wise sum of two equally long numeric vectors (NULL counts as zero)';
CREATE FUNCTION otto.vec_neg(a numeric[]) RETURNS numeric[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_vec_neg';
COMMENT ON FUNCTION otto.vec_neg(numeric[]) IS 'Element-wise negation of a numeric vector';
CREATE AGGREGATE otto.vec_sum(numeric[]) (SFUNC = otto.vec_add, STYPE = numeric[], COMBINEFUNC = otto.vec_add,
                                          PARALLEL = SAFE);
COMMENT ON AGGREGATE otto.vec_sum(numeric[]) IS 'Element-wise sum of numeric vectors';

CREATE TABLE otto.stream_state (
    stream          text PRIMARY KEY CHECK (stream = 'market'),
    watermark       bigint NOT NULL DEFAULT 0,
    events          bigint NOT NULL DEFAULT 0,
    batches         bigint NOT NULL DEFAULT 0,
    applied_at      timestamptz,
    last_event_at   timestamptz,
    kinds           jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO otto.stream_state (stream) VALUES ('market');
COMMENT ON TABLE otto.stream_state IS 'Where the stream processor is: every ad event with event_id <= watermark is in the market tables, none after it';
COMMENT ON COLUMN otto.stream_state.watermark IS 'event_id of the last event applied';
COMMENT ON COLUMN otto.stream_state.batches IS 'Transactions that applied events since the last rebuild';
COMMENT ON COLUMN otto.stream_state.events IS 'Events applied since the last rebuild';
COMMENT ON COLUMN otto.stream_state.kinds IS 'Events in the log up to the watermark, by kind (otto.metrics adds the ones past it)';
COMMENT ON COLUMN otto.stream_state.applied_at IS 'When the last batch committed';
COMMENT ON COLUMN otto.stream_state.last_event_at IS 'Observation time of the last event applied';

CREATE TABLE otto.market_ad (
    ad_id           bigint PRIMARY KEY,
    make            text,
    model           text,
    year            int,
    fuel            text,
    body            text,
    price_eur       int,
    mileage_km      int,
    power_kw        int,
    listed_at       timestamptz NOT NULL,
    live            boolean NOT NULL,
    continued       boolean NOT NULL DEFAULT false,
    removed_days    numeric(8,2),
    prior_days      numeric(8,2) NOT NULL DEFAULT 0,
    price_cuts      int NOT NULL DEFAULT 0,
    price_cut_eur   bigint NOT NULL DEFAULT 0
);
-- covering, so that fair_value reads its comparables from the index alone
CREATE INDEX market_ad_live_idx ON otto.market_ad (make, model, year, price_eur)
    INCLUDE (mileage_km, fuel, power_kw, ad_id) WHERE live;
CREATE INDEX market_ad_sold_idx ON otto.market_ad (make, model, year, (prior_days + removed_days))
    WHERE NOT live AND NOT continued;
CREATE INDEX market_ad_listed_idx ON otto.market_ad (listed_at) WHERE live;    -- good_deals' fresh ads
CREATE INDEX market_ad_cut_idx ON otto.market_ad (ad_id) WHERE live AND price_cuts > 0;   -- search_ads' price_cut
CREATE INDEX market_ad_price_idx ON otto.market_ad (price_eur) WHERE live AND price_eur > 0;   -- the market's median price
CREATE INDEX market_ad_mileage_idx ON otto.market_ad (mileage_km) WHERE live;                 -- and mileage
COMMENT ON TABLE otto.market_ad IS 'The stream''s state of each ad: its fields as of its last applied event, and what the event log says about it';
COMMENT ON COLUMN otto.market_ad.live IS 'Its last applied event was not a removal';
COMMENT ON COLUMN otto.market_ad.price_eur IS 'Asking price (and the other fields) as of its last applied event';
COMMENT ON COLUMN otto.market_ad.price_cut_eur IS 'Euros taken off the price by those reductions, in all';
COMMENT ON COLUMN otto.market_ad.listed_at IS 'First new or relisted event of this ad id';
COMMENT ON COLUMN otto.market_ad.continued IS 'A relist under a new id continues this ad: its removal was not a sale';
COMMENT ON COLUMN otto.market_ad.removed_days IS 'Days on market of its last removal (first seen to found gone)';
COMMENT ON COLUMN otto.market_ad.prior_days IS 'Days on market of the ads it continues (relists under new ids), counted into its own sale';
COMMENT ON COLUMN otto.market_ad.price_cuts IS 'Price reductions seen (price_changed to a lower price)';

-- The term vector: its positions are the columns of otto.market_stats.
CREATE FUNCTION otto.market_terms(m otto.market_ad) RETURNS numeric[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT ARRAY[
    1,                                                                  -- 1 ads
    m.live::int,                                                        -- 2 live
    (m.live AND m.price_eur > 0)::int,                                  -- 3 priced
    CASE WHEN m.live AND m.price_eur > 0 THEN m.price_eur ELSE 0 END,   -- 4 price sum
    CASE WHEN m.live AND m.price_eur > 0 THEN m.price_eur::numeric * m.price_eur ELSE 0 END,  -- 5 price squares
    -- 6..15: regression of ln(price) on age a (years at listing) and mileage k (1000 km)
    r.n, r.n * r.a, r.n * r.k, r.n * r.y, r.n * r.a * r.a, r.n * r.a * r.k, r.n * r.k * r.k,
    r.n * r.a * r.y, r.n * r.k * r.y, r.n * r.y * r.y,
    s.n, s.n * s.d, s.n * s.d * s.d, (s.n = 1 AND s.d <= 7)::int, (s.n = 1 AND s.d <= 30)::int,  -- 16..20 sales
    (m.price_cuts > 0)::int, m.price_cuts, m.price_cut_eur,            -- 21..23 price cuts
    (m.live AND m.price_cuts > 0)::int, CASE WHEN m.live THEN m.price_cut_eur ELSE 0 END,  -- 24, 25 on live ads
    m.continued::int,                                                   -- 26 relisted
    (m.live AND m.mileage_km IS NOT NULL)::int, CASE WHEN m.live THEN coalesce(m.mileage_km, 0) ELSE 0 END  -- 27, 28
]::numeric[]
|| ARRAY(SELECT (m.live AND m.price_eur > 0 AND least(m.price_eur / 2500, 20) = b)::int       -- 29..49 live ads by price,
           FROM generate_series(0, 20) b)::numeric[]                                           --   bins of 2,500 EUR (the last open)
|| ARRAY(SELECT (m.live AND m.mileage_km IS NOT NULL AND least(m.mileage_km / 25000, 16) = b)::int  -- 50..66 by mileage,
           FROM generate_series(0, 16) b)::numeric[]                                           --   bins of 25,000 km (the last open)
  FROM (SELECT (m.live AND m.price_eur > 0 AND m.year IS NOT NULL AND m.mileage_km IS NOT NULL)::int AS n,
               coalesce(extract(year FROM m.listed_at AT TIME ZONE 'UTC')::int - m.year, 0)::numeric AS a,
               coalesce(m.mileage_km, 0) / 1000.0 AS k,
               CASE WHEN m.price_eur > 0 THEN round(ln(m.price_eur)::numeric, 6) ELSE 0 END AS y) r,
       (SELECT (NOT m.live AND NOT m.continued)::int AS n, m.prior_days + coalesce(m.removed_days, 0) AS d) s
$fn$;
COMMENT ON FUNCTION otto.market_terms(otto.market_ad) IS 'What one ad adds to its group''s sums (positions as in otto.market_stats)';

CREATE TABLE otto.market_mmy (
    make            text NOT NULL,
    model           text NOT NULL,
    year            int,
    s               numeric[] NOT NULL,
    UNIQUE NULLS NOT DISTINCT (make, model, year)
);
CREATE TABLE otto.market_mm (
    make            text NOT NULL,
    model           text NOT NULL,
    s               numeric[] NOT NULL,
    PRIMARY KEY (make, model)
);
CREATE INDEX market_mm_make_idx ON otto.market_mm (lower(make));   -- otto.market_name
COMMENT ON TABLE otto.market_mmy IS 'Sums of otto.market_terms per make, model and year, kept by the stream processor (read them through otto.market_model_year)';
COMMENT ON COLUMN otto.market_mmy.s IS 'Sum of the group''s ads'' otto.market_terms vectors';
COMMENT ON COLUMN otto.market_mmy.year IS 'Model year; NULL groups the ads that do not state one';
COMMENT ON COLUMN otto.market_mm.s IS 'Sum of the model''s ads'' otto.market_terms vectors';
COMMENT ON TABLE otto.market_mm IS 'Sums of otto.market_terms per make and model, kept by the stream processor (read them through otto.market_model)';

CREATE FUNCTION otto.market_stats(s numeric[],
    OUT ads bigint, OUT live bigint, OUT priced bigint, OUT price_mean numeric, OUT price_sd numeric,
    OUT regression_n bigint, OUT sold bigint, OUT days_on_market_mean numeric, OUT days_on_market_sd numeric,
    OUT sold_within_7d bigint, OUT sold_within_30d bigint, OUT ads_price_cut bigint, OUT price_cuts bigint,
    OUT price_cut_eur numeric, OUT live_ads_price_cut bigint, OUT live_price_cut_eur numeric, OUT relisted bigint,
    OUT mileage_mean numeric)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
SELECT s[1], s[2], s[3], round(s[4] / nullif(s[3], 0)),
       CASE WHEN s[3] > 1 THEN round(sqrt(greatest(0, (s[5] - s[4] * s[4] / s[3]) / (s[3] - 1)))) END,
       s[6], s[16], round(s[17] / nullif(s[16], 0), 2),
       CASE WHEN s[16] > 1 THEN round(sqrt(greatest(0, (s[18] - s[17] * s[17] / s[16]) / (s[16] - 1))), 2) END,
       s[19], s[20], s[21], s[22], s[23], s[24], s[25], s[26], round(s[28] / nullif(s[27], 0))
$fn$;
COMMENT ON FUNCTION otto.market_stats(numeric[]) IS 'A group''s sums as named figures';

CREATE VIEW otto.market_model_year AS
SELECT g.make, g.model, g.year, (otto.market_stats(g.s)).* FROM otto.market_mmy g;
COMMENT ON VIEW otto.market_model_year IS 'Market figures per make, model and year, fresh as of otto.stream_state.watermark: ads seen, live, asking-price mean and spread, sales (removals not followed by a relist) with days on market, price cuts, relists';
CREATE VIEW otto.market_model AS
SELECT g.make, g.model, (otto.market_stats(g.s)).* FROM otto.market_mm g;
COMMENT ON VIEW otto.market_model IS 'Market figures per make and model (as otto.market_model_year, over all years)';

-- The serialisation point of the log.  An event id is drawn when the event is
-- inserted, not when it commits, so a smaller id can become visible after a
-- larger one.  SHARE mode waits for every transaction that is inserting
-- events to end (and holds off new ones for that instant); every event up to
-- the largest id visible then is final.
CREATE FUNCTION otto.stream_horizon() RETURNS bigint
LANGUAGE plpgsql
SET lock_timeout = '200ms'
AS $fn$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'the stream processor needs READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    LOCK TABLE otto.ad_event IN SHARE MODE;
    RETURN (SELECT coalesce(max(event_id), 0) FROM otto.ad_event);
END
$fn$;
COMMENT ON FUNCTION otto.stream_horizon() IS 'The largest event id up to which the ad log is final (waits up to 200 ms for transactions inserting events; holds the log''s SHARE lock to the end of the transaction)';

-- The events after one id up to another, folded per ad; the fields are the
-- ad's as it is now.  The incremental step folds a batch, the recompute the
-- whole log (continued and prior_days come from the relist links, apart).
CREATE FUNCTION otto.market_fold(after bigint, upto bigint) RETURNS SETOF otto.market_ad
LANGUAGE sql STABLE
AS $fn$
    SELECT p.ad_id, a.make, a.model, a.year, a.fuel, a.body, a.price_eur, a.mileage_km, a.power_kw,
           coalesce(p.listed_at, a.first_seen_at), p.live, false, p.removed_days, 0::numeric, p.cuts::int, p.cut_eur
      FROM (SELECT e.ad_id,
                   (array_agg(e.kind ORDER BY e.event_id DESC))[1] <> 'removed' AS live,
                   (array_agg(e.days_on_market ORDER BY e.event_id DESC) FILTER (WHERE e.kind = 'removed'))[1] AS removed_days,
                   min(e.at) FILTER (WHERE e.kind IN ('new', 'relisted')) AS listed_at,
                   count(*) FILTER (WHERE e.new_price_eur < e.old_price_eur AND e.kind = 'price_changed') AS cuts,
                   coalesce(sum(e.old_price_eur - e.new_price_eur)
                                FILTER (WHERE e.new_price_eur < e.old_price_eur AND e.kind = 'price_changed'), 0) AS cut_eur
              FROM otto.ad_event e
             WHERE e.event_id > market_fold.after AND e.event_id <= market_fold.upto
             GROUP BY e.ad_id) p
      JOIN otto.ad a ON a.ad_id = p.ad_id
$fn$;
COMMENT ON FUNCTION otto.market_fold(bigint, bigint) IS 'The ad events with after < event_id <= upto folded into one otto.market_ad row per ad (continued and prior_days left to the relist links)';

CREATE FUNCTION otto.stream_apply(max_events int DEFAULT 10000, horizon bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    wm      bigint;
    hz      bigint := horizon;
    n       int;
    last_id bigint;
    last_at timestamptz;
    touched bigint[];
    before  otto.market_ad[];
    r       record;
BEGIN
    IF max_events < 1 THEN
        RAISE EXCEPTION 'max_events must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one consumer at a time
    SELECT s.watermark INTO wm FROM otto.stream_state s WHERE s.stream = 'market' FOR UPDATE;
    hz := coalesce(hz, otto.stream_horizon());
    SELECT count(*), max(e.event_id), max(e.at) INTO n, last_id, last_at
      FROM (SELECT e.event_id, e.at FROM otto.ad_event e WHERE e.event_id > wm AND e.event_id <= hz
             ORDER BY e.event_id LIMIT max_events) e;
    IF n = 0 THEN
        RETURN jsonb_build_object('events', 0, 'watermark', wm);
    END IF;

    -- the ads whose contribution changes: those of the events, and the ones a relist continues
    SELECT array_agg(DISTINCT x) INTO touched
      FROM otto.ad_event e, LATERAL (VALUES (e.ad_id), ((e.details->>'relist_of_ad_id')::bigint)) v(x)
     WHERE e.event_id > wm AND e.event_id <= last_id AND x IS NOT NULL;
    SELECT array_agg(m) INTO before FROM otto.market_ad m WHERE m.ad_id = ANY (touched);

    -- fold the batch into the per-ad state
    INSERT INTO otto.market_ad AS m SELECT * FROM otto.market_fold(wm, last_id)
    ON CONFLICT (ad_id) DO UPDATE
       SET make = excluded.make, model = excluded.model, year = excluded.year, fuel = excluded.fuel,
           body = excluded.body, price_eur = excluded.price_eur, mileage_km = excluded.mileage_km,
           power_kw = excluded.power_kw, live = excluded.live,
           removed_days = coalesce(excluded.removed_days, m.removed_days),
           price_cuts = m.price_cuts + excluded.price_cuts, price_cut_eur = m.price_cut_eur + excluded.price_cut_eur;

    -- relists under a new id: the old ad was not sold; its days on market carry over
    FOR r IN SELECT e.event_id, e.ad_id, (e.details->>'relist_of_ad_id')::bigint AS pred
               FROM otto.ad_event e
              WHERE e.event_id > wm AND e.event_id <= last_id AND e.kind = 'relisted' AND e.details ? 'relist_of_ad_id'
              ORDER BY e.event_id LOOP
        UPDATE otto.market_ad p SET continued = true WHERE p.ad_id = r.pred;
        UPDATE otto.market_ad m SET prior_days = p.prior_days + coalesce(otto.removal_days_before(r.pred, r.event_id), 0)
          FROM otto.market_ad p WHERE m.ad_id = r.ad_id AND p.ad_id = r.pred;
    END LOOP;

    -- the groups' sums: minus the old terms, plus the new
    WITH t AS (SELECT b.make, b.model, b.year, otto.vec_neg(otto.market_terms(b)) AS terms FROM unnest(before) b
               UNION ALL
               SELECT m.make, m.model, m.year, otto.market_terms(m) FROM otto.market_ad m WHERE m.ad_id = ANY (touched)),
         d AS (SELECT t.make, t.model, t.year, otto.vec_sum(t.terms) AS s FROM t
                WHERE t.make IS NOT NULL AND t.model IS NOT NULL GROUP BY 1, 2, 3),
         y AS (INSERT INTO otto.market_mmy AS g (make, model, year, s) SELECT * FROM d
               ON CONFLICT (make, model, year) DO UPDATE SET s = otto.vec_add(g.s, excluded.s))
    INSERT INTO otto.market_mm AS g (make, model, s)
    SELECT d.make, d.model, otto.vec_sum(d.s) FROM d GROUP BY 1, 2
    ON CONFLICT (make, model) DO UPDATE SET s = otto.vec_add(g.s, excluded.s);
    -- a group all of whose ads moved away (a corrected year, make or model) is gone
    DELETE FROM otto.market_mmy g USING unnest(before) b
     WHERE g.s[1] = 0 AND g.make = b.make AND g.model = b.model AND g.year IS NOT DISTINCT FROM b.year;
    DELETE FROM otto.market_mm g USING unnest(before) b WHERE g.s[1] = 0 AND g.make = b.make AND g.model = b.model;

    UPDATE otto.stream_state s
       SET watermark = last_id, events = s.events + n, batches = s.batches + 1,
           applied_at = clock_timestamp(), last_event_at = last_at,
           kinds = (SELECT jsonb_object_agg(y.kind, y.n)
                      FROM (SELECT x.kind, sum(x.n) AS n
                              FROM (SELECT k.key AS kind, k.value::bigint AS n FROM jsonb_each_text(s.kinds) k
                                    UNION ALL
                                    SELECT e.kind, count(*) FROM otto.ad_event e
                                     WHERE e.event_id > wm AND e.event_id <= last_id GROUP BY e.kind) x
                             GROUP BY x.kind) y)
     WHERE s.stream = 'market';
    RETURN jsonb_build_object('events', n, 'watermark', last_id, 'ads', cardinality(touched));
END
$fn$;
COMMENT ON FUNCTION otto.stream_apply(int, bigint) IS 'Apply the next ad events (at most max_events, up to horizon; by default otto.stream_horizon()) to the market tables and move the watermark, in the caller''s transaction. The stream processor runs it in a loop; returns the events applied and the new watermark';

CREATE FUNCTION otto.removal_days_before(ad_id bigint, event_id bigint) RETURNS numeric
LANGUAGE sql STABLE
AS $fn$
    SELECT e.days_on_market FROM otto.ad_event e
     WHERE e.ad_id = removal_days_before.ad_id AND e.event_id < removal_days_before.event_id AND e.kind = 'removed'
     ORDER BY e.event_id DESC LIMIT 1
$fn$;
COMMENT ON FUNCTION otto.removal_days_before(bigint, bigint) IS 'Days on market of the ad''s last removal before an event (what a relist under a new id carries over)';

-- The same state computed from scratch, set-wise, from the log and the ads.
CREATE FUNCTION otto.market_ad_recompute(watermark bigint) RETURNS SETOF otto.market_ad
LANGUAGE sql STABLE
AS $fn$
WITH RECURSIVE f AS (SELECT * FROM otto.market_fold(0, market_ad_recompute.watermark)),
links AS (SELECT e.ad_id, (e.details->>'relist_of_ad_id')::bigint AS pred, e.event_id
            FROM otto.ad_event e
           WHERE e.event_id <= market_ad_recompute.watermark AND e.kind = 'relisted' AND e.details ? 'relist_of_ad_id'),
chain AS (SELECT f.ad_id, 0::numeric AS prior FROM f WHERE f.ad_id NOT IN (SELECT l.ad_id FROM links l)
          UNION ALL
          SELECT l.ad_id, c.prior + coalesce(otto.removal_days_before(l.pred, l.event_id), 0)
            FROM chain c JOIN links l ON l.pred = c.ad_id)
SELECT f.ad_id, f.make, f.model, f.year, f.fuel, f.body, f.price_eur, f.mileage_km, f.power_kw, f.listed_at, f.live,
       f.ad_id IN (SELECT l.pred FROM links l), f.removed_days, c.prior, f.price_cuts, f.price_cut_eur
  FROM f JOIN chain c ON c.ad_id = f.ad_id
$fn$;
COMMENT ON FUNCTION otto.market_ad_recompute(bigint) IS 'otto.market_ad computed from scratch from the ad log up to a watermark and the ads'' current fields';

CREATE FUNCTION otto.market_groups_recompute(watermark bigint, OUT make text, OUT model text, OUT year int,
                                             OUT s numeric[])
RETURNS SETOF record
LANGUAGE sql STABLE
AS $fn$
    SELECT m.make, m.model, m.year, otto.vec_sum(otto.market_terms(m))
      FROM otto.market_ad_recompute(watermark) m
     WHERE m.make IS NOT NULL AND m.model IS NOT NULL
     GROUP BY 1, 2, 3
$fn$;
COMMENT ON FUNCTION otto.market_groups_recompute(bigint) IS 'otto.market_mmy computed from scratch from the ad log up to a watermark (what a REFRESH of a materialized view would do)';

CREATE FUNCTION otto.stream_check() RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
    wm   bigint := (SELECT watermark FROM otto.stream_state WHERE stream = 'market');
    ads  bigint;
    mmy  bigint;
    mm   bigint;
BEGIN
    SELECT count(*) INTO ads FROM ((TABLE otto.market_ad EXCEPT SELECT * FROM otto.market_ad_recompute(wm))
                                   UNION ALL
                                   (SELECT * FROM otto.market_ad_recompute(wm) EXCEPT TABLE otto.market_ad)) x;
    CREATE TEMP TABLE stream_check_groups ON COMMIT DROP AS SELECT * FROM otto.market_groups_recompute(wm);
    SELECT count(*) INTO mmy FROM ((TABLE otto.market_mmy EXCEPT TABLE stream_check_groups)
                                   UNION ALL (TABLE stream_check_groups EXCEPT TABLE otto.market_mmy)) x;
    SELECT count(*) INTO mm FROM ((SELECT g.make, g.model, g.s FROM otto.market_mm g EXCEPT
                                   SELECT g.make, g.model, otto.vec_sum(g.s) FROM stream_check_groups g GROUP BY 1, 2)
                                  UNION ALL
                                  (SELECT g.make, g.model, otto.vec_sum(g.s) FROM stream_check_groups g GROUP BY 1, 2
                                   EXCEPT SELECT g.make, g.model, g.s FROM otto.market_mm g)) x;
    DROP TABLE stream_check_groups;
    RETURN jsonb_build_object('watermark', wm,
                              'caught_up', wm >= (SELECT coalesce(max(event_id), 0) FROM otto.ad_event),
                              'ads', (SELECT count(*) FROM otto.market_ad),
                              'groups', (SELECT count(*) FROM otto.market_mmy),
                              'ads_differing', ads, 'model_year_groups_differing', mmy, 'model_groups_differing', mm,
                              'equal', ads + mmy + mm = 0);
END
$fn$;
COMMENT ON FUNCTION otto.stream_check() IS 'Compare the incremental market tables with a recompute from scratch at the same watermark: rows that differ (none when equal)';

CREATE FUNCTION otto.stream_rebuild() RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
    hz bigint;
BEGIN
    PERFORM FROM otto.stream_state WHERE stream = 'market' FOR UPDATE;
    hz := otto.stream_horizon();
    DELETE FROM otto.market_ad;
    INSERT INTO otto.market_ad SELECT * FROM otto.market_ad_recompute(hz);
    DELETE FROM otto.market_mmy;
    INSERT INTO otto.market_mmy (make, model, year, s)
    SELECT m.make, m.model, m.year, otto.vec_sum(otto.market_terms(m)) FROM otto.market_ad m
     WHERE m.make IS NOT NULL AND m.model IS NOT NULL GROUP BY 1, 2, 3;
    DELETE FROM otto.market_mm;
    INSERT INTO otto.market_mm (make, model, s) SELECT g.make, g.model, otto.vec_sum(g.s) FROM otto.market_mmy g GROUP BY 1, 2;
    UPDATE otto.stream_state SET watermark = hz, events = 0, batches = 0, applied_at = clock_timestamp(),
                                 last_event_at = (SELECT at FROM otto.ad_event WHERE event_id = hz),
                                 kinds = coalesce((SELECT jsonb_object_agg(x.kind, x.n)
                                                     FROM (SELECT e.kind, count(*) AS n FROM otto.ad_event e
                                                            WHERE e.event_id <= hz GROUP BY e.kind) x), '{}')
     WHERE stream = 'market';
    RETURN jsonb_build_object('watermark', hz, 'ads', (SELECT count(*) FROM otto.market_ad),
                              'groups', (SELECT count(*) FROM otto.market_mmy));
END
$fn$;
COMMENT ON FUNCTION otto.stream_rebuild() IS 'Recompute the market tables from scratch up to the current end of the ad log and move the watermark there (after a change of the terms, or to repair)';

CREATE VIEW otto.stream_status AS
SELECT s.watermark, s.events, s.batches, s.applied_at, s.last_event_at,
       (SELECT count(*) FROM otto.ad_event e WHERE e.event_id > s.watermark) AS lag_events,
       CASE WHEN EXISTS (SELECT FROM otto.ad_event e WHERE e.event_id > s.watermark)
            THEN extract(epoch FROM clock_timestamp() - (SELECT min(e.at) FROM otto.ad_event e WHERE e.event_id > s.watermark))
            ELSE 0 END AS lag_seconds,
       (SELECT pid FROM pg_stat_activity WHERE backend_type = 'otto stream') AS worker_pid
  FROM otto.stream_state s;
COMMENT ON VIEW otto.stream_status IS 'The stream processor: watermark, events and batches applied, and how far behind the log it is (events, and seconds since the oldest unapplied event was observed)';

-------------------------------------------------------------------------------
-- The answers.  Each returns jsonb with as_of (the observation time of the
-- last event the stream applied), the sample size and the method.
-------------------------------------------------------------------------------
CREATE FUNCTION otto.market_as_of() RETURNS timestamptz
LANGUAGE sql STABLE
AS $fn$ SELECT coalesce(last_event_at, applied_at) FROM otto.stream_state WHERE stream = 'market' $fn$;
COMMENT ON FUNCTION otto.market_as_of() IS 'How fresh the market tables are: when the last event they include was observed';

-- Canonical spelling of a make (and model) as the market has it, no row when
-- unknown.  A set-returning SQL function so that callers inline it.
CREATE FUNCTION otto.market_name(make text, model text DEFAULT NULL)
RETURNS TABLE (make text, model text)
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT m.make, CASE WHEN $2 IS NOT NULL THEN m.model END
      FROM otto.market_mm m
     WHERE lower(m.make) = lower($1) AND ($2 IS NULL OR lower(m.model) = lower($2))
     ORDER BY m.s[2] DESC
     LIMIT 1
$fn$;
COMMENT ON FUNCTION otto.market_name(text, text) IS 'The make (and model) as the market spells it, matched without regard to case; no row when there are no ads of it';

-- ln(price) = a_g + b_age * age + b_km * km (1000s), one intercept per model
-- (fixed effects) and common slopes, from the models' sums alone: each model
-- contributes its centred moments (otto.market_moments), which add up.
CREATE FUNCTION otto.market_moments(s numeric[]) RETURNS numeric[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE           -- not STRICT, so that it is inlined
AS $fn$
    SELECT CASE WHEN s[6] >= 2 THEN
        ARRAY[s[6], 1,                                                            -- ads, models
              s[10] - s[7] * s[7] / s[6], s[11] - s[7] * s[8] / s[6], s[12] - s[8] * s[8] / s[6],   -- aa ak kk
              s[13] - s[7] * s[9] / s[6], s[14] - s[8] * s[9] / s[6], s[15] - s[9] * s[9] / s[6],   -- ay ky yy
              s[7], s[8], s[9]] END                                               -- sums of age, km, ln price
$fn$;
COMMENT ON FUNCTION otto.market_moments(numeric[]) IS 'A model''s centred regression moments from its sums (NULL under 2 priced ads); otto.vec_sum of several models'' is the input of otto.fit_solve';

CREATE FUNCTION otto.fit_solve(v numeric[],
    OUT n bigint, OUT models int, OUT b_age float8, OUT b_km float8, OUT se_age float8, OUT se_km float8,
    OUT sigma float8, OUT mean_age float8, OUT mean_km float8, OUT mean_ln_price float8)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE     -- plpgsql: a SQL body would be inlined once per use of v
AS $fn$
DECLARE
    aa float8 := v[3]; ak float8 := v[4]; kk float8 := v[5]; ay float8 := v[6]; ky float8 := v[7]; yy float8 := v[8];
    det float8 := aa * kk - ak * ak;
    df numeric;
BEGIN
    IF v[1] < v[2] + 3 THEN
        RETURN;
    END IF;
    n := v[1]; models := v[2];
    mean_age := v[9] / v[1]; mean_km := v[10] / v[1]; mean_ln_price := v[11] / v[1];
    IF aa > 0 AND kk > 0 AND det > 1e-6 * aa * kk THEN
        b_age := (ay * kk - ak * ky) / det;
        b_km := (aa * ky - ak * ay) / det;
        df := n - models - 2;
    ELSIF kk > 0 THEN           -- one model year: mileage only
        b_km := ky / kk;
        df := n - models - 1;
    ELSIF aa > 0 THEN
        b_age := ay / aa;
        df := n - models - 1;
    ELSE
        df := n - models;
    END IF;
    sigma := sqrt(greatest(0, yy - coalesce(b_age * ay, 0) - coalesce(b_km * ky, 0)) / greatest(df, 1));
    IF b_age IS NOT NULL AND b_km IS NOT NULL THEN
        se_age := sqrt(sigma ^ 2 * kk / det);
        se_km := sqrt(sigma ^ 2 * aa / det);
    ELSE
        se_age := CASE WHEN b_age IS NOT NULL THEN sigma / sqrt(aa) END;
        se_km := CASE WHEN b_km IS NOT NULL THEN sigma / sqrt(kk) END;
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.fit_solve(numeric[]) IS 'Slopes on age and mileage (1000 km), their standard errors, residual spread and means, from summed otto.market_moments (NULLs under models + 3 ads)';

CREATE FUNCTION otto.market_fit(make text DEFAULT NULL, model text DEFAULT NULL)
RETURNS TABLE (n bigint, models int, b_age float8, b_km float8, se_age float8, se_km float8,
               sigma float8, mean_age float8, mean_km float8, mean_ln_price float8)
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT f.*
      FROM (SELECT otto.vec_sum(otto.market_moments(m.s)) AS v
              FROM (SELECT g.s FROM otto.market_mm g WHERE g.make = $1 AND g.model = $2
                    UNION ALL             -- one branch runs: its gate is decided before the scan, even in a generic plan
                    SELECT g.s FROM otto.market_mm g WHERE $2 IS NULL AND g.make = $1
                    UNION ALL
                    SELECT g.s FROM otto.market_mm g WHERE $1 IS NULL) m) t,
           otto.fit_solve(t.v) f
$fn$;
-- A model's own slopes [b_age, b_km, sigma] when its fit stands alone (30
-- priced ads and both slopes: otto.market_slopes' first choice), kept beside
-- its sums, so that reading a model's price line costs a row, not a fit.
CREATE FUNCTION otto.model_slopes(s numeric[]) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN f.n >= 30 AND f.b_age IS NOT NULL AND f.b_km IS NOT NULL THEN ARRAY[f.b_age, f.b_km, f.sigma] END
      FROM otto.fit_solve(otto.market_moments(s)) f
$fn$;
ALTER TABLE otto.market_mm ADD COLUMN slopes float8[] GENERATED ALWAYS AS (otto.model_slopes(s)) STORED;
COMMENT ON COLUMN otto.market_mm.slopes IS 'The model''s own regression slopes on age and mileage and its residual spread, when it has at least 30 priced live ads (else NULL: otto.market_slopes falls back to the make''s or the market''s)';

COMMENT ON FUNCTION otto.market_fit(text, text) IS 'Log-price regression on age (years) and mileage (1000 km) over the live ads of a model, a make (one intercept per model) or the whole market, from the stream''s sums: slopes, their standard errors, residual spread and means (NULLs when too few ads)';

-- The slopes to move a price along: the model's own fit when it has 30
-- priced live ads and both slopes, else its make's, else the market's.
CREATE FUNCTION otto.market_slopes(make text, model text DEFAULT NULL,
    OUT fit_of text, OUT n bigint, OUT b_age float8, OUT b_km float8, OUT sigma float8)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan    -- market_fit gates its branches; planning it each call cost more than running it
AS $fn$
DECLARE
    f  record;
    mk text;
    md text;
BEGIN
    FOREACH fit_of IN ARRAY ARRAY['model', 'make', 'market'] LOOP
        CONTINUE WHEN fit_of = 'model' AND model IS NULL;
        -- plain variables as arguments, so that market_fit is inlined and its plan kept
        mk := CASE WHEN fit_of <> 'market' THEN make END;
        md := CASE WHEN fit_of = 'model' THEN model END;
        SELECT * INTO f FROM otto.market_fit(mk, md);
        IF f.n >= 30 AND f.b_age IS NOT NULL AND f.b_km IS NOT NULL THEN
            n := f.n; b_age := f.b_age; b_km := f.b_km; sigma := f.sigma;
            RETURN;
        END IF;
    END LOOP;
    fit_of := NULL;
END
$fn$;
COMMENT ON FUNCTION otto.market_slopes(text, text) IS 'Regression slopes for moving prices to another age and mileage: the model''s fit when it has at least 30 priced live ads, else the make''s, else the market''s (fit_of says which; NULLs when none has enough)';

-- The line a model's prices follow: its mean log price, age and mileage and
-- the slopes of otto.market_slopes; a price's gap to it is a cheap first
-- screen for deals (otto.good_deals, otto.search_ads).
CREATE VIEW otto.market_lines AS
SELECT m.make, m.model, (m.s[9] / m.s[6])::float8 AS mean_ln_price, (m.s[7] / m.s[6])::float8 AS mean_age,
       (m.s[8] / m.s[6])::float8 AS mean_km, f.k[1] AS b_age, f.k[2] AS b_km, f.k[3] AS sigma
  FROM otto.market_mm m,
       -- the model's kept slopes, else the make's or the market's (fitted only then)
       LATERAL (SELECT coalesce(m.slopes, (SELECT ARRAY[x.b_age, x.b_km, x.sigma] FROM otto.market_slopes(m.make, m.model) x
                                            WHERE x.fit_of IS NOT NULL)) AS k
                OFFSET 0) f                 -- not pulled up: the fallback would run once per use of k
 WHERE m.s[6] >= 3 AND f.k IS NOT NULL;
COMMENT ON VIEW otto.market_lines IS 'Each model''s price line: mean log price, mean age and mileage of its priced live ads, the slopes to move along (otto.market_slopes) and the spread around them (models with too few ads have none)';

CREATE FUNCTION otto.market_line(make text, model text,
    OUT mean_ln_price float8, OUT mean_age float8, OUT mean_km float8, OUT b_age float8, OUT b_km float8,
    OUT sigma float8)
RETURNS SETOF record
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT l.mean_ln_price, l.mean_age, l.mean_km, l.b_age, l.b_km, l.sigma FROM otto.market_lines l
     WHERE l.make = $1 AND l.model = $2
$fn$;
COMMENT ON FUNCTION otto.market_line(text, text) IS 'A model''s price line: mean log price, mean age and mileage of its priced live ads, the slopes to move along and the spread around them (none when too few ads)';

-- A deal by its gap under the line: at least 10% under; deeper than 70% is a
-- placeholder price.  plpgsql, not inlined: the planner then takes a deal for
-- a third of the ads (about right) rather than for a rare range of an
-- expression it has no statistics of, and reads the sort order's index.
CREATE FUNCTION otto.line_deal(gap float8) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$ BEGIN RETURN gap BETWEEN 0.1 AND 0.7; END $fn$;

-- Gap of a price under its model's line (otto.market_line), as a fraction (0.2 = 20% under).
CREATE FUNCTION otto.line_gap(price_eur int, year int, mileage_km int, at timestamptz, mean_ln_price float8,
                              mean_age float8, mean_km float8, b_age float8, b_km float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT 1 - $1 / exp($5 + $8 * (date_part('year', $4 AT TIME ZONE 'UTC') - $2 - $6) + coalesce($9 * ($3 / 1000.0::float8 - $7), 0))   -- float8 throughout: it runs for every fresh ad
$fn$;

-- An ad's gap under its model's line (NULL when the model has none).
CREATE FUNCTION otto.ad_line_gap(make text, model text, price_eur int, year int, mileage_km int) RETURNS float8
LANGUAGE sql STABLE
COST 1000                       -- the model's fit each call: the planner should call it on few rows
AS $fn$
    SELECT otto.line_gap($3, $4, $5, now(), l.mean_ln_price, l.mean_age, l.mean_km, l.b_age, l.b_km)
      FROM otto.market_line($1, $2) l
     WHERE $3 > 0 AND $4 IS NOT NULL
$fn$;

-- The comparables of fair_value at widening level lvl: 1 same model, model
-- years within 1, same fuel and power within 20%; 2 the same without fuel and
-- power; 3 years within 3; 4 all years; 5 the make's models, years within 2,
-- same fuel; 6 the make, all years.  Inlined into its callers; either branch
-- reads market_ad_live_idx alone.
CREATE FUNCTION otto.fair_value_comparables(make text, model text, year int, fuel text, power_kw int, lvl int)
RETURNS TABLE (ad_id bigint, year int, mileage_km int, price_eur int)
LANGUAGE sql STABLE
AS $fn$
    SELECT m.ad_id, m.year, m.mileage_km, m.price_eur
      FROM (SELECT * FROM otto.market_ad g WHERE lvl < 5 AND g.live AND g.make = $1 AND g.model = $2 AND g.price_eur > 0
            UNION ALL             -- one branch runs (its gate is decided before the scan, even in a generic plan)
            SELECT * FROM otto.market_ad g WHERE lvl >= 5 AND g.live AND g.make = $1 AND g.price_eur > 0) m
     WHERE m.year BETWEEN $3 - CASE lvl WHEN 3 THEN 3 WHEN 5 THEN 2 WHEN 4 THEN 100 WHEN 6 THEN 100 ELSE 1 END
                      AND $3 + CASE lvl WHEN 3 THEN 3 WHEN 5 THEN 2 WHEN 4 THEN 100 WHEN 6 THEN 100 ELSE 1 END
       AND (lvl NOT IN (1, 5) OR $4 IS NULL OR m.fuel = $4)
       AND (lvl > 1 OR $5 IS NULL OR m.power_kw BETWEEN $5 * 0.8 AND $5 * 1.2)
$fn$;

-- The comparables of one level, each moved to the asked model year and
-- mileage along the slopes: how many, and their 10th, 50th, 90th percentiles.
CREATE FUNCTION otto.fair_value_level(make text, model text, year int, mileage_km int, fuel text, power_kw int, lvl int,
                                      b_age float8, b_km float8)
RETURNS TABLE (n bigint, p float8[], year_min int, year_max int)
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT count(*),
           percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (
               ORDER BY exp(ln(a.price_eur) + coalesce($8, 0) * (a.year - $3)
                            + coalesce($9 * ($4 / 1000.0 - a.mileage_km / 1000.0::float8), 0))),
           min(a.year), max(a.year)
      FROM otto.fair_value_comparables($1, $2, $3, $5, $6, $7) a
$fn$;

-- Estimate, 80% range and confidence from a level's percentiles: the
-- percentiles themselves from 10 comparables up, below that the regression's
-- spread (sigma) around the median.
CREATE FUNCTION otto.fair_value_range(lvl int, n bigint, p float8[], sigma float8)
RETURNS TABLE (estimate float8, lo float8, hi float8, confidence text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 1     -- a table, so that it is inlined
AS $fn$
    SELECT p[2],
           CASE WHEN n >= 10 THEN least(p[1], p[2]) ELSE p[2] * exp(-1.2816 * coalesce(sigma, 0.35)) END,
           CASE WHEN n >= 10 THEN greatest(p[3], p[2]) ELSE p[2] * exp(1.2816 * coalesce(sigma, 0.35)) END,
           CASE WHEN lvl <= 2 AND n >= 20 THEN 'high' WHEN lvl <= 3 AND n >= 8 THEN 'medium' ELSE 'low' END
$fn$;

-- The numbers of a fair value, without the examples and the prose: what
-- otto.fair_value reports, and what otto.good_deals ranks by.
CREATE FUNCTION otto.fair_value_estimate(make text, model text, year int, mileage_km int DEFAULT NULL,
    fuel text DEFAULT NULL, power_kw int DEFAULT NULL,
    OUT market_make text, OUT market_model text, OUT lvl int, OUT n bigint, OUT estimate float8, OUT lo float8,
    OUT hi float8, OUT year_min int, OUT year_max int, OUT confidence text, OUT fit_of text, OUT fit_n bigint,
    OUT b_age float8, OUT b_km float8)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan    -- its queries gate their branches; replanning each call cost more than the scans
AS $fn$
#variable_conflict use_variable
DECLARE
    want    record;
    f       record;
    c       record;
BEGIN
    IF make IS NULL OR model IS NULL OR year IS NULL THEN
        RAISE EXCEPTION 'fair_value needs a make, a model and a year' USING ERRCODE = 'null_value_not_allowed',
              HINT = 'For example: SELECT otto.fair_value(''Volkswagen'', ''Golf'', 2015, 180000);';
    END IF;
    IF year NOT BETWEEN 1900 AND 2100 OR mileage_km < 0 OR mileage_km > 3000000 OR power_kw <= 0 THEN
        RAISE EXCEPTION 'fair_value: year %, mileage % km, power % kW is not a car', year, mileage_km, power_kw
              USING ERRCODE = 'invalid_parameter_value', HINT = 'Years run 1900-2100, mileage 0-3,000,000 km, power above 0 kW.';
    END IF;
    SELECT * INTO want FROM otto.market_name(make, model);
    IF want.model IS NULL THEN
        -- a model the market has not seen: its make's ads stand in
        SELECT * INTO want FROM otto.market_name(make);
    END IF;
    market_make := want.make; market_model := want.model; n := 0;
    IF want.make IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO f FROM otto.market_slopes(want.make, want.model);
    fit_of := f.fit_of; fit_n := f.n; b_age := f.b_age; b_km := f.b_km;

    -- comparables: live ads of the model, widened step by step until there are enough
    lvl := CASE WHEN want.model IS NULL THEN 4 ELSE 0 END;
    WHILE lvl < 6 LOOP
        lvl := lvl + 1;
        CONTINUE WHEN lvl = 2 AND fuel IS NULL AND power_kw IS NULL;
        SELECT * INTO c FROM otto.fair_value_level(want.make, want.model, year, mileage_km, fuel, power_kw, lvl, f.b_age, f.b_km);
        EXIT WHEN c.n >= CASE WHEN lvl IN (4, 6) THEN 1 ELSE 5 END;
    END LOOP;
    n := c.n; year_min := c.year_min; year_max := c.year_max;
    IF n > 0 THEN
        SELECT r.estimate, r.lo, r.hi, r.confidence INTO estimate, lo, hi, confidence
          FROM otto.fair_value_range(lvl, n, c.p, f.sigma) r;
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.fair_value_estimate(text, text, int, int, text, int) IS 'The figures of otto.fair_value: the make and model as the market spells them (model NULL when unknown), the comparables'' level (as in otto.fair_value_comparables) and count, estimate and 80% range in euros, their model years, confidence and the regression used';

-- What comparables a level stands for, in words (en, sr-Latn, sr-Cyrl).
CREATE FUNCTION otto.fair_value_which(lvl int, fuel text, power_kw int, lang text DEFAULT 'en') RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE lvl WHEN 1 THEN otto.ask_text(lang, 'same model, model years within 1', 'isti model, godišta ±1')
                                || CASE WHEN fuel IS NOT NULL THEN otto.ask_text(lang, ', same fuel', ', isto gorivo') ELSE '' END
                                || CASE WHEN power_kw IS NOT NULL THEN otto.ask_text(lang, ', power within 20%', ', snaga ±20%') ELSE '' END
                    WHEN 2 THEN otto.ask_text(lang, 'same model, model years within 1 (fuel and power not matched: too few ads)',
                                              'isti model, godišta ±1 (gorivo i snaga nisu upoređeni: premalo oglasa)')
                    WHEN 3 THEN otto.ask_text(lang, 'same model, model years within 3', 'isti model, godišta ±3')
                    WHEN 4 THEN otto.ask_text(lang, 'same model, all model years', 'isti model, sva godišta')
                    WHEN 5 THEN otto.ask_text(lang, 'other models of the make, model years within 2', 'drugi modeli iste marke, godišta ±2')
                                || CASE WHEN fuel IS NOT NULL THEN otto.ask_text(lang, ', same fuel', ', isto gorivo') ELSE '' END
                    ELSE otto.ask_text(lang, 'other models of the make, all model years', 'drugi modeli iste marke, sva godišta') END
$fn$;

CREATE FUNCTION otto.fair_value(make text, model text, year int, mileage_km int DEFAULT NULL, fuel text DEFAULT NULL,
                                power_kw int DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_variable
DECLARE
    e       record;
    lvl_txt text;
    ex      jsonb;
BEGIN
    e := otto.fair_value_estimate(make, model, year, mileage_km, fuel, power_kw);
    IF e.market_make IS NULL THEN
        RETURN jsonb_build_object('make', make, 'model', model, 'year', year, 'estimate_eur', NULL,
            'reason', 'no ads of this make', 'n', 0, 'as_of', otto.market_as_of());
    ELSIF e.n = 0 THEN
        RETURN jsonb_build_object('make', e.market_make, 'model', model, 'year', year, 'estimate_eur', NULL,
            'reason', 'no live ads of this make with a price', 'n', 0, 'as_of', otto.market_as_of());
    END IF;
    lvl_txt := otto.fair_value_which(e.lvl, fuel, power_kw);
    IF e.market_model IS NULL THEN
        lvl_txt := 'no ads of model ' || model || ': ' || lvl_txt;
    END IF;
    SELECT jsonb_agg(jsonb_build_object('ad_id', x.ad_id, 'url', a.url, 'title', a.title, 'year', x.year,
                                        'mileage_km', x.mileage_km, 'price_eur', x.price_eur) ORDER BY x.rank)
      INTO ex
      FROM (SELECT t.*, row_number() OVER (ORDER BY abs(t.year - year), abs(coalesce(t.mileage_km - mileage_km, 0)), t.ad_id) AS rank
              FROM (SELECT m.* FROM otto.fair_value_comparables(e.market_make, e.market_model, year, fuel, power_kw, e.lvl) m
                     ORDER BY abs(m.year - year), abs(coalesce(m.mileage_km - mileage_km, 0)), m.ad_id LIMIT 3) t) x
      JOIN otto.ad a ON a.ad_id = x.ad_id;
    RETURN jsonb_build_object(
        'make', e.market_make, 'model', coalesce(e.market_model, model), 'year', year, 'mileage_km', mileage_km, 'fuel', fuel,
        'power_kw', power_kw, 'currency', 'EUR',
        'estimate_eur', round(e.estimate)::int,
        'range_80_eur', jsonb_build_array(round(e.lo)::int, round(e.hi)::int),
        'confidence', e.confidence,
        'comparables', jsonb_build_object('count', e.n, 'which', lvl_txt, 'model_years', jsonb_build_array(e.year_min, e.year_max),
                                          'examples', ex),
        'fallback', CASE WHEN e.lvl > 1 OR e.market_model IS NULL THEN lvl_txt END,
        'adjustment', jsonb_build_object('fit_of', e.fit_of, 'fit_n', e.fit_n,
                                         'per_model_year_pct', round((100 * (exp(coalesce(e.b_age, 0)) - 1))::numeric, 2),
                                         'per_10000_km_pct', round((100 * (exp(10 * coalesce(e.b_km, 0)) - 1))::numeric, 2)),
        'method', 'median of the asking prices of comparable live ads, each moved to this model year and mileage by the '
                  || coalesce(e.fit_of || '''s log-price regression', 'regression (none yet: too few priced ads, so not moved)')
                  || '; 80% range: their 10th-90th percentiles (under 10 comparables: the regression''s spread)',
        'n', e.n, 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.fair_value(text, text, int, int, text, int) IS 'Fair value in euros of a car (make, model, year, optionally mileage, fuel, power): estimate, 80% range, comparables used with examples, confidence, and the fallback taken when the exact group is thin';

CREATE FUNCTION otto.depreciation(make text DEFAULT NULL, model text DEFAULT NULL, min_ads int DEFAULT 20,
                                  by_model boolean DEFAULT false, lim int DEFAULT 20) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    want  record;
    f     record;
    curve jsonb;
    cuts  jsonb;
    rank  jsonb;
BEGIN
    IF make IS NULL THEN
        RETURN otto.depreciation_ranking(by_model, min_ads, lim);
    END IF;
    SELECT * INTO want FROM otto.market_name(make, model);
    IF want.make IS NULL OR (model IS NOT NULL AND want.model IS NULL) THEN
        RETURN jsonb_build_object('make', make, 'model', model, 'reason', 'no ads of this ' ||
                                  CASE WHEN want.make IS NULL THEN 'make' ELSE 'model' END, 'n', 0, 'as_of', otto.market_as_of());
    END IF;
    SELECT * INTO f FROM otto.market_fit(want.make, want.model);
    -- observed asking prices by age beside the fitted curve
    SELECT jsonb_agg(jsonb_build_object('model_year', g.year, 'live', g.live, 'price_mean_eur', g.price_mean,
                                        'retained_pct', round((100 * exp(coalesce(f.b_age, 0) * g.age))::numeric, 1))
                     ORDER BY g.year DESC)
      INTO curve
      FROM (SELECT y.year, sum(y.s[2]) AS live, round(sum(y.s[4]) / nullif(sum(y.s[3]), 0)) AS price_mean,
                   extract(year FROM otto.market_as_of())::int - y.year AS age
              FROM otto.market_mmy y
             WHERE y.make = want.make AND (want.model IS NULL OR y.model = want.model) AND y.year IS NOT NULL
             GROUP BY y.year HAVING sum(y.s[2]) > 0) g;
    SELECT jsonb_build_object('live_ads', sum(m.s[2]), 'live_ads_cut', sum(m.s[24]),
                              'share_cut_pct', round(100 * sum(m.s[24]) / nullif(sum(m.s[2]), 0), 1),
                              'mean_cut_eur', round(sum(m.s[25]) / nullif(sum(m.s[24]), 0)),
                              'cuts_seen', sum(m.s[22]), 'cut_eur_seen', sum(m.s[23]))
      INTO cuts
      FROM otto.market_mm m WHERE m.make = want.make AND (want.model IS NULL OR m.model = want.model);
    -- the make's models, most depreciating first
    SELECT jsonb_agg(r ORDER BY (r->>'annual_rate_pct')::numeric DESC)
      INTO rank
      FROM (SELECT jsonb_build_object('model', m.model, 'annual_rate_pct', round((100 * (1 - exp(x.b_age)))::numeric, 1),
                                      'n', x.n) AS r
              FROM otto.market_mm m, otto.fit_solve(otto.market_moments(m.s)) x
             WHERE m.make = want.make AND m.s[6] >= min_ads AND x.b_age IS NOT NULL) q;
    RETURN jsonb_build_object(
        'make', want.make, 'model', want.model,
        'annual_rate_pct', round((100 * (1 - exp(f.b_age)))::numeric, 1),
        'annual_rate_95_pct', CASE WHEN f.se_age IS NOT NULL THEN jsonb_build_array(
                                  round((100 * (1 - exp(f.b_age + 1.96 * f.se_age)))::numeric, 1),
                                  round((100 * (1 - exp(f.b_age - 1.96 * f.se_age)))::numeric, 1)) END,
        'per_10000_km_pct', round((100 * (1 - exp(10 * f.b_km)))::numeric, 2),
        'value_curve', curve, 'price_cuts_live', cuts, 'models_ranked', coalesce(rank, '[]'),
        'method', 'log-price regression of live asking prices on age and mileage' ||
                  CASE WHEN want.model IS NULL THEN ' with one intercept per model' ELSE '' END ||
                  '; rate = 1 - exp(age slope) per year at equal mileage; 95% interval from its standard error',
        'n', coalesce(f.n, 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.depreciation(text, text, int, boolean, int) IS 'How fast a make or model loses value: annual rate with its 95% interval, the effect of mileage, the value curve by model year, price cuts on live ads, and the make''s models ranked (those with at least min_ads priced live ads); without a make, otto.depreciation_ranking(by_model, min_ads, lim)';

CREATE FUNCTION otto.depreciation_ranking(by_model boolean DEFAULT false, min_ads int DEFAULT 30, lim int DEFAULT 20)
RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT jsonb_build_object(
        'ranking', coalesce(jsonb_agg(r.j ORDER BY r.rate DESC) FILTER (WHERE r.j IS NOT NULL), '[]'),
        'method', 'annual depreciation = 1 - exp(age slope) of the log-price regression on age and mileage'
                  || CASE WHEN by_model THEN '' ELSE ' (one intercept per model)' END || '; groups with at least '
                  || min_ads || ' priced live ads',
        'n', coalesce(sum(r.n), 0), 'as_of', otto.market_as_of())
      FROM (SELECT g.make, g.model, 1 - exp(x.b_age) AS rate, x.n,
                   jsonb_strip_nulls(jsonb_build_object('make', g.make, 'model', g.model,
                       'annual_rate_pct', round((100 * (1 - exp(x.b_age)))::numeric, 1),
                       'annual_rate_95_pct', jsonb_build_array(round((100 * (1 - exp(x.b_age + 1.96 * x.se_age)))::numeric, 1),
                                                               round((100 * (1 - exp(x.b_age - 1.96 * x.se_age)))::numeric, 1)),
                       'n', x.n)) AS j
              FROM (SELECT m.make, CASE WHEN by_model THEN m.model END AS model,    -- every group's fit in one pass
                           otto.vec_sum(otto.market_moments(m.s)) AS v
                      FROM otto.market_mm m GROUP BY 1, 2 HAVING sum(m.s[6]) >= min_ads) g,
                   otto.fit_solve(g.v) x
             WHERE x.b_age IS NOT NULL
             ORDER BY 3 DESC LIMIT lim) r
$fn$;
COMMENT ON FUNCTION otto.depreciation_ranking(boolean, int, int) IS 'Makes (or models) ranked by annual depreciation, fastest first';

CREATE FUNCTION otto.fastest_selling(level text DEFAULT 'model', price_min int DEFAULT NULL, price_max int DEFAULT NULL,
                                     body text DEFAULT NULL, fuel text DEFAULT NULL, min_sold int DEFAULT 10,
                                     lim int DEFAULT 20)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan   -- the filters decide the plan
AS $fn$
#variable_conflict use_variable
DECLARE
    res jsonb;
    total bigint;
BEGIN
    IF level NOT IN ('make', 'model', 'model_year') THEN
        RAISE EXCEPTION 'level must be make, model or model_year, not "%"', level USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF min_sold < 1 OR lim < 1 THEN
        RAISE EXCEPTION 'min_sold and lim must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'make', g.make, 'model', g.model, 'model_year', g.year, 'sold', g.sold,
               'median_days', round(g.median::numeric, 1), 'sold_within_7d_pct', round(100.0 * g.d7 / g.sold, 1),
               'sold_within_30d_pct', round(100.0 * g.d30 / g.sold, 1), 'live', lv.live))
               ORDER BY g.median, g.d7::float8 / g.sold DESC, g.sold DESC),
           sum(g.sold)
      INTO res, total
      FROM (SELECT m.make, CASE WHEN level <> 'make' THEN m.model END AS model,
                   CASE WHEN level = 'model_year' THEN m.year END AS year,
                   count(*) AS sold,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY m.prior_days + m.removed_days) AS median,
                   count(*) FILTER (WHERE m.prior_days + m.removed_days <= 7) AS d7,
                   count(*) FILTER (WHERE m.prior_days + m.removed_days <= 30) AS d30
              FROM otto.market_ad m                   -- the sold ads only (market_ad_sold_idx)
             WHERE NOT m.live AND NOT m.continued AND m.make IS NOT NULL AND m.model IS NOT NULL
               AND (price_min IS NULL OR m.price_eur >= price_min) AND (price_max IS NULL OR m.price_eur <= price_max)
               AND (body IS NULL OR m.body = body) AND (fuel IS NULL OR m.fuel = fuel)
             GROUP BY 1, 2, 3
            HAVING count(*) >= min_sold
             ORDER BY median, count(*) FILTER (WHERE m.prior_days + m.removed_days <= 7)::float8 / count(*) DESC, count(*) DESC
             LIMIT lim) g
      CROSS JOIN LATERAL (                            -- live ads of each ranked group, by market_ad_live_idx
            SELECT count(*) AS live FROM otto.market_ad l
             WHERE l.live AND l.make = g.make AND (g.model IS NULL OR l.model = g.model) AND (g.year IS NULL OR l.year = g.year)
               AND (price_min IS NULL OR l.price_eur >= price_min) AND (price_max IS NULL OR l.price_eur <= price_max)
               AND (body IS NULL OR l.body = body) AND (fuel IS NULL OR l.fuel = fuel)) lv;
    RETURN jsonb_build_object('level', level,
        'filters', jsonb_strip_nulls(jsonb_build_object('price_min', price_min, 'price_max', price_max, 'body', body, 'fuel', fuel)),
        'ranking', coalesce(res, '[]'), 'min_sold', min_sold,
        'method', 'sales are removals not followed by a relist; days on market from first seen to found gone (a relisted car''s earlier listings included); ranked by median days, then share sold within 7 days; price is the last asking price',
        'n', coalesce(total, 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.fastest_selling(text, int, int, text, text, int, int) IS 'Makes, models or model years ranked by median days on market and share sold within 7 and 30 days, with a minimum number of sales; filter by price band, body and fuel';

CREATE FUNCTION otto.deal_class(gap_pct numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT CASE WHEN gap_pct >= 20 THEN 'great' WHEN gap_pct >= 10 THEN 'good' WHEN gap_pct > -10 THEN 'fair' ELSE 'high' END $fn$;
COMMENT ON FUNCTION otto.deal_class(numeric) IS 'Deal class of a price gap_pct percent under fair value: great (20% or more under), good (10-20% under), fair (within 10%), high (more than 10% over)';

CREATE FUNCTION otto.good_deals(since interval DEFAULT '1 day', lim int DEFAULT 20, make text DEFAULT NULL,
                                model text DEFAULT NULL, max_price int DEFAULT NULL, fuel text DEFAULT NULL,
                                body text DEFAULT NULL, min_gap_pct numeric DEFAULT 10, include_damaged boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan  -- planning its query each call cost as much as running it; the fresh ads lead either way
AS $fn$
#variable_conflict use_variable
DECLARE
    res   jsonb;
    fresh bigint;
    t0    timestamptz := now() - since;
    l     text := otto.lang();     -- the language of "why": otto.lang or the signed-in user's
BEGIN
    IF lim < 1 OR since < interval '0' THEN
        RAISE EXCEPTION 'lim must be at least 1 and since not negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH cuts AS (              -- price cuts since t0, from the log's time index
        SELECT e.ad_id, max(e.at) AS cut_at FROM otto.ad_event e
         WHERE e.at >= t0 AND e.kind = 'price_changed' AND e.new_price_eur < e.old_price_eur GROUP BY 1),
    cand AS (                   -- fresh: listed, relisted or cut in price since t0
        SELECT m.*
          FROM (SELECT x.*, c.cut_at FROM otto.market_ad x LEFT JOIN cuts c ON c.ad_id = x.ad_id
                 WHERE x.live AND x.listed_at >= t0                        -- market_ad_listed_idx
                UNION ALL
                SELECT x.*, c.cut_at FROM cuts c JOIN otto.market_ad x ON x.ad_id = c.ad_id
                 WHERE x.live AND x.listed_at < t0) m
         WHERE m.price_eur > 0 AND m.year IS NOT NULL
           AND (make IS NULL OR lower(m.make) = lower(make)) AND (model IS NULL OR lower(m.model) = lower(model))
           AND (max_price IS NULL OR m.price_eur <= max_price) AND (fuel IS NULL OR m.fuel = fuel)
           AND (body IS NULL OR m.body = body)),
    -- first pass: the gap under the model's price line (otto.market_line), cheap for every fresh ad
    lines AS MATERIALIZED (     -- once per model, not per ad
        SELECT g.make, g.model, x.* FROM (SELECT DISTINCT c.make, c.model FROM cand c) g, otto.market_line(g.make, g.model) x),
    screened AS (
        SELECT c.ad_id, c.make, c.model, c.year, c.mileage_km, c.fuel, c.power_kw, c.price_eur, c.listed_at, c.cut_at,
               l.b_age, l.b_km, l.sigma,
               otto.line_gap(c.price_eur, c.year, c.mileage_km, c.listed_at, l.mean_ln_price, l.mean_age, l.mean_km,
                             l.b_age, l.b_km) AS gap0
          FROM cand c JOIN lines l ON l.make = c.make AND l.model = c.model),
    -- second pass: the fair value of the most promising, as otto.fair_value_estimate
    -- has it; the first level's comparables for all of them in one pass (the
    -- model's slopes are the line's), the full widening for the few with fewer
    near AS (
        SELECT s.*, c.n AS n1, c.p
          FROM (SELECT * FROM screened s WHERE s.gap0 * 100 >= min_gap_pct - 10 ORDER BY s.gap0 DESC LIMIT lim * 3) s,
               otto.fair_value_level(s.make, s.model, s.year, s.mileage_km, s.fuel, s.power_kw, 1, s.b_age, s.b_km) c),
    valued AS (
        SELECT v.ad_id, v.make, v.model, v.year, v.mileage_km, v.fuel, v.power_kw, v.price_eur, v.listed_at, v.cut_at,
               1 AS lvl, v.n1 AS n, r.estimate, r.lo, r.hi, r.confidence
          FROM near v, otto.fair_value_range(1, v.n1, v.p, v.sigma) r WHERE v.n1 >= 5
        UNION ALL
        SELECT v.ad_id, v.make, v.model, v.year, v.mileage_km, v.fuel, v.power_kw, v.price_eur, v.listed_at, v.cut_at,
               e.lvl, e.n, e.estimate, e.lo, e.hi, e.confidence
          FROM near v, otto.fair_value_estimate(v.make, v.model, v.year, v.mileage_km, v.fuel, v.power_kw) e WHERE v.n1 < 5),
    deals AS (
        SELECT v.*, a.url, a.title, a.damage, round(v.estimate)::int AS fair, round(v.lo)::int AS fair_lo,
               round(v.hi)::int AS fair_hi, round(100 * (1 - v.price_eur / round(v.estimate)::numeric), 1) AS gap_pct
          FROM valued v JOIN otto.ad a ON a.ad_id = v.ad_id
         WHERE round(v.estimate) > 0 AND (include_damaged OR a.damage IS NULL OR a.damage = 'none')
           AND v.price_eur >= 0.3 * round(v.estimate)::int)     -- 1 EUR and the like are placeholders, not prices
    SELECT jsonb_agg(jsonb_build_object(
               'ad_id', d.ad_id, 'url', d.url, 'title', d.title, 'make', d.make, 'model', d.model, 'year', d.year,
               'mileage_km', d.mileage_km, 'price_eur', d.price_eur, 'fair_value_eur', d.fair,
               'range_80_eur', jsonb_build_array(d.fair_lo, d.fair_hi), 'gap_eur', d.fair - d.price_eur, 'gap_pct', d.gap_pct,
               'deal', otto.deal_class(d.gap_pct), 'confidence', d.confidence, 'listed_at', d.listed_at,
               'why', format(otto.ask_text(l, '%s%% (€%s) under the fair value of €%s (80%% range €%s-%s) from %s comparable ads (%s)%s%s',
                                           '%s%% (%s €) ispod procenjene vrednosti od %s € (80%% raspon %s-%s €) po %s sličnih oglasa (%s)%s%s'),
                             d.gap_pct, d.fair - d.price_eur, d.fair, d.fair_lo, d.fair_hi,
                             d.n, otto.fair_value_which(d.lvl, d.fuel, d.power_kw, l),
                             CASE WHEN d.price_eur < d.fair_lo THEN otto.ask_text(l, '; below the range', '; ispod raspona') ELSE '' END,
                             CASE WHEN d.cut_at IS NOT NULL THEN otto.ask_text(l, '; price cut ', '; cena snižena ') || to_char(d.cut_at, 'YYYY-MM-DD') ELSE '' END))
               ORDER BY d.gap_pct DESC),
           (SELECT count(*) FROM cand)
      INTO res, fresh
      FROM (SELECT * FROM deals WHERE gap_pct >= min_gap_pct ORDER BY gap_pct DESC LIMIT lim) d;
    RETURN jsonb_build_object(
        'since', t0, 'deals', coalesce(res, '[]'), 'fresh_ads', fresh,
        'classes', jsonb_build_object('great', 'at least 20% under fair value', 'good', '10-20% under',
                                      'fair', 'within 10%', 'high', 'more than 10% over'),
        'method', 'fresh ads (listed, relisted or cut in price since then) screened against their model''s log-price regression, then the most promising priced by otto.fair_value; damaged cars left out unless include_damaged, and prices under 30% of the fair value (placeholders such as 1 EUR)',
        'n', coalesce(fresh, 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.good_deals(interval, int, text, text, int, text, text, numeric, boolean) IS 'Fresh ads priced well under their fair value, best first: the gap in euros and percent, the fair value and its range, why it is a deal, and its class (great, good, fair, high)';

-- Where the median of a histogram falls: its bin (0-based) and how many values
-- of that bin come before it (percentile_disc: the ceil(n/2)-th value).
CREATE FUNCTION otto.hist_median(bins numeric[], n numeric, OUT b int, OUT skip bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT (h.i - 1)::int, (ceil($2 / 2) - h.before - 1)::bigint
      FROM (SELECT i, sum(x) OVER (ORDER BY i) - x AS before, sum(x) OVER (ORDER BY i) AS upto
              FROM unnest($1) WITH ORDINALITY u(x, i)) h
     WHERE $2 > 0 AND h.upto >= ceil($2 / 2)
     ORDER BY h.i LIMIT 1
$fn$;

CREATE FUNCTION otto.market_overview(make text DEFAULT NULL, model text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    want record;
    mk   text;
    md   text;
    s    numeric[];
    med  record;
BEGIN
    SELECT * INTO want FROM otto.market_name(coalesce(make, ''), model);
    IF make IS NOT NULL AND (want.make IS NULL OR (model IS NOT NULL AND want.model IS NULL)) THEN
        RETURN jsonb_build_object('make', make, 'model', model, 'reason', 'no ads of this ' ||
                                  CASE WHEN want.make IS NULL THEN 'make' ELSE 'model' END, 'n', 0, 'as_of', otto.market_as_of());
    END IF;
    mk := want.make; md := want.model;
    -- counts and histograms from the stream's sums; no ad is read
    SELECT otto.vec_sum(g.s) INTO s FROM otto.market_mm g WHERE (mk IS NULL OR g.make = mk) AND (md IS NULL OR g.model = md);
    -- exact medians: a make's or model's live ads from market_ad_live_idx; the whole
    -- market's from the price and mileage indexes, within the bin the median falls in
    IF mk IS NOT NULL THEN
        SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY l.price_eur) FILTER (WHERE l.price_eur > 0) AS price,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY l.mileage_km) AS km
          INTO med FROM otto.market_ad l WHERE l.live AND l.make = mk AND (md IS NULL OR l.model = md);
    ELSE
        SELECT (SELECT l.price_eur FROM otto.market_ad l
                 WHERE l.live AND l.price_eur > 0 AND l.price_eur >= p.b * 2500 AND (p.b = 20 OR l.price_eur < p.b * 2500 + 2500)
                 ORDER BY l.price_eur OFFSET p.skip LIMIT 1) AS price,
               (SELECT l.mileage_km FROM otto.market_ad l
                 WHERE l.live AND l.mileage_km >= k.b * 25000 AND (k.b = 16 OR l.mileage_km < k.b * 25000 + 25000)
                 ORDER BY l.mileage_km OFFSET k.skip LIMIT 1) AS km
          INTO med
          FROM otto.hist_median(s[29:49], s[3]) p, otto.hist_median(s[50:66], s[27]) k;
    END IF;
    RETURN jsonb_build_object(
        'make', mk, 'model', md,
        'live', coalesce(s[2], 0),
        'price_median_eur', med.price,
        'mileage_median_km', med.km,
        'events_24h', (SELECT jsonb_object_agg(k, n) FROM (SELECT e.kind AS k, count(*) AS n FROM otto.ad_event e
                        JOIN otto.market_ad m ON m.ad_id = e.ad_id
                       WHERE e.at >= now() - interval '1 day' AND e.event_id <= (SELECT watermark FROM otto.stream_state)
                         AND (mk IS NULL OR m.make = mk) AND (md IS NULL OR m.model = md) GROUP BY 1) x),
        'popular', (SELECT jsonb_agg(jsonb_build_object(CASE WHEN mk IS NULL THEN 'make' ELSE 'model' END, p.name,
                                                        'live', p.live, 'sold', p.sold) ORDER BY p.live DESC, p.name)
                      FROM (SELECT CASE WHEN mk IS NULL THEN g.make ELSE g.model END AS name,
                                   sum(g.s[2]) AS live, sum(g.s[16]) AS sold
                              FROM otto.market_mm g WHERE mk IS NULL OR g.make = mk
                             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15) p),
        'histograms', jsonb_build_object(
            'price_eur', (SELECT jsonb_agg(jsonb_build_object('from', (i - 1) * 2500, 'to', CASE WHEN i < 21 THEN i * 2500 END, 'ads', n) ORDER BY i)
                            FROM unnest(s[29:49]) WITH ORDINALITY h(n, i) WHERE n > 0),
            'mileage_km', (SELECT jsonb_agg(jsonb_build_object('from', (i - 1) * 25000, 'to', CASE WHEN i < 17 THEN i * 25000 END, 'ads', n) ORDER BY i)
                             FROM unnest(s[50:66]) WITH ORDINALITY h(n, i) WHERE n > 0),
            'model_year', (SELECT jsonb_agg(jsonb_build_object('year', y.year, 'ads', y.n) ORDER BY y.year)
                             FROM (SELECT g.year, sum(g.s[2]) AS n FROM otto.market_mmy g
                                    WHERE g.year IS NOT NULL AND (mk IS NULL OR g.make = mk) AND (md IS NULL OR g.model = md)
                                    GROUP BY 1 HAVING sum(g.s[2]) > 0) y)),
        'method', 'live ads as the stream processor last saw them: counts and histograms from its sums, exact medians from the indexes; histogram bins of 2,500 EUR and 25,000 km, the last open-ended',
        'n', coalesce(s[2], 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.market_overview(text, text) IS 'The market (or one make or model) at a glance, for charts: live ads, median price and mileage, events of the last day, the most popular makes or models, and price, mileage and model-year histograms';

-------------------------------------------------------------------------------
-- Ads for people: search, details, comparison.
-------------------------------------------------------------------------------
-- What otto.search_ads' categorical filters index: one GIN entry per value
-- of a live ad, so that any combination of them is an intersection of
-- posting lists, exact (make, model and the ranges have btrees of their own).
CREATE FUNCTION otto.ad_facets(fuel text, body text, gearbox text, drive text, color text, seller_type text,
                               region text, location text, damage text, doors text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT array_remove(ARRAY[
        'fu:' || fuel, 'bo:' || body, 'gb:' || gearbox, 'dr:' || drive, 'co:' || color, 'st:' || seller_type,
        're:' || lower(region), 'ci:' || lower(location), 'do:' || lower(doors),
        CASE WHEN damage LIKE 'damaged%' THEN 'dm:damaged' END], NULL)
$fn$;
COMMENT ON FUNCTION otto.ad_facets(text, text, text, text, text, text, text, text, text, text) IS 'The search index entries of an ad (ad_live_facets_idx): prefix:value of each categorical field (region, city and doors lower-case), dm:damaged for a damaged car';

CREATE INDEX ad_live_facets_idx ON otto.ad USING gin (otto.ad_facets(fuel, body, gearbox, drive, color, seller_type, region,
    location, damage, doors)) WHERE state = 'live';
CREATE INDEX ad_live_title_idx ON otto.ad USING gin (to_tsvector('simple', coalesce(title, ''))) WHERE state = 'live';
-- the planner reads a partial index's expression without statistics: these tell it how common each entry is
CREATE STATISTICS otto.ad_facets_stats ON (otto.ad_facets(fuel, body, gearbox, drive, color, seller_type, region, location,
    damage, doors)) FROM otto.ad;

-- The filters of otto.search_ads (and of saved searches) checked, in their
-- canonical form (f), and as SQL conditions on otto.ad a (conds) that take the
-- canonical filters as $1: one exact condition per filter, the categorical
-- ones on the facet index (one condition each, so that the planner counts
-- each filter's selectivity once).  good_deal is left to the caller (deals):
-- it needs the model's price line.
CREATE FUNCTION otto.search_filter(filters jsonb, OUT f jsonb, OUT conds text[], OUT deals boolean, OUT rconds text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    known CONSTANT text[] := ARRAY['make', 'model', 'year_min', 'year_max', 'price_min', 'price_max', 'mileage_min',
        'mileage_max', 'power_min', 'power_max', 'engine_cc_min', 'engine_cc_max', 'seats_min', 'seats_max', 'doors',
        'fuel', 'body', 'gearbox', 'drive', 'color', 'seller_type', 'region', 'city', 'damaged', 'price_cut',
        'good_deal', 'text'];
    ranges CONSTANT jsonb := '{"year": "year", "price": "price_eur", "mileage": "mileage_km", "power": "power_kw",
                               "engine_cc": "engine_cc", "seats": "seats"}';
    prefixes CONSTANT jsonb := '{"fuel": "fu", "body": "bo", "gearbox": "gb", "drive": "dr", "color": "co",
                                 "seller_type": "st", "doors": "do", "region": "re", "city": "ci"}';
    facets CONSTANT text := 'otto.ad_facets(a.fuel, a.body, a.gearbox, a.drive, a.color, a.seller_type, a.region, '
                            'a.location, a.damage, a.doors)';
    k     text;
    v     jsonb;
    vals  text[];
    c     text;
    r     text;
    words text[];
BEGIN
    f := '{}';
    conds := ARRAY['a.state = ''live'''];
    rconds := conds;
    filters := coalesce(filters, '{}');
    IF jsonb_typeof(filters) <> 'object' THEN
        RAISE EXCEPTION 'search_ads: filters must be a JSON object, not %', jsonb_typeof(filters)
              USING ERRCODE = 'invalid_parameter_value', HINT = 'For example: {"make": "Volkswagen", "price_max": 10000, "fuel": "diesel"}';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(filters) WHERE value <> 'null' ORDER BY key LOOP
        IF k <> ALL (known) THEN
            RAISE EXCEPTION 'search_ads: unknown filter "%"', k USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Filters: ' || array_to_string(known, ', ');
        END IF;
        IF k ~ '_(min|max)$' THEN
            IF jsonb_typeof(v) <> 'number' OR v::text::numeric NOT BETWEEN -1e9 AND 1e9 THEN
                RAISE EXCEPTION 'search_ads: filter "%" must be a number, not %', k, v USING ERRCODE = 'invalid_parameter_value';
            END IF;
            f := f || jsonb_build_object(k, v);
            r := regexp_replace(k, '_(min|max)$', '');
            -- in the column's type (int), so that its btree serves the range
            conds := conds || format('a.%I %s %s(($1->>%L)::numeric)::int', ranges->>r,
                                     CASE WHEN k LIKE '%_min' THEN '>=' ELSE '<=' END, CASE WHEN k LIKE '%_min' THEN 'ceil' ELSE 'floor' END, k);
            rconds := rconds || conds[cardinality(conds)];
            CONTINUE;
        END IF;
        IF k IN ('damaged', 'price_cut', 'good_deal') THEN
            IF jsonb_typeof(v) <> 'boolean' THEN
                RAISE EXCEPTION 'search_ads: filter "%" must be true or false, not %', k, v USING ERRCODE = 'invalid_parameter_value';
            END IF;
            f := f || jsonb_build_object(k, v);
            conds := conds || CASE k
                WHEN 'damaged' THEN CASE WHEN v = 'true' THEN format('%s @> %L::text[]', facets, ARRAY['dm:damaged'])
                                         ELSE 'coalesce(a.damage, ''none'') = ''none''' END
                -- the cut ads hashed once, not looked up per ad
                WHEN 'price_cut' THEN 'a.ad_id ' || CASE WHEN v = 'true' THEN '' ELSE 'NOT ' END
                                      || 'IN (SELECT m.ad_id FROM otto.market_ad m WHERE m.live AND m.price_cuts > 0)'
                ELSE 'true' END;    -- good_deal: the caller's
            rconds := rconds || CASE WHEN k = 'damaged' AND v = 'true' THEN 'a.damage LIKE ''damaged%''' ELSE conds[cardinality(conds)] END;
            CONTINUE;
        END IF;
        -- text filters: a string, or a list of alternatives for the categorical ones
        vals := CASE jsonb_typeof(v) WHEN 'string' THEN ARRAY[v->>0]
                                     WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(v)) END;
        IF vals IS NULL OR cardinality(vals) = 0 OR cardinality(vals) > 20 OR EXISTS (SELECT FROM unnest(vals) x WHERE length(x) > 100) THEN
            RAISE EXCEPTION 'search_ads: filter "%" must be a string (or up to 20 of them), not %', k, v
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF k IN ('fuel', 'body', 'gearbox', 'drive', 'color', 'seller_type') THEN
            FOREACH c IN ARRAY vals LOOP
                IF otto.vocabulary_code(k, c) IS NULL THEN
                    RAISE EXCEPTION 'search_ads: "%" is not a known %', c, k USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Known: ' || (SELECT string_agg(code, ', ' ORDER BY code) FROM otto.vocabulary WHERE field = k);
                END IF;
            END LOOP;
            vals := ARRAY(SELECT DISTINCT otto.vocabulary_code(k, x) FROM unnest(vals) x ORDER BY 1);
            f := f || jsonb_build_object(k, to_jsonb(vals));
            conds := conds || format('%s && %L::text[]', facets, ARRAY(SELECT (prefixes->>k) || ':' || x FROM unnest(vals) x));
            rconds := rconds || format('a.%I = ANY (%L::text[])', k, vals);
        ELSIF k IN ('make', 'model') THEN
            -- the market's spelling, so that the (make, model, year) index serves it
            c := CASE k WHEN 'make' THEN (SELECT n.make FROM otto.market_name(vals[1]) n)
                        ELSE (SELECT n.model FROM otto.market_name(coalesce(f->>'make', filters->>'make', ''), vals[1]) n) END;
            f := f || jsonb_build_object(k, coalesce(c, vals[1]));
            conds := conds || CASE WHEN c IS NOT NULL THEN format('a.%I = ($1->>%L)', k, k)
                                   ELSE format('lower(a.%I) = lower($1->>%L)', k, k) END;
            rconds := rconds || conds[cardinality(conds)];
        ELSIF k = 'text' THEN
            -- every word of it begins a word of the title
            words := ARRAY(SELECT DISTINCT lower(w[1]) FROM regexp_matches(vals[1], '([[:alnum:]]+)', 'g') w LIMIT 10);
            f := f || jsonb_build_object(k, vals[1]);
            conds := conds || CASE WHEN cardinality(words) = 0 THEN 'false' ELSE
                     format('to_tsvector(''simple'', coalesce(a.title, '''')) @@ to_tsquery(''simple'', %L)',
                            (SELECT string_agg(quote_literal(w) || ':*', ' & ') FROM unnest(words) w)) END;
            rconds := rconds || conds[cardinality(conds)];
        ELSE                        -- doors, region, city: as the site writes them, any case
            f := f || jsonb_build_object(k, vals[1]);
            conds := conds || format('%s @> %L::text[]', facets, ARRAY[(prefixes->>k) || ':' || lower(vals[1])]);
            rconds := rconds || format('lower(a.%I) = %L', CASE k WHEN 'city' THEN 'location' ELSE k END, lower(vals[1]));
        END IF;
    END LOOP;
    deals := f->>'good_deal' = 'true';
END
$fn$;
COMMENT ON FUNCTION otto.search_filter(jsonb) IS 'Search filters (see otto.search_ads) checked and made canonical (f), and their SQL conditions on otto.ad a with the canonical filters as $1: for the indexes (conds) and the same tests on the columns themselves (rconds); deals says good_deal was asked for';

-- How many ads the planner expects to meet search filters (through the
-- filters' indexes: otto.search_filter's conds), without reading them.  It
-- takes the filters, never SQL: the conditions are built from them here, as
-- search_ads builds them.  VOLATILE: EXPLAIN is refused in the others, and
-- search_ads is STABLE.
CREATE FUNCTION otto.search_estimate(filters jsonb) RETURNS float8
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    sf   record;
    plan json;
BEGIN
    sf := otto.search_filter(filters);
    EXECUTE 'EXPLAIN (FORMAT JSON) SELECT FROM otto.ad a WHERE ' || array_to_string(sf.conds, ' AND ') INTO plan USING sf.f;
    RETURN (plan->0->'Plan'->>'Plan Rows')::float8;
END
$fn$;
COMMENT ON FUNCTION otto.search_estimate(jsonb) IS 'Ads the planner expects to match search filters (see otto.search_ads), read from the plan without running it';

-- Live ads matching filters (a JSON object; see the comment below), sorted,
-- a page at a time.  Each filter becomes one condition of a query planned
-- with the values known, so the indexes on otto.ad serve any combination.
CREATE FUNCTION otto.search_ads(filters jsonb DEFAULT '{}', sort text DEFAULT 'newest', lim int DEFAULT 20, off int DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off                   -- a page of ads: compiling the plan would cost more than running it
SET enable_bitmapscan = on       -- a walk along the sort's index turns it off for the call only
AS $fn$
DECLARE
    orders CONSTANT jsonb := '{"newest": "a.first_seen_at DESC", "price_asc": "a.price_eur", "price_desc": "a.price_eur DESC",
                               "mileage_asc": "a.mileage_km", "year_desc": "a.year DESC", "power_desc": "a.power_kw DESC",
                               "deal": "a.gap DESC"}';
    sf    record;
    f     jsonb;
    conds text[];
    deals boolean;
    gap   text;
    res   jsonb;
    src   text;
    depth int;
    first int;
    pass  int;
    mode  text;
    split boolean;
    key   text;
    page  text;
    cols  text;
    keyconds text;
    yearconds text;
    exact boolean;
    yr    boolean;
    bymake boolean;
BEGIN
    IF NOT orders ? coalesce(sort, '') THEN
        RAISE EXCEPTION 'search_ads: unknown sort "%"', sort USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Sort by one of: ' || (SELECT string_agg(x, ', ') FROM jsonb_object_keys(orders) x);
    END IF;
    IF lim NOT BETWEEN 1 AND 1000 OR off NOT BETWEEN 0 AND 100000 THEN
        RAISE EXCEPTION 'search_ads: limit must be 1-1000 and offset 0-100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    sf := otto.search_filter(filters);
    f := sf.f;
    deals := sort = 'deal' OR sf.deals;
    -- each ad's gap under its model's line (otto.market_lines, joined as l)
    gap := CASE WHEN deals THEN 'CASE WHEN a.price_eur > 0 AND a.year IS NOT NULL THEN otto.line_gap(a.price_eur, a.year, '
                                'a.mileage_km, now(), l.mean_ln_price, l.mean_age, l.mean_km, l.b_age, l.b_km) END'
                ELSE 'NULL::float8' END;
    -- First the ads in the sort's order, the first 20,000 of them (within the
    -- sort key's own range), each filter tested on the columns of the sort's
    -- index entry (the title then read for those that pass): enough when
    -- matches are not rare, and bounded when they are.  Then, if that
    -- page is not full, the matches through the filters' indexes when the
    -- planner expects fewer than 30,000, else along the sort's index to the
    -- end (straight away for the deal sort and deep pages).  Both numbers
    -- can be set (otto.search_run_ads, otto.search_bitmap_ads).  By price,
    -- mileage or power with a filter that follows a car's age, a run that
    -- falls short is followed by runs per model year (a tenth as long each),
    -- and the walk is per model year too (the planner's estimate then a
    -- tenth): each year in the filters' range that has an ad in their
    -- make/model, price, mileage and power ranges (one index probe each)
    -- gives its first page, and the pages are merged.  A year whose run
    -- ended before its page was full marks where it stopped; if that mark
    -- falls within the merged page, a match may lie beyond it, and the next
    -- pass decides.  A make's ads are read from its index, the make's
    -- entries tested on their columns.
    depth := coalesce(nullif(current_setting('otto.search_run_ads', true), '')::int, 20000);
    -- (not with words of the title: those are read from the table, per year too)
    split := NOT f ? 'text' AND (sort IN ('price_asc', 'price_desc', 'power_desc') AND f ?| ARRAY['year_min', 'year_max', 'mileage_min', 'mileage_max']
                                 OR sort = 'mileage_asc' AND f ?| ARRAY['year_min', 'year_max']);
    key := substring(orders->>sort FROM '^(a\.[a-z_]+)');
    -- what the sort indexes' entries hold, so that they are all a walk reads
    cols := 'a.ad_id, a.make, a.model, a.year, a.price_eur, a.mileage_km, a.power_kw, a.engine_cc, a.seats, a.fuel, a.body, '
            'a.gearbox, a.drive, a.color, a.seller_type, a.region, a.location, a.damage, a.doors, a.first_seen_at';
    bymake := 'a.make = ($1->>''make'')' = ANY (sf.rconds) AND NOT f ? 'text';
    -- the run along the sort's whole index first, then per year
    first := CASE WHEN sort = 'deal' OR lim + off > 1000 THEN 2 WHEN split THEN 0 ELSE 1 END;
    FOR pass IN first .. 2 LOOP
        yr := split AND pass > 0;
        CONTINUE WHEN yr AND pass = 1 AND bymake;     -- a make's ads are few enough to read from its index
        -- run: the sort's first ads; walk: along the sort's index to the end
        -- (both per model year when yr); all: every match through the
        -- filters' indexes, then sorted
        mode := CASE WHEN pass < 2 THEN 'run'
                     -- (per year, a tenth: the years' walks are bounded by the ranges)
                     WHEN sort = 'deal' OR yr AND bymake OR otto.search_estimate(filters)
                                           < coalesce(nullif(current_setting('otto.search_bitmap_ads', true), '')::int, 30000)
                                             / CASE WHEN yr THEN 10 ELSE 1 END THEN 'all'
                     ELSE 'walk' END;
        -- (a run or walk is of live ads already: its entries need not say so)
        -- (through the make's entries, the columns are tested: cheaper than the facets)
        conds := CASE WHEN mode <> 'all' THEN sf.rconds[2:] WHEN bymake THEN sf.rconds ELSE sf.conds END;
        IF sf.deals THEN
            conds := conds || format('otto.line_deal(%s)', gap);
        END IF;
        -- the conditions on the sort key: the range of its index a run or walk reads
        keyconds := (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x WHERE x LIKE key || ' %');
        yearconds := (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x WHERE x LIKE 'a.year %');
        -- one year's page (a.year {year}), its matches in order: in a run, of
        -- its first entries, with the one it stopped at (brk); price lines
        -- joined after the year's entries are read in order
        page := CASE WHEN yr THEN format($p$
            SELECT * FROM (SELECT *, %1$s AS brk
                             FROM (SELECT %8$s, %2$s AS ok
                                     FROM (SELECT %8$s FROM otto.ad a WHERE a.state = 'live' AND a.year {year} %3$s
                                            ORDER BY %4$s NULLS LAST, a.ad_id DESC %5$s) a %6$s) a) a
             WHERE ok OR brk ORDER BY %4$s NULLS LAST, a.ad_id DESC LIMIT %7$s$p$,
            CASE WHEN mode = 'run' THEN format('row_number() OVER (ORDER BY %s NULLS LAST, a.ad_id DESC) = %s', orders->>sort, depth / 10)
                 ELSE 'false' END,
            coalesce((SELECT string_agg(x, ' AND ') FROM unnest(conds) x), 'true'),
            CASE WHEN mode = 'walk' THEN (SELECT string_agg(' AND ' || x, '') FROM unnest(sf.rconds[2:]) x) ELSE keyconds END,
            orders->>sort, CASE WHEN mode = 'run' THEN 'LIMIT ' || depth / 10 END,
            CASE WHEN deals THEN 'LEFT JOIN l ON l.make = a.make AND l.model = a.model' ELSE '' END, lim + off, cols) END;
        src := CASE WHEN mode = 'all' THEN 'otto.ad'
                    WHEN yr THEN format($y$(
                        WITH RECURSIVE ys AS (
                            SELECT min(a.year) AS y FROM otto.ad a WHERE a.state = 'live' %1$s
                            UNION ALL
                            SELECT (SELECT min(a.year) FROM otto.ad a WHERE a.state = 'live' AND a.year > ys.y %1$s)
                              FROM ys WHERE ys.y IS NOT NULL),
                        y AS (SELECT ys.y FROM ys WHERE ys.y IS NOT NULL %2$s)
                        SELECT p.* FROM y, LATERAL (%3$s) p
                        %4$s)$y$,
                        yearconds,
                        (SELECT string_agg(format(' AND EXISTS (SELECT FROM otto.ad a WHERE a.state = ''live'' AND a.year = ys.y AND %s)', x), '')
                           FROM (SELECT x FROM unnest(conds) x WHERE x ~ '^a\.(price_eur|mileage_km|power_kw) '
                                 UNION ALL       -- (make, model, year) has its index; make and year alone do not
                                 SELECT 'a.make = ($1->>''make'') AND a.model = ($1->>''model'')'
                                  WHERE conds @> ARRAY['a.make = ($1->>''make'')', 'a.model = ($1->>''model'')']) x),
                        replace(page, '{year}', '= y.y'),
                        -- the ads that state no year, unless a year was asked for
                        CASE WHEN yearconds IS NULL THEN format('UNION ALL (%s)', replace(page, '{year}', 'IS NULL')) END)
                    WHEN NOT f ? 'text' THEN
                        format('(SELECT *, false AS brk FROM otto.ad a WHERE a.state = ''live'' %s ORDER BY %s NULLS LAST, a.ad_id DESC %s)',
                               keyconds,
                               orders->>sort, CASE WHEN mode = 'run' THEN 'LIMIT ' || depth END)
                    -- words of the title: the other filters on the index entries first,
                    -- then the title read from the table for those that pass, in order
                    ELSE format('(SELECT a.*, t.title, false AS brk
                                    FROM (SELECT %1$s FROM otto.ad a WHERE a.state = ''live'' %2$s
                                           ORDER BY %3$s NULLS LAST, a.ad_id DESC %4$s) a
                                    JOIN otto.ad t ON t.ad_id = a.ad_id WHERE true %5$s)',
                                cols, keyconds,
                                orders->>sort, CASE WHEN mode = 'run' THEN 'LIMIT ' || depth END,
                                (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x
                                  WHERE x NOT LIKE 'to_tsvector%' AND x NOT LIKE 'otto.line_deal%')) END;
        IF yr AND mode <> 'all' THEN
            conds := '{}';      -- tested in each year's walk
        END IF;
        PERFORM set_config('enable_bitmapscan', CASE WHEN mode = 'all' THEN 'on' ELSE 'off' END, true);
        EXECUTE format($q$
            WITH l AS MATERIALIZED (SELECT * FROM otto.market_lines WHERE %s),
            m AS MATERIALIZED (SELECT a.ad_id, a.year, a.mileage_km, a.price_eur, a.power_kw, a.first_seen_at, %s AS gap, %s AS brk
                                 FROM %s a %s WHERE true %s %s),     -- the sort keys only: the page's ads are read at the end
            p AS (SELECT c.ad_id, c.gap, c.brk, row_number() OVER (ORDER BY %s NULLS LAST, c.ad_id DESC) AS ord
                    FROM (SELECT * FROM m a ORDER BY %s NULLS LAST, a.ad_id DESC LIMIT %s) c)
            SELECT (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'ad_id', a.ad_id, 'url', a.url, 'title', a.title, 'make', a.make, 'model', a.model, 'year', a.year,
                        'mileage_km', a.mileage_km, 'price_eur', a.price_eur, 'fuel', a.fuel, 'body', a.body,
                        'gearbox', a.gearbox, 'power_kw', a.power_kw, 'engine_cc', a.engine_cc, 'color', a.color,
                        'city', a.location, 'region', a.region, 'seller_type', a.seller_type, 'damage', a.damage,
                        'listed_at', a.first_seen_at,
                        'under_model_line_pct', round((100 * p.gap)::numeric, 1))) ORDER BY p.ord)
                      FROM p JOIN otto.ad a ON a.ad_id = p.ad_id WHERE p.ord > %s),
                   NOT EXISTS (SELECT FROM p WHERE p.brk) $q$,
            CASE WHEN deals THEN 'true' ELSE 'false' END,
            gap, CASE WHEN yr AND mode = 'run' THEN 'a.brk' ELSE 'false' END, src,
            CASE WHEN deals THEN 'LEFT JOIN l ON l.make = a.make AND l.model = a.model' ELSE '' END,
            (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x),
            -- every match (then sorted in p), or the first of the run or walk
            CASE WHEN mode = 'all' THEN '' ELSE format('ORDER BY %s NULLS LAST, a.ad_id DESC LIMIT %s', orders->>sort, lim + off) END,
            replace(orders->>sort, 'a.', 'c.'),
            orders->>sort, lim + off, off)
          INTO res, exact USING f;
        -- a run is enough when its page is full, or (per year) when no year stopped within it
        EXIT WHEN mode <> 'run' OR CASE WHEN yr THEN exact ELSE jsonb_array_length(coalesce(res, '[]')) >= lim END;
    END LOOP;
    RETURN jsonb_build_object('ads', coalesce(res, '[]'), 'filters', f, 'sort', sort, 'limit', lim, 'offset', off,
        'found_by', CASE mode WHEN 'run' THEN 'sort_index_run' WHEN 'walk' THEN 'sort_index_walk' ELSE 'filter_indexes' END
                    || CASE WHEN yr AND mode <> 'all' THEN '_by_year' ELSE '' END,
        'currency', 'EUR', 'units', jsonb_build_object('mileage', 'km', 'power', 'kW', 'engine', 'cm3'),
        'method', 'live ads matching every filter' ||
                  CASE WHEN deals THEN '; deal = priced at least 10% under its model''s log-price line (under_model_line_pct)' ELSE '' END,
        'n', jsonb_array_length(coalesce(res, '[]')), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.search_ads(jsonb, text, int, int) IS 'Live ads matching filters (make, model, year/price/mileage/power/engine_cc/seats _min and _max, doors, fuel, body, gearbox, drive, color, seller_type (each a code or a list), region, city, damaged, price_cut, good_deal, text in the title), sorted by newest, price_asc, price_desc, mileage_asc, year_desc, power_desc or deal';

-- One ad with what Otto knows about it: its fields, its history, how long it
-- has been listed, and its fair value.
CREATE FUNCTION otto.ad_details(ad_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    a    otto.ad;
    m    otto.market_ad;
    fv   jsonb;
    hist jsonb;
BEGIN
    SELECT * INTO a FROM otto.ad x WHERE x.ad_id = ad_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no ad with id %', ad_id USING ERRCODE = 'no_data_found',
              HINT = 'Ad ids come from search_ads, good_deals or a comparable''s examples.';
    END IF;
    SELECT * INTO m FROM otto.market_ad x WHERE x.ad_id = ad_id;
    IF a.make IS NOT NULL AND a.model IS NOT NULL AND a.year IS NOT NULL THEN
        fv := otto.fair_value(a.make, a.model, a.year, a.mileage_km, a.fuel, a.power_kw);
    END IF;
    SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('at', e.at, 'event', e.kind, 'old_price_eur', e.old_price_eur,
                                                          'new_price_eur', e.new_price_eur, 'days_on_market', e.days_on_market))
                     ORDER BY e.event_id)
      INTO hist FROM otto.ad_event e WHERE e.ad_id = ad_id;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'ad_id', a.ad_id, 'url', a.url, 'state', a.state, 'title', a.title, 'make', a.make, 'model', a.model,
        'year', a.year, 'mileage_km', a.mileage_km, 'price_eur', a.price_eur, 'fuel', a.fuel, 'body', a.body,
        'gearbox', a.gearbox, 'power_kw', a.power_kw, 'engine_cc', a.engine_cc, 'color', a.color, 'seats', a.seats,
        'doors', a.doors, 'drive', a.drive, 'emission_class', a.emission_class, 'damage', a.damage, 'origin', a.origin,
        'city', a.location, 'region', a.region, 'seller_type', a.seller_type, 'seller_name', a.seller_name,
        'features', CASE WHEN a.features <> '{}' THEN to_jsonb(a.features) END,
        'listed_at', a.first_seen_at, 'last_seen_at', a.last_seen_at, 'removed_at', a.removed_at,
        'days_listed', round((extract(epoch FROM coalesce(a.removed_at, now()) - a.first_seen_at) / 86400)::numeric, 1)
                       + coalesce(m.prior_days, 0),
        'price_cuts', m.price_cuts, 'price_cut_eur', m.price_cut_eur,
        'fair_value_eur', fv->'estimate_eur', 'fair_value_range_80_eur', fv->'range_80_eur',
        'gap_pct', CASE WHEN (fv->>'estimate_eur')::int > 0 AND a.price_eur > 0
                        THEN round(100 * (1 - a.price_eur / (fv->>'estimate_eur')::numeric), 1) END,
        'deal', CASE WHEN (fv->>'estimate_eur')::int > 0 AND a.price_eur > 0
                     THEN otto.deal_class(round(100 * (1 - a.price_eur / (fv->>'estimate_eur')::numeric), 1)) END,
        'fair_value', fv, 'history', hist, 'currency', 'EUR',
        'method', 'the ad as last crawled; history from otto.ad_event; gap_pct = how far the price is under the fair value',
        'n', 1, 'as_of', greatest(a.last_seen_at, a.removed_at)));
END
$fn$;
COMMENT ON FUNCTION otto.ad_details(bigint) IS 'One ad: its fields, its event history, days listed (earlier listings of a relisted car included), price cuts, and its fair value with the gap and deal class';

-- 2-5 ads side by side, with what differs and which is best at it.
CREATE FUNCTION otto.compare_ads(ad_ids bigint[]) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ids  bigint[] := ARRAY(SELECT DISTINCT x FROM unnest(ad_ids) x WHERE x IS NOT NULL);
    ads  jsonb;
    cmp  jsonb;
BEGIN
    IF cardinality(ids) NOT BETWEEN 2 AND 5 THEN
        RAISE EXCEPTION 'compare_ads takes 2 to 5 different ad ids, not %', coalesce(cardinality(ids), 0)
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT jsonb_agg(otto.ad_details(x) || jsonb_build_object('depreciation_pct_per_year',
                     (SELECT round((100 * (1 - exp(f.b_age)))::numeric, 1)
                        FROM otto.ad a, otto.market_slopes(a.make, a.model) f WHERE a.ad_id = x))
                     ORDER BY o)
      INTO ads FROM unnest(ids) WITH ORDINALITY u(x, o);
    -- per field: the values in order, whether they differ, and the best ad where "best" means something
    SELECT jsonb_agg(jsonb_build_object('field', d.field, 'values', d.vals, 'differ', d.differ, 'best_ad_id', d.best)
                     ORDER BY d.o)
      INTO cmp
      FROM (SELECT k.field, k.o, jsonb_agg(a->k.field ORDER BY i) AS vals,
                   count(DISTINCT a->k.field) > 1 AS differ,
                   CASE WHEN count(DISTINCT a->k.field) > 1 AND k.better IS NOT NULL THEN
                        (array_agg((a->>'ad_id')::bigint ORDER BY CASE k.better WHEN 'low' THEN (a->>k.field)::numeric
                                                                      WHEN 'high' THEN -(a->>k.field)::numeric END NULLS LAST))[1] END AS best
              FROM jsonb_array_elements(ads) WITH ORDINALITY e(a, i),
                   (VALUES ('make', 1, NULL), ('model', 2, NULL), ('year', 3, 'high'), ('mileage_km', 4, 'low'),
                           ('price_eur', 5, 'low'), ('fair_value_eur', 6, NULL), ('gap_pct', 7, 'high'), ('deal', 8, NULL),
                           ('depreciation_pct_per_year', 9, 'low'), ('days_listed', 10, NULL), ('price_cuts', 11, NULL),
                           ('fuel', 12, NULL), ('body', 13, NULL), ('gearbox', 14, NULL), ('power_kw', 15, 'high'),
                           ('engine_cc', 16, NULL), ('state', 17, NULL), ('city', 18, NULL)) k(field, o, better)
             GROUP BY k.field, k.o, k.better) d;
    RETURN jsonb_build_object('ads', ads, 'comparison', cmp, 'currency', 'EUR',
        'method', 'each ad''s details and fair value; best = newest year, lowest mileage, price and depreciation, largest gap under fair value, most power',
        'n', jsonb_array_length(ads), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.compare_ads(bigint[]) IS '2-5 ads side by side: each one''s details, fair value gap, depreciation and days listed, and per field whether they differ and which ad is best';

-------------------------------------------------------------------------------
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

CREATE FUNCTION otto.current_user_id() RETURNS int
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_current_user_id';
COMMENT ON FUNCTION otto.current_user_id() IS 'The app user this session signed in as (otto.login), NULL when none';

CREATE FUNCTION otto.require_user() RETURNS int
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
CREATE FUNCTION otto.user_add(name text, lang text DEFAULT 'sr-Latn', OUT user_id int, OUT token text)
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

CREATE FUNCTION otto.login(token text) RETURNS int
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

CREATE FUNCTION otto.logout() RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT set_config('otto.user_id', '0', false) $fn$;

-- The language of Otto's sentences: the argument, else the otto.lang setting,
-- else the signed-in user's, else English.  'sr' is Serbian in Latin script.
CREATE FUNCTION otto.lang(lang text DEFAULT NULL) RETURNS text
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
CREATE FUNCTION otto.label(field text, code text, lang text DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT otto.ask_text(otto.lang($3), v.label_en, v.label_sr) FROM otto.vocabulary v WHERE v.field = $1 AND v.code = $2
$fn$;
CREATE FUNCTION otto.labels(lang text DEFAULT NULL) RETURNS jsonb
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
CREATE FUNCTION otto.html_escape(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT replace(replace(replace(replace(replace(s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;') $fn$;

-- A short description of an ad for people: "Volkswagen Golf 2015, 180.000 km, 8.900 €".
CREATE FUNCTION otto.ad_line(a otto.ad, lang text) RETURNS text
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

CREATE FUNCTION otto.append_only() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF pg_trigger_depth() < 2 THEN      -- deleting the user cascades (depth 2); nothing else changes the log
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END
$fn$;
CREATE TRIGGER user_event_append_only BEFORE UPDATE OR DELETE ON otto.user_event
    FOR EACH ROW EXECUTE FUNCTION otto.append_only();

-- Each user's liked ads now: their last like or unlike of it was a like.
CREATE VIEW otto.user_like WITH (security_barrier, security_invoker) AS
SELECT l.user_id, l.ad_id, l.at
  FROM (SELECT DISTINCT ON (e.user_id, e.ad_id) e.user_id, e.ad_id, e.at, e.kind
          FROM otto.user_event e WHERE e.kind IN ('like', 'unlike')
         ORDER BY e.user_id, e.ad_id, e.event_id DESC) l
 WHERE l.kind = 'like';
COMMENT ON VIEW otto.user_like IS 'The ads each user likes now (their last like or unlike was a like); shows the caller''s own rows only';

CREATE FUNCTION otto.user_event_add(ad_id bigint, kind text) RETURNS jsonb
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
CREATE FUNCTION otto.view_ad(ad_id bigint) RETURNS jsonb LANGUAGE sql AS $fn$ SELECT otto.user_event_add($1, 'view') $fn$;
CREATE FUNCTION otto.like_ad(ad_id bigint) RETURNS jsonb LANGUAGE sql AS $fn$ SELECT otto.user_event_add($1, 'like') $fn$;
CREATE FUNCTION otto.unlike_ad(ad_id bigint) RETURNS jsonb LANGUAGE sql AS $fn$ SELECT otto.user_event_add($1, 'unlike') $fn$;
COMMENT ON FUNCTION otto.view_ad(bigint) IS 'Record that the signed-in user viewed an ad';
COMMENT ON FUNCTION otto.like_ad(bigint) IS 'The signed-in user likes an ad (a second like changes nothing)';
COMMENT ON FUNCTION otto.unlike_ad(bigint) IS 'The signed-in user no longer likes an ad';

CREATE FUNCTION otto.my_likes() RETURNS jsonb
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
CREATE FUNCTION otto.saved_search_check() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    NEW.filters := (otto.search_filter(NEW.filters)).f;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER saved_search_check BEFORE INSERT OR UPDATE OF filters ON otto.saved_search
    FOR EACH ROW EXECUTE FUNCTION otto.saved_search_check();

CREATE FUNCTION otto.search_save(name text, filters jsonb, alerts text[] DEFAULT '{new,price_drop,back_on_market}')
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
CREATE FUNCTION otto.alert_notify() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM pg_notify('otto_alert', jsonb_build_object('user_id', NEW.user_id, 'alert_id', NEW.alert_id)::text);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER alert_notify AFTER INSERT ON otto.alert FOR EACH ROW EXECUTE FUNCTION otto.alert_notify();
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
INSERT INTO otto.alert_state DEFAULT VALUES;
COMMENT ON TABLE otto.alert_state IS 'Where alert matching is in the ad log: every event up to watermark has been matched';
COMMENT ON COLUMN otto.alert_state.alerts IS 'Alerts written, in all';
COMMENT ON COLUMN otto.alert_state.single IS 'Keeps the table to one row';

-- The ad events that can alert, between two event ids: new listings, relists
-- (pred: the ad a relist under a new id continues) and price drops.
CREATE FUNCTION otto.alert_events(after bigint, upto bigint)
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
CREATE FUNCTION otto.alerts_apply(max_events int DEFAULT 10000) RETURNS jsonb
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
CREATE FUNCTION otto.my_alerts(after bigint DEFAULT 0, lim int DEFAULT 50) RETURNS jsonb
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

CREATE FUNCTION otto.alerts_read(upto bigint) RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH r AS (UPDATE otto.alert SET read_at = now()
                WHERE user_id = otto.require_user() AND alert_id <= $1 AND read_at IS NULL RETURNING 1)
    SELECT count(*) FROM r
$fn$;
COMMENT ON FUNCTION otto.alerts_read(bigint) IS 'Mark the signed-in user''s alerts up to an id as read; returns how many';

-------------------------------------------------------------------------------
-- Reviews and ratings: one per user per model or seller, editable.  The
-- text is stored as written (checked for length and control characters);
-- readers get it plain and HTML-escaped.
-------------------------------------------------------------------------------
CREATE TABLE otto.review (
    review_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     int NOT NULL DEFAULT otto.current_user_id() REFERENCES otto.app_user ON DELETE CASCADE,
    subject     text NOT NULL CHECK (subject IN ('model', 'seller')),
    make        text,
    model       text,
    site_id     int REFERENCES otto.site,
    seller_id   text,
    rating      int NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title       text CHECK (length(title) <= 120),
    body        text CHECK (length(body) <= 4000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((subject = 'model') = (make IS NOT NULL AND model IS NOT NULL AND site_id IS NULL AND seller_id IS NULL)),
    CHECK ((subject = 'seller') = (site_id IS NOT NULL AND seller_id IS NOT NULL AND make IS NULL AND model IS NULL)),
    CHECK (coalesce(title, '') || coalesce(body, '') !~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]'),
    CONSTRAINT review_one_per_subject UNIQUE NULLS NOT DISTINCT (user_id, subject, make, model, site_id, seller_id)
);
CREATE INDEX review_model_idx ON otto.review (make, model) WHERE subject = 'model';
CREATE INDEX review_seller_idx ON otto.review (site_id, seller_id) WHERE subject = 'seller';
COMMENT ON TABLE otto.review IS 'Users'' ratings (1-5) and reviews of a model or a seller, one per user per subject';
COMMENT ON COLUMN otto.review.subject IS 'model (make and model set) or seller (site_id and seller_id set)';
COMMENT ON COLUMN otto.review.rating IS '1 (poor) to 5 (excellent)';
COMMENT ON COLUMN otto.review.seller_id IS 'The seller''s id on the site, as in otto.ad.seller_id';
COMMENT ON COLUMN otto.review.body IS 'The review as written (plain text; escape it for HTML, or use otto.ratings'' body_html)';

-- The signed-in user's review of a subject (model: make and model; seller:
-- site_id and seller_id), inserted or edited.
CREATE FUNCTION otto.review_save(subject text, make text, model text, site_id int, seller_id text, rating int,
                                 title text, body text)
RETURNS jsonb
LANGUAGE sql
AS $fn$
    INSERT INTO otto.review AS x (user_id, subject, make, model, site_id, seller_id, rating, title, body)
    VALUES (otto.require_user(), $1, $2, $3, $4, $5, $6, nullif(btrim($7), ''), nullif(btrim($8), ''))
    ON CONFLICT ON CONSTRAINT review_one_per_subject
    DO UPDATE SET rating = excluded.rating, title = excluded.title, body = excluded.body, updated_at = now()
    RETURNING jsonb_strip_nulls(jsonb_build_object('review_id', x.review_id, 'subject', x.subject, 'make', x.make,
                                                   'model', x.model, 'seller_id', x.seller_id, 'rating', x.rating,
                                                   'updated', x.xmax <> '0'))     -- xmax: the row was there already
$fn$;

CREATE FUNCTION otto.review_model(make text, model text, rating int, title text DEFAULT NULL, body text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
AS $fn$
    SELECT otto.review_save('model', coalesce(n.make, initcap($1)), coalesce(n.model, initcap($2)), NULL, NULL, $3, $4, $5)
      FROM (SELECT NULL) o LEFT JOIN otto.market_name($1, $2) n ON true
$fn$;
COMMENT ON FUNCTION otto.review_model(text, text, int, text, text) IS 'The signed-in user rates (1-5) and reviews a model; a second call edits their review';

CREATE FUNCTION otto.review_seller(site text, seller_id text, rating int, title text DEFAULT NULL, body text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    sid int := (SELECT s.site_id FROM otto.site s WHERE s.name = site);
BEGIN
    IF sid IS NULL THEN
        RAISE EXCEPTION 'no site "%"', site USING ERRCODE = 'no_data_found';
    END IF;
    RETURN otto.review_save('seller', NULL, NULL, sid, seller_id, rating, title, body) || jsonb_build_object('site', site);
END
$fn$;
COMMENT ON FUNCTION otto.review_seller(text, text, int, text, text) IS 'The signed-in user rates (1-5) and reviews a seller of a site; a second call edits their review';

-- Ratings of a model (or a seller) across all users: the average, the count,
-- the distribution and the latest reviews, without who wrote them.
CREATE FUNCTION otto.ratings(make text DEFAULT NULL, model text DEFAULT NULL, site text DEFAULT NULL,
                             seller_id text DEFAULT NULL, lim int DEFAULT 5)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    n   record;
    sid int;
    res jsonb;
BEGIN
    IF (make IS NULL OR model IS NULL) = (site IS NULL OR seller_id IS NULL) THEN
        RAISE EXCEPTION 'ratings of a model (make and model) or of a seller (site and seller_id)'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO n FROM otto.market_name(make, model);
    sid := (SELECT s.site_id FROM otto.site s WHERE s.name = site);
    SELECT jsonb_build_object(
               'average', round(avg(r.rating), 2), 'count', count(*),
               'distribution', jsonb_build_object('1', count(*) FILTER (WHERE r.rating = 1), '2', count(*) FILTER (WHERE r.rating = 2),
                                                  '3', count(*) FILTER (WHERE r.rating = 3), '4', count(*) FILTER (WHERE r.rating = 4),
                                                  '5', count(*) FILTER (WHERE r.rating = 5)),
               'reviews', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                        'rating', x.rating, 'title', x.title, 'body', x.body,
                                        'title_html', otto.html_escape(x.title), 'body_html', otto.html_escape(x.body),
                                        'at', x.updated_at)) ORDER BY x.updated_at DESC, x.review_id DESC)
                                      FROM (SELECT * FROM otto.review x
                                             WHERE (x.subject = 'model' AND x.make = coalesce(n.make, initcap(make))
                                                    AND x.model = coalesce(n.model, initcap(model)))
                                                OR (x.subject = 'seller' AND x.site_id = sid AND x.seller_id = seller_id)
                                             ORDER BY x.updated_at DESC, x.review_id DESC LIMIT greatest(lim, 0)) x), '[]'))
      INTO res
      FROM otto.review r
     WHERE (r.subject = 'model' AND r.make = coalesce(n.make, initcap(make)) AND r.model = coalesce(n.model, initcap(model)))
        OR (r.subject = 'seller' AND r.site_id = sid AND r.seller_id = seller_id);
    RETURN jsonb_build_object('make', coalesce(n.make, make), 'model', coalesce(n.model, model), 'site', site, 'seller_id', seller_id)
           || res || jsonb_build_object('method', 'ratings 1-5 by Otto''s users, one per user; texts as written, and HTML-escaped in *_html',
                                        'n', res->'count', 'as_of', now());
END
$fn$;
COMMENT ON FUNCTION otto.ratings(text, text, text, text, int) IS 'What users think of a model or a seller: average rating, count, distribution and the latest reviews (text plain and HTML-escaped), anonymous';

-------------------------------------------------------------------------------
-- Similar cars, recommendations, sharing.
-------------------------------------------------------------------------------
-- How far apart two ads are for a buyer: model and make first, then body and
-- fuel, then model year, price, mileage, power and gearbox.  0 = the same car.
CREATE FUNCTION otto.ad_distance(a otto.ad, b otto.ad) RETURNS float8
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
CREATE FUNCTION otto.ad_difference(a otto.ad, b otto.ad, lang text) RETURNS text
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

CREATE FUNCTION otto.similar_ads(ad_id bigint, lim int DEFAULT 10, lang text DEFAULT NULL) RETURNS jsonb
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
CREATE FUNCTION otto.recommend(lim int DEFAULT 10, lang text DEFAULT NULL) RETURNS jsonb
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
CREATE FUNCTION otto.url_encode(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT coalesce(string_agg(CASE WHEN (b BETWEEN 48 AND 57) OR (b BETWEEN 65 AND 90) OR (b BETWEEN 97 AND 122) OR b IN (45, 46, 95, 126)
                                    THEN chr(b) ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END, '' ORDER BY i), '')
      FROM (SELECT get_byte(convert_to(s, 'UTF8'), i) AS b, i FROM generate_series(0, octet_length(convert_to(s, 'UTF8')) - 1) i) x
$fn$;

CREATE FUNCTION otto.share_ad(ad_id bigint, channel text DEFAULT 'link', lang text DEFAULT NULL) RETURNS jsonb
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
CREATE TABLE otto.tool (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    title         text NOT NULL,
    description   text NOT NULL,
    fn            regprocedure NOT NULL,
    input_schema  jsonb NOT NULL CHECK (input_schema->>'type' = 'object'),
    output_schema jsonb NOT NULL CHECK (output_schema->>'type' = 'object'),
    list_key      text,
    arg_params    jsonb NOT NULL DEFAULT '{}',
    builtin       boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE otto.tool IS 'Tools for chat assistants: each backed by a read-only Otto function, called through otto.call_tool';
COMMENT ON COLUMN otto.tool.fn IS 'The function that answers (STABLE or IMMUTABLE); arguments are passed by name';
COMMENT ON COLUMN otto.tool.input_schema IS 'JSON Schema of the arguments (object; properties with type, enum, minimum, maximum, minLength, maxLength, pattern, minItems, maxItems, default; required; additionalProperties false)';
COMMENT ON COLUMN otto.tool.output_schema IS 'JSON Schema of the result object';
COMMENT ON COLUMN otto.tool.list_key IS 'Key of the result''s list that the limit argument bounds; call_tool sets truncated when there were more';
COMMENT ON COLUMN otto.tool.builtin IS 'Shipped with Otto; tools users add (false) are kept by pg_dump';
COMMENT ON COLUMN otto.tool.arg_params IS 'Argument names that differ from the function''s parameter names: {"argument": "parameter"}';

-- A tool runs with the rights of otto.call_tool's owner, so it may only be
-- code the extension itself ships: a function of schema otto that belongs to
-- the extension and cannot write.  Checked when a tool is registered and
-- again at each call (the function could have changed since).
CREATE FUNCTION otto.tool_fn_check(tool text, fn regprocedure) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_proc p
                     JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                                AND d.deptype = 'e'
                     JOIN pg_catalog.pg_extension e ON d.refclassid = 'pg_catalog.pg_extension'::regclass
                                                   AND d.refobjid = e.oid AND e.extname = 'otto'
                    WHERE p.oid = fn AND p.pronamespace = 'otto'::regnamespace AND p.prokind = 'f') THEN
        RAISE EXCEPTION 'tool %: % is not a function of the otto extension', tool, fn
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'A tool can only call a function Otto ships in schema otto (see \df otto.*).';
    END IF;
    IF (SELECT provolatile FROM pg_catalog.pg_proc WHERE oid = fn) = 'v' THEN
        RAISE EXCEPTION 'tool %: % is volatile; tools must be read-only (STABLE) functions', tool, fn
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.tool_fn_check(text, regprocedure) IS 'Refuses a tool function that is not a read-only function of the otto extension in schema otto (tools run with otto.call_tool''s rights)';

CREATE FUNCTION otto.tool_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM otto.tool_fn_check(NEW.name, NEW.fn);
    RETURN NEW;
END
$fn$;
CREATE TRIGGER tool_check BEFORE INSERT OR UPDATE ON otto.tool FOR EACH ROW EXECUTE FUNCTION otto.tool_check();

-- The arguments checked against a JSON Schema, defaults applied.  Errors say
-- what to send instead.
CREATE FUNCTION otto.tool_args(schema jsonb, args jsonb, path text DEFAULT '') RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    props jsonb := coalesce(schema->'properties', '{}');
    out   jsonb := '{}';
    k     text;
    p     jsonb;
    v     jsonb;
    types text[];
    t     text;
    what  text;
    e     jsonb;
BEGIN
    args := coalesce(args, '{}');
    IF jsonb_typeof(args) <> 'object' THEN
        RAISE EXCEPTION 'arguments% must be a JSON object, not %', CASE WHEN path <> '' THEN ' of "' || path || '"' ELSE '' END,
              jsonb_typeof(args) USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Send an object with: ' || (SELECT string_agg(x, ', ') FROM jsonb_object_keys(props) x);
    END IF;
    FOR k IN SELECT jsonb_object_keys(args) LOOP
        IF NOT props ? k THEN
            RAISE EXCEPTION 'unknown argument "%"', left(path || k, 100) USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Arguments' || CASE WHEN path <> '' THEN ' of ' || rtrim(path, '.') ELSE '' END || ': '
                         || (SELECT string_agg(x, ', ') FROM jsonb_object_keys(props) x);
        END IF;
    END LOOP;
    FOR k, p IN SELECT * FROM jsonb_each(props) LOOP
        v := args->k;
        IF v IS NULL OR v = 'null' THEN
            IF p ? 'default' THEN
                out := out || jsonb_build_object(k, p->'default');
            ELSIF coalesce(schema->'required', '[]') ? k THEN
                RAISE EXCEPTION 'missing argument "%"', path || k USING ERRCODE = 'invalid_parameter_value',
                      HINT = coalesce(p->>'description', 'It is required.');
            END IF;
            CONTINUE;
        END IF;
        types := CASE WHEN jsonb_typeof(p->'type') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(p->'type'))
                      ELSE ARRAY[p->>'type'] END;
        t := (SELECT x FROM unnest(types) x
               WHERE CASE x WHEN 'integer' THEN jsonb_typeof(v) = 'number' AND (v::text)::numeric = trunc((v::text)::numeric)
                            WHEN 'number' THEN jsonb_typeof(v) = 'number'
                            ELSE jsonb_typeof(v) = x END LIMIT 1);
        what := (SELECT string_agg(CASE x WHEN 'integer' THEN 'an integer' WHEN 'number' THEN 'a number' WHEN 'string' THEN 'a string'
                                          WHEN 'boolean' THEN 'true or false' WHEN 'array' THEN 'a list' ELSE 'an object' END, ' or ')
                   FROM unnest(types) x)
                || CASE WHEN p ? 'enum' THEN ', one of ' || (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(p->'enum') x)
                        WHEN p ? 'minimum' AND p ? 'maximum' THEN format(' from %s to %s', p->'minimum', p->'maximum')
                        WHEN p ? 'minimum' THEN format(' of at least %s', p->'minimum')
                        WHEN p ? 'maximum' THEN format(' of at most %s', p->'maximum')
                        WHEN p ? 'maxItems' THEN format(' of %s to %s items', coalesce(p->'minItems', '0'), p->'maxItems')
                        WHEN p ? 'maxLength' THEN format(' of at most %s characters', p->'maxLength')
                        WHEN p ? 'pattern' THEN format(' matching %s', p->>'pattern')
                        ELSE '' END;
        IF t IS NULL
           OR (p ? 'enum' AND NOT p->'enum' @> jsonb_build_array(v))
           OR (t IN ('integer', 'number') AND p ? 'minimum' AND (v::text)::numeric < (p->>'minimum')::numeric)
           OR (t IN ('integer', 'number') AND p ? 'maximum' AND (v::text)::numeric > (p->>'maximum')::numeric)
           OR (t = 'string' AND length(v->>0) NOT BETWEEN coalesce((p->>'minLength')::int, 0) AND coalesce((p->>'maxLength')::int, 10000))
           OR (t = 'string' AND p ? 'pattern' AND v->>0 !~ (p->>'pattern'))
           OR (t = 'array' AND jsonb_array_length(v) NOT BETWEEN coalesce((p->>'minItems')::int, 0) AND coalesce((p->>'maxItems')::int, 1000)) THEN
            RAISE EXCEPTION 'argument "%" must be %, not %', path || k, what, left(v::text, 100)
                  USING ERRCODE = 'invalid_parameter_value', HINT = 'Send ' || what || '.' || coalesce(' ' || (p->>'description'), '');
        END IF;
        IF t = 'array' AND p ? 'items' THEN
            FOR e IN SELECT * FROM jsonb_array_elements(v) LOOP
                PERFORM otto.tool_args(jsonb_build_object('type', 'object', 'properties', jsonb_build_object('item', p->'items')),
                                       jsonb_build_object('item', e), path || k || '.');
            END LOOP;
        ELSIF t = 'object' THEN
            v := otto.tool_args(p, v, path || k || '.');
        END IF;
        out := out || jsonb_build_object(k, v);
    END LOOP;
    RETURN out;
END
$fn$;
COMMENT ON FUNCTION otto.tool_args(jsonb, jsonb, text) IS 'Arguments checked against a tool''s input JSON Schema (unknown keys, types, enums, ranges, lengths, patterns, list sizes; nested objects), with defaults applied';

-- Run a read-only query with $1 = args under otto.tool_timeout (C: arms the
-- statement timeout for the call and restores the caller's).
CREATE FUNCTION otto.tool_exec(query text, args jsonb) RETURNS jsonb
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'otto_tool_exec';
COMMENT ON FUNCTION otto.tool_exec(text, jsonb) IS 'Runs a read-only query returning one jsonb with $1 = args, cancelled after otto.tool_timeout (otto.call_tool''s engine; not for chat)';

CREATE FUNCTION otto.tools() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT jsonb_build_object('tools', coalesce(jsonb_agg(jsonb_build_object(
               'name', t.name, 'title', t.title, 'description', t.description,
               'inputSchema', t.input_schema, 'outputSchema', t.output_schema,
               'annotations', jsonb_build_object('title', t.title, 'readOnlyHint', true, 'destructiveHint', false,
                                                 'idempotentHint', true, 'openWorldHint', false))
               ORDER BY t.name), '[]'))
      FROM otto.tool t
$fn$;
COMMENT ON FUNCTION otto.tools() IS 'The chat tools as MCP tools/list returns them: name, title, description, input and output JSON Schemas, annotations (read-only, closed world)';

CREATE FUNCTION otto.call_tool(name text, args jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET transaction_read_only = on          -- nothing a tool runs can write
AS $fn$
#variable_conflict use_variable
DECLARE
    t     otto.tool;
    a     jsonb;
    lim   int;
    call  text;
    res   jsonb;
    trunc boolean := false;
BEGIN
    SELECT * INTO t FROM otto.tool x WHERE x.name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown tool "%"', left(name, 100) USING ERRCODE = 'undefined_function',
              HINT = 'Tools: ' || (SELECT string_agg(x.name, ', ' ORDER BY x.name) FROM otto.tool x);
    END IF;
    PERFORM otto.tool_fn_check(t.name, t.fn);
    a := otto.tool_args(t.input_schema, args);
    lim := (a->>'limit')::int;
    -- the call by parameter name, each argument cast from $1 to the parameter's type;
    -- one more row than the limit tells whether the list was cut
    SELECT format('SELECT %s(%s)', t.fn::regproc,
                  string_agg(format('%I => %s', p.pname,
                                    CASE WHEN p.ptype = 'jsonb'::regtype THEN format('$1->%L', k.key)
                                         WHEN p.ptype = 'interval'::regtype THEN format('($1->>%L)::interval', k.key)
                                         WHEN k.key = 'limit' AND t.list_key IS NOT NULL THEN format('($1->>%L)::int + 1', k.key)
                                         WHEN jsonb_typeof(k.value) = 'array'
                                         THEN format('ARRAY(SELECT jsonb_array_elements_text($1->%L))::%s', k.key, format_type(p.ptype, NULL))
                                         ELSE format('($1->>%L)::%s', k.key, format_type(p.ptype, NULL)) END), ', '))
      INTO call
      FROM jsonb_each(a) k
      JOIN LATERAL (SELECT x.n AS pname, x.t AS ptype
                      FROM pg_catalog.pg_proc f,
                           unnest(f.proargnames, f.proargtypes::oid[]::regtype[]) x(n, t)
                     WHERE f.oid = t.fn AND x.n = coalesce(t.arg_params->>k.key, k.key)) p ON true;
    res := otto.tool_exec(coalesce(call, format('SELECT %s()', t.fn::regproc)), a);
    IF t.list_key IS NOT NULL AND lim IS NOT NULL AND jsonb_array_length(coalesce(res->t.list_key, '[]')) > lim THEN
        IF (res->>'n')::bigint = lim + 1 THEN   -- n counted the rows returned
            res := res || jsonb_build_object('n', lim);
        END IF;
        res := jsonb_set(res, ARRAY[t.list_key],
                         (SELECT jsonb_agg(e ORDER BY i) FROM jsonb_array_elements(res->t.list_key) WITH ORDINALITY x(e, i) WHERE i <= lim));
        trunc := true;
    END IF;
    IF t.list_key IS NOT NULL AND (res->>'limit')::bigint = lim + 1 THEN   -- the limit asked for, not the one passed
        res := res || jsonb_build_object('limit', lim);
    END IF;
    IF res ? t.list_key THEN
        res := res || jsonb_build_object('truncated', trunc);
    END IF;
    RETURN res;
END
$fn$;
COMMENT ON FUNCTION otto.call_tool(text, jsonb) IS 'Calls a chat tool: checks the arguments against its schema, applies defaults and the row limit (truncated says when there were more), runs its function read-only under otto.tool_timeout (ms, default 10000) and returns its jsonb result';

-------------------------------------------------------------------------------
-- otto.ask: plain-language questions in English and Serbian (Latin and
-- Cyrillic) routed to a tool with no language model: names from a built-in
-- dictionary (and the market's), numbers by their units and the words around
-- them, the question by keywords.
-------------------------------------------------------------------------------
-- Serbian Cyrillic to Latin (other text unchanged).
CREATE FUNCTION otto.latin(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT replace(replace(replace(replace(replace(replace(
               translate(s, 'абвгдђежзијклмнопрстћуфхцчшАБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШ',
                            'abvgdđežzijklmnoprstćufhcčšABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠ'),
               'љ', 'lj'), 'њ', 'nj'), 'џ', 'dž'), 'Љ', 'Lj'), 'Њ', 'Nj'), 'Џ', 'Dž')
$fn$;

-- Serbian Latin to Cyrillic, for answers to questions asked in Cyrillic.
CREATE FUNCTION otto.cyrillic(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT translate(replace(replace(replace(replace(replace(replace(s, 'lj', 'љ'), 'nj', 'њ'), 'dž', 'џ'),
                                             'Lj', 'Љ'), 'Nj', 'Њ'), 'Dž', 'Џ'),
                     'abvgdđežzijklmnoprstćufhcčšABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠ',
                     'абвгдђежзијклмнопрстћуфхцчшАБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШ')
$fn$;

-- The key names are compared by: Latin letters without diacritics, spelling
-- variants folded (c/k, w/v, y/j, ij/i, doubled letters), one space between words.
CREATE FUNCTION otto.name_key(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
               replace(replace(replace(replace(translate(lower(otto.latin(s)), 'čćšžđäëöüéèáíóúåøñ-_/.', 'ccszdaeoueeaiouaon    '),
                       'ph', 'f'), 'ck', 'k'), 'x', 'ks'), 'q', 'k'),
               '[cq]', 'k', 'g'), 'w', 'v', 'g'), 'y', 'j', 'g'), 'ij', 'i', 'g'), '([a-z])\1+', '\1', 'g'), '\s+', ' ', 'g'))
$fn$;

CREATE FUNCTION otto.name_keys(names text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT ARRAY(SELECT DISTINCT otto.name_key(x) FROM unnest(names) x) $fn$;

CREATE TABLE otto.car_name (
    make       text NOT NULL,
    model      text,
    spellings  text[] NOT NULL DEFAULT '{}',
    standalone boolean NOT NULL DEFAULT false,
    builtin    boolean NOT NULL DEFAULT false,
    keys       text[] GENERATED ALWAYS AS (otto.name_keys(coalesce(model, make) || spellings)) STORED,
    UNIQUE NULLS NOT DISTINCT (make, model)
);
COMMENT ON TABLE otto.car_name IS 'Makes and models otto.ask recognises, with other spellings (Serbian, short forms); the market''s own names are recognised too';
COMMENT ON COLUMN otto.car_name.model IS 'NULL for the make itself';
COMMENT ON COLUMN otto.car_name.standalone IS 'The model name alone names the car (Golf, Octavia), so the make may be left out';
COMMENT ON COLUMN otto.car_name.spellings IS 'Other ways people write it';
COMMENT ON COLUMN otto.car_name.builtin IS 'Shipped with Otto; names users add (false) are kept by pg_dump';
COMMENT ON COLUMN otto.car_name.keys IS 'otto.name_key of the name and each spelling, as otto.ask compares them';

-- Makes (with other spellings), then models: standalone ones may be named without their make.
INSERT INTO otto.car_name (make, model, spellings, standalone) VALUES
 ('Alfa Romeo', NULL, '{alfa,alfaromeo}', false), ('Audi', NULL, '{}', false), ('BMW', NULL, '{bmv,beemer,bemvea}', false),
 ('Chevrolet', NULL, '{chevy,sevrolet,sevi}', false), ('Citroen', NULL, '{sitroen}', false), ('Dacia', NULL, '{dacija,dakija}', false),
 ('Daewoo', NULL, '{devu}', false), ('Fiat', NULL, '{}', false), ('Ford', NULL, '{}', false), ('Honda', NULL, '{}', false),
 ('Hyundai', NULL, '{hjundai,hundai,hyndai}', false), ('Jaguar', NULL, '{}', false), ('Jeep', NULL, '{}', false),
 ('Kia', NULL, '{kija}', false), ('Lada', NULL, '{}', false), ('Lancia', NULL, '{lancija}', false),
 ('Land Rover', NULL, '{landrover,lendrover,rover}', false), ('Lexus', NULL, '{leksus}', false), ('Mazda', NULL, '{}', false),
 ('Mercedes Benz', NULL, '{mercedes,merc,mercedez,mercedes-benz,benz,mecka}', false), ('Mini', NULL, '{}', false),
 ('Mitsubishi', NULL, '{micubisi,mitsubisi}', false), ('Nissan', NULL, '{nisan}', false), ('Opel', NULL, '{}', false),
 ('Peugeot', NULL, '{pezo,pežo,peugot,pezoa}', false), ('Porsche', NULL, '{porse,porsche}', false),
 ('Renault', NULL, '{reno,renaut,renolt}', false), ('Saab', NULL, '{}', false), ('Seat', NULL, '{}', false),
 ('Skoda', NULL, '{škoda,skoda,shkoda}', false), ('Smart', NULL, '{}', false), ('Ssangyong', NULL, '{ssang yong,sangjong}', false),
 ('Subaru', NULL, '{}', false), ('Suzuki', NULL, '{}', false), ('Tesla', NULL, '{}', false), ('Toyota', NULL, '{tojota,toyta}', false),
 ('Volkswagen', NULL, '{vw,folksvagen,folcvagen,folksvagn,volksvagen,volkswagon,vv,folcika}', false), ('Volvo', NULL, '{}', false),
 ('Zastava', NULL, '{}', false),
 ('Volkswagen', 'Golf', '{golfa,golfovi}', true), ('Volkswagen', 'Passat', '{pasat}', true), ('Volkswagen', 'Polo', '{}', true),
 ('Volkswagen', 'Touran', '{}', true), ('Volkswagen', 'Tiguan', '{}', true), ('Volkswagen', 'Caddy', '{kedi}', true),
 ('Volkswagen', 'Jetta', '{}', true), ('Volkswagen', 'Sharan', '{}', true), ('Volkswagen', 'Touareg', '{tuareg}', true),
 ('Volkswagen', 'Up', '{}', false), ('Volkswagen', 'T-Roc', '{troc}', true), ('Volkswagen', 'Arteon', '{}', true),
 ('Volkswagen', 'Scirocco', '{siroko}', true), ('Volkswagen', 'Bora', '{}', false),
 ('Audi', 'A1', '{}', true), ('Audi', 'A3', '{}', true), ('Audi', 'A4', '{}', true), ('Audi', 'A5', '{}', true),
 ('Audi', 'A6', '{}', true), ('Audi', 'A8', '{}', true), ('Audi', 'Q3', '{}', true), ('Audi', 'Q5', '{}', true),
 ('Audi', 'Q7', '{}', true), ('Audi', 'TT', '{}', false), ('Audi', '80', '{}', false), ('Audi', '100', '{}', false),
 ('BMW', '116', '{}', false), ('BMW', '118', '{}', false), ('BMW', '120', '{}', false), ('BMW', '316', '{}', false),
 ('BMW', '318', '{}', false), ('BMW', '320', '{320d,320i}', false), ('BMW', '325', '{}', false), ('BMW', '330', '{}', false),
 ('BMW', '520', '{520d}', false), ('BMW', '525', '{}', false), ('BMW', '530', '{}', false), ('BMW', 'X1', '{}', false),
 ('BMW', 'X3', '{}', false), ('BMW', 'X5', '{}', false), ('BMW', 'X6', '{}', false),
 ('Mercedes Benz', 'A Klasa', '{a class,a-class,a klase}', false), ('Mercedes Benz', 'B Klasa', '{b class,b-class,b klase}', false),
 ('Mercedes Benz', 'C Klasa', '{c class,c-class,c klase}', false), ('Mercedes Benz', 'E Klasa', '{e class,e-class,e klase}', false),
 ('Mercedes Benz', 'S Klasa', '{s class,s-class,s klase}', false), ('Mercedes Benz', 'ML', '{}', false),
 ('Mercedes Benz', 'GLC', '{}', false), ('Mercedes Benz', 'Sprinter', '{}', true), ('Mercedes Benz', 'Vito', '{}', true),
 ('Skoda', 'Octavia', '{oktavija,octavija,oktavia}', true), ('Skoda', 'Fabia', '{fabija}', true), ('Skoda', 'Superb', '{}', true),
 ('Skoda', 'Rapid', '{}', false), ('Skoda', 'Yeti', '{jeti}', true), ('Skoda', 'Kodiaq', '{kodijak}', true),
 ('Skoda', 'Karoq', '{karok}', true), ('Skoda', 'Scala', '{}', false), ('Skoda', 'Kamiq', '{}', true),
 ('Opel', 'Astra', '{}', true), ('Opel', 'Corsa', '{korsa}', true), ('Opel', 'Insignia', '{insignija}', true),
 ('Opel', 'Vectra', '{vektra}', true), ('Opel', 'Zafira', '{}', true), ('Opel', 'Meriva', '{}', true), ('Opel', 'Mokka', '{}', true),
 ('Opel', 'Grandland', '{}', true), ('Opel', 'Crossland', '{}', true),
 ('Peugeot', '206', '{}', false), ('Peugeot', '207', '{}', false), ('Peugeot', '208', '{}', false), ('Peugeot', '307', '{}', false),
 ('Peugeot', '308', '{}', false), ('Peugeot', '407', '{}', false), ('Peugeot', '508', '{}', false), ('Peugeot', '2008', '{}', false),
 ('Peugeot', '3008', '{}', false), ('Peugeot', '5008', '{}', false), ('Peugeot', 'Partner', '{}', false),
 ('Renault', 'Clio', '{klio}', true), ('Renault', 'Megane', '{megan}', true), ('Renault', 'Scenic', '{senik}', true),
 ('Renault', 'Laguna', '{}', true), ('Renault', 'Captur', '{kaptur}', true), ('Renault', 'Kadjar', '{kadzar}', true),
 ('Renault', 'Talisman', '{}', true), ('Renault', 'Twingo', '{tvingo}', true), ('Renault', 'Kangoo', '{kengu,kangu}', true),
 ('Citroen', 'C3', '{}', false), ('Citroen', 'C4', '{}', false), ('Citroen', 'C5', '{}', false), ('Citroen', 'Berlingo', '{}', true),
 ('Citroen', 'Xsara', '{ksara}', true), ('Citroen', 'C4 Picasso', '{picasso,pikaso}', true),
 ('Fiat', 'Punto', '{grande punto}', true), ('Fiat', 'Stilo', '{}', true), ('Fiat', 'Bravo', '{}', false), ('Fiat', 'Panda', '{}', false),
 ('Fiat', '500', '{}', false), ('Fiat', 'Tipo', '{}', true), ('Fiat', 'Doblo', '{}', true), ('Fiat', 'Multipla', '{}', true),
 ('Ford', 'Focus', '{fokus}', true), ('Ford', 'Fiesta', '{fijesta}', true), ('Ford', 'Mondeo', '{}', true), ('Ford', 'Kuga', '{}', true),
 ('Ford', 'C-Max', '{cmax}', true), ('Ford', 'S-Max', '{smax}', true), ('Ford', 'Fusion', '{fjuzn}', true), ('Ford', 'Ka', '{}', false),
 ('Ford', 'Galaxy', '{}', false), ('Ford', 'Puma', '{}', false), ('Ford', 'Transit', '{}', true),
 ('Toyota', 'Yaris', '{jaris}', true), ('Toyota', 'Corolla', '{korola}', true), ('Toyota', 'Auris', '{}', true),
 ('Toyota', 'Avensis', '{}', true), ('Toyota', 'RAV4', '{rav 4}', true), ('Toyota', 'C-HR', '{chr}', true),
 ('Toyota', 'Land Cruiser', '{lendkruzer}', true), ('Toyota', 'Prius', '{}', true),
 ('Zastava', 'Yugo', '{jugo,koral,yugo koral}', true), ('Zastava', '101', '{stojadin,stojadinka}', false),
 ('Zastava', '128', '{}', false), ('Zastava', '10', '{}', false),
 ('Hyundai', 'i10', '{}', true), ('Hyundai', 'i20', '{}', true), ('Hyundai', 'i30', '{}', true), ('Hyundai', 'i40', '{}', true),
 ('Hyundai', 'Tucson', '{tuson,takson}', true), ('Hyundai', 'Santa Fe', '{}', true), ('Hyundai', 'ix35', '{}', true),
 ('Hyundai', 'Getz', '{gec}', true), ('Hyundai', 'Accent', '{aksent}', false), ('Hyundai', 'Elantra', '{}', true),
 ('Kia', 'Rio', '{}', false), ('Kia', 'Ceed', '{cee''d,sid}', true), ('Kia', 'Sportage', '{sportidz}', true),
 ('Kia', 'Sorento', '{}', true), ('Kia', 'Picanto', '{pikanto}', true), ('Kia', 'Soul', '{}', false), ('Kia', 'Venga', '{}', true),
 ('Dacia', 'Sandero', '{}', true), ('Dacia', 'Logan', '{}', true), ('Dacia', 'Duster', '{daster}', true),
 ('Dacia', 'Lodgy', '{}', true), ('Dacia', 'Dokker', '{}', true), ('Dacia', 'Jogger', '{}', true),
 ('Mazda', '2', '{}', false), ('Mazda', '3', '{}', false), ('Mazda', '5', '{}', false), ('Mazda', '6', '{}', false),
 ('Mazda', 'CX-3', '{}', true), ('Mazda', 'CX-5', '{}', true), ('Mazda', 'CX-30', '{}', true),
 ('Nissan', 'Qashqai', '{kaskaj,kaskai}', true), ('Nissan', 'Micra', '{mikra}', true), ('Nissan', 'Note', '{}', false),
 ('Nissan', 'Juke', '{dzuk}', true), ('Nissan', 'X-Trail', '{xtrail,xtrejl}', true), ('Nissan', 'Almera', '{}', true),
 ('Nissan', 'Primera', '{}', true), ('Nissan', 'Navara', '{}', true), ('Nissan', 'Leaf', '{}', false),
 ('Honda', 'Civic', '{sivik}', true), ('Honda', 'Accord', '{akord}', true), ('Honda', 'Jazz', '{dzez}', false),
 ('Honda', 'CR-V', '{crv}', true), ('Honda', 'HR-V', '{hrv}', true),
 ('Seat', 'Ibiza', '{ibica}', true), ('Seat', 'Leon', '{}', true), ('Seat', 'Altea', '{}', true), ('Seat', 'Toledo', '{}', true),
 ('Seat', 'Ateca', '{}', true), ('Seat', 'Arona', '{}', true), ('Seat', 'Alhambra', '{}', true),
 ('Suzuki', 'Swift', '{svift}', true), ('Suzuki', 'Vitara', '{grand vitara}', true), ('Suzuki', 'SX4', '{}', true),
 ('Suzuki', 'Ignis', '{}', true), ('Suzuki', 'Jimny', '{dzimni}', true), ('Suzuki', 'Splash', '{}', false),
 ('Volvo', 'V40', '{}', true), ('Volvo', 'V50', '{}', true), ('Volvo', 'V60', '{}', true), ('Volvo', 'V70', '{}', true),
 ('Volvo', 'XC40', '{}', true), ('Volvo', 'XC60', '{}', true), ('Volvo', 'XC90', '{}', true), ('Volvo', 'S40', '{}', true),
 ('Volvo', 'S60', '{}', true), ('Volvo', 'S80', '{}', true),
 ('Alfa Romeo', '147', '{}', false), ('Alfa Romeo', '156', '{}', false), ('Alfa Romeo', '159', '{}', false),
 ('Alfa Romeo', 'Giulietta', '{djulijeta,đulijeta}', true), ('Alfa Romeo', 'MiTo', '{}', false), ('Alfa Romeo', 'Giulia', '{djulija}', true),
 ('Alfa Romeo', 'Stelvio', '{}', true),
 ('Mitsubishi', 'Lancer', '{lanser}', true), ('Mitsubishi', 'Outlander', '{autlender}', true), ('Mitsubishi', 'Pajero', '{padzero}', true),
 ('Mitsubishi', 'Colt', '{}', false), ('Mitsubishi', 'ASX', '{}', false), ('Mitsubishi', 'L200', '{}', true),
 ('Chevrolet', 'Aveo', '{}', true), ('Chevrolet', 'Cruze', '{kruz}', true), ('Chevrolet', 'Lacetti', '{laceti}', true),
 ('Chevrolet', 'Spark', '{}', false), ('Chevrolet', 'Captiva', '{kaptiva}', true),
 ('Land Rover', 'Range Rover', '{rendz rover}', true), ('Land Rover', 'Discovery', '{diskaveri}', true),
 ('Land Rover', 'Freelander', '{frilender}', true), ('Land Rover', 'Defender', '{}', true), ('Land Rover', 'Evoque', '{evok}', true),
 ('Lada', 'Niva', '{}', true), ('Lada', 'Samara', '{}', false), ('Mini', 'Cooper', '{kuper}', true), ('Mini', 'Countryman', '{}', true),
 ('Smart', 'Fortwo', '{for two}', true), ('Tesla', 'Model 3', '{}', false), ('Tesla', 'Model Y', '{}', false),
 ('Tesla', 'Model S', '{}', false), ('Porsche', 'Cayenne', '{kajen}', true), ('Porsche', 'Macan', '{}', true),
 ('Porsche', '911', '{}', false), ('Porsche', 'Panamera', '{}', true), ('Jeep', 'Grand Cherokee', '{grand ceroki}', true),
 ('Jeep', 'Compass', '{}', false), ('Jeep', 'Renegade', '{}', true), ('Jeep', 'Wrangler', '{rengler}', true),
 ('Subaru', 'Forester', '{}', true), ('Subaru', 'Impreza', '{}', true), ('Subaru', 'Outback', '{autbek}', true),
 ('Lancia', 'Ypsilon', '{ipsilon}', true), ('Lancia', 'Delta', '{}', false), ('Daewoo', 'Matiz', '{}', true),
 ('Daewoo', 'Lanos', '{}', true), ('Ssangyong', 'Rexton', '{}', true), ('Ssangyong', 'Korando', '{}', true),
 ('Ssangyong', 'Kyron', '{}', true), ('Jaguar', 'XF', '{}', false), ('Jaguar', 'X-Type', '{}', false),
 ('Lexus', 'RX', '{}', false), ('Lexus', 'NX', '{}', false), ('Saab', '9-3', '{}', false), ('Saab', '9-5', '{}', false);
UPDATE otto.car_name SET builtin = true;

CREATE FUNCTION otto.edit_distance(a text, b text) RETURNS int
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_edit_distance';
COMMENT ON FUNCTION otto.edit_distance(text, text) IS 'Levenshtein distance of two short ASCII words (otto.ask''s typo tolerance)';

-- Does word w (a name_key) name n (a name_key of one word)?  Exactly; or with
-- a Serbian or English ending (Golfa, Audija, BMWs); or with the last letter
-- changed by a case ending (Škodu, Astre); or, when fuzzy, within one typo
-- (two for long words).
CREATE FUNCTION otto.name_matches(w text, n text, fuzzy boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT w = n
        OR (length(n) >= 3 AND w = n || 's')
        OR (length(n) >= 4 AND n !~ '[0-9]' AND left(w, length(n)) = n
            AND substr(w, length(n) + 1) IN ('s', 'a', 'e', 'i', 'u', 'om', 'em', 'ovi', 'ove', 'ova', 'evi', 'eve', 'ja', 'je', 'ju', 'es'))
        OR (length(w) >= 5 AND n !~ '[0-9]' AND length(n) = length(w) AND left(w, -1) = left(n, -1)
            AND right(w, 1) IN ('a', 'e', 'i', 'u', 'o'))
        OR (fuzzy AND length(n) >= 5 AND length(w) >= 5 AND n !~ '[0-9]' AND otto.edit_distance(w, n) <= CASE WHEN length(n) >= 8 THEN 2 ELSE 1 END)
$fn$;

-- A question's tool and arguments, its language, and what was not understood.
CREATE FUNCTION otto.ask_route(question text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    lang   text;
    q      text;
    tok    text[];
    k      text[];
    used   boolean[];
    n      int;
    i      int;
    j      int;
    w      int;
    phrase text;
    hit    record;
    mk     text;
    md     text;
    v      bigint;
    nxt    text;
    prv    text;
    prv2   text;
    kind   text;
    qual   text;
    tool   text;
    a      jsonb := '{}';          -- slots: make, model, year(_min/_max), price_(min/max), mileage, power, fuel, ...
    f      jsonb := '{}';          -- search filters
    ids    jsonb := '[]';
    unk    text[] := '{}';
    t      text;
    plain  text;
    market_makes text[];
    market_keys  text[];
    market_models     text[];
    market_model_keys text[];
BEGIN
    IF question IS NULL OR length(question) > 1000 THEN
        RAISE EXCEPTION 'ask: a question of 1 to 1000 characters, please' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    lang := CASE WHEN question ~ '[Ѐ-ӿ]' THEN 'sr-Cyrl' END;
    -- normalise: Latin, lower case, no diacritics, numbers written out
    q := translate(lower(otto.latin(question)), 'čćšžđ', 'ccszd');
    q := replace(replace(q, '€', ' eur '), '$', ' usd ');
    q := regexp_replace(q, '(\d)[.,](\d{3})(?!\d)', '\1\2', 'g');
    q := regexp_replace(q, '(\d)[.,](\d{3})(?!\d)', '\1\2', 'g');
    q := regexp_replace(q, '(\m\d{1,3}) 000(?!\d)', '\1000', 'g');
    q := regexp_replace(q, '(\d+) ?k\M', '\1000', 'g');
    q := regexp_replace(q, '(\d+) ?(hiljad[a-z]*|hilj\M|thousand)', '\1000', 'g');
    q := regexp_replace(q, '(\d)(km|kw|ks|hp|ps|e|eur|euro|euros|evra|eura|evro)\M', '\1 \2', 'g');
    q := regexp_replace(q, '\m\d[.,]\d\s*(l|litre|liter|litara)?\s*(tdi|tsi|tfsi|hdi|cdi|dci|crdi|tdci|jtd|jtdm|mjet|multijet|d|i)?\M', ' \2', 'g');
    plain := ' ' || trim(regexp_replace(q, '[^a-z0-9]+', ' ', 'g')) || ' ';
    tok := string_to_array(trim(plain), ' ');
    n := coalesce(array_length(tok, 1), 0);
    k := ARRAY(SELECT otto.name_key(x) FROM unnest(tok) x);
    used := array_fill(false, ARRAY[greatest(n, 1)]);
    IF lang IS NULL THEN
        lang := CASE WHEN (SELECT count(*) FROM unnest(tok) x WHERE x IN ('koliko', 'kolika', 'koji', 'koja', 'koje', 'vredi', 'vrijedi',
                        'ima', 'li', 'za', 'iz', 'do', 'od', 'sa', 'se', 'na', 'da', 'i', 'je', 'su', 'ispod', 'preko', 'trazim',
                        'nadji', 'prikazi', 'cena', 'cijena', 'evra', 'eura', 'godiste', 'dizel', 'benzin', 'karavan', 'auto',
                        'auti', 'kola', 'oglas', 'oglasi', 'oglasa', 'ponude', 'ponuda', 'marke', 'modeli', 'najbrze', 'pregled',
                        'uporedi', 'kosta', 'hocu', 'imate', 'dobre', 'dobrih', 'povoljni', 'najjeftiniji', 'statistika'))
                       > (SELECT count(*) FROM unnest(tok) x WHERE x IN ('what', 'how', 'which', 'is', 'are', 'the', 'a', 'an', 'of',
                        'for', 'with', 'under', 'over', 'sell', 'cars', 'find', 'show', 'me', 'any', 'much', 'worth', 'value',
                        'deals', 'price', 'from', 'to', 'and', 'in', 'my', 'does', 'do', 'i', 'there', 'makes', 'models'))
                     THEN 'sr-Latn' ELSE 'en' END;
    END IF;

    SELECT array_agg(m.make), array_agg(otto.name_key(m.make)) INTO market_makes, market_keys
      FROM (SELECT DISTINCT g.make FROM otto.market_mm g) m;
    -- names: the longest phrase that names a make, then one of its models
    -- (or a model known alone, which names its make)
    FOR pass IN 1 .. 2 LOOP
        IF pass = 2 THEN            -- the market's own models of the make, keyed once
            SELECT array_agg(g.model), array_agg(otto.name_key(g.model)) INTO market_models, market_model_keys
              FROM otto.market_mm g WHERE g.make = mk;
        END IF;
        FOR w IN REVERSE 3 .. 1 LOOP
            FOR i IN 1 .. n - w + 1 LOOP
                CONTINUE WHEN true = ANY (used[i:i + w - 1]);
                phrase := array_to_string(k[i:i + w - 1], ' ');
                SELECT c.make, c.model, c.key INTO hit
                  FROM (SELECT x.make, x.model, key, x.standalone
                          FROM otto.car_name x, unnest(x.keys) key
                         WHERE CASE WHEN pass = 1 THEN x.model IS NULL
                                    WHEN mk IS NOT NULL THEN x.make = mk AND x.model IS NOT NULL
                                    ELSE x.standalone END
                        UNION ALL               -- and the market's own makes and models
                        SELECT m.make, NULL, m.key, false FROM unnest(market_makes, market_keys) m(make, key)
                         WHERE pass = 1
                        UNION ALL
                        SELECT mk, m.model, m.key, false FROM unnest(market_models, market_model_keys) m(model, key)
                         WHERE pass = 2) c
                 WHERE CASE WHEN w > 1 OR c.key ~ '^[0-9]' OR c.key ~ ' ' THEN c.key = phrase
                            ELSE otto.name_matches(phrase, c.key, pass = 1 OR mk IS NOT NULL) END
                   -- names that are also words count only when written as names
                   AND (lower(c.key) NOT IN ('seat', 'mini', 'smart', 'jeep') OR question ~ ('\m' || initcap(c.key) || '\M')
                        OR question ~ ('\m' || upper(c.key) || '\M'))
                 ORDER BY c.key = phrase DESC, length(c.key) DESC
                 LIMIT 1;
                IF FOUND AND (pass = 1 AND mk IS NULL OR pass = 2 AND md IS NULL) THEN
                    IF pass = 1 THEN mk := hit.make; ELSE md := hit.model; mk := coalesce(mk, hit.make); END IF;
                    FOR j IN i .. i + w - 1 LOOP used[j] := true; END LOOP;
                    IF tok[i + w - 1] ~ '^[0-9]{3}d$' THEN a := a || '{"fuel": "diesel"}'; END IF;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    IF mk IS NOT NULL THEN a := a || jsonb_build_object('make', mk); END IF;
    IF md IS NOT NULL THEN a := a || jsonb_build_object('model', md); END IF;

    -- categorical words
    FOR i IN 1 .. n LOOP
        CONTINUE WHEN used[i];
        t := tok[i];
        kind := CASE
            WHEN t ~ '^(dizel|diesel|tdi|cdi|hdi|dci|crdi|tdci|jtd|jtdm|multijet)' THEN 'fuel:diesel'
            WHEN t ~ '^(benzin|petrol|gasoline|tsi|tfsi)' OR (t = 'gas' AND lang = 'en') THEN 'fuel:petrol'
            WHEN t ~ '^(tng|lpg|plin)$' OR t = 'gas' THEN 'fuel:petrol_lpg'
            WHEN t ~ '^(metan|cng)$' THEN 'fuel:petrol_cng'
            WHEN t ~ '^(hibrid|hybrid)' THEN 'fuel:hybrid'
            WHEN t ~ '^(elektri|electric)' OR t = 'ev' THEN 'fuel:electric'
            WHEN t ~ '^(karavan|estate|wagon|kombi)' THEN 'body:estate'
            WHEN t ~ '^(limuzin|sedan)' THEN 'body:sedan'
            WHEN t ~ '^(hecbek|hatchback)' THEN 'body:hatchback'
            WHEN t ~ '^(dzip|suv|terenac|terenci|terenca)' THEN 'body:suv'
            WHEN t ~ '^(kupe|coupe)' THEN 'body:coupe'
            WHEN t ~ '^(kabrio|cabrio|convertible|roadster)' THEN 'body:convertible'
            WHEN t ~ '^(monovolumen|minivan|mpv)' THEN 'body:mpv'
            WHEN t ~ '^(pickup|pikap)' THEN 'body:pickup'
            WHEN t ~ '^(automat|dsg|tiptronic)' THEN 'gearbox:automatic'
            WHEN t ~ '^(4x4|awd|4wd|quattro|4motion|xdrive)$' THEN 'drive:all'
            END;
        IF kind IS NOT NULL THEN
            a := a || jsonb_build_object(split_part(kind, ':', 1), split_part(kind, ':', 2));
            used[i] := true;
        END IF;
    END LOOP;

    -- numbers, by their units and the words before them
    FOR i IN 1 .. n LOOP
        CONTINUE WHEN used[i] OR tok[i] !~ '^[0-9]{1,9}$';
        v := tok[i]::bigint;
        nxt := coalesce(tok[i + 1], '');
        prv := coalesce(tok[i - 1], '');
        prv2 := coalesce(tok[i - 2], '');
        IF prv IN ('eur', 'than', 'od', 'of', 'the', 'a') AND prv2 <> '' THEN       -- look past filler
            prv := CASE WHEN prv = 'eur' THEN prv2 ELSE prv2 || ' ' || prv END;
        END IF;
        kind := CASE
            WHEN plain ~ '(compar|uporedi|poredj|versus| vs )' OR coalesce(tok[i - 1], '') IN ('ad', 'ads', 'listing', 'listings', 'oglas',
                 'oglasa', 'oglase', 'oglasi', 'id', 'number', 'broj') THEN 'ad'
            WHEN nxt ~ '^(km|kms|kilomet|predjen)' THEN 'km'
            WHEN nxt ~ '^(eur|euro|evr|e|eu)$' OR nxt ~ '^(evra|eura|euros|evro)$' OR tok[i - 1] = 'eur' THEN 'price'
            WHEN nxt = 'kw' THEN 'kw'
            WHEN nxt ~ '^(hp|ks|konj|bhp|ps)' THEN 'hp'
            WHEN nxt ~ '^(day|days|dan|dana|dani)$' THEN 'days'
            WHEN v BETWEEN 1950 AND 2030 THEN 'year'
            WHEN v >= 300 THEN 'price'
            END;
        -- a bare number before a range's second half takes its unit ("between 5000 and 15000 EUR")
        IF kind IN ('year', 'price') AND coalesce(tok[i + 1], '') IN ('and', 'to', 'do', 'i', 'until') AND tok[i + 2] ~ '^[0-9]+$'
           AND coalesce(tok[i + 3], '') ~ '^(km|kilomet)' THEN
            kind := 'km';
        END IF;
        qual := CASE
            WHEN prv ~ '(^| )(under|below|less|max|maximum|up to|upto|cheaper|do|ispod|manje|najvise|maks|budget|budzet|within|until)$'
                 OR prv ~ '(less than|manje od|lower than)$' THEN 'max'
            WHEN prv ~ '(^| )(over|above|more|min|minimum|preko|vise|iznad|at least|najmanje)$' OR prv ~ '(more than|vise od)$' THEN 'min'
            WHEN prv ~ '(^| )(from|since|od|after|posle|nakon|between|izmedju)$' THEN 'from'
            WHEN prv ~ '(^| )(newer|novije|noviji|novija|novijih|mladje|mladji|mladja)( than| od)?$' THEN 'newer'
            WHEN prv ~ '(^| )(older|starije|stariji|starija|before|pre)( than| od)?$' THEN 'older'
            WHEN prv IN ('and', 'to', 'i', 'until', 'do') THEN 'max'
            END;
        IF qual IS NULL AND coalesce(tok[i + 1], '') IN ('or', 'ili', 'i') AND coalesce(tok[i + 2], '') ~ '^(newer|novij|mladj|later)' THEN
            qual := 'min';
        END IF;
        CASE kind
        WHEN 'ad' THEN ids := ids || to_jsonb(v);
        WHEN 'km' THEN a := a || jsonb_build_object(CASE WHEN qual = 'min' THEN 'mileage_min' WHEN qual = 'max' THEN 'mileage_max'
                                                          ELSE 'mileage_km' END, v);
        WHEN 'price' THEN a := a || jsonb_build_object(CASE WHEN qual IN ('min', 'from') THEN 'price_min'
                                                             WHEN qual = 'max' THEN 'price_max' ELSE 'price' END, v);
        WHEN 'kw' THEN a := a || jsonb_build_object(CASE WHEN qual = 'min' THEN 'power_min' ELSE 'power_kw' END, v);
        WHEN 'hp' THEN a := a || jsonb_build_object(CASE WHEN qual = 'min' THEN 'power_min' ELSE 'power_kw' END, round(v * 0.7355));
        WHEN 'days' THEN a := a || jsonb_build_object('since', v || CASE WHEN v = 1 THEN ' day' ELSE ' days' END);
        WHEN 'year' THEN a := a || jsonb_build_object(CASE qual WHEN 'min' THEN 'year_min' WHEN 'from' THEN 'year_min'
                                                             WHEN 'newer' THEN 'year_min' WHEN 'max' THEN 'year_max'
                                                             WHEN 'older' THEN 'year_max' ELSE 'year' END,
                                                       v + CASE qual WHEN 'newer' THEN 1 WHEN 'older' THEN -1 ELSE 0 END);
        ELSE
            IF v >= 10 THEN unk := unk || tok[i]; END IF;
        END CASE;
        IF kind IS NOT NULL THEN used[i] := true; END IF;
    END LOOP;
    IF a ? 'since' IS FALSE THEN
        a := a || CASE WHEN plain ~ ' (today|danas|danasnj[a-z]*) ' THEN '{"since": "1 day"}'
                       WHEN plain ~ ' (yesterday|juce) ' THEN '{"since": "2 days"}'
                       WHEN plain ~ ' (this week|last week|week|ove nedelje|ove sedmice|nedelju|sedmicu|ove nedelj[a-z]*) ' THEN '{"since": "1 week"}'
                       ELSE '{}' END::jsonb;
    END IF;

    -- the question
    tool := CASE
        WHEN plain ~ '(compar|uporedi|poredj|versus| vs )' AND jsonb_array_length(ids) >= 2 THEN 'compare_ads'
        WHEN jsonb_array_length(ids) >= 1 THEN 'ad_details'
        WHEN plain ~ '(depreci|amortiz|obezvre| lose | loses | losing | gubi | gube |hold[s]? (their|its|the) value|holds? value|drzi vrednost|drze vrednost|pad vrednost|value (does|do) [a-z ]*lose)' THEN 'depreciation'
        WHEN plain ~ '(sell|sold|prodaj|prodaje|prodati|prodavan)' AND plain ~ '(fast|quick|easi|brz|lak|najbrz|najlak)'
             OR plain ~ '(stay on the market|days on (the )?market|stoji na oglasu|koliko dugo|how long)' THEN 'fastest_selling'
        WHEN plain ~ '(deal|bargain|underpriced|below (fair|market|the market)|ispod trzisn|ponud|prilik|povoljn|dobr[a-z]* kupovin|najpovoljnij|priced below)' THEN 'good_deals'
        WHEN plain ~ '(overview|pregled|statisti|distribution|raspodel|how many|koliko ima|koliko oglasa|most popular|najpopularnij|average price|prosecn|median|stanje na trzistu|listed right now)' THEN 'market_overview'
        WHEN (mk IS NOT NULL OR md IS NOT NULL) AND a ?| ARRAY['year', 'year_min']
             AND plain ~ '(worth|valu|fair|price|cost|pay|estimate|fetch|vred|vrijed|kost|cen[aeiu] |cijen|procen|procjen|dobij|sell for|realn|how much)' THEN 'fair_value'
        WHEN (mk IS NOT NULL OR md IS NOT NULL)
             AND plain ~ '(worth|fair value|vredi|vrijedi|procen|procjen|how much is|koliko kosta|kolika je cena)' THEN 'fair_value'
        WHEN plain ~ '(find|show|search|look|list|any|want|buy|trazim|nadj|pronadj|prikaz|imate|ima li|oglasi|kupim|kupiti|hocu|for sale|na prodaju|cheapest|najjeftinij|lowest mileage|najmanje kilomet)'
             OR a ?| ARRAY['fuel', 'body', 'gearbox', 'drive', 'price_max', 'price_min'] OR mk IS NOT NULL THEN 'search_ads'
        END;

    -- the tool's arguments from the slots
    a := a - CASE WHEN tool = 'search_ads' THEN ARRAY[]::text[] ELSE ARRAY['mileage_max', 'mileage_min'] END;
    CASE tool
    WHEN 'compare_ads' THEN a := jsonb_build_object('ad_ids', ids);
    WHEN 'ad_details' THEN a := jsonb_build_object('ad_id', ids->0);
    WHEN 'fair_value' THEN
        a := jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model', 'year', coalesce(a->'year', a->'year_min'),
                                                  'mileage_km', a->'mileage_km', 'fuel', a->'fuel', 'power_kw', a->'power_kw'));
    WHEN 'depreciation' THEN
        a := jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model',
                 'by_model', CASE WHEN mk IS NULL AND plain ~ ' (models|modeli|modela|modele) ' THEN true END));
    WHEN 'fastest_selling' THEN
        a := jsonb_strip_nulls(jsonb_build_object(
                 'level', CASE WHEN plain ~ ' (makes|brands|marke|marka|marki|brendovi|brands) ' THEN 'make'
                               WHEN plain ~ '(model years|godista|godiste)' THEN 'model_year' END,
                 'price_min', a->'price_min', 'price_max', coalesce(a->'price_max', a->'price'), 'body', a->'body', 'fuel', a->'fuel'));
    WHEN 'good_deals' THEN
        a := jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model',
                 'max_price', coalesce(a->'price_max', a->'price'), 'fuel', a->'fuel', 'body', a->'body', 'since', a->'since'));
    WHEN 'market_overview' THEN
        a := jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model'));
    WHEN 'search_ads' THEN
        f := jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model',
                 'year_min', coalesce(a->'year_min', a->'year'), 'year_max', coalesce(a->'year_max', a->'year'),
                 'price_min', a->'price_min', 'price_max', coalesce(a->'price_max', a->'price'),
                 'mileage_max', coalesce(a->'mileage_max', a->'mileage_km'), 'mileage_min', a->'mileage_min',
                 'power_min', coalesce(a->'power_min', a->'power_kw'),
                 'fuel', a->'fuel', 'body', a->'body', 'gearbox', a->'gearbox', 'drive', a->'drive'));
        a := jsonb_strip_nulls(jsonb_build_object('filters', f,
                 'sort', CASE WHEN plain ~ '(cheapest|najjeftinij|lowest price|najniz[a-z]* cen)' THEN 'price_asc'
                              WHEN plain ~ '(lowest mileage|least km|fewest km|najmanje kilomet|najmanje predjen)' THEN 'mileage_asc'
                              WHEN plain ~ '(most powerful|najjac)' THEN 'power_desc' END));
    ELSE
        a := '{}';
    END CASE;
    -- words that look like names but are not known
    unk := unk || ARRAY(SELECT x FROM regexp_split_to_table(question, '[^[:alnum:]-]+') WITH ORDINALITY r(x, o)
                         WHERE o > 1 AND x ~ '^[[:upper:]][[:lower:]]{2,}'
                           AND otto.name_key(x) NOT IN (SELECT k[p] FROM unnest(array_positions(used, true)) p)
                           AND otto.name_key(x) NOT IN (SELECT otto.name_key(s) FROM otto.vocabulary v, unnest(v.label_sr || v.label_en || v.spellings) s));
    RETURN jsonb_build_object('tool', tool, 'arguments', a, 'language', lang,
                              'not_understood', to_jsonb(unk));
END
$fn$;
COMMENT ON FUNCTION otto.ask_route(text) IS 'How otto.ask understands a question: the tool, its arguments, the language (en, sr-Latn, sr-Cyrl) and the words it did not understand';

-- A sentence template in the asker's language: en, sr (Latin), or sr written
-- in Cyrillic (the template only; names and numbers stay as they are).
CREATE FUNCTION otto.ask_text(lang text, en text, sr text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE lang WHEN 'en' THEN en WHEN 'sr-Latn' THEN sr
                     ELSE replace(otto.cyrillic(replace(sr, '%s', '¤')), '¤', '%s') END
$fn$;

-- A number as the language writes it: 12,345.6 or 12.345,6.
CREATE FUNCTION otto.ask_num(x numeric, lang text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN lang = 'en' THEN s ELSE translate(s, ',.', '.,') END
      FROM (SELECT CASE WHEN x = trunc(x) THEN to_char(x, 'FM999,999,999,990') ELSE to_char(x, 'FM999,999,990.0') END AS s) t
$fn$;

-- The short answer to a routed question, from the tool's result.
CREATE FUNCTION otto.ask_answer(lang text, tool text, r jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    car   text := concat_ws(' ', r->>'make', r->>'model');
    items text;
BEGIN
    CASE tool
    WHEN 'fair_value' THEN
        IF r->>'estimate_eur' IS NULL THEN
            RETURN format(otto.ask_text(lang, 'There are not enough live ads of the %s to value it.',
                                        'Nema dovoljno oglasa za %s da bi se procenila vrednost.'), car);
        END IF;
        RETURN format(otto.ask_text(lang, 'A %s %s%s is worth about €%s (80%% range €%s-%s), from %s comparable ads; confidence: %s.',
                                          '%s %s. godište%s vredi oko %s € (80%% opseg %s-%s €), na osnovu %s uporedivih oglasa; pouzdanost: %s.'),
                      CASE WHEN lang = 'en' THEN r->>'year' ELSE car END, CASE WHEN lang = 'en' THEN car ELSE r->>'year' END,
                      CASE WHEN r->>'mileage_km' IS NOT NULL THEN otto.ask_text(lang, ' with ', ' sa ') || otto.ask_num((r->>'mileage_km')::numeric, lang) || ' km' ELSE '' END,
                      otto.ask_num((r->>'estimate_eur')::numeric, lang), otto.ask_num((r->'range_80_eur'->>0)::numeric, lang),
                      otto.ask_num((r->'range_80_eur'->>1)::numeric, lang), r->'comparables'->>'count',
                      CASE WHEN lang = 'en' THEN r->>'confidence'
                           ELSE otto.ask_text(lang, '', CASE r->>'confidence' WHEN 'high' THEN 'visoka' WHEN 'medium' THEN 'srednja' ELSE 'niska' END) END);
    WHEN 'depreciation' THEN
        IF r ? 'ranking' THEN
            SELECT string_agg(concat_ws(' ', x->>'make', x->>'model') || ' (' || otto.ask_num((x->>'annual_rate_pct')::numeric, lang) || '%)', ', ' ORDER BY o)
              INTO items FROM jsonb_array_elements(r->'ranking') WITH ORDINALITY e(x, o) WHERE o <= 5;
            RETURN CASE WHEN items IS NULL THEN otto.ask_text(lang, 'Not enough ads yet to rank depreciation.', 'Još nema dovoljno oglasa za rangiranje.')
                        ELSE format(otto.ask_text(lang, 'Losing value fastest (per year): %s.', 'Najbrže gube vrednost (godišnje): %s.'), items) END;
        END IF;
        IF r->>'annual_rate_pct' IS NULL THEN
            RETURN format(otto.ask_text(lang, 'Not enough ads of the %s yet to measure its depreciation.',
                                        'Još nema dovoljno oglasa za %s da bi se izmerio pad vrednosti.'), car);
        END IF;
        RETURN format(otto.ask_text(lang, 'The %s loses about %s%% of its value per year (95%% interval %s-%s%%), from %s ads.',
                                          '%s gubi oko %s%% vrednosti godišnje (95%% interval %s-%s%%), na osnovu %s oglasa.'),
                      car, otto.ask_num((r->>'annual_rate_pct')::numeric, lang), otto.ask_num((r->'annual_rate_95_pct'->>0)::numeric, lang),
                      otto.ask_num((r->'annual_rate_95_pct'->>1)::numeric, lang), r->>'n');
    WHEN 'fastest_selling' THEN
        SELECT string_agg(concat_ws(' ', x->>'make', x->>'model', x->>'model_year') || ' ('
                          || format(otto.ask_text(lang, '%s days, %s%% within a week', '%s dana, %s%% za nedelju dana'),
                                    otto.ask_num((x->>'median_days')::numeric, lang), otto.ask_num((x->>'sold_within_7d_pct')::numeric, lang)) || ')',
                          ', ' ORDER BY o)
          INTO items FROM jsonb_array_elements(r->'ranking') WITH ORDINALITY e(x, o) WHERE o <= 5;
        RETURN CASE WHEN items IS NULL THEN format(otto.ask_text(lang, 'No group has %s sales yet.', 'Još nijedna grupa nema %s prodaja.'), r->>'min_sold')
                    ELSE format(otto.ask_text(lang, 'Selling fastest (median days on market): %s.', 'Najbrže se prodaju (medijana dana na oglasu): %s.'), items) END;
    WHEN 'good_deals' THEN
        SELECT string_agg(format(otto.ask_text(lang, '%s %s for €%s, %s%% under its fair value of €%s (%s)', '%s %s za %s €, %s%% ispod procene od %s € (%s)'),
                                 concat_ws(' ', x->>'make', x->>'model'), x->>'year', otto.ask_num((x->>'price_eur')::numeric, lang),
                                 otto.ask_num((x->>'gap_pct')::numeric, lang), otto.ask_num((x->>'fair_value_eur')::numeric, lang), x->>'url'),
                          '; ' ORDER BY o)
          INTO items FROM jsonb_array_elements(r->'deals') WITH ORDINALITY e(x, o) WHERE o <= 3;
        RETURN CASE WHEN items IS NULL THEN otto.ask_text(lang, 'No fresh ads are priced well under their fair value right now.',
                                                          'Trenutno nema svežih oglasa znatno ispod procenjene vrednosti.')
                    ELSE format(otto.ask_text(lang, '%s deals; the best: %s.', '%s dobrih ponuda; najbolje: %s.'),
                                jsonb_array_length(r->'deals'), items) END;
    WHEN 'search_ads' THEN
        SELECT string_agg(format('%s, %s, %s km, %s € (%s)', coalesce(x->>'title', concat_ws(' ', x->>'make', x->>'model')), x->>'year',
                                 otto.ask_num((x->>'mileage_km')::numeric, lang), otto.ask_num((x->>'price_eur')::numeric, lang), x->>'url'),
                          '; ' ORDER BY o)
          INTO items FROM jsonb_array_elements(r->'ads') WITH ORDINALITY e(x, o) WHERE o <= 3;
        RETURN CASE WHEN items IS NULL THEN otto.ask_text(lang, 'No live ads match.', 'Nema oglasa koji odgovaraju.')
                    ELSE format(otto.ask_text(lang, '%s%s ads found, for example: %s.', 'Pronađeno %s%s oglasa, na primer: %s.'),
                                jsonb_array_length(r->'ads'), CASE WHEN (r->>'truncated')::boolean THEN '+' ELSE '' END, items) END;
    WHEN 'market_overview' THEN
        RETURN format(otto.ask_text(lang, '%s%s live ads; median price €%s, median mileage %s km.',
                                          '%s%s aktivnih oglasa; medijana cene %s €, medijana kilometraže %s km.'),
                      CASE WHEN car <> '' THEN car || ': ' ELSE '' END, otto.ask_num((r->>'live')::numeric, lang),
                      otto.ask_num((r->>'price_median_eur')::numeric, lang), otto.ask_num((r->>'mileage_median_km')::numeric, lang));
    WHEN 'ad_details' THEN
        RETURN format(otto.ask_text(lang, '%s %s, %s km, €%s; fair value €%s (%s).', '%s %s, %s km, %s €; procena %s € (%s).'),
                      car, r->>'year', otto.ask_num((r->>'mileage_km')::numeric, lang), otto.ask_num((r->>'price_eur')::numeric, lang),
                      coalesce(otto.ask_num((r->>'fair_value_eur')::numeric, lang), '?'), coalesce(r->>'deal', '-'));
    WHEN 'compare_ads' THEN
        SELECT string_agg(format('%s: %s', x->>'field', x->>'best_ad_id'), ', ')
          INTO items FROM jsonb_array_elements(r->'comparison') x
         WHERE x->>'field' IN ('price_eur', 'year', 'mileage_km', 'gap_pct') AND x->>'best_ad_id' IS NOT NULL;
        RETURN format(otto.ask_text(lang, 'Compared %s ads; best by %s.', 'Upoređeno %s oglasa; najbolji po %s.'),
                      r->>'n', coalesce(items, '-'));
    ELSE
        RETURN NULL;
    END CASE;
END
$fn$;

-- The make and model as the market spells them: "Golf" becomes the market's
-- "Golf 7" when that is how the site lists the 2015 ones.
CREATE FUNCTION otto.market_resolve(make_name text, model_name text, year int DEFAULT NULL, OUT make text, OUT model text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    SELECT m.make INTO make FROM otto.market_mm m WHERE lower(m.make) = lower(make_name)
     GROUP BY 1 ORDER BY sum(m.s[1]) DESC LIMIT 1;
    IF make IS NULL THEN            -- spelt otherwise: compare keys (OFFSET 0 keys each make once)
        SELECT m.make INTO make FROM (SELECT DISTINCT g.make FROM otto.market_mm g OFFSET 0) m
         WHERE otto.name_key(m.make) = otto.name_key(make_name) LIMIT 1;
    END IF;
    make := coalesce(make, make_name);
    IF model_name IS NOT NULL THEN
        SELECT g.model INTO model FROM otto.market_mmy g
         WHERE g.make = market_resolve.make
           AND (otto.name_key(g.model) = otto.name_key(model_name) OR otto.name_key(g.model) LIKE otto.name_key(model_name) || ' %')
         GROUP BY g.model
         ORDER BY otto.name_key(g.model) = otto.name_key(model_name) DESC,
                  sum(g.s[2]) FILTER (WHERE g.year = market_resolve.year) DESC NULLS LAST, sum(g.s[2]) DESC
         LIMIT 1;
        model := coalesce(model, model_name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.market_resolve(text, text, int) IS 'A make and model as the market spells them (a model family such as Golf becomes the market''s most common Golf N of that year)';

CREATE FUNCTION otto.ask(question text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    route  jsonb := otto.ask_route(question);
    lang   text := route->>'language';
    tool   text := route->>'tool';
    args   jsonb := route->'arguments';
    target text[];
    nm     record;
    res    jsonb;
    answer text;
    need   text[];
BEGIN
    IF tool IS NULL THEN
        RETURN route || jsonb_build_object('question', question, 'answer', otto.ask_text(lang,
            'I did not understand the question. I can tell the fair value of a car (make, model, year), how fast makes and models lose value, what sells fastest, where the good deals are, search ads and give a market overview.',
            'Nisam razumeo pitanje. Mogu da procenim vrednost automobila (marka, model, godište), kažem koliko brzo marke i modeli gube vrednost, šta se najbrže prodaje, gde su dobre ponude, da pretražim oglase i dam pregled tržišta.'));
    END IF;
    IF tool = 'fair_value' THEN
        need := ARRAY(SELECT x FROM unnest(ARRAY['make', 'model', 'year']) x WHERE NOT args ? x);
        IF need <> '{}' THEN
            RETURN route || jsonb_build_object('question', question, 'missing', to_jsonb(need), 'answer',
                format(otto.ask_text(lang, 'To value a car I need its make, model and model year; missing: %s.',
                                           'Za procenu su potrebni marka, model i godište; nedostaje: %s.'),
                       array_to_string(ARRAY(SELECT otto.ask_text(lang, x, CASE x WHEN 'make' THEN 'marka' WHEN 'model' THEN 'model' ELSE 'godište' END)
                                               FROM unnest(need) x), ', ')));
        END IF;
    END IF;
    -- names as the market spells them
    target := CASE WHEN tool = 'search_ads' THEN ARRAY['filters'] ELSE ARRAY[]::text[] END;
    IF args #> (target || 'make'::text) IS NOT NULL THEN
        nm := otto.market_resolve(args #>> (target || 'make'::text), args #>> (target || 'model'::text), (args->>'year')::int);
        args := jsonb_set(args, target || 'make'::text, to_jsonb(nm.make));
        IF nm.model IS NOT NULL THEN
            args := jsonb_set(args, target || 'model'::text, to_jsonb(nm.model));
        END IF;
    END IF;
    BEGIN
        res := otto.call_tool(tool, args);
        answer := otto.ask_answer(lang, tool, res);
    EXCEPTION WHEN invalid_parameter_value OR no_data_found THEN
        answer := otto.ask_text(lang, 'I could not answer that: ', 'Ne mogu da odgovorim: ') || SQLERRM;
    END;
    RETURN jsonb_build_object('question', question, 'language', lang, 'tool', tool, 'arguments', args,
                              'not_understood', route->'not_understood', 'answer', answer, 'result', res,
                              'as_of', res->'as_of');
END
$fn$;
COMMENT ON FUNCTION otto.ask(text) IS 'Answers a plain-language question about the car market (English or Serbian, Latin or Cyrillic) by routing it to a tool: the tool and arguments it chose, a short answer in the question''s language, the tool''s result, and what it did not understand';

-- The tools.  Enums are the vocabulary's codes; every list has a limit (default 20, at most 100).
INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema, list_key, arg_params) VALUES
('fair_value', 'Fair value of a car',
 'What a used car of a given make, model and model year is worth on the market now, in euros: an estimate, an 80% range, the comparable live ads it is based on (with links to a few), and a confidence level. Give mileage, fuel and power when known: they sharpen the estimate. When the exact group is thin it widens (neighbouring years, all years, the make) and says so in "fallback".',
 'otto.fair_value(text,text,int,int,text,int)',
 '{"type": "object", "additionalProperties": false, "required": ["make", "model", "year"], "properties": {
   "make": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Make as people write it, e.g. Volkswagen, Škoda, BMW"},
   "model": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Model, e.g. Golf, Octavia, 320"},
   "year": {"type": "integer", "minimum": 1950, "maximum": 2030, "description": "Model year, e.g. 2015"},
   "mileage_km": {"type": "integer", "minimum": 0, "maximum": 2000000, "description": "Mileage in kilometres"},
   "fuel": {"type": "string", "enum": ["diesel", "petrol", "petrol_lpg", "petrol_cng", "hybrid", "electric"]},
   "power_kw": {"type": "integer", "minimum": 10, "maximum": 1000, "description": "Engine power in kW (1 hp = 0.7355 kW)"}}}',
 '{"type": "object", "required": ["as_of", "n"], "properties": {
   "estimate_eur": {"type": ["integer", "null"]}, "range_80_eur": {"type": "array", "items": {"type": "integer"}},
   "confidence": {"type": "string", "enum": ["high", "medium", "low"]}, "comparables": {"type": "object"},
   "fallback": {"type": ["string", "null"]}, "currency": {"type": "string"}, "method": {"type": "string"},
   "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('depreciation', 'Depreciation',
 'How fast cars lose value. With a make (and optionally a model): the annual depreciation rate from a log-price regression on age and mileage with its 95% interval, the value curve by model year, price cuts seen on live ads, and the make''s models ranked. Without a make: makes (or, with by_model, models) ranked by depreciation, fastest first.',
 'otto.depreciation(text,text,int,boolean,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "make": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Make; leave out for a ranking of the market"},
   "model": {"type": "string", "minLength": 1, "maxLength": 40},
   "by_model": {"type": "boolean", "default": false, "description": "Rank models instead of makes (without a make)"},
   "min_ads": {"type": "integer", "minimum": 5, "maximum": 10000, "default": 30, "description": "Least priced live ads a make or model needs to be ranked"},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}}',
 '{"type": "object", "required": ["as_of", "n"], "properties": {
   "annual_rate_pct": {"type": ["number", "null"]}, "ranking": {"type": "array"}, "value_curve": {"type": ["array", "null"]},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'ranking', '{"limit": "lim"}'),
('fastest_selling', 'Fastest-selling cars',
 'Which makes, models or model years sell fastest: ranked by median days on market of the cars sold (an ad gone for good; relisted cars are not sales), with the share sold within 7 and 30 days. Filter by price band, body and fuel; groups need min_sold sales to be ranked.',
 'otto.fastest_selling(text,int,int,text,text,int,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "level": {"type": "string", "enum": ["make", "model", "model_year"], "default": "model"},
   "price_min": {"type": "integer", "minimum": 0, "maximum": 10000000, "description": "Euros"},
   "price_max": {"type": "integer", "minimum": 0, "maximum": 10000000, "description": "Euros"},
   "body": {"type": "string", "enum": ["sedan", "hatchback", "estate", "coupe", "convertible", "mpv", "suv", "pickup"]},
   "fuel": {"type": "string", "enum": ["diesel", "petrol", "petrol_lpg", "petrol_cng", "hybrid", "electric"]},
   "min_sold": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}}',
 '{"type": "object", "required": ["as_of", "n", "ranking"], "properties": {
   "ranking": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'ranking', '{"limit": "lim"}'),
('good_deals', 'Good deals',
 'Fresh ads (new, relisted or cut in price within "since") priced well under their fair value, best first: each with its price, fair value and 80% range, the gap in euros and percent, a deal class (great: 20% or more under, good: 10-20%, fair: within 10%, high: more than 10% over) and why it is a deal. Damaged cars are left out unless asked for.',
 'otto.good_deals(interval,int,text,text,int,text,text,numeric,boolean)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "since": {"type": "string", "pattern": "^[1-9][0-9]{0,2} (hour|hours|day|days|week|weeks)$", "default": "1 day", "description": "How fresh, e.g. \"6 hours\", \"3 days\", \"1 week\""},
   "make": {"type": "string", "minLength": 1, "maxLength": 40}, "model": {"type": "string", "minLength": 1, "maxLength": 40},
   "max_price": {"type": "integer", "minimum": 0, "maximum": 10000000, "description": "Euros"},
   "fuel": {"type": "string", "enum": ["diesel", "petrol", "petrol_lpg", "petrol_cng", "hybrid", "electric"]},
   "body": {"type": "string", "enum": ["sedan", "hatchback", "estate", "coupe", "convertible", "mpv", "suv", "pickup"]},
   "min_gap_pct": {"type": "number", "minimum": 0, "maximum": 90, "default": 10, "description": "Least percentage under fair value"},
   "include_damaged": {"type": "boolean", "default": false},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}}',
 '{"type": "object", "required": ["as_of", "n", "deals"], "properties": {
   "deals": {"type": "array", "items": {"type": "object"}}, "classes": {"type": "object"}, "truncated": {"type": "boolean"},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'deals', '{"limit": "lim"}'),
('search_ads', 'Search ads',
 'Live ads matching any combination of filters, sorted, a page at a time. Categorical filters take a code or a list of codes. Prices in euros, mileage in km, power in kW, engine size in cm3.',
 'otto.search_ads(jsonb,text,int,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "filters": {"type": "object", "additionalProperties": false, "default": {}, "properties": {
     "make": {"type": "string", "maxLength": 40}, "model": {"type": "string", "maxLength": 40},
     "year_min": {"type": "integer", "minimum": 1900, "maximum": 2100}, "year_max": {"type": "integer", "minimum": 1900, "maximum": 2100},
     "price_min": {"type": "integer", "minimum": 0, "maximum": 10000000}, "price_max": {"type": "integer", "minimum": 0, "maximum": 10000000},
     "mileage_min": {"type": "integer", "minimum": 0, "maximum": 3000000}, "mileage_max": {"type": "integer", "minimum": 0, "maximum": 3000000},
     "power_min": {"type": "integer", "minimum": 0, "maximum": 2000}, "power_max": {"type": "integer", "minimum": 0, "maximum": 2000},
     "engine_cc_min": {"type": "integer", "minimum": 0, "maximum": 20000}, "engine_cc_max": {"type": "integer", "minimum": 0, "maximum": 20000},
     "seats_min": {"type": "integer", "minimum": 1, "maximum": 99}, "seats_max": {"type": "integer", "minimum": 1, "maximum": 99},
     "doors": {"type": "string", "maxLength": 10, "description": "As the site writes it, e.g. 4/5"},
     "fuel": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "body": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "gearbox": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "drive": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "color": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "seller_type": {"type": "string", "enum": ["private", "dealer"]},
     "region": {"type": "string", "maxLength": 60}, "city": {"type": "string", "maxLength": 60},
     "damaged": {"type": "boolean", "description": "true: only damaged cars; false: only undamaged"},
     "price_cut": {"type": "boolean", "description": "true: only ads whose price was cut"},
     "good_deal": {"type": "boolean", "description": "true: only ads at least 10% under their model''s price line"},
     "text": {"type": "string", "maxLength": 100, "description": "Words in the title"}}},
   "sort": {"type": "string", "enum": ["newest", "price_asc", "price_desc", "mileage_asc", "year_desc", "power_desc", "deal"], "default": "newest"},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
   "offset": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0}}}',
 '{"type": "object", "required": ["as_of", "n", "ads"], "properties": {
   "ads": {"type": "array", "items": {"type": "object"}}, "filters": {"type": "object"}, "truncated": {"type": "boolean"},
   "currency": {"type": "string"}, "units": {"type": "object"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'ads', '{"limit": "lim", "offset": "off"}'),
('ad_details', 'Ad details',
 'Everything Otto knows about one ad: its fields, its price and event history, how long it has been listed, and its fair value with the gap and deal class.',
 'otto.ad_details(bigint)',
 '{"type": "object", "additionalProperties": false, "required": ["ad_id"], "properties": {
   "ad_id": {"type": "integer", "minimum": 1, "maximum": 9007199254740991, "description": "Otto''s ad id, as search_ads and good_deals return it"}}}',
 '{"type": "object", "required": ["ad_id", "as_of"], "properties": {
   "ad_id": {"type": "integer"}, "url": {"type": "string"}, "price_eur": {"type": ["integer", "null"]},
   "fair_value": {"type": ["object", "null"]}, "history": {"type": ["array", "null"]}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('compare_ads', 'Compare ads',
 'Two to five ads side by side: each one''s details, fair value gap, depreciation and days listed, and for each field whether they differ and which ad is best at it (newest, lowest mileage and price, largest gap under fair value, most power).',
 'otto.compare_ads(bigint[])',
 '{"type": "object", "additionalProperties": false, "required": ["ad_ids"], "properties": {
   "ad_ids": {"type": "array", "minItems": 2, "maxItems": 5, "items": {"type": "integer", "minimum": 1, "maximum": 9007199254740991}}}}',
 '{"type": "object", "required": ["ads", "comparison", "as_of"], "properties": {
   "ads": {"type": "array"}, "comparison": {"type": "array"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('market_overview', 'Market overview',
 'The market at a glance, or one make or model: live ads, median price and mileage, the day''s new ads, sales and price cuts, the most popular makes or models, and price, mileage and model-year histograms for charts.',
 'otto.market_overview(text,text)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "make": {"type": "string", "minLength": 1, "maxLength": 40}, "model": {"type": "string", "minLength": 1, "maxLength": 40}}}',
 '{"type": "object", "required": ["as_of"], "properties": {
   "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('ask', 'Ask Otto',
 'Answers a plain-language question about the car market, in English or Serbian (Latin or Cyrillic script), without a language model: it recognises makes and models (common spellings and typos too), years, mileage, prices, fuel and body, picks one of the other tools, and returns a short answer in the question''s language with that tool''s result and what it did not understand. Prefer the specific tools when the arguments are clear.',
 'otto.ask(text)',
 '{"type": "object", "additionalProperties": false, "required": ["question"], "properties": {
   "question": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "The question, e.g. \"Koliko vredi Audi A4 iz 2008?\""}}}',
 '{"type": "object", "required": ["question", "language", "answer"], "properties": {
   "tool": {"type": ["string", "null"]}, "arguments": {"type": "object"}, "language": {"type": "string", "enum": ["en", "sr-Latn", "sr-Cyrl"]},
   "answer": {"type": "string"}, "result": {"type": ["object", "null"]}, "not_understood": {"type": "array"},
   "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}');
-- Row-level security: a signed-in front end (otto_app) sees and changes its
-- user's rows only; otto_admin sees all.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['app_user', 'user_event', 'saved_search', 'alert', 'review'] LOOP
        EXECUTE format('ALTER TABLE otto.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON otto.%I TO otto_app USING (user_id = otto.current_user_id()) '
                       'WITH CHECK (user_id = otto.current_user_id())', t || '_own', t);
        EXECUTE format('CREATE POLICY %I ON otto.%I TO otto_admin USING (true) WITH CHECK (true)', t || '_admin', t);
    END LOOP;
END
$$;

INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema, list_key, arg_params) VALUES
('similar_ads', 'Similar cars',
 'Live ads most like a given ad: the same model in neighbouring model years, and cars of the same body and fuel in the same price band, ranked by how close they are in make, model, body, fuel, gearbox, model year, price, mileage and power. Each comes with a similarity score (0-100) and how it differs ("same model, 1 years newer, 12% cheaper").',
 'otto.similar_ads(bigint,int,text)',
 '{"type": "object", "additionalProperties": false, "required": ["ad_id"], "properties": {
   "ad_id": {"type": "integer", "minimum": 1, "description": "An ad id from search_ads, good_deals or ad_details"},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
   "lang": {"type": "string", "enum": ["en", "sr-Latn", "sr-Cyrl"], "description": "Language of the explanations"}}}',
 '{"type": "object", "required": ["as_of", "n", "similar"], "properties": {
   "ad": {"type": "object"}, "similar": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'similar', '{"limit": "lim"}'),
('recommend', 'Recommendations for me',
 'Cars the signed-in user may like: live ads they have not seen yet, from the ads they liked and viewed and from what other users with the same likes like, each with the reason. Without any likes or views yet: fresh good deals and popular ads. Needs a signed-in user (otto-mcp signs in with OTTO_MCP_USER_TOKEN); otherwise it fails and says so.',
 'otto.recommend(int,text)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
   "lang": {"type": "string", "enum": ["en", "sr-Latn", "sr-Cyrl"], "description": "Language of the reasons"}}}',
 '{"type": "object", "required": ["as_of", "n", "recommendations"], "properties": {
   "recommendations": {"type": "array", "items": {"type": "object"}}, "cold_start": {"type": "boolean"},
   "truncated": {"type": "boolean"}, "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'recommendations', '{"limit": "lim"}'),
('ratings', 'Ratings and reviews',
 'What Otto''s users think of a model (give make and model) or of a seller (give site and seller_id): the average rating (1-5), how many rated it, the distribution, and the latest reviews, anonymous. Review texts are as users wrote them; title_html and body_html are the same text escaped for HTML.',
 'otto.ratings(text,text,text,text,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "make": {"type": "string", "minLength": 1, "maxLength": 40}, "model": {"type": "string", "minLength": 1, "maxLength": 40},
   "site": {"type": "string", "minLength": 1, "maxLength": 63}, "seller_id": {"type": "string", "minLength": 1, "maxLength": 100},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5, "description": "How many of the latest reviews"}}}',
 '{"type": "object", "required": ["as_of", "n"], "properties": {
   "average": {"type": ["number", "null"]}, "count": {"type": "integer"}, "distribution": {"type": "object"},
   "reviews": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'reviews', '{"limit": "lim"}');
UPDATE otto.tool SET builtin = true;

-------------------------------------------------------------------------------
-- pg_dump keeps user data (the extension's own rows are recreated by the script).
-------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('otto.site', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('otto.vocabulary', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('otto.site_site_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.frontier', '');
SELECT pg_catalog.pg_extension_config_dump('otto.page', '');
SELECT pg_catalog.pg_extension_config_dump('otto.page_page_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.ad', '');
SELECT pg_catalog.pg_extension_config_dump('otto.ad_ad_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.ad_event', '');
SELECT pg_catalog.pg_extension_config_dump('otto.ad_event_event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.robots', '');
SELECT pg_catalog.pg_extension_config_dump('otto.stream_state', '');
SELECT pg_catalog.pg_extension_config_dump('otto.market_ad', '');
SELECT pg_catalog.pg_extension_config_dump('otto.market_mmy', '');
SELECT pg_catalog.pg_extension_config_dump('otto.market_mm', '');
SELECT pg_catalog.pg_extension_config_dump('otto.tool', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('otto.car_name', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('otto.app_user', '');
SELECT pg_catalog.pg_extension_config_dump('otto.app_user_user_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.user_event', '');
SELECT pg_catalog.pg_extension_config_dump('otto.user_event_event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.saved_search', '');
SELECT pg_catalog.pg_extension_config_dump('otto.saved_search_search_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.alert', '');
SELECT pg_catalog.pg_extension_config_dump('otto.alert_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.alert_state', '');
SELECT pg_catalog.pg_extension_config_dump('otto.review', '');
SELECT pg_catalog.pg_extension_config_dump('otto.review_review_id_seq', '');

-------------------------------------------------------------------------------
-- Metrics, in Prometheus' terms.  otto.metrics is every series (name,
-- labels, value); otto.metrics_prometheus() writes them in the text format;
-- metrics/queries.yaml maps them for prometheus-postgres-exporter.
-------------------------------------------------------------------------------
CREATE FUNCTION otto.fetch_counters() RETURNS TABLE (counter text, label text, value float8)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'otto_fetch_counters';
COMMENT ON FUNCTION otto.fetch_counters() IS 'The crawlers'' fetch counters since server start (shared memory): pages by HTTP status, errors by kind, robots.txt fetches, wire bytes, latency histogram (cumulative, label = upper bound in seconds), its sum and count; none without shared_preload_libraries';

-- Each worker's start, written by the worker itself: restarts are the starts
-- beyond each slot's first since the server started (a crash's restart
-- included, which shared memory would forget).
CREATE TABLE otto.worker_start (
    worker          text NOT NULL CHECK (worker IN ('launcher', 'crawler', 'stream')),
    slot            int NOT NULL,
    pid             int NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX worker_start_started_idx ON otto.worker_start (started_at);
COMMENT ON TABLE otto.worker_start IS 'Starts of Otto''s background workers since the server started (older ones are dropped at each start)';
COMMENT ON COLUMN otto.worker_start.worker IS 'launcher, crawler or stream (the stream processor)';
COMMENT ON COLUMN otto.worker_start.slot IS 'Which of its kind: the crawler''s index (0 for the others)';
COMMENT ON COLUMN otto.worker_start.pid IS 'The worker''s process id';
COMMENT ON COLUMN otto.worker_start.started_at IS 'When it started (rows from before the server''s start are dropped)';

CREATE FUNCTION otto.worker_started(worker text, slot int) RETURNS bigint
LANGUAGE sql
AS $fn$
    DELETE FROM otto.worker_start WHERE started_at < pg_postmaster_start_time();
    INSERT INTO otto.worker_start (worker, slot, pid) VALUES ($1, $2, pg_backend_pid()) RETURNING 1::bigint;
$fn$;
COMMENT ON FUNCTION otto.worker_started(text, int) IS 'Called by each Otto worker as it starts (otto.metrics counts starts and restarts)';

CREATE VIEW otto.metrics AS
-- the crawlers' fetches since server start
SELECT CASE c.counter WHEN 'pages' THEN 'otto_pages_fetched_total' WHEN 'errors' THEN 'otto_page_errors_total'
                      WHEN 'robots' THEN 'otto_robots_fetched_total' WHEN 'wire_bytes' THEN 'otto_fetched_bytes_total'
                      WHEN 'latency_le' THEN 'otto_fetch_duration_seconds_bucket'
                      WHEN 'latency_sum' THEN 'otto_fetch_duration_seconds_sum'
                      ELSE 'otto_fetch_duration_seconds_count' END AS name,
       CASE c.counter WHEN 'pages' THEN jsonb_build_object('status', c.label) WHEN 'errors' THEN jsonb_build_object('kind', c.label)
                      WHEN 'latency_le' THEN jsonb_build_object('le', c.label) ELSE '{}' END AS labels,
       c.value
  FROM otto.fetch_counters() c
UNION ALL
-- the frontier: URLs by state, and those due now (how many, how late the oldest)
SELECT 'otto_frontier_urls', jsonb_build_object('site', s.name, 'state', st.state), count(f.url)
  FROM otto.site s CROSS JOIN (VALUES ('queued'), ('leased'), ('done'), ('failed'), ('refused'), ('quarantined')) st(state)
  LEFT JOIN otto.frontier f ON f.site_id = s.site_id AND f.state = st.state
 GROUP BY s.name, st.state
UNION ALL
SELECT m.name, jsonb_build_object('site', s.name),
       CASE m.name WHEN 'otto_due_urls' THEN d.n ELSE coalesce(extract(epoch FROM now() - d.oldest), 0) END
  FROM otto.site s
       CROSS JOIN LATERAL (SELECT count(*) AS n, min(f.due_at) AS oldest FROM otto.frontier f
                            WHERE f.site_id = s.site_id AND f.state = 'queued' AND f.due_at <= now()) d
       CROSS JOIN (VALUES ('otto_due_urls'), ('otto_due_oldest_seconds')) m(name)
UNION ALL
-- ads by site and state
SELECT 'otto_site_ads', jsonb_build_object('site', s.name, 'state', st.state),
       (SELECT count(*) FROM otto.ad a WHERE a.site_id = s.site_id AND a.state = st.state)
  FROM otto.site s CROSS JOIN (VALUES ('live'), ('removed')) st(state)
UNION ALL
-- the ad log by kind: counted by the stream processor up to its watermark, plus the rest
SELECT 'otto_ad_events_total', jsonb_build_object('kind', k.kind),
       coalesce((ss.kinds->>k.kind)::bigint, 0)
       + (SELECT count(*) FROM otto.ad_event e WHERE e.event_id > ss.watermark AND e.kind = k.kind)
  FROM otto.stream_state ss
       CROSS JOIN (VALUES ('new'), ('price_changed'), ('updated'), ('removed'), ('relisted')) k(kind)
UNION ALL
SELECT m.name, '{}', CASE m.name WHEN 'otto_stream_lag_events' THEN st.lag_events ELSE st.lag_seconds END
  FROM otto.stream_status st CROSS JOIN (VALUES ('otto_stream_lag_events'), ('otto_stream_lag_seconds')) m(name)
UNION ALL
-- alerts written (each is announced by NOTIFY otto_alert as it commits)
SELECT 'otto_alerts_sent_total', jsonb_build_object('reason', r.reason), (SELECT count(*) FROM otto.alert a WHERE a.reason = r.reason)
  FROM (VALUES ('new'), ('price_drop'), ('back_on_market')) r(reason)
UNION ALL
-- the URL filter (a Bloom filter in shared memory)
SELECT m.name, '{}', (u.stats->>m.key)::float8
  FROM otto.url_filter_stats() u(stats)
       CROSS JOIN (VALUES ('otto_url_filter_urls', 'urls_added'), ('otto_url_filter_fill_ratio', 'fill_ratio'),
                          ('otto_url_filter_estimated_fp_rate', 'estimated_fp_rate')) m(name, key)
 WHERE u.stats ? m.key
UNION ALL
-- the workers: running now, started and restarted since the server started
SELECT m.name, jsonb_build_object('worker', w.worker),
       CASE m.name
           WHEN 'otto_worker_running' THEN (SELECT count(*) FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'otto ' || w.worker)
           WHEN 'otto_worker_starts_total' THEN (SELECT count(*) FROM otto.worker_start x
                                                  WHERE x.worker = w.worker AND x.started_at >= pg_postmaster_start_time())
           ELSE (SELECT count(*) - count(DISTINCT x.slot) FROM otto.worker_start x
                  WHERE x.worker = w.worker AND x.started_at >= pg_postmaster_start_time()) END
  FROM (VALUES ('launcher'), ('crawler'), ('stream')) w(worker)
       CROSS JOIN (VALUES ('otto_worker_running'), ('otto_worker_starts_total'), ('otto_worker_restarts_total')) m(name);
COMMENT ON VIEW otto.metrics IS 'Every Otto metric series: Prometheus name, labels and value (otto.metrics_prometheus() writes them in the exposition format)';

-- What each family is, for the exposition format's HELP and TYPE lines.
CREATE FUNCTION otto.metric_families(OUT family text, OUT type text, OUT help text) RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $fn$
    VALUES ('otto_pages_fetched_total', 'counter', 'Pages the crawlers fetched since server start, by HTTP status (0: no response)'),
           ('otto_page_errors_total', 'counter', 'Fetched pages that failed, by kind (as otto.page.error_kind)'),
           ('otto_robots_fetched_total', 'counter', 'robots.txt fetches since server start'),
           ('otto_fetched_bytes_total', 'counter', 'Bytes the crawlers read off the wire since server start'),
           ('otto_fetch_duration_seconds', 'histogram', 'Time from request to last byte of each fetch'),
           ('otto_frontier_urls', 'gauge', 'URLs in the frontier by site and state'),
           ('otto_due_urls', 'gauge', 'Queued URLs that are due now, by site'),
           ('otto_due_oldest_seconds', 'gauge', 'How long the oldest due URL has been waiting, by site'),
           ('otto_site_ads', 'gauge', 'Ads by site and state'),
           ('otto_ad_events_total', 'counter', 'Events in the ad log by kind'),
           ('otto_stream_lag_events', 'gauge', 'Ad events the stream processor has not applied yet'),
           ('otto_stream_lag_seconds', 'gauge', 'Age of the oldest ad event the stream processor has not applied yet'),
           ('otto_alerts_sent_total', 'counter', 'Buyer alerts written (and announced with NOTIFY otto_alert), by reason'),
           ('otto_url_filter_urls', 'gauge', 'URLs added to the URL filter since server start (an add that set no new bit is not counted)'),
           ('otto_url_filter_fill_ratio', 'gauge', 'Share of the URL filter''s bits that are set'),
           ('otto_url_filter_estimated_fp_rate', 'gauge', 'The URL filter''s false-positive rate at its current fill'),
           ('otto_worker_running', 'gauge', 'Otto background workers running, by kind'),
           ('otto_worker_starts_total', 'counter', 'Otto background worker starts since server start, by kind'),
           ('otto_worker_restarts_total', 'counter', 'Otto background worker restarts since server start (starts beyond each slot''s first), by kind')
$fn$;

-- The exposition format (text/plain; version=0.0.4), for a scraper that can run SQL or for psql.
CREATE FUNCTION otto.metrics_prometheus() RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH m AS MATERIALIZED (SELECT * FROM otto.metrics),
    series AS (
        SELECT f.family, f.type, f.help, m.name, m.value,
               coalesce('{' || (SELECT string_agg(format('%s="%s"', l.key,
                                                         replace(replace(replace(l.value, '\', '\\'), '"', '\"'), E'\n', '\n')), ',' ORDER BY l.key = 'le', l.key)
                                  FROM jsonb_each_text(m.labels) l) || '}', '') AS labels,
               row_number() OVER () AS ord
          FROM m JOIN otto.metric_families() f ON m.name = f.family OR m.name LIKE f.family || '\_%' AND f.type = 'histogram')
    SELECT string_agg(x.text, E'\n' ORDER BY x.family, x.ord) || E'\n'
      FROM (SELECT DISTINCT ON (s.family) s.family, 0 AS ord, format('# HELP %s %s', s.family, s.help) || E'\n' ||
                   format('# TYPE %s %s', s.family, s.type) AS text
              FROM series s
            UNION ALL
            SELECT s.family, s.ord, s.name || s.labels || ' ' ||
                   CASE WHEN s.value = 'Infinity' THEN '+Inf' WHEN s.value = 'NaN' THEN 'NaN' ELSE s.value::text END
              FROM series s) x
$fn$;
COMMENT ON FUNCTION otto.metrics_prometheus() IS 'otto.metrics in the Prometheus text exposition format';

-------------------------------------------------------------------------------
-- Privileges.  Nothing in otto is public; the admin role gets everything, the
-- chat role gets only the read-only functions listed here.
-------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA otto FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA otto FROM PUBLIC;

GRANT USAGE ON SCHEMA otto TO otto_admin, otto_chat;
GRANT ALL ON ALL TABLES IN SCHEMA otto TO otto_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA otto TO otto_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA otto TO otto_admin;

-- Monitoring (the exporter's role, or any member of pg_monitor): the metrics only.
GRANT USAGE ON SCHEMA otto TO pg_monitor;
GRANT SELECT ON otto.metrics TO pg_monitor;
GRANT EXECUTE ON FUNCTION otto.metrics_prometheus(), otto.metric_families(), otto.fetch_counters(), otto.url_filter_stats()
    TO pg_monitor;

GRANT EXECUTE ON FUNCTION otto.build_info() TO otto_chat;
GRANT EXECUTE ON FUNCTION otto.tools(), otto.call_tool(text, jsonb) TO otto_chat;
GRANT EXECUTE ON FUNCTION otto.login(text), otto.logout() TO otto_chat;

-- The buyer front end: the market's tables to read, its user's rows (row-level
-- security decides which) to read and write, every function that cannot
-- write (not VOLATILE) and the buyer functions that record what a user does.
GRANT USAGE ON SCHEMA otto TO otto_app;
GRANT SELECT ON otto.site, otto.ad, otto.ad_event, otto.market_ad, otto.market_mm, otto.market_mmy, otto.stream_state,
                otto.vocabulary, otto.car_name, otto.tool, otto.market_model, otto.market_model_year, otto.market_lines TO otto_app;
GRANT SELECT ON otto.app_user, otto.user_event, otto.user_like, otto.saved_search, otto.alert, otto.review TO otto_app;
GRANT UPDATE (lang) ON otto.app_user TO otto_app;
GRANT INSERT ON otto.user_event TO otto_app;
GRANT INSERT, DELETE, UPDATE (name, filters, alerts) ON otto.saved_search TO otto_app;
GRANT UPDATE (read_at) ON otto.alert TO otto_app;
GRANT INSERT, DELETE, UPDATE (rating, title, body, updated_at) ON otto.review TO otto_app;
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'otto'::regnamespace AND p.prokind IN ('f', 'a') AND p.provolatile <> 'v' LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO otto_app', f);
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION otto.login(text), otto.logout(), otto.tools(), otto.call_tool(text, jsonb),
    otto.user_event_add(bigint, text), otto.view_ad(bigint), otto.like_ad(bigint), otto.unlike_ad(bigint),
    otto.search_save(text, jsonb, text[]), otto.alerts_read(bigint), otto.review_model(text, text, int, text, text),
    otto.review_save(text, text, text, int, text, int, text, text),
    otto.review_seller(text, text, int, text, text), otto.search_estimate(jsonb) TO otto_app;
