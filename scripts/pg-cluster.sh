#!/usr/bin/env bash
# A throwaway PostgreSQL cluster under the project folder, for `make demo` and `make test`.
#   scripts/pg-cluster.sh start DIR PORT   -> initdb if needed, start, create database "algotrader"
#   scripts/pg-cluster.sh stop DIR
#   scripts/pg-cluster.sh url PORT         -> the libpq URL of that cluster
#   scripts/pg-cluster.sh start DIR PORT timescaledb -> the same, with TimescaleDB preloaded
#   scripts/pg-cluster.sh has-timescaledb  -> exit 0 if the TimescaleDB extension is installed
#   scripts/pg-cluster.sh reset DIR        -> stop and delete the cluster (and its /var/tmp data)
#   scripts/pg-cluster.sh crash DIR        -> stop it the way a crash does (pg_ctl -m immediate), for fault tests
# PostgreSQL refuses to run as root, so as root the cluster runs as the system user
# "algotrader" (created if absent).
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start|stop|url ...}

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$d/initdb" ]; then bindir=$d; break; fi
done
[ -n "$bindir" ] || { [ "$cmd" = url ] || { echo "pg-cluster: no PostgreSQL server found (apt-get install postgresql)" >&2; exit 1; }; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    # From /, which the owner can always enter (the project folder may be under /root).
    (cd / && runuser -u algotrader -- "$@")
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    dir=$(realpath -m "${2:?data dir}"); port=${3:?port}
    if [ "$(id -u)" = 0 ] && ! id algotrader >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin algotrader
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown algotrader "$dir"
      # The cluster's owner must reach the folder; a clone under /root cannot be reached, so the
      # cluster then lives under /var/tmp, with a link from the project folder.
      if ! runuser -u algotrader -- test -w "$dir" 2>/dev/null; then
        real=/var/tmp/algotrader-pg-$(echo "$dir" | md5sum | cut -c1-12)
        mkdir -p "$real"; chown algotrader "$real"
        rmdir "$dir" 2>/dev/null || rm -rf "$dir"
        ln -sfn "$real" "$dir"
        dir=$real
      fi
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
      if [ "${4:-}" = timescaledb ]; then
        printf "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n" >>"$dir/data/postgresql.conf"
      fi
    fi
    # Settings an operator would give an ingest-heavy server on this machine (24 GiB): room for
    # the working set, and checkpoints spaced out so that 1 M-row bursts do not trigger one and
    # double their WAL with full-page images. Durability settings stay at their safe defaults.
    tuning="-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min -c wal_buffers=64MB"
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200 $tuning" >/dev/null \
        || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    fi
    for _ in $(seq 1 50); do
      "$bindir/pg_isready" -h 127.0.0.1 -p "$port" -q && break
      sleep 0.1
    done
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='algotrader'" | grep -q 1 \
      || psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE algotrader"
    ;;
  reset)
    # Stop and delete a cluster, wherever its data lives (the /var/tmp link target too).
    link=${2:?data dir}
    dir=$(realpath -m "$link")
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir" "$link"
    ;;
  stop)
    dir=$(realpath -m "${2:?data dir}")  # follows the /var/tmp link, if any
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  crash)
    dir=$(realpath -m "${2:?data dir}")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  has-timescaledb)
    [ -n "$bindir" ] && ls "$("$bindir/pg_config" --pkglibdir 2>/dev/null || echo /nonexistent)"/timescaledb.so >/dev/null 2>&1 \
      || ls "$(dirname "$bindir")"/lib/timescaledb.so >/dev/null 2>&1
    ;;
  url)
    echo "postgresql://postgres@127.0.0.1:${2:?port}/algotrader"
    ;;
  *) echo "pg-cluster: unknown command $cmd" >&2; exit 64 ;;
esac
