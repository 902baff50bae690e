#!/usr/bin/env bash
# bench/hostile.sh: pathological pages of 1, 2, 4 and 8 MB through the parse
# functions: time (best of 5), time per doubling (target at most 2.2x), the
# backend's peak memory beyond the page itself (VmHWM from /proc, a fresh
# backend per measurement, beyond the same call doing nothing with the
# page) as a multiple of the page, and how long
# statement_timeout takes to cancel an 8 MB parse (target under 100 ms).
# Baseline in the same run: the real saved ad pages' parse cost per MB.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
cd "$OTTO_ROOT"
install_packages && build_and_install
bench_cluster hostile 5441 "fsync = off"
export PGHOST=$WORK/pg PGPORT=5441 PGUSER=postgres PGDATABASE=otto
cp ../shared/data/real/html/maxandreevich_2022-12_ad_*.html "$WORK/" && chmod a+r "$WORK"/*.html

as_cluster_user psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION otto;
\i test/hostile_pages.sql

-- Peak resident memory of this backend so far, in kB.
CREATE FUNCTION hwm_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint
$$;

-- One measurement: best of 5 in ms, and the peak in kB beyond that of the
-- same call doing nothing with the page (the harness's own copies of it).
CREATE FUNCTION measure(k text, mb int, OUT ms float8, OUT bytes bigint, OUT extra_kb bigint) LANGUAGE plpgsql AS $$
DECLARE
    html text := hostile_page(k, mb * 1024);
    fn text := (SELECT hk.fn FROM hostile_kind hk WHERE name = k);
    t timestamptz;
    before bigint;
BEGIN
    PERFORM hostile_run('noop', html);
    before := hwm_kb();
    ms := 'Infinity';
    FOR i IN 1 .. 5 LOOP
        t := clock_timestamp();
        PERFORM hostile_run(fn, html);
        ms := least(ms, extract(epoch FROM clock_timestamp() - t) * 1000);
    END LOOP;
    bytes := octet_length(html);
    extra_kb := hwm_kb() - before;
END $$;

-- Time from the statement's start until statement_timeout stops an 8 MB
-- parse (the page read from a table); NULL when it finished first.
CREATE TABLE big (kind text, html text);
ALTER TABLE big ALTER COLUMN html SET STORAGE EXTERNAL;
CREATE FUNCTION cancel_ms(k text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    fn text := (SELECT hk.fn FROM hostile_kind hk WHERE name = k);
BEGIN
    BEGIN
        PERFORM hostile_run(fn, (SELECT html FROM big WHERE kind = k));
    EXCEPTION WHEN query_canceled THEN
        RETURN extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000;
    END;
    RETURN NULL;
END $$;
CREATE TABLE result (kind text, mb int, ms float8, bytes bigint, extra_kb bigint);
CREATE TABLE cancel (kind text, ms float8);
SQL

# each measurement in a fresh backend, so that VmHWM starts low
for k in $(as_cluster_user psql -qXtA -c "SELECT replace(name, ' ', '_') FROM hostile_kind ORDER BY name"); do
    for mb in 1 2 4 8; do
        as_cluster_user psql -qX -v ON_ERROR_STOP=1 -c "SET otto.max_page_bytes = '16MB'" \
            -c "INSERT INTO result SELECT '${k//_/ }', $mb, m.* FROM measure('${k//_/ }', $mb) m"
    done
    as_cluster_user psql -qX -v ON_ERROR_STOP=1 -c "INSERT INTO big SELECT '${k//_/ }', hostile_page('${k//_/ }', 8192)"
    ms=$(as_cluster_user psql -qXtA -v ON_ERROR_STOP=1 -c "SET otto.max_page_bytes = '16MB'" -c "SET statement_timeout = '10ms'" \
        -c "SELECT cancel_ms('${k//_/ }')")
    as_cluster_user psql -qX -c "INSERT INTO cancel VALUES ('${k//_/ }', nullif('$ms', '')::float8)"
done
# the baseline: the real ad pages, per MB
base=$(as_cluster_user psql -qXtA <<SQL
CREATE TEMP TABLE real_page AS SELECT pg_read_file('$WORK/' || f) AS h FROM pg_ls_dir('$WORK') f WHERE f LIKE '%.html';
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT count(otto.parse_ad(h, 'https://www.polovniautomobili.com/auto-oglasi/1/x')) FROM real_page, generate_series(1, 50) \g /dev/null
SELECT round((extract(epoch FROM clock_timestamp() - (SELECT t FROM t0)) * 1000 / 50
              / ((SELECT sum(octet_length(h)) FROM real_page) / 1048576.0))::numeric, 2);
SQL
)

as_cluster_user psql -qX <<SQL
\echo 'pathological pages (time: best of 5; peak: the backend''s beyond the same call doing nothing, as a multiple of the page)'
SELECT r.kind, r.mb AS "MB", round(r.ms::numeric, 1) AS ms,
       round((r.ms / nullif(lag(r.ms) OVER w, 0))::numeric, 2) AS "x per doubling",
       round((r.ms / (r.bytes / 1048576.0))::numeric, 1) AS "ms/MB",
       round(($base)::numeric, 1) AS "real ads ms/MB",
       round(r.extra_kb / 1024.0, 1) AS "peak MB", round((r.extra_kb * 1024.0 / r.bytes)::numeric, 2) AS "peak / page"
  FROM result r WINDOW w AS (PARTITION BY r.kind ORDER BY r.mb) ORDER BY r.kind, r.mb;
\echo 'statement_timeout = 10 ms on an 8 MB page: time until the parse stopped'
SELECT kind, coalesce(round(ms::numeric, 1)::text, 'finished first') AS ms FROM cancel ORDER BY kind;
SQL

# per doubling from 1 to 8 MB (the cube root of the ratio: one step alone is noisy at a few ms)
read -r worst_doubling worst_kind < <(as_cluster_user psql -qXtA -F ' ' -c "
  SELECT round(max(x)::numeric, 2), (array_agg(kind ORDER BY x DESC))[1]
    FROM (SELECT a.kind, power(b.ms / a.ms, 1 / 3.0) AS x FROM result a JOIN result b USING (kind) WHERE a.mb = 1 AND b.mb = 8) d")
worst_memory=$(as_cluster_user psql -qXtA -c "SELECT round(max(extra_kb * 1024.0 / bytes)::numeric, 2) FROM result WHERE mb = 8")
worst_cancel=$(as_cluster_user psql -qXtA -c "SELECT coalesce(round(max(ms)::numeric, 1)::text, '-') FROM cancel")
slowest=$(as_cluster_user psql -qXtA -c "SELECT round(max(ms / (bytes / 1048576.0))::numeric, 1) FROM result WHERE mb = 8")
bench_result hostile "time per doubling 1-8 MB, worst kind ($worst_kind)" "$worst_doubling" x "<= 2.2" "2.0 (linear)" "-"
bench_result hostile "peak memory beyond an 8 MB page, worst kind" "$worst_memory" "x page" "small multiple" "-" "-"
bench_result hostile "statement_timeout 10 ms: parse stopped after, worst kind" "$worst_cancel" ms "< 100" "-" "-"
bench_result hostile "parse cost at 8 MB, slowest kind" "$slowest" ms/MB - "$base (real ad pages)" \
    "$(awk "BEGIN {printf \"%.2f\", $slowest / $base}")"
