#!/usr/bin/env bash
# bench/web.sh: otto-web at 100,000 ads.
#   A fresh cluster gets the synthetic market of bench/mcp.sh (the day's
#   listings valued, as the trainer worker keeps them) and a buyer;
#   otto-web serves it as the login role otto_web (4 threads, no rate limit),
#   and bench/web_driver.mjs times, OTTO_BENCH_CALLS (200) times each:
#   tools/call over Streamable HTTP beside the same calls over otto-mcp's stdio
#   (the baseline, in the same run), 8 concurrent MCP clients, the search,
#   ad and market pages' API calls, the search and ad pages drawn in Debian's
#   chromium, and 20 alerts from their commit to the page that shows them.
# Targets (issue 22): p95 under 30 ms for tools and pages, an alert under 1 s.
# Usage: bash bench/web.sh [ADS]   (default 100000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ADS=${1:-100000}
CALLS=${OTTO_BENCH_CALLS:-200}
install_packages
install_packages chromium
install_node
build_and_install >/dev/null
(cd "$OTTO_ROOT/test/web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
bench_cluster web 5496 "otto.stream_processor = off
shared_buffers = '512MB'"
export PGHOST=$WORK/pg PGPORT=5496 PGUSER=postgres PGDATABASE=otto
as_cluster_user psql -qXtA -v ads="$ADS" -v synthetic="$OTTO_ROOT/bench/synthetic_market.sql" \
    -f "$OTTO_ROOT/bench/synthetic_recent.sql" >/dev/null
# the day's listings valued, as the trainer worker keeps them (good_deals reads them)
as_cluster_user psql -qXtA -c 'CREATE ROLE otto_web LOGIN IN ROLE otto_app, otto_chat' -c 'SELECT otto.ad_values_refresh(2000)' >/dev/null
read -r USER_ID TOKEN < <(as_cluster_user psql -qXtA -F ' ' -c "SELECT user_id, token FROM otto.user_add('bench-buyer', 'en')")
as_cluster_user psql -qXtA -c "SELECT otto.login('$TOKEN') IS NULL; SELECT otto.search_save('diesels', '{\"fuel\": \"diesel\"}');
                               SELECT count(otto.like_ad(ad_id)) FROM generate_series(1, 5) ad_id" >/dev/null
WEB_PORT=8097
PGUSER=otto_web OTTO_WEB_PORT=$WEB_PORT OTTO_WEB_RATE=0 "$PG_BIN/otto-web" 2>"$WORK/otto-web.log" &
WEB_PID=$!
trap 'kill $WEB_PID 2>/dev/null; stop_cluster "$WORK/pg" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$WEB_PORT/healthz" >/dev/null && break; sleep 0.2; done
echo "otto-web at $ADS ads ($(nproc) cores; client, browser, otto-web and PostgreSQL on the same machine)"
node "$OTTO_ROOT/bench/web_driver.mjs" "http://127.0.0.1:$WEB_PORT" "$PG_BIN/otto-mcp" "$CALLS" "$TOKEN" "$USER_ID"
