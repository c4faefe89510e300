#!/usr/bin/env bash
# Installs the system packages the build and tests need, when they are missing and we are root.
set -euo pipefail
need=()
[ -f /usr/include/zmq.h ] || need+=(libzmq3-dev)
[ -f /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)  # replay --equity-png
python3 -c 'import zmq' >/dev/null 2>&1 || pip_need=1
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
if [ "${pip_need:-0}" = 1 ]; then
  # pyzmq drives the engine from a real third-party ZeroMQ client in the tests.
  python3 -m pip install -q pyzmq 2>/dev/null || python3 -m pip install -q --break-system-packages pyzmq
fi
