#!/bin/sh
# A virtualenv holding exactly the pins of the requirement files given (brokers/venv.sh for the
# broker gateways, Tests/web for the web tests). Does nothing when the venv already holds exactly
# these pins; prints the venv's python. Never committed (.build-*/ is ignored).
#   scripts/python-venv.sh VENV REQUIREMENTS.txt [MORE.txt ...]
set -eu
VENV="${1:?usage: python-venv.sh VENV REQUIREMENTS...}"; shift
PY="$VENV/bin/python"
stamp="$VENV/.requirements"
want="$(cat "$@")"
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
for file in "$@"; do set -- "$@" -r "$file"; shift; done
"$PY" -m pip install --quiet --disable-pip-version-check "$@" >&2
printf '%s' "$want" >"$stamp"
echo "$PY"
