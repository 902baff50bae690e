#!/usr/bin/env bash
# bench/hostile_findings.sh: issue 18's findings replayed on the build of
# this checkout, each in its own psql call (a crash ends only its own call),
# on a throwaway cluster.  Run it from an older checkout to see the "before".
set -uo pipefail
source "$(dirname "$0")/../scripts/common.sh"
cd "$OTTO_ROOT"
install_packages && build_and_install
bench_cluster findings 5442 "fsync = off"
T=$WORK/pg DB=otto
P() { as_cluster_user psql -h "$T" -p 5442 -qX -d $DB -v url='https://www.polovniautomobili.com/auto-oglasi/1/x' "$@" 2>&1 | sed 's/^/    /'; }
P -c "CREATE EXTENSION otto" >/dev/null
echo "1. escalation: otto_admin registers its own STABLE function and calls it"
P <<'SQL'
SET ROLE otto_admin;
CREATE FUNCTION pg_temp.evil() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT jsonb_build_object('user', current_user, 'superuser', (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)) $$;
INSERT INTO otto.tool (name, title, description, fn, input_schema, output_schema) VALUES ('evil', 'x', 'x', 'pg_temp.evil()', '{"type": "object"}', '{"type": "object"}');
SELECT otto.call_tool('evil', '{}');
SQL
echo "2. control character in a categorical value"
P <<'SQL'
SELECT otto.parse_ad('<div class="divider"><div class="uk-width-1-2">Gorivo</div><div class="uk-width-1-2 uk-text-bold">Diz&#1;el</div></div>', :'url')->'raw';
SQL
sleep 3
echo "3. NULL arguments"
P -c "SELECT otto.decode_body(NULL, 'text/html') IS NULL AS decode_body_null"
sleep 3
P -c "SELECT otto.tool_exec(NULL, '{}')"
sleep 3
echo "4. quadratic scans, and cancelling"
P <<'SQL'
SET otto.max_page_bytes = '64MB';
\timing on
SELECT length(otto.parse_ad('<script>' || repeat('dataLayer.push({"object_uid": 1, ', 16000) || '</script>', :'url')::text) AS script_16000;
SELECT length(otto.parse_ad('<script>' || repeat('dataLayer.push({"object_uid": 1, ', 64000) || '</script>', :'url')::text) AS script_64000;
CREATE TEMP TABLE cards AS SELECT n, string_agg('<article class="classified" data-classifiedid="' || i || '"><h2><a href="/auto-oglasi/' || i || '/x">t</a></h2></article>', '') AS page
  FROM (VALUES (40000), (160000)) v(n), generate_series(1, n) i GROUP BY n;
SELECT length(otto.parse_listing(page, :'url')::text) AS cards_40000 FROM cards WHERE n = 40000;
SELECT length(otto.parse_listing(page, :'url')::text) AS cards_160000 FROM cards WHERE n = 160000;
SET statement_timeout = '1s';
SELECT length(otto.parse_ad('<script>' || repeat('dataLayer.push({"object_uid": 1, ', 64000) || '</script>', :'url')::text) AS script_64000_timeout_1s;
SQL
echo "5. memory of extract_links (65,536 links): VmHWM before and after"
P <<'SQL'
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+ kB)'))[1] AS before;
SELECT count(*) FROM otto.extract_links((SELECT string_agg('<a href=/b' || i || '>x</a>', '') FROM generate_series(1, 65536) i), :'url');
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+ kB)'))[1] AS after;
SQL
echo "7. a 64 kB value cut inside a character"
P <<'SQL'
SELECT octet_length(convert_to(convert_from(convert_to(otto.parse_ad('<h1>a' || repeat('č', 40000) || '</h1>', :'url')->>'title', 'UTF8'), 'UTF8'), 'UTF8')) AS title_bytes;
SQL
echo "8. SQL text through otto_app"
P <<'SQL'
SET ROLE otto_app;
SELECT otto.search_estimate('true AND (SELECT count(*) FROM pg_class) > 0', '{}');
SQL
echo "9. address classes"
P -c "SELECT a, otto.address_is_private(a) FROM unnest(ARRAY['64:ff9b::7f00:1', '2002:7f00:1::', 'fec0::1', '::ffff:0:7f00:1']) a"
echo "11. limit, argumentss, unclosed <a>"
P <<'SQL'
SELECT otto.call_tool('search_ads', '{"limit": 5}')->'limit' AS limit_reported;
SELECT otto.call_tool('search_ads', '[]');
SELECT count(*) AS unclosed_links_of_1000 FROM otto.extract_links((SELECT string_agg('<a href=/u/' || i || '>', '') FROM generate_series(1, 1000) i), :'url');
SQL
echo "10. otto-mcp: a long multibyte method name"
M=$(python3 -c "print('x' + 'č' * 150)")
R=$(printf '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}\n{"jsonrpc":"2.0","id":2,"method":"%s"}\n' "$M" \
  | timeout 5 env PGHOST=$T PGPORT=5442 PGUSER=postgres PGDATABASE=$DB OTTO_MCP_ROLE=otto_chat $PG_BIN/otto-mcp 2>/dev/null | sed -n 2p)
[ -n "$R" ] && echo "$R" | python3 -c 'import json, sys; e = json.load(sys.stdin)["error"]; print("    reply: error", e["code"], "of", len(e["message"]), "characters, valid JSON")' \
  || echo "    no reply to the second request"
grep -c "terminated by signal 11" $T/server.log | sed 's/^/    crashes in the server log so far: /'
