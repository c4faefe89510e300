#!/usr/bin/env bash
# Checks systemd/algotrader.service the way an operator's machine would: `systemd-analyze verify`
# (with ExecStart pointed at the binary just built, since /usr/local/bin holds none here) and
# `systemd-analyze security --offline=true`, failing above an exposure of 2.0.
set -euo pipefail
bin=$(realpath "${1:-.build/debug/algotrader}")
command -v systemd-analyze >/dev/null || { echo "check-unit: systemd-analyze not installed (apt-get install systemd)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/local/bin/algotrader#$bin#g" systemd/algotrader.service >"$tmp/algotrader.service"
systemd-analyze verify "$tmp/algotrader.service"
exposure=$(systemd-analyze security --offline=true "$tmp/algotrader.service" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: exposure $exposure (limit 2.0)"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }'
