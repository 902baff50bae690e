-- src/parse/parse.sql: the parsers (pure functions of a page): links, listings, ads.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

CREATE OR REPLACE FUNCTION otto.extract_links(html text, base_url text) RETURNS SETOF text
    LANGUAGE c STABLE STRICT PARALLEL SAFE ROWS 100
    AS 'MODULE_PATHNAME', 'otto_extract_links';
COMMENT ON FUNCTION otto.extract_links(text, text) IS 'Absolute, normalised, unique links of <a href> in document order, honouring <base href>; javascript:, mailto:, fragment-only and invalid links are skipped';

CREATE OR REPLACE FUNCTION otto.parse_listing(html text, url text) RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_parse_listing';
COMMENT ON FUNCTION otto.parse_listing(text, text) IS 'Ads on a listing page (source_ad_id, url, price_eur, renewed_at, title) without repeats, the next page URL and the stated total, by the rules of the site owning the URL''s host';

CREATE OR REPLACE FUNCTION otto.parse_ad(html text, url text) RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_parse_ad';
COMMENT ON FUNCTION otto.parse_ad(text, text) IS 'One ad with typed, canonical fields, by the rules of the site owning the URL''s host; fields the page lacks are absent, unknown categorical values are kept under raw';

