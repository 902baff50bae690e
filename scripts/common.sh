# scripts/common.sh: shared by scripts/test and scripts/demo (sourced, not run).

PG_MAJOR=15
# OTTO_PG_BIN: another server's programs (a copy of the installed tree, say),
# which the build installs into as well (make PG_CONFIG=...).
PG_BIN=${OTTO_PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
OTTO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages Otto needs to build, run and test.
OTTO_PACKAGES=(
    make gcc pkg-config
    postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-client-$PG_MAJOR
    postgresql-$PG_MAJOR-cron postgresql-$PG_MAJOR-pgtap
    libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
    libcurl4-openssl-dev libxml2-dev libxml2-utils libmicrohttpd-dev
    libpq-dev libjansson-dev libxgboost-dev
    nginx-light python3 curl
    prometheus-postgres-exporter
    clang libclang-rt-14-dev
)

# Install whatever of the packages (default OTTO_PACKAGES) is missing
# (idempotent; apt-get only when needed).
install_packages() {
    local missing=() p
    [ $# -gt 0 ] || set -- "${OTTO_PACKAGES[@]}"
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
        return 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Node.js and npm, for testing otto-mcp with real MCP clients: Debian's
# packages unless a node with npm is already there.
install_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    install_packages nodejs npm
}

# Build (warnings are errors) and install the extension into the server.
build_and_install() {
    make -C "$OTTO_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" clean
    make -C "$OTTO_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" COPT=-Werror
    make -C "$OTTO_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
}

# The unprivileged OS user that owns throwaway clusters (initdb refuses root).
cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Run a command as cluster_user.
as_cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Start the cluster in DIR (created on first use) with otto and pg_cron
# preloaded and a database "otto"; a running one is restarted so that it loads
# a freshly installed otto.so.  PORT (5432) and LISTEN ('' = unix socket only,
# so throwaway clusters never clash) are set at creation, with EXTRA lines of
# postgresql.conf (the tests add fsync = off).
start_cluster() {
    local dir=$1 port=${2:-5432} listen=${3:-} extra=${4:-}
    mkdir -p "$dir"
    chmod 755 "$dir"
    chown "$(cluster_user)" "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_cluster_user "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '$listen'
unix_socket_directories = '$dir'
port = $port
shared_preload_libraries = 'otto,pg_cron'
otto.database = 'otto'
cron.database_name = 'otto'
max_worker_processes = 16
$extra
CONF
    fi
    if as_cluster_user "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_cluster_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -m fast restart >/dev/null
    else
        as_cluster_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    fi || { cat "$dir/server.log"; return 1; }
    [ "$(as_cluster_user psql -h "$dir" -p "$port" -U postgres -d postgres -qXtAc \
        "SELECT count(*) FROM pg_database WHERE datname = 'otto'")" = 1 ] \
        || as_cluster_user "$PG_BIN/createdb" -h "$dir" -p "$port" -U postgres otto
}

stop_cluster() {
    as_cluster_user "$PG_BIN/pg_ctl" -D "$1/data" -m immediate stop >/dev/null 2>&1
}

# Both fuzzers (fuzz/), each for SECONDS, seeded with the real saved pages
# and fuzz/seeds.py's hostile inputs, in OUT (corpora and logs): fuzz_parse
# in-process with ASan/UBSan, fuzz_sql through the whole parse path on the
# database CONNINFO names (CREATE EXTENSION otto done there).  Prints each
# one's figures; sets FUZZ_PASS and FUZZ_FAIL (harnesses) and FUZZ_RC.
run_fuzzers() {
    local out=$1 seconds=$2 conninfo=$3 max_len=${4:-262144} harness rc
    make -s -C "$OTTO_ROOT/fuzz" clean >/dev/null && make -s -C "$OTTO_ROOT/fuzz" all 2>&1 | grep -v 'Wignored-attributes'
    mkdir -p "$out/corpus-parse" && cp "$OTTO_ROOT"/../shared/data/real/html/*.html "$out/corpus-parse/" \
        && python3 "$OTTO_ROOT/fuzz/seeds.py" "$out/corpus-parse" && cp -r "$out/corpus-parse" "$out/corpus-sql"
    FUZZ_PASS=0 FUZZ_FAIL=0 FUZZ_RC=0
    for harness in parse sql; do
        (cd "$out" && ASAN_OPTIONS=detect_leaks=0 OTTO_FUZZ_CONNINFO="$conninfo" "$OTTO_ROOT/fuzz/fuzz_$harness" \
            -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=4096 -print_final_stats=1 "$out/corpus-$harness") \
            > "$out/fuzz_$harness.log" 2>&1
        rc=$?
        echo "fuzz_$harness:"
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|ERROR|SUMMARY|^fuzz_sql:' "$out/fuzz_$harness.log"
        if [ "$rc" -eq 0 ]; then FUZZ_PASS=$((FUZZ_PASS + 1)); else
            tail -n 40 "$out/fuzz_$harness.log"; FUZZ_FAIL=$((FUZZ_FAIL + 1)); FUZZ_RC=$rc; fi
    done
}

# One line per headline figure of a benchmark, which bench/run.sh gathers
# into its table.  The format stays, so that runs compare over time:
#   RESULT|bench|figure|value|unit|target|baseline|ratio
bench_result() { local IFS='|'; echo "RESULT|$*"; }

# A benchmark's throwaway cluster: WORK becomes a new directory under
# /var/tmp (removed on exit) holding the cluster in $WORK/pg on PORT with
# the EXTRA lines of postgresql.conf.
bench_cluster() {
    local name=$1 port=$2 extra=$3
    WORK=$(mktemp -d "/var/tmp/otto-bench-$name.XXXXXX")
    chmod 755 "$WORK"
    trap 'stop_cluster "$WORK/pg" 2>/dev/null; rm -rf "$WORK"' EXIT
    # no training behind a benchmark's back (one that measures it says so later)
    start_cluster "$WORK/pg" "$port" "" "otto.price_trainer = off
$extra" >/dev/null
}
