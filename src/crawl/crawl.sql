-- src/crawl/crawl.sql: the frontier, the page log, robots.txt; URLs, the URL filter, crawls and sweeps, the crawler's SQL side, upkeep and schedules.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

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
CREATE OR REPLACE FUNCTION otto.robots_allowed(robots_txt text, user_agent text, url text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_robots_allowed';
COMMENT ON FUNCTION otto.robots_allowed(text, text, text) IS 'May a crawler with this User-Agent fetch the URL under this robots.txt (RFC 9309: its own group or *, longest rule wins, Allow wins ties, * and $ patterns)?';
CREATE OR REPLACE FUNCTION otto.robots_crawl_delay(robots_txt text, user_agent text) RETURNS float8
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_robots_crawl_delay';
COMMENT ON FUNCTION otto.robots_crawl_delay(text, text) IS 'Crawl-delay in seconds of the group that applies to this User-Agent, NULL when not stated';

CREATE OR REPLACE FUNCTION otto.content_hash(ad jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN sha256(convert_to((ad - 'renewed_at')::text, 'UTF8'));
COMMENT ON FUNCTION otto.content_hash(jsonb) IS 'Fingerprint of an ad''s meaningful content (parse_ad output without the renewal time): equal for an unchanged re-fetch';

CREATE OR REPLACE FUNCTION otto.url_filter_add(url text) RETURNS boolean
    LANGUAGE c VOLATILE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_url_filter_add';
COMMENT ON FUNCTION otto.url_filter_add(text) IS 'Add a URL to the shared-memory Bloom filter; true when it was maybe there already';
CREATE OR REPLACE FUNCTION otto.url_filter_test(url text) RETURNS boolean
    LANGUAGE c VOLATILE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_url_filter_test';
COMMENT ON FUNCTION otto.url_filter_test(text) IS 'false: the URL was definitely never added; true: maybe (confirm with otto.url_seen)';
CREATE OR REPLACE FUNCTION otto.url_filter_stats() RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_url_filter_stats';
COMMENT ON FUNCTION otto.url_filter_stats() IS 'Bloom filter size, hash count, URLs added, fill ratio and estimated false-positive rate (fill^k)';
CREATE OR REPLACE FUNCTION otto.url_filter_rebuild() RETURNS bigint
    LANGUAGE sql VOLATILE
    RETURN (SELECT count(otto.url_filter_add(url)) FROM otto.frontier);
COMMENT ON FUNCTION otto.url_filter_rebuild() IS 'Add every frontier URL to the Bloom filter (shared memory starts empty at server start; the launcher calls this)';
-- Every URL that enters the frontier, by any path, enters the filter too (a
-- rolled-back insert leaves its bits: a false "maybe", which url_seen confirms).
-- Without shared_preload_libraries there is no filter (and no crawler) to keep.
CREATE OR REPLACE FUNCTION otto.frontier_filter_add() RETURNS trigger
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
CREATE OR REPLACE TRIGGER frontier_filter_add AFTER INSERT ON otto.frontier REFERENCING NEW TABLE AS new_urls
    FOR EACH STATEMENT EXECUTE FUNCTION otto.frontier_filter_add();
CREATE OR REPLACE FUNCTION otto.url_seen(site_id int, url text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    RETURN otto.url_filter_test(url) AND EXISTS (SELECT FROM otto.frontier f WHERE f.site_id = url_seen.site_id AND f.url = url_seen.url);
COMMENT ON FUNCTION otto.url_seen(int, text) IS 'Is the (normalised) URL in the frontier? "Definitely new" from memory, "maybe seen" confirmed by the unique index';

CREATE OR REPLACE FUNCTION otto.crawl_start(site text) RETURNS int
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

CREATE OR REPLACE FUNCTION otto.crawl_stop(site text) RETURNS boolean
LANGUAGE sql
RETURN otto.site_enable(site, false);
COMMENT ON FUNCTION otto.crawl_stop(text) IS 'Disable the site: workers stop claiming its URLs (leases in flight finish or expire); the frontier is kept for the next crawl_start';

CREATE OR REPLACE VIEW otto.crawl_status AS
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
CREATE OR REPLACE FUNCTION otto.frontier_claim(max_urls int DEFAULT 32, lease interval DEFAULT '5 minutes',
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

CREATE OR REPLACE FUNCTION otto.frontier_fail(site_id int, url text, error_kind text, error text,
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
-- src/crawl/crash.c, says so after the restart): count it.  Finishing a page
-- (otto.ingest_page, otto.fetch_failed) sets the count back to 0.
CREATE OR REPLACE FUNCTION otto.frontier_crashed(url text) RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH u AS (UPDATE otto.frontier f SET crashes = f.crashes + 1
                WHERE f.url = frontier_crashed.url AND f.state <> 'quarantined' RETURNING 1)
    SELECT count(*) FROM u;
$fn$;
COMMENT ON FUNCTION otto.frontier_crashed(text) IS 'Count a crawler''s death while processing the URL''s page (frontier.crashes; the crawler processes such a page alone, and quarantines it at 2)';

COMMENT ON FUNCTION otto.frontier_fail(int, text, text, text, interval, int) IS 'Record a failed fetch: retry with exponential backoff (otto.retry_base, 30 s, x 2^attempts, at most 6 h, or Retry-After when longer), give up after max_attempts; returns the new state';

CREATE OR REPLACE FUNCTION otto.frontier_release(owner int) RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH r AS (UPDATE otto.frontier f SET state = 'queued', lease_owner = NULL, lease_until = NULL
                WHERE f.state = 'leased' AND f.lease_owner = frontier_release.owner RETURNING 1)
    SELECT count(*) FROM r;
$fn$;
COMMENT ON FUNCTION otto.frontier_release(int) IS 'Requeue every URL a (dead or restarting) worker had leased; returns how many';

CREATE OR REPLACE FUNCTION otto.frontier_postpone(site_id int, url text, delay interval DEFAULT '0') RETURNS boolean
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

CREATE OR REPLACE FUNCTION otto.frontier_release_orphans() RETURNS bigint
LANGUAGE sql
AS $fn$
    WITH r AS (UPDATE otto.frontier f SET state = 'queued', lease_owner = NULL, lease_until = NULL
                WHERE f.state = 'leased'
                  AND f.lease_owner NOT IN (SELECT a.pid FROM pg_stat_activity a WHERE a.backend_type = 'otto crawler')
               RETURNING 1)
    SELECT count(*) FROM r;
$fn$;
COMMENT ON FUNCTION otto.frontier_release_orphans() IS 'Requeue URLs leased by crawler workers that no longer run (after a crash or kill -9); returns how many';

CREATE OR REPLACE FUNCTION otto.fetch_failed(site_id int, url text, error_kind text, error text, status int DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION otto.robots_store(host text, site_id int, status int, body text) RETURNS boolean
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

CREATE OR REPLACE FUNCTION otto.address_is_private(address text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'otto_address_is_private' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION otto.address_is_private(text) IS 'Is this IPv4/IPv6 address loopback, private, link-local or otherwise not public? The crawler refuses such addresses unless the site allows them';

CREATE OR REPLACE FUNCTION otto.decode_body(body bytea, content_type text) RETURNS text
    AS 'MODULE_PATHNAME', 'otto_decode_body' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION otto.decode_body(bytea, text) IS 'A fetched body as text, converted from the charset of its Content-Type (or its <meta charset>), UTF-8 when none';

CREATE OR REPLACE FUNCTION otto.retry_after(value text) RETURNS float8
    AS 'MODULE_PATHNAME', 'otto_retry_after' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION otto.retry_after(text) IS 'Seconds a Retry-After header asks to wait (delta-seconds or HTTP-date); NULL when unreadable';

CREATE OR REPLACE FUNCTION otto.crawler_wake() RETURNS int
    AS 'MODULE_PATHNAME', 'otto_crawler_wake' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION otto.crawler_wake() IS 'Wake the idle crawler workers when the transaction commits (new URLs are due); returns how many are idle';

CREATE OR REPLACE FUNCTION otto.politeness(OUT host text, OUT next_start timestamptz, OUT in_flight int) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'otto_politeness' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION otto.politeness() IS 'Each crawled host''s shared politeness clock: earliest start of its next request, requests in flight';

CREATE OR REPLACE FUNCTION otto.sweep_busy(site_id int) RETURNS boolean
LANGUAGE sql STABLE
-- clock_timestamp: a URL another transaction queued "due now" after ours began is due;
-- attempts = 0 and not due: postponed while its host's robots.txt is unreachable
RETURN EXISTS (SELECT FROM otto.frontier f
                WHERE f.site_id = sweep_busy.site_id
                  AND (f.state = 'leased' OR (f.state = 'queued' AND (f.due_at <= clock_timestamp() OR f.attempts = 0))));
COMMENT ON FUNCTION otto.sweep_busy(int) IS 'Whether a site''s sweep still has URLs in flight, due, or postponed (not counting retries waiting out their backoff)';
CREATE OR REPLACE FUNCTION otto.sweep_check() RETURNS bigint
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
-- The planner's statistics of the tables a crawl fills (and the stream
-- processor's, which it fills from the crawl's events), kept up with it: the
-- workers' plans are kept for their sessions, and a plan made while a table
-- was nearly empty (a first crawl) scans it whole; ANALYZE replaces them.
-- Autovacuum looks once a minute at best, a crawl stores thousands of pages
-- in that time.  A table is analyzed when it holds more than twice the rows
-- the planner knows (and 1,000): a few times as it grows.  Only the
-- columns the workers look rows up by: an ANALYZE of every column of
-- otto.ad cost a tenth of a first crawl's time; and one of some columns
-- leaves autovacuum's count of changes, so autovacuum still analyzes the
-- whole table when it is due.
CREATE OR REPLACE FUNCTION otto.stats_refresh() RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t    regclass;
    cols text;
    n    int := 0;
BEGIN
    FOR t, cols IN
        SELECT k.rel, k.cols
          FROM (VALUES ('otto.ad'::regclass, 'site_id, source_ad_id, state'),
                       ('otto.ad_event'::regclass, 'ad_id, kind'),
                       ('otto.frontier'::regclass, 'site_id, url, state'),
                       ('otto.page'::regclass, 'site_id, url'),
                       ('otto.market_ad'::regclass, 'ad_id'),
                       ('otto.market_mmy'::regclass, 'make, model, year'),
                       ('otto.market_mm'::regclass, 'make, model')) k(rel, cols)
          JOIN pg_stat_user_tables s ON s.relid = k.rel
          JOIN pg_class c ON c.oid = k.rel
         WHERE s.n_live_tup > greatest(1000, 2 * c.reltuples)
         ORDER BY k.rel LOOP
        EXECUTE format('ANALYZE %s (%s)', t, cols);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION otto.stats_refresh() IS 'ANALYZE the columns the workers look up by, of the tables a crawl fills (ad, ad_event, frontier, page, and the stream processor''s market_ad, market_mmy, market_mm), when one holds more than twice the rows the planner knows (at least 1,000); returns how many (the crawler workers call it each second while they store pages)';

CREATE OR REPLACE FUNCTION otto.maintenance() RETURNS jsonb
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

CREATE OR REPLACE FUNCTION otto.schedule_install() RETURNS jsonb
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

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.frontier', '');
SELECT pg_catalog.pg_extension_config_dump('otto.page', '');
SELECT pg_catalog.pg_extension_config_dump('otto.page_page_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('otto.robots', '');
