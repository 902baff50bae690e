-- src/ops/metrics.sql: workers and metrics (Prometheus).
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

CREATE OR REPLACE VIEW otto.workers AS
    SELECT pid, backend_type, datname AS database, application_name, backend_start, state, wait_event
      FROM pg_catalog.pg_stat_activity
     WHERE backend_type LIKE 'otto %';
COMMENT ON VIEW otto.workers IS 'Otto''s background workers now running (launcher, crawlers, stream processor, price-model trainer)';

-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Metrics, in Prometheus' terms.  otto.metrics is every series (name,
-- labels, value); otto.metrics_prometheus() writes them in the text format;
-- metrics/queries.yaml maps them for prometheus-postgres-exporter.
-------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION otto.fetch_counters() RETURNS TABLE (counter text, label text, value float8)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'otto_fetch_counters';
COMMENT ON FUNCTION otto.fetch_counters() IS 'The crawlers'' fetch counters since server start (shared memory): pages by HTTP status, errors by kind, robots.txt fetches, wire bytes, latency histogram (cumulative, label = upper bound in seconds), its sum and count; none without shared_preload_libraries';

-- Each worker's start, written by the worker itself: restarts are the starts
-- beyond each slot's first since the server started (a crash's restart
-- included, which shared memory would forget).
CREATE TABLE otto.worker_start (
    worker          text NOT NULL CHECK (worker IN ('launcher', 'crawler', 'stream', 'trainer')),
    slot            int NOT NULL,
    pid             int NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX worker_start_started_idx ON otto.worker_start (started_at);
COMMENT ON TABLE otto.worker_start IS 'Starts of Otto''s background workers since the server started (older ones are dropped at each start)';
COMMENT ON COLUMN otto.worker_start.worker IS 'launcher, crawler, stream (the stream processor) or trainer (of the price model)';
COMMENT ON COLUMN otto.worker_start.slot IS 'Which of its kind: the crawler''s index (0 for the others)';
COMMENT ON COLUMN otto.worker_start.pid IS 'The worker''s process id';
COMMENT ON COLUMN otto.worker_start.started_at IS 'When it started (rows from before the server''s start are dropped)';

CREATE OR REPLACE FUNCTION otto.worker_started(worker text, slot int) RETURNS bigint
LANGUAGE sql
AS $fn$
    DELETE FROM otto.worker_start WHERE started_at < pg_postmaster_start_time();
    INSERT INTO otto.worker_start (worker, slot, pid) VALUES ($1, $2, pg_backend_pid()) RETURNING 1::bigint;
$fn$;
COMMENT ON FUNCTION otto.worker_started(text, int) IS 'Called by each Otto worker as it starts (otto.metrics counts starts and restarts)';

CREATE OR REPLACE VIEW otto.metrics AS
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
  FROM (VALUES ('launcher'), ('crawler'), ('stream'), ('trainer')) w(worker)
       CROSS JOIN (VALUES ('otto_worker_running'), ('otto_worker_starts_total'), ('otto_worker_restarts_total')) m(name);
COMMENT ON VIEW otto.metrics IS 'Every Otto metric series: Prometheus name, labels and value (otto.metrics_prometheus() writes them in the exposition format)';

-- What each family is, for the exposition format's HELP and TYPE lines.
CREATE OR REPLACE FUNCTION otto.metric_families(OUT family text, OUT type text, OUT help text) RETURNS SETOF record
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
CREATE OR REPLACE FUNCTION otto.metrics_prometheus() RETURNS text
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


-- At the end of each stage: what pg_dump keeps, row-level security, grants.
-- Monitoring (the exporter's role, or any member of pg_monitor): the metrics only.
GRANT USAGE ON SCHEMA otto TO pg_monitor;
GRANT SELECT ON otto.metrics TO pg_monitor;
GRANT EXECUTE ON FUNCTION otto.metrics_prometheus(), otto.metric_families(), otto.fetch_counters(), otto.url_filter_stats()
    TO pg_monitor;
