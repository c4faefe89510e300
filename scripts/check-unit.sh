#!/usr/bin/env bash
# Checks the systemd units the way an operator's machine would: `systemd-analyze verify` and
# `systemd-analyze security --offline=true`, failing above an exposure of 2.0, for the engine's
# and the web's units (systemd/algotrader.service, systemd/algotrader-web.service, its ExecStart pointed at the binary just built, since
# /usr/local/bin holds none here) and the broker gateway and publisher templates
# (systemd/algotrader-gateway@.service, systemd/algotrader-feed@.service), each as an instance
# (`@zerodha`: verify needs one) with its ExecStart pointed at a real Python (python3 here, or
# $2; the units' /opt/algotrader/brokers-venv is a deployment's).
set -euo pipefail
bin=$(realpath "${1:-.build/debug/algotrader}")
py=$(realpath "${2:-$(command -v python3)}")
command -v systemd-analyze >/dev/null || { echo "check-unit: systemd-analyze not installed (apt-get install systemd)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for unit in algotrader algotrader-web; do
  sed "s#/usr/local/bin/algotrader#$bin#g" "systemd/$unit.service" >"$tmp/$unit.service"
done
for template in algotrader-gateway algotrader-feed; do
  sed "s#/opt/algotrader/brokers-venv/bin/python#$py#g" "systemd/$template@.service" >"$tmp/$template@zerodha.service"
done
status=0
for unit in algotrader.service algotrader-web.service algotrader-gateway@zerodha.service algotrader-feed@zerodha.service; do
  systemd-analyze verify "$tmp/$unit"
  exposure=$(systemd-analyze security --offline=true "$tmp/$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  echo "systemd-analyze security $unit: exposure $exposure (limit 2.0)"
  awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' || { echo "check-unit: $unit is above the limit" >&2; status=1; }
done
exit $status
