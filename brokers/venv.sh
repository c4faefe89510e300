#!/bin/sh
# The broker gateways' and publishers' Python (brokers/python), in a virtualenv of its own: the
# brokers' official SDKs and their dependencies are pinned in brokers/python/requirements.txt
# and the test tools in brokers/python/requirements-test.txt. `make test-brokers` calls this
# (a fresh machine gets it); it does nothing when the venv already holds exactly these pins.
# Prints the venv's python.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
exec "$HERE/../scripts/python-venv.sh" "${1:-.build-brokers/venv}" "$HERE/python/requirements.txt" "$HERE/python/requirements-test.txt"
