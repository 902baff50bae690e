# scripts/common.sh: shared by scripts/test and scripts/demo (sourced, not run).

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
OTTO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages Otto needs to build, run and test.
OTTO_PACKAGES=(
    make gcc pkg-config
    postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-client-$PG_MAJOR
    postgresql-$PG_MAJOR-cron postgresql-$PG_MAJOR-pgtap
    libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
    libcurl4-openssl-dev libxml2-dev libxml2-utils
    nginx-light python3 curl
)

# Install whatever of OTTO_PACKAGES is missing (idempotent; apt-get only when needed).
install_packages() {
    local missing=() p
    for p in "${OTTO_PACKAGES[@]}"; do
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

# Build (warnings are errors) and install the extension into the server.
build_and_install() {
    make -C "$OTTO_ROOT" -s clean
    make -C "$OTTO_ROOT" -s COPT=-Werror
    make -C "$OTTO_ROOT" -s install >/dev/null
}

# The unprivileged OS user that owns throwaway clusters (initdb refuses root).
cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Run a command as cluster_user.
as_cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
