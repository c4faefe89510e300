#!/bin/sh
# The broker gateways' and publishers' Python (brokers/python), in a virtualenv of its own: the
# brokers' official SDKs and their dependencies are pinned in brokers/python/requirements.txt
# and the test tools in brokers/python/requirements-test.txt. `make test-brokers` calls this
# (a fresh machine gets it); it does nothing when the venv already holds exactly these pins.
# Prints the venv's python. Never committed (.build-*/ is ignored).
set -eu
VENV="${1:-.build-brokers/venv}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="$VENV/bin/python"
stamp="$VENV/.requirements"
want="$(cat "$HERE/python/requirements.txt" "$HERE/python/requirements-test.txt")"
if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
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
"$PY" -m pip install --quiet --disable-pip-version-check -r "$HERE/python/requirements.txt" -r "$HERE/python/requirements-test.txt" >&2
printf '%s' "$want" >"$stamp"
echo "$PY"
