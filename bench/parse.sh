#!/usr/bin/env bash
# bench/parse.sh: parse_ad pages per second on one core, beside the floor of
# any DOM approach (bare libxml2 htmlReadMemory of the same bytes), measured
# in the same run, for the two real ad pages (171-188 kB) and 10,000
# simulated ad pages (~24 kB).
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
cd "$OTTO_ROOT"
install_packages && build_and_install
WORK=$(mktemp -d /tmp/otto-bench-parse.XXXXXX)
trap 'stop_cluster "$WORK"; "$OTTO_ROOT/sim/otto-sim" stop "$WORK/m" 2>/dev/null; rm -rf "$WORK"' EXIT
start_cluster "$WORK" 5432 "" "fsync = off" >/dev/null
export PGHOST=$WORK PGPORT=5432 PGUSER=postgres PGDATABASE=otto
gcc -O2 -o "$WORK/floor" bench/parse_floor.c $(xml2-config --cflags --libs)

PYTHONDONTWRITEBYTECODE=1 sim/otto-sim init "$WORK/m" --ads 10000 --seed 3 --port 18777 2>/dev/null
mkdir -p "$WORK/sim" "$WORK/real"
i=0
for f in "$WORK"/m/www/auto-oglasi/*/*.gz; do gunzip -c "$f" > "$WORK/sim/$i.html"; i=$((i + 1)); done
cp ../shared/data/real/html/maxandreevich_2022-12_ad_*.html "$WORK/real/"
chmod -R a+rX "$WORK"

as_cluster_user psql -qX <<SQL
CREATE EXTENSION otto;
INSERT INTO otto.site (name, title, hosts, ad_url_pattern, listing_url_pattern, rules)
SELECT 'sim', 'simulator', '{127.0.0.1:18777}', '^http://127\.0\.0\.1:18777/auto-oglasi/([0-9]+)/', '^x', rules
  FROM otto.site_profile WHERE name = 'polovniautomobili';
-- stored uncompressed: the crawler hands parse_ad the fetched body, never a toasted one
SET default_toast_compression = 'pglz';
CREATE TABLE real_page (url text, html text);
ALTER TABLE real_page ALTER COLUMN html SET STORAGE EXTERNAL;
CREATE TABLE sim_page (LIKE real_page INCLUDING STORAGE);
INSERT INTO real_page SELECT 'https://www.polovniautomobili.com/auto-oglasi/' || (regexp_match(f, '_ad_([0-9]+)_'))[1] || '/x' AS url,
       pg_read_file('$WORK/real/' || f) AS html FROM pg_ls_dir('$WORK/real') f;
INSERT INTO sim_page SELECT 'http://127.0.0.1:18777/auto-oglasi/' || f || '/x' AS url,
       pg_read_file('$WORK/sim/' || f) AS html FROM pg_ls_dir('$WORK/sim') f;
SQL

# pages/s of parse_ad over a table, repeated to at least 3 s of work
rate() {
    as_cluster_user psql -qXtA <<SQL
DO \$\$
DECLARE t0 timestamptz; n bigint := 0; r record;
BEGIN
  t0 := clock_timestamp();
  WHILE clock_timestamp() - t0 < interval '3 s' LOOP
    PERFORM otto.parse_ad(html, url) FROM $1;
    n := n + (SELECT count(*) FROM $1);
  END LOOP;
  RAISE NOTICE '%', round(n / extract(epoch FROM clock_timestamp() - t0));
END \$\$;
SQL
}
real_rate=$(rate real_page 2>&1 | grep -o '[0-9]*$')
sim_rate=$(rate sim_page 2>&1 | grep -o '[0-9]*$')
real_floor=$("$WORK/floor" "$WORK"/real/*.html)
sim_floor=$("$WORK/floor" $(ls "$WORK"/sim/*.html | head -2000))
printf '%-26s %14s %22s %8s\n' pages "parse_ad/s" "libxml2 floor/s" ratio
printf '%-26s %14s %22s %8.2f\n' "real ad pages (2)" "$real_rate" "$real_floor" "$(awk "BEGIN {print $real_rate / $real_floor}")"
printf '%-26s %14s %22s %8.2f\n' "simulated ad pages (10k)" "$sim_rate" "$sim_floor" "$(awk "BEGIN {print $sim_rate / $sim_floor}")"
bench_result parse "parse_ad, real ad pages" "$real_rate" pages/s - "$real_floor (libxml2 alone)" "$(awk "BEGIN {printf \"%.2f\", $real_rate / $real_floor}")"
bench_result parse "parse_ad, simulated ad pages" "$sim_rate" pages/s - "$sim_floor (libxml2 alone)" "$(awk "BEGIN {printf \"%.2f\", $sim_rate / $sim_floor}")"
