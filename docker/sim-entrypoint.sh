#!/bin/sh
# Serve the market on 127.0.0.1:8428 and let it live a day every OTTO_SIM_DAY_SECONDS.
set -e
/opt/otto/sim/otto-sim up /market --ads "${OTTO_SIM_ADS:-10000}" --seed "${OTTO_SIM_SEED:-1}" --port 8428 --crawl-delay 0
trap '/opt/otto/sim/otto-sim stop /market; exit 0' TERM INT
while :; do
    sleep "${OTTO_SIM_DAY_SECONDS:-3600}" &
    wait $!
    /opt/otto/sim/otto-sim advance /market
done
