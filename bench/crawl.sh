#!/usr/bin/env bash
# bench/crawl.sh: the crawler end to end, on loopback, politeness off.
#   For each market size: a fresh cluster (fsync on, 2 crawler workers), a
#   full crawl of the simulator (fetched, parsed, stored, events written),
#   pages/s and ad pages/s, and the crawler workers' peak private memory
#   (anonymous pages, sampled twice a second).  Beside it, in the same run,
#   the simulator's own served rate for random ad pages (wrk, 2 threads, 64
#   connections): the ceiling a crawler could reach on this machine.
# Targets (issue 5): >= 1,000 ad pages/s stored; worker memory flat (within
# 10%) from 10,000 to 100,000 pages.
# Usage: bash bench/crawl.sh [SIZES...]   (default: 10000 100000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
SIM=$OTTO_ROOT/sim/otto-sim
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
install_packages
build_and_install >/dev/null
WORK=$(mktemp -d /var/tmp/otto-bench-crawl.XXXXXX)
chmod 755 "$WORK"
trap 'for d in "$WORK"/m*; do "$SIM" stop "$d" 2>/dev/null || true; done; stop_cluster "$WORK/pg" 2>/dev/null; rm -rf "$WORK"' EXIT
PORT=18600
export PYTHONDONTWRITEBYTECODE=1
PSQL="psql -h $WORK/pg -p 5498 -U postgres -d otto -qXtA"

anon_kb() {  # summed Anonymous memory of the crawler workers, kB
    local s=0 p
    for p in $(pgrep -f 'postgres: otto crawler' || true); do
        s=$((s + $(awk '/^Anonymous:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    done
    echo $s
}

printf '%-8s %8s %8s %9s %11s %8s %14s\n' ads pages wall_s pages/s ad_pages/s target worker_anon_MB
declare -A MEM RATE
for size in ${@:-10000 100000}; do
    [ -n "${last:-}" ] && "$SIM" stop "$WORK/m$last" >/dev/null 2>&1    # one market on the port at a time
    "$SIM" up "$WORK/m$size" --ads "$size" --seed 1 --port $PORT --crawl-delay 0 >/dev/null 2>&1
    stop_cluster "$WORK/pg" 2>/dev/null || true
    rm -rf "$WORK/pg"
    start_cluster "$WORK/pg" 5498 "" "otto.crawler_workers = 2
otto.launcher_naptime = '200ms'" >/dev/null
    as_cluster_user $PSQL >/dev/null <<SQL
CREATE EXTENSION otto;
SELECT otto.site_add('sim', 'Market simulator', ARRAY['127.0.0.1:$PORT'],
       ARRAY['http://127.0.0.1:$PORT/auto-oglasi/pretraga?page=1&sort=basic'],
       '^http://127\.0\.0\.1:$PORT/auto-oglasi/([0-9]+)/', '^http://127\.0\.0\.1:$PORT/auto-oglasi/(?:pretraga|[a-z])',
       'polovniautomobili', true);
UPDATE otto.site SET rules = rules || '{"timezone": "UTC"}', crawl_delay_ms = 0, max_concurrency = 64 WHERE name = 'sim';
SQL
    sleep 1
    peak=0
    t0=$(date +%s.%N)
    as_cluster_user $PSQL -c "SELECT otto.crawl_start('sim')" >/dev/null
    while [ "$(as_cluster_user $PSQL -c "SELECT count(*) FROM otto.frontier WHERE state IN ('leased', 'queued')")" != 0 ]; do
        m=$(anon_kb); [ "$m" -gt "$peak" ] && peak=$m
        sleep 0.5
    done
    t1=$(date +%s.%N)
    read -r pages ads <<<"$(as_cluster_user $PSQL -F ' ' -c \
        "SELECT count(*), count(*) FILTER (WHERE url ~ '/auto-oglasi/[0-9]') FROM otto.page WHERE status = 200")"
    wall=$(awk "BEGIN {print $t1 - $t0}")
    RATE[$size]=$(awk "BEGIN {printf \"%.0f\", $ads / $wall}")
    MEM[$size]=$peak
    failed=$(as_cluster_user $PSQL -c "SELECT count(*) FROM otto.frontier WHERE state <> 'done'")
    [ "$failed" = 0 ] || echo "warning: $failed URLs not done at $size ads" >&2
    printf '%-8s %8s %8.1f %9.0f %11s %8s %14.1f\n' "$size" "$pages" "$wall" "$(awk "BEGIN {print $pages / $wall}")" \
        "${RATE[$size]}" 1000 "$(awk "BEGIN {print $peak / 1024}")"
    last=$size
done

# The simulator's own rate, on the last market, for random ad pages.
cat > "$WORK/urls.lua" <<LUA
local urls = {}
for line in io.lines("$WORK/m$last/truth/day-000/ads.jsonl") do
  urls[#urls + 1] = line:match('"url": "http://[^/]+([^"]+)"')
end
math.randomseed(1)
request = function() return wrk.format("GET", urls[math.random(#urls)], {["Accept-Encoding"] = "gzip"}) end
LUA
served=$(wrk -t2 -c64 -d10s -s "$WORK/urls.lua" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {printf "%.0f", $2}')
echo
printf '%-44s %10s\n' "simulator serving random ad pages (req/s)" "$served" \
    "crawler ad pages/s at $last ads / served" "$(awk "BEGIN {printf \"%.3f\", ${RATE[$last]} / $served}")"
bench_result crawl "crawler ad pages/s at $last ads" "${RATE[$last]}" pages/s - "$served (simulator alone)" \
    "$(awk "BEGIN {printf \"%.3f\", ${RATE[$last]} / $served}")"
first=${1:-10000}
if [ "$first" != "$last" ]; then
    printf '%-44s %10s   (target <= 1.10)\n' "worker memory, $last / $first ads" \
        "$(awk "BEGIN {printf \"%.2f\", ${MEM[$last]} / ${MEM[$first]}}")"
    bench_result crawl "worker memory at $last ads" "$(awk "BEGIN {printf \"%.1f\", ${MEM[$last]} / 1024}")" MB "<= 1.10x" \
        "$(awk "BEGIN {printf \"%.1f\", ${MEM[$first]} / 1024}") MB at $first ads" "$(awk "BEGIN {printf \"%.2f\", ${MEM[$last]} / ${MEM[$first]}}")"
fi
