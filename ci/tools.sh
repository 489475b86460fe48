#!/usr/bin/env bash
# Make sure the tools a target needs are here; install what is missing from the distribution's packages
# (apt-get, as root), or stop with a message that says what to install.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

install_pkg() { # install_pkg COMMAND PACKAGE
    local cmd=$1 pkg=$2
    have "$cmd" && return 0
    echo "ci/tools.sh: '$cmd' is missing; installing package '$pkg'" >&2
    if [ "$(id -u)" = 0 ] && have apt-get; then
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg"; } >/tmp/ingest-lab-apt.log 2>&1; then
            echo "ci/tools.sh: apt-get install $pkg failed (log: /tmp/ingest-lab-apt.log)" >&2
            return 1
        fi
    else
        echo "ci/tools.sh: cannot install '$pkg' (not root or no apt-get): install it by hand" >&2
        return 1
    fi
    have "$cmd"
}

status=0
for t in "$@"; do
    case "$t" in
        rust)
            if ! have cargo; then
                echo "ci/tools.sh: cargo not found: install Rust (rustup) first" >&2
                status=1
            fi ;;
        fio) install_pkg fio fio || status=1 ;;
        strace) install_pkg strace strace || status=1 ;;
        valgrind) install_pkg valgrind valgrind || status=1 ;;
        chromium) install_pkg chromium chromium || status=1 ;;
        postgresql)
            # initdb, pg_ctl, postgres and pgbench live in /usr/lib/postgresql/<major>/bin (not on PATH).
            if ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
                install_pkg /usr/lib/postgresql/15/bin/pgbench postgresql || status=1
            fi ;;
        promparser)
            # The Prometheus project's Python client: its text-format parser checks our exposition.
            if ! python3 -c 'import prometheus_client' 2>/dev/null; then
                echo "ci/tools.sh: installing prometheus_client (pip) for the exposition test" >&2
                python3 -m pip install -q prometheus_client >/tmp/ingest-lab-pip.log 2>&1 \
                    || { echo "ci/tools.sh: pip install prometheus_client failed (log: /tmp/ingest-lab-pip.log)" >&2; status=1; }
            fi ;;
        *) echo "ci/tools.sh: unknown tool '$t'" >&2; status=1 ;;
    esac
done
exit $status
