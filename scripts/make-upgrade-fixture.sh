#!/usr/bin/env bash
# Records the upgrade fixture: a database migrated and filled by an earlier release of this
# repository, backed up with scripts/backup.sh into Tests/Fixtures/upgrade/TAG.dump. The upgrade
# test (Tests/EngineTests/UpgradeTests.swift) restores it and migrates it with this build.
#   scripts/make-upgrade-fixture.sh TAG|COMMIT [BINARY]
# The files are named after the release (FIXTURE_NAME, default the first argument): v0.1.0 is
# commit 5c89d68, so `FIXTURE_NAME=v0.1.0 scripts/make-upgrade-fixture.sh 5c89d68` remakes it
# in a clone without tags.
# BINARY: that release's `algotrader`, already built; without it the tag is built from
# `git archive TAG` in a scratch folder (minutes). The release fills the database itself where it
# can: admin commands, `serve` fed by its synthetic feed, `ctl`, `replay` (only the materialized
# view's refresh is plain SQL, see below); it stops if any table is left empty. Needs PostgreSQL (scripts/pg-cluster.sh), psql and pg_dump.
set -euo pipefail
tag=${1:?usage: make-upgrade-fixture.sh TAG|COMMIT [BINARY]}
name=${FIXTURE_NAME:-$tag}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FIXTURE_OUT:-$root/Tests/Fixtures/upgrade}  # FIXTURE_OUT: elsewhere, for a trial run
port=${FIXTURE_PORT:-55439}
git -C "$root" rev-parse --verify --quiet "$tag^{commit}" >/dev/null || { echo "no such tag or commit: $tag" >&2; exit 64; }

work=$(mktemp -d "${TMPDIR:-/tmp}/algotrader-fixture-XXXXXX")
chmod 0755 "$work"  # as root the cluster runs as the user algotrader, which must enter it
mkdir -p "$work/src"
git -C "$root" archive "$tag" | tar -x -C "$work/src"
bin=${2:-}
if [ -z "$bin" ]; then
  (cd "$work/src" && swift build --product algotrader)
  bin=$work/src/.build/debug/algotrader
fi
bin=$(realpath "$bin")
config=$work/src/config/algotrader.yaml  # the release's own: a newer file has keys it refuses

serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; fi
  "$root/scripts/pg-cluster.sh" reset "$work/pg" || true
  rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/pg-cluster.sh" start "$work/pg" "$port"

# As in production: a login that is not a superuser owns the schema (the group roles made for
# it, with the admin option that migration 4's GRANT ... TO CURRENT_USER needs).
admin="psql --no-psqlrc -v ON_ERROR_STOP=1 -q postgresql://postgres@127.0.0.1:$port/postgres"
$admin -c "DROP DATABASE algotrader" -c "CREATE ROLE algotrader LOGIN" \
  -c "CREATE ROLE algotrader_app NOLOGIN NOBYPASSRLS" -c "CREATE ROLE algotrader_engine NOLOGIN NOBYPASSRLS" \
  -c "GRANT algotrader_app, algotrader_engine TO algotrader WITH ADMIN OPTION"
$admin -c "CREATE DATABASE algotrader OWNER algotrader TEMPLATE template0"
url=postgresql://algotrader@127.0.0.1:$port/algotrader
sql() { psql --no-psqlrc -v ON_ERROR_STOP=1 -qtA "$url" "$@"; }

export ALGOTRADER_DATABASE_URL=$url
export ALGOTRADER_DATABASE_TIMESCALEDB=off
export ALGOTRADER_MARKET_DATA_CONNECT=ipc://$work/feed.ipc
export ALGOTRADER_BUS_BIND=ipc://$work/bus.ipc
export ALGOTRADER_BUS_REPLAY_BIND=ipc://$work/replay.ipc
export ALGOTRADER_GATEWAY_BIND=ipc://$work/gateway.ipc
export ALGOTRADER_CONTROL_BIND=ipc://$work/control.ipc
export ALGOTRADER_JOURNAL_DIR=$work/journal
export ALGOTRADER_METRICS_BIND=""
export ALGOTRADER_SECURITY_PASSWORD_SCRYPT_LOG_N=10
at() { "$bin" "$@" --config "$config"; }
at migrate

# Users, brokers (a paper account with '{}', a live one sealed under a key kept beside the
# fixture so the test can open it), risk, strategies, instruments, holidays, halts.
key=$("$bin" keys generate --id fixture-key)
export ALGOTRADER_SECURITY_CREDENTIALS_KEY=$key
echo "asha-pass" | at user add asha --email asha@example.com --role trader >/dev/null
echo "vikram-pass" | at user add vikram --email vikram@example.com --role admin >/dev/null
echo "ira-pass" | at user add ira --email "ira+ünï@example.com" --role investor >/dev/null
at broker add --user asha --name paper --api-type zerodha --mode paper >/dev/null
printf '%s\n' '{"api_key":"fixture-api-key","api_secret":"fixture-secret","note":"tab\there, quote \" and ₹"}' |
  at broker add --user ira --name live --api-type angel --mode live --credentials-stdin >/dev/null
at risk set --user asha --daily-loss-limit 50000 --max-position-size 10000000 --max-drawdown-percent 50 --max-risk-per-trade 5 >/dev/null
at risk set --user ira --daily-loss-limit 1000 --max-position-size 100000 --max-drawdown-percent 10 --max-risk-per-trade 2 --inactive >/dev/null
for symbol in RELIANCE INFY TCS; do
  at strategy add --user asha --name "sma-$symbol" --type sma_crossover \
    --params "{\"symbol\": \"$symbol\", \"fast\": 5, \"slow\": 20, \"quantity\": 10}" >/dev/null
done
at strategy add --user asha --name rsi-HDFCBANK --type rsi_mean_reversion \
  --params '{"symbol": "HDFCBANK", "quantity": 5, "interval": "1min", "period": 5, "oversold": 45, "overbought": 55}' >/dev/null
at strategy add --user asha --name orb-INFY --type opening_range_breakout --params '{"symbol": "INFY", "quantity": 3, "exit_time": "15:00"}' >/dev/null
at strategy add --user ira --name parked --type sma_crossover --params '{"symbol": "TCS", "fast": 2, "slow": 3, "quantity": 1}' --inactive >/dev/null
at strategy add --user ira --name removed --type sma_crossover --params '{"symbol": "TCS", "fast": 2, "slow": 3, "quantity": 1}' >/dev/null
at strategy remove "$(sql -c "SELECT strategy_id FROM strategies WHERE name = 'removed'")" >/dev/null
{
  echo "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange"
  token=738561
  for symbol in RELIANCE INFY TCS HDFCBANK; do echo "$token,$((token / 256)),$symbol,\"$symbol, LTD\",0,,0,0.05,1,EQ,NSE,NSE"; token=$((token + 1)); done
  echo "13238786,51714,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,75,FUT,NFO-FUT,NFO"
  echo "13239042,51715,NIFTY26DEC24000CE,NIFTY,0,2026-12-29,24000,0.05,75,CE,NFO-OPT,NFO"
  echo "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE"
} >"$work/instruments.csv"
at instruments import "$work/instruments.csv" --progress never >/dev/null
printf 'date,exchange,description\n2027-01-26,NSE,Republic Day\n26-Jan-2027,NFO,Republic Day\n2027-03-04,MCX,"Holi, evening session open"\n' >"$work/holidays.csv"
at calendar import "$work/holidays.csv" >/dev/null
at halt --user ira --reason "fixture: halted then resumed" >/dev/null
at resume --user ira >/dev/null
at halt --strategy parked --reason "fixture: still halted" >/dev/null

# The daemon, fed three trading days by the release's synthetic feed (ticks, bars, indicators,
# orders, fills, positions, bus events, feed sequences, system logs), and the control socket
# (sessions, audit). Market rules stay as the release ships them.
"$bin" serve --config "$config" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 300); do [ -S "$work/control.ipc" ] && break; sleep 0.1; done
[ -S "$work/control.ipc" ] || { cat "$work/serve.log" >&2; exit 1; }
days=()
for back in 6 5 4 3 2 1; do
  d=$(TZ=Asia/Kolkata date -d "-$back day" +%F)
  [ "$(date -d "$d" +%u)" -le 5 ] && days+=("$d")
done
days=("${days[@]: -3}")
seed=1
for day in "${days[@]}"; do
  sent=$("$bin" feed --bind "ipc://$work/feed.ipc" --count "${FIXTURE_TICKS_PER_DAY:-1500}" --rate 0 --seed "$seed" \
    --symbols RELIANCE,INFY,TCS,HDFCBANK --bad-every 400 --session-day "$day")
  session=$(sed -n 's/.*session=\([^ ]*\).*/\1/p' <<<"$sent")
  for _ in $(seq 1 300); do
    [ "$(sql -c "SELECT count(*) FROM market_data WHERE \"interval\" = 'tick' AND tick_data->>'session' = '$session'")" -ge "${FIXTURE_TICKS_PER_DAY:-1500}" ] && break
    sleep 0.1
  done
  seed=$((seed + 1))
done
ctl() { "$bin" ctl "$@" --endpoint "ipc://$work/control.ipc"; }
echo "asha-pass" | ctl login asha --token-file "$work/asha.token" >/dev/null
echo "vikram-pass" | ctl login vikram --token-file "$work/vikram.token" >/dev/null
ctl status --token-file "$work/asha.token" >/dev/null
ctl stop "$(sql -c "SELECT strategy_id FROM strategies WHERE name = 'orb-INFY'")" --token-file "$work/asha.token" >/dev/null
ctl halt --user asha --reason "fixture: admin halt" --token-file "$work/vikram.token" >/dev/null
ctl resume --user asha --token-file "$work/vikram.token" >/dev/null
echo "wrong" | ctl login ira --token-file "$work/ira.token" >/dev/null 2>&1 || true
ctl logout --token-file "$work/vikram.token" >/dev/null
sleep 1.5  # feed_sequences are saved every second
kill -TERM "$serve_pid"
wait "$serve_pid" || { echo "serve exited $?" >&2; cat "$work/serve.log" >&2; exit 1; }
serve_pid=""

# A backtest over the same days.
at replay --strategy sma-RELIANCE --strategy rsi-HDFCBANK --from "${days[0]}" \
  --to "$(date -d "${days[-1]} + 1 day" +%F)" --progress never >/dev/null

# The one thing done in SQL: the daemon refreshes the materialized view a minute after its start,
# and this run is shorter. Everything else above was written by the release itself.
sql -c "REFRESH MATERIALIZED VIEW daily_performance_summary"

# Every table of the release's schema must hold rows (a partition made ahead may be empty).
counts() {  # "table rows" for every table (and the materialized view) of the public schema
  psql --no-psqlrc -v ON_ERROR_STOP=1 -qtA -F ' ' "postgresql://postgres@127.0.0.1:$port/algotrader" <<'SQL'
SELECT format('SELECT %L, count(*) FROM %I', c.relname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'm') ORDER BY c.relname \gexec
SQL
}
partitions=$(sql -c "SELECT string_agg(relname, ' ') FROM pg_class WHERE relispartition")
empty=$(counts | awk -v parts=" $partitions " '$2 == 0 && index(parts, " " $1 " ") == 0 { print $1 }')
[ -z "$empty" ] || { echo "tables the fixture left empty: $empty" >&2; exit 1; }

mkdir -p "$out"
"$root/scripts/backup.sh" "$url" "$out/$name.dump"
echo "$key" >"$out/$name.credentials-key"
# Rows per table as recorded, so the test knows the restore kept them all.
counts >"$out/$name.rows"
echo "wrote $out/$name.dump ($(stat -c %s "$out/$name.dump") bytes), $name.rows, $name.credentials-key"
