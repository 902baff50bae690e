#!/usr/bin/env bash
# bench/simulator.sh: how fast the market simulator renders and serves.
#   Render: wall time to build day 0 and to advance one day, for 10,000 and 100,000 ads.
#   Serve:  requests/s on loopback with wrk (2 threads, 64 connections, keep-alive, gzip)
#           for random ad pages, beside the same server's rate for its 70-byte robots.txt
#           (the baseline: what nginx does when the page costs nothing).
# Usage: bash bench/simulator.sh [SIZES...]   (default: 10000 100000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/common.sh"     # bench_result
SIM=$ROOT/sim/otto-sim
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
WORK=$(mktemp -d /var/tmp/otto-bench-sim.XXXXXX)
trap 'for d in "$WORK"/m*; do "$SIM" stop "$d" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
PORT=18500
export PYTHONDONTWRITEBYTECODE=1

printf '%-8s %12s %12s %14s\n' ads build_s advance_s disk_MB
for n in "${@:-10000 100000}"; do
    for size in $n; do
        t0=$(date +%s.%N)
        "$SIM" init "$WORK/m$size" --ads "$size" --seed 1 --port $PORT 2>/dev/null
        t1=$(date +%s.%N)
        "$SIM" advance "$WORK/m$size" 2>/dev/null
        t2=$(date +%s.%N)
        printf '%-8s %12.1f %12.1f %14s\n' "$size" "$(awk "BEGIN {print $t1 - $t0}")" "$(awk "BEGIN {print $t2 - $t1}")" \
            "$(du -sm "$WORK/m$size/www" | cut -f1)"
    done
done

first=$(ls -d "$WORK"/m* | head -1)
"$SIM" up "$first" --port $PORT >/dev/null
cat > "$WORK/urls.lua" <<LUA
local urls = {}
for line in io.lines("$(ls -d "$first"/truth/day-* | tail -1)/ads.jsonl") do
  urls[#urls + 1] = line:match('"url": "http://[^/]+([^"]+)"')
end
math.randomseed(1)
request = function()
  return wrk.format("GET", urls[math.random(#urls)], {["Accept-Encoding"] = "gzip"})
end
LUA
echo
echo "serving (wrk -t2 -c64 -d10s, keep-alive, gzip):"
base=$(wrk -t2 -c64 -d10s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/robots.txt" | awk '/Requests\/sec/ {print $2}')
ads=$(wrk -t2 -c64 -d10s -s "$WORK/urls.lua" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print $2}')
printf '%-28s %10s req/s\n' "baseline robots.txt" "$base" "random ad pages" "$ads"
printf '%-28s %10.2f\n' "ad pages / baseline" "$(awk "BEGIN {print $ads / $base}")"
bench_result simulator "random ad pages served" "$ads" req/s - "$base (robots.txt)" "$(awk "BEGIN {printf \"%.2f\", $ads / $base}")"
