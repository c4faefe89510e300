#!/usr/bin/env bash
# make demo: a local PostgreSQL under .data/, the schema, the daemon, and the built-in synthetic
# feed; then a summary of what was sent and what was stored.
set -euo pipefail
dir=${1:?data dir}; port=${2:?port}; ticks=${3:?tick count}; rate=${4:?ticks per second}
bin=.build/release/algotrader
url=$(scripts/pg-cluster.sh url "$port")
log=$dir/serve.log
feed_port=${DEMO_FEED_PORT:-5555}
bus_port=${DEMO_BUS_PORT:-5556}

scripts/pg-cluster.sh start "$dir" "$port"
cleanup() {
  [ -n "${serve_pid:-}" ] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  [ "${DEMO_KEEP_DB:-0}" = 1 ] || scripts/pg-cluster.sh stop "$dir"
}
trap cleanup EXIT

# The demo's data is disposable: every run starts from an empty database at this binary's schema.
admin_url=${url%/algotrader}/postgres
psql "$admin_url" -qc "DROP DATABASE IF EXISTS algotrader" -c "CREATE DATABASE algotrader"

export ALGOTRADER_DATABASE_URL=$url
export ALGOTRADER_MARKET_DATA_CONNECT=tcp://127.0.0.1:$feed_port
export ALGOTRADER_BUS_BIND=tcp://127.0.0.1:$bus_port
export ALGOTRADER_JOURNAL_DIR=$dir/journal
"$bin" migrate --config config/algotrader.yaml

# A paper trader: one user, a paper Zerodha account, risk limits and four SMA-crossover strategies.
cfg=(--config config/algotrader.yaml)
echo "demo-password" | "$bin" user add demo --email demo@example.com "${cfg[@]}" >/dev/null
"$bin" broker add --user demo --name paper --api-type zerodha --mode paper "${cfg[@]}" >/dev/null
"$bin" risk set --user demo --daily-loss-limit 50000 --max-position-size 10000000 --max-drawdown-percent 50 \
  --max-risk-per-trade 5 "${cfg[@]}" >/dev/null
for symbol in RELIANCE INFY TCS HDFCBANK; do
  "$bin" strategy add --user demo --name "sma-$symbol" --type sma_crossover "${cfg[@]}" \
    --params "{\"symbol\": \"$symbol\", \"fast\": 10, \"slow\": 50, \"quantity\": 10}" >/dev/null
done
# The ticks span today's NSE session (09:15-15:30 IST): a trading day, sent in seconds.
day=$(TZ=Asia/Kolkata date +%F)

"$bin" serve --config config/algotrader.yaml 2>"$log" &
serve_pid=$!

start=$(date +%s.%N)
feed_out=$("$bin" feed --bind "tcp://127.0.0.1:$feed_port" --count "$ticks" --rate "$rate" --bad-every 1000 --session-day "$day")
echo "feed: $feed_out"
session=$(sed -n 's/.*session=\([^ ]*\).*/\1/p' <<<"$feed_out")
bad_sent=$(sed -n 's/.*bad=\([0-9]*\).*/\1/p' <<<"$feed_out")

count() { psql "$url" -qtAc "SELECT count(*) FROM market_data WHERE \"interval\" = 'tick' AND tick_data->>'session' = '$session'"; }
stored=0
for _ in $(seq 1 600); do
  stored=$(count)
  [ "$stored" -ge "$ticks" ] && break
  sleep 0.1
done
end=$(date +%s.%N)
sleep 1  # the last orders' round reaches PostgreSQL

kill -TERM "$serve_pid"
wait "$serve_pid" && serve_status=0 || serve_status=$?
serve_pid=""
last_summary="FROM system_logs WHERE component = 'ingest' AND message = 'ingest stopped' ORDER BY created_at DESC LIMIT 1"
summary=$(psql "$url" -qtAc "SELECT data $last_summary")
bad_counted=$(psql "$url" -qtAc "SELECT data->>'bad' $last_summary")
stored=$(count)
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
echo
echo "================ algotrader demo summary ================"
printf "ticks sent           %s\n" "$ticks"
printf "rows stored          %s\n" "$stored"
printf "ingest rate          %s ticks/s (first send to last row stored, %s s)\n" "$(awk -v n="$stored" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')" "$seconds"
printf "bad messages sent    %s\n" "$bad_sent"
printf "bad messages counted %s\n" "$bad_counted"
printf "daemon exit status   %s\n" "$serve_status"
printf "counters             %s\n" "$summary"
echo "---------------- a day of paper trading ($day) ----------------"
q() { psql "$url" -qtAc "$1"; }
printf "orders               %s (%s filled, %s rejected)\n" "$(q "SELECT count(*) FROM trades")" \
  "$(q "SELECT count(*) FROM trades WHERE status = 'FILLED'")" "$(q "SELECT count(*) FROM trades WHERE status = 'REJECTED'")"
printf "executions           %s\n" "$(q "SELECT count(*) FROM trade_logs WHERE data ? 'exec_id'")"
printf "gross realized P&L   %s\n" "$(q "SELECT coalesce(sum(gross_pnl), 0) FROM strategy_performance")"
printf "charges              %s (brokerage, STT, exchange, SEBI, stamp duty, GST)\n" "$(q "SELECT coalesce(sum(charges), 0) FROM strategy_performance")"
printf "net P&L after charges %s\n" "$(q "SELECT coalesce(sum(total_pnl), 0) FROM strategy_performance")"
printf "open positions       %s (unrealized %s)\n" "$(q "SELECT count(*) FROM positions WHERE status <> 'CLOSED' AND quantity <> 0")" \
  "$(q "SELECT coalesce(sum(unrealized_pnl), 0) FROM positions WHERE status <> 'CLOSED' AND quantity <> 0")"
echo "----- the same day replayed for sma-RELIANCE (algotrader replay, a backtest) -----"
"$bin" replay --strategy sma-RELIANCE --from "$day" --to "$(date -d "$day + 1 day" +%F)" "${cfg[@]}" --progress never
echo "=========================================================="
echo "daemon log: $log"
[ "$stored" = "$ticks" ] && [ "$serve_status" = 0 ]
