#!/usr/bin/env bash
# bench/mcp.sh: tools/call round trips through otto-mcp at 100,000 ads.
#   A fresh cluster gets a synthetic market (bench/synthetic_market.sql, 1% of
#   it listed in the last day) and its market tables; then bench/mcp_driver.py starts otto-mcp over stdio,
#   initializes, and times OTTO_BENCH_CALLS (200) calls of each tool - each
#   from writing the request line to reading the reply line - and ping.
#   Baseline, in the same run: the same otto.call_tool calls timed inside
#   the database (no client, no protocol, no JSON round trip).
# Target (issue 7): p95 under 20 ms for each tool; otto.ask's latency reported.
# Usage: bash bench/mcp.sh [ADS]   (default 100000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ADS=${1:-100000}
CALLS=${OTTO_BENCH_CALLS:-200}
install_packages
build_and_install >/dev/null
bench_cluster mcp 5495 "otto.stream_processor = off
shared_buffers = '512MB'"
export PGHOST=$WORK/pg PGPORT=5495 PGUSER=postgres PGDATABASE=otto
as_cluster_user psql -qXtA -v ads="$ADS" -v synthetic="$OTTO_ROOT/bench/synthetic_market.sql" \
    -f "$OTTO_ROOT/bench/synthetic_recent.sql" >/dev/null
python3 "$OTTO_ROOT/bench/mcp_driver.py" "$PG_BIN/otto-mcp" "$CALLS"
