#!/bin/sh
# Row 6b's peer: NautilusTrader, pinned, in a virtualenv of its own under the bench's scratch
# directory (never committed; `make bench` calls this, so a fresh machine gets it). Prints the
# venv's python. Does nothing when the pinned version is already there.
set -eu
NAUTILUS_VERSION="${NAUTILUS_VERSION:-1.221.0}"
VENV="${1:-.build-bench/nautilus-venv}"
PY="$VENV/bin/python"
if [ -x "$PY" ] && [ "$("$PY" -c 'import nautilus_trader; print(nautilus_trader.__version__)' 2>/dev/null)" = "$NAUTILUS_VERSION" ]; then
  echo "$PY"; exit 0
fi
rm -rf "$VENV"
if ! python3 -m venv "$VENV" >&2; then
  # Debian splits venv (and its ensurepip) out of python3.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    rm -rf "$VENV"; python3 -m venv "$VENV" >&2
  else
    echo "python3 -m venv failed: install python3-venv" >&2; exit 1
  fi
fi
"$PY" -m pip install --quiet --disable-pip-version-check "nautilus_trader==$NAUTILUS_VERSION" >&2
echo "$PY"
