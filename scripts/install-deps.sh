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
# The toolchain's FoundationNetworking (broker login's HTTPS call to Kite) loads libcurl.so.4.
ls /usr/lib/*/libcurl.so.4 >/dev/null 2>&1 || need+=(libcurl4)
# The dashboard's browser tests (make test-web): Debian's headless chromium and its driver.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# The Python tools, pinned: pytest, mypy and pyzmq (pyzmq also drives the engine from a real
# third-party ZeroMQ client in the Swift tests). Installed unless each is there at its pin.
requirements="$(cd "$(dirname "$0")/.." && pwd)/sdk/python/requirements-test.txt"
python3 - "$requirements" >/dev/null 2>&1 <<'PY' || pip_need=1
import sys
from importlib.metadata import version
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if line:
        name, pin = line.split("==")
        if version(name.strip()) != pin.strip():
            sys.exit(1)
PY
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
  echo "installing the pinned Python test tools: $requirements" >&2
  python3 -m pip install -q -r "$requirements" 2>/dev/null || python3 -m pip install -q --break-system-packages -r "$requirements"
fi
