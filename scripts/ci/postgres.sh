#!/usr/bin/env bash
# A throwaway PostgreSQL server for the Optuna tests (and by hand): Debian's postgresql package, no systemd,
# listening on 127.0.0.1 only, trust authentication (loopback, test data only).
#   scripts/ci/postgres.sh start   # prints the URL: postgresql://postgres@127.0.0.1:5432/optuna
#   scripts/ci/postgres.sh stop
# Settings: CONVLAB_PG_DIR (default /tmp/convlab-postgres: data directory, socket and log), CONVLAB_PG_PORT (5432).
set -euo pipefail
dir=${CONVLAB_PG_DIR:-/tmp/convlab-postgres}
port=${CONVLAB_PG_PORT:-5432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "postgres.sh: no /usr/lib/postgresql/*/bin: apt-get install postgresql" >&2; exit 1; }

# The server refuses to run as root: as root, run it as the postgres user, in a directory that user owns.
as_server() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_server "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
    fi
    if ! as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then  # started already: leave it
        as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
    fi
    if ! as_server "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname='optuna'" | grep -q 1; then
        as_server "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres optuna
    fi
    echo "postgresql://postgres@127.0.0.1:$port/optuna"
}

stop() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
