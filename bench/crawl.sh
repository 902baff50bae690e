#!/usr/bin/env bash
# bench/crawl.sh: the crawler end to end, on loopback, politeness off.
#   For each market size: a fresh cluster (fsync on, 2 crawler workers), a
#   full crawl of the simulator (fetched, parsed, stored, events written; the
#   price trainer off, it is no part of the store path),
#   pages/s and ad pages/s, the CPU it took (every server process, from
#   /proc) per stored page and the cores it kept busy, and the crawler
#   workers' private memory (anonymous pages, both workers summed): the
#   peak, sampled twice a second, and what they hold once the crawl is done
#   and they gave malloc's free pages back (the flatness figure; the peak
#   follows the batches in hand, each at most 8 MB of bodies).
#   Beside it, in the same run and on the same market: Scrapy
#   (bench/crawl_scrapy.py, Debian's python3-scrapy, one process, 64
#   concurrent requests, items to a JSON-lines file), with the same figures;
#   and the simulator's own served rate for random ad pages (wrk, 2 threads,
#   64 connections): the ceiling a crawler could reach on this machine.
# Targets (issues 5, 23): >= 1,000 ad pages/s stored; at least 5 times
# Scrapy's ad pages/s per core used; worker memory flat (within 10%) from
# 10,000 to 100,000 pages.
# Usage: bash bench/crawl.sh [SIZES...]   (default: 10000 100000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
SIM=$OTTO_ROOT/sim/otto-sim
install_packages
install_packages wrk python3-scrapy time
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

# CPU seconds (user + system) of the cluster's server processes so far.
server_cpu_s() {
    local pm tick=$(getconf CLK_TCK)
    pm=$(head -1 "$WORK/pg/data/postmaster.pid")
    for p in $pm $(pgrep -P "$pm"); do cat "/proc/$p/stat" 2>/dev/null; done |
        awk -v t="$tick" '{s += $14 + $15} END {printf "%.2f", s / t}'
}

printf '%-8s %-7s %8s %8s %9s %11s %12s %10s %14s %14s\n' ads crawler pages wall_s pages/s ad_pages/s cpu_ms/page cores_used peak_anon_MB held_anon_MB
declare -A MEM RATE PERCORE SCRAPY SCRAPY_PERCORE
for size in ${@:-10000 100000}; do
    [ -n "${last:-}" ] && "$SIM" stop "$WORK/m$last" >/dev/null 2>&1    # one market on the port at a time
    "$SIM" up "$WORK/m$size" --ads "$size" --seed 1 --port $PORT --crawl-delay 0 >/dev/null 2>&1
    stop_cluster "$WORK/pg" 2>/dev/null || true
    rm -rf "$WORK/pg"
    start_cluster "$WORK/pg" 5498 "" "otto.crawler_workers = 2
otto.price_trainer = off
otto.launcher_naptime = '200ms'" >/dev/null
    as_cluster_user $PSQL >/dev/null <<SQL
CREATE EXTENSION otto;
SELECT otto.site_add('sim', 'Market simulator', ARRAY['127.0.0.1:$PORT'],
       ARRAY['http://127.0.0.1:$PORT/auto-oglasi/pretraga?page=1&sort=basic'],
       '^http://127\.0\.0\.1:$PORT/auto-oglasi/([0-9]+)/', '^http://127\.0\.0\.1:$PORT/auto-oglasi/(?:pretraga|[a-z])',
       'polovniautomobili', true);
UPDATE otto.site SET rules = rules || '{"timezone": "UTC"}', crawl_delay_ms = 0, max_concurrency = 64 WHERE name = 'sim';
SQL
    # the clock starts with the crawlers up (the launcher starts them once it sees the extension)
    until [ "$(as_cluster_user $PSQL -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'otto crawler'")" = 2 ]; do
        sleep 0.2
    done
    peak=0
    cpu0=$(server_cpu_s)
    t0=$(date +%s.%N)
    as_cluster_user $PSQL -c "SELECT otto.crawl_start('sim')" >/dev/null
    while [ "$(as_cluster_user $PSQL -c "SELECT count(*) FROM otto.frontier WHERE state IN ('leased', 'queued')")" != 0 ]; do
        m=$(anon_kb); [ "$m" -gt "$peak" ] && peak=$m
        sleep 0.5
    done
    t1=$(date +%s.%N)
    cpu=$(awk "BEGIN {print $(server_cpu_s) - $cpu0}")
    sleep 2.5    # the workers hand malloc's free pages back once a second
    held=$(anon_kb)
    read -r pages ads <<<"$(as_cluster_user $PSQL -F ' ' -c \
        "SELECT count(*), count(*) FILTER (WHERE url ~ '/auto-oglasi/[0-9]') FROM otto.page WHERE status = 200")"
    wall=$(awk "BEGIN {print $t1 - $t0}")
    RATE[$size]=$(awk "BEGIN {printf \"%.0f\", $ads / $wall}")
    MEM[$size]=$held
    failed=$(as_cluster_user $PSQL -c "SELECT count(*) FROM otto.frontier WHERE state <> 'done'")
    [ "$failed" = 0 ] || echo "warning: $failed URLs not done at $size ads" >&2
    PERCORE[$size]=$(awk "BEGIN {printf \"%.0f\", $ads / $cpu}")
    printf '%-8s %-7s %8s %8.1f %9.0f %11s %12.2f %10.2f %14.1f %14.1f\n' "$size" otto "$pages" "$wall" "$(awk "BEGIN {print $pages / $wall}")" \
        "${RATE[$size]}" "$(awk "BEGIN {print 1000 * $cpu / $pages}")" "$(awk "BEGIN {print $cpu / $wall}")" "$(awk "BEGIN {print $peak / 1024}")" \
        "$(awk "BEGIN {print $held / 1024}")"

    # Scrapy on the same market: wall time and its process's CPU
    rm -f "$WORK/scrapy.jsonl"
    read -r swall scpu < <(cd "$WORK" && /usr/bin/time -f '%e %U %S' /usr/bin/python3 -m scrapy runspider "$OTTO_ROOT/bench/crawl_scrapy.py" \
        -a start="http://127.0.0.1:$PORT/auto-oglasi/pretraga?page=1&sort=basic" -o "$WORK/scrapy.jsonl" 2>&1 >/dev/null |
        tail -1 | awk '{print $1, $2 + $3}')
    sads=$(wc -l <"$WORK/scrapy.jsonl")
    SCRAPY[$size]=$(awk "BEGIN {printf \"%.0f\", $sads / $swall}")
    SCRAPY_PERCORE[$size]=$(awk "BEGIN {printf \"%.0f\", $sads / $scpu}")
    printf '%-8s %-7s %8s %8.1f %9s %11s %12.2f %10.2f %14s %14s\n' "$size" scrapy "$sads" "$swall" - "${SCRAPY[$size]}" \
        "$(awk "BEGIN {print 1000 * $scpu / $sads}")" "$(awk "BEGIN {print $scpu / $swall}")" - -
    printf '%-8s %-7s ad pages/s %.2fx Scrapy; per core used %.2fx (target 5)\n' "$size" ratio \
        "$(awk "BEGIN {print ${RATE[$size]} / ${SCRAPY[$size]}}")" "$(awk "BEGIN {print ${PERCORE[$size]} / ${SCRAPY_PERCORE[$size]}}")"
    bench_result crawl "ad pages/s at $size ads (Otto)" "${RATE[$size]}" pages/s ">= 1000" "${SCRAPY[$size]} (Scrapy)" \
        "$(awk "BEGIN {printf \"%.2f\", ${RATE[$size]} / ${SCRAPY[$size]}}")"
    bench_result crawl "ad pages/s per core used at $size ads (Otto)" "${PERCORE[$size]}" pages/s ">= 5x Scrapy" \
        "${SCRAPY_PERCORE[$size]} (Scrapy)" "$(awk "BEGIN {printf \"%.2f\", ${PERCORE[$size]} / ${SCRAPY_PERCORE[$size]}}")"
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
    printf '%-44s %10s   (target <= 1.10)\n' "worker memory held, $last / $first ads" \
        "$(awk "BEGIN {printf \"%.2f\", ${MEM[$last]} / ${MEM[$first]}}")"
    bench_result crawl "worker memory held after $last ads" "$(awk "BEGIN {printf \"%.1f\", ${MEM[$last]} / 1024}")" MB "<= 1.10x" \
        "$(awk "BEGIN {printf \"%.1f\", ${MEM[$first]} / 1024}") MB at $first ads" "$(awk "BEGIN {printf \"%.2f\", ${MEM[$last]} / ${MEM[$first]}}")"
fi
