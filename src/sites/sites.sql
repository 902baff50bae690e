-- src/sites/sites.sql: sites and their rules, extraction profiles, the vocabulary; adding and enabling a site.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

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
COMMENT ON COLUMN otto.site_profile.rules IS 'Rules in the form otto.site.rules takes: ad (rows, text, own_text, list, count, script_object, jsonld), listing, timezone (of the site''s times, default UTC), words (price_on_request, unregistered, doors_suffix: the site''s words for them)';
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
              "total_marker": "od ukupno"},
  "words": {"price_on_request": ["dogovor", "upit", "request"], "unregistered": ["nije"], "doors_suffix": [" vrata"]}
}$rules$),
 ('schema_org', 'Any site embedding schema.org JSON-LD Car/Vehicle/Product with an Offer (the title its h1); no listing rules',
  '{"ad": {"text": {"title": "h1"}},
    "words": {"price_on_request": ["request", "anfrage", "aanvraag", "demande", "richiesta"]}}')
ON CONFLICT (name) DO UPDATE SET description = excluded.description, rules = excluded.rules;

INSERT INTO otto.site (name, title, hosts, seed_urls, ad_url_pattern, listing_url_pattern,
                       crawl_delay_ms, max_concurrency, builtin, rules)
SELECT 'polovniautomobili', 'polovniautomobili.com',
        ARRAY['www.polovniautomobili.com', 'polovniautomobili.com'],
        ARRAY['https://www.polovniautomobili.com/auto-oglasi/pretraga?page=1&sort=renewDate_desc'],
        '^https://(?:www\.)?polovniautomobili\.com/auto-oglasi/([0-9]+)/[^?#]*$',
        '^https://(?:www\.)?polovniautomobili\.com/auto-oglasi/(?:pretraga\?|[a-z][a-z0-9-]*(?:/[a-z0-9-]+)*/?(?:\?|$))',
        1000, 1, true, (SELECT rules FROM otto.site_profile WHERE name = 'polovniautomobili')
 WHERE NOT EXISTS (SELECT FROM otto.site WHERE name = 'polovniautomobili');  -- not ON CONFLICT: it would draw a site_id

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
INSERT INTO otto.vocabulary AS o (field, code, label_sr, label_en, spellings, builtin)
SELECT field, code, label_sr, label_en, spellings::text[], true FROM (VALUES
 ('fuel', 'diesel', 'Dizel', 'Diesel', '{}'),
 ('fuel', 'petrol', 'Benzin', 'Petrol', '{Gasoline,Benzine,Essence}'),
 ('fuel', 'petrol_lpg', 'Benzin + Gas (TNG)', 'Petrol + LPG', '{"petrol + gas","Benzin + gas",LPG,Autogas}'),
 ('fuel', 'petrol_cng', 'Benzin + Metan (CNG)', 'Petrol + CNG', '{"Metan CNG",methane,"petrol + methane",CNG,Aardgas,Erdgas}'),
 ('fuel', 'hybrid', 'Hibridni pogon', 'Hybrid', '{Hibrid,"Hibridni pogon (Benzin)","Hibridni pogon (Dizel)",Hybride,Elektro/Benzine,Elektro/Benzin,Elektro/Diesel}'),
 ('fuel', 'electric', 'Električni pogon', 'Electric', '{Stroom,Elektrisch,Elektro}'),
 ('body', 'sedan', 'Limuzina', 'Sedan', '{limousine}'),
 ('body', 'hatchback', 'Hečbek', 'Hatchback', '{}'),
 ('body', 'estate', 'Karavan', 'Estate', '{caravan,"station wagon",Stationwagen,Kombi,Combi}'),
 ('body', 'coupe', 'Kupe', 'Coupe', '{}'),
 ('body', 'convertible', 'Kabriolet/Roadster', 'Convertible', '{cabriolet,roadster,Cabrio}'),
 ('body', 'mpv', 'Monovolumen (MiniVan)', 'MPV', '{minivan,Monovolumen}'),
 ('body', 'suv', 'Džip/SUV', 'SUV', '{jeep,"Džip",SUV/Terreinwagen,Terreinwagen,SUV/Geländewagen/Pickup,Geländewagen}'),
 ('body', 'pickup', 'Pickup', 'Pickup', '{}'),
 ('gearbox', 'manual_4', 'Manuelni 4 brzine', 'Manual, 4 gears', '{"manual, 4 speeds"}'),
 ('gearbox', 'manual_5', 'Manuelni 5 brzina', 'Manual, 5 gears', '{"manual, 5 speeds"}'),
 ('gearbox', 'manual_6', 'Manuelni 6 brzina', 'Manual, 6 gears', '{"manual, 6 speeds"}'),
 ('gearbox', 'automatic', 'Automatski / poluautomatski', 'Automatic / semi-automatic',
  '{Automatski,Poluautomatski,automatic,semi-automatic,Automatisch,Automaat,Halfautomatisch,Automatik,Halbautomatik}'),
 ('drive', 'front', 'Prednji', 'Front-wheel', '{front,FrontWheelDriveConfiguration,Voor,Voorwielaandrijving,Frontantrieb}'),
 ('drive', 'rear', 'Zadnji', 'Rear-wheel', '{rear,RearWheelDriveConfiguration,Achter,Achterwielaandrijving,Heck,Heckantrieb}'),
 ('drive', 'all', '4x4', 'All-wheel', '{"4x4 reduktor",all-wheel,AllWheelDriveConfiguration,FourWheelDriveConfiguration,Vierwielaandrijving,Allrad}'),
 ('color', 'black', 'Crna', 'Black', '{Zwart,Schwarz}'), ('color', 'white', 'Bela', 'White', '{Wit,Weiß}'),
 ('color', 'grey', 'Siva', 'Grey', '{gray,Grijs,Grau}'), ('color', 'silver', 'Srebrna', 'Silver', '{Zilver,Silber}'),
 ('color', 'blue', 'Plava', 'Blue', '{Blauw,Blau}'), ('color', 'navy', 'Teget', 'Navy blue', '{teget}'),
 ('color', 'red', 'Crvena', 'Red', '{Rood,Rot}'), ('color', 'green', 'Zelena', 'Green', '{Groen,Grün}'),
 ('color', 'burgundy', 'Bordo', 'Burgundy', '{Bordeaux}'), ('color', 'beige', 'Bež', 'Beige', '{}'),
 ('color', 'brown', 'Braon', 'Brown', '{Bruin,Braun}'), ('color', 'yellow', 'Žuta', 'Yellow', '{Geel,Gelb}'),
 ('color', 'orange', 'Narandžasta', 'Orange', '{Oranje}'), ('color', 'purple', 'Ljubičasta', 'Purple', '{Paars,Violett,Lila}'),
 ('color', 'gold', 'Zlatna', 'Gold', '{Goud}'),
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
 ('condition', 'used', 'Polovno vozilo', 'Used', '{polovno,UsedCondition,Gebruikt,Occasion,Gebraucht}'),
 ('condition', 'new', 'Novo vozilo', 'New', '{novo,NewCondition,Nieuw,Neu}'),
 ('seller_type', 'private', 'Privatno lice', 'Private seller', '{}'),
 ('seller_type', 'dealer', 'Prodavac', 'Dealer', '{"Auto kuća"}')
) AS v (field, code, label_sr, label_en, spellings)
ON CONFLICT (field, code) DO UPDATE SET label_sr = excluded.label_sr, label_en = excluded.label_en, spellings = excluded.spellings
    WHERE o.builtin;

-- Backends keep the sites' compiled rules (src/parse/rules.c) and the
-- vocabulary (src/sites/vocab.c) in memory: a change to either tells them all
-- (src/sites/cache.c).
CREATE OR REPLACE FUNCTION otto.cache_invalidate() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'otto_cache_invalidate';
COMMENT ON FUNCTION otto.cache_invalidate() IS 'Statement trigger: every backend drops its cached copy of the table (a relcache invalidation at commit)';
CREATE OR REPLACE TRIGGER site_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON otto.site
    FOR EACH STATEMENT EXECUTE FUNCTION otto.cache_invalidate();
CREATE OR REPLACE TRIGGER vocabulary_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON otto.vocabulary
    FOR EACH STATEMENT EXECUTE FUNCTION otto.cache_invalidate();
-------------------------------------------------------------------------------
-- The frontier: every URL Otto knows, and when to fetch it next.
CREATE OR REPLACE FUNCTION otto.vocabulary_code(field text, spelling text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_vocabulary_code';
COMMENT ON FUNCTION otto.vocabulary_code(text, text) IS 'Canonical code of a spelling of a categorical field, NULL when unknown';

CREATE OR REPLACE FUNCTION otto.normalize_url(url text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_normalize_url';
COMMENT ON FUNCTION otto.normalize_url(text) IS 'RFC 3986 normal form of an absolute http(s) URL, without tracking parameters (otto.tracking_params) and with sorted query parameters; an invalid URL is an error';

CREATE OR REPLACE FUNCTION otto.resolve_url(base text, ref text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_resolve_url';
COMMENT ON FUNCTION otto.resolve_url(text, text) IS 'Resolve a reference against a base URL and normalise it as normalize_url does; NULL when the result is not a fetchable http(s) URL';

CREATE OR REPLACE FUNCTION otto.fold(s text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_fold_text';
COMMENT ON FUNCTION otto.fold(text) IS 'The text fold every match uses (vocabulary spellings, car names, questions): Serbian Cyrillic to Latin, diacritics dropped (đ dj, ß ss), lower case, one space between words, trimmed';

CREATE OR REPLACE FUNCTION otto.url_host(url text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_url_host_text';
COMMENT ON FUNCTION otto.url_host(text) IS 'host[:port] of a normalised URL, as otto.site.hosts lists them';

CREATE OR REPLACE FUNCTION otto.site_for_url(url text) RETURNS otto.site
    LANGUAGE sql STABLE STRICT
    RETURN (SELECT s FROM otto.site s
             WHERE otto.url_host(otto.normalize_url(url)) = ANY (s.hosts)
             ORDER BY s.enabled DESC, s.site_id LIMIT 1);
COMMENT ON FUNCTION otto.site_for_url(text) IS 'The site owning the URL''s host (enabled sites first), or NULL';

-- (not STRICT, and NULL for NULL all the same: a strict SQL function whose
-- body is not strict is not inlined, and the store path calls it per page)
CREATE OR REPLACE FUNCTION otto.url_kind(site otto.site, url text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN url ~ site.ad_url_pattern THEN 'ad'
                WHEN url ~ site.listing_url_pattern THEN 'listing' END;
COMMENT ON FUNCTION otto.url_kind(otto.site, text) IS 'ad or listing by the site''s URL patterns; NULL for URLs the crawl does not follow';

-- Admin API (otto_admin): sites and crawls.
-------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION otto.site_add(name text, title text, hosts text[], seed_urls text[], ad_url_pattern text,
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

CREATE OR REPLACE FUNCTION otto.site_enable(name text, enabled boolean DEFAULT true) RETURNS boolean
LANGUAGE sql
AS $fn$
    WITH u AS (UPDATE otto.site s SET enabled = site_enable.enabled WHERE s.name = site_enable.name RETURNING 1)
    SELECT count(*) = 1 FROM u;
$fn$;
COMMENT ON FUNCTION otto.site_enable(text, boolean) IS 'Enable (or, with false, disable) a site; false when there is no such site';


-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.site', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('otto.site_site_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.vocabulary', 'WHERE NOT builtin');
GRANT SELECT ON otto.site, otto.vocabulary TO otto_app;
