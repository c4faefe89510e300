// Migration 7: backtest runs (issue 9; docs/schema.md, "Migration 7"). Kept apart from the live
// tables: a replay writes here and nowhere else (no trades, positions, performance or bus rows).
extension Migration {
    static let v007Backtests = Migration(version: 7, name: "backtests", sql: #"""
CREATE TABLE backtest_runs (
    run_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    user_id UUID NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    strategy_id UUID NOT NULL REFERENCES strategies(strategy_id) ON DELETE CASCADE,
    strategy_type VARCHAR(50) NOT NULL,
    parameters JSONB NOT NULL,
    symbol VARCHAR(50) NOT NULL,
    exchange VARCHAR(20) NOT NULL,
    from_time TIMESTAMP WITH TIME ZONE NOT NULL,
    to_time TIMESTAMP WITH TIME ZONE NOT NULL CHECK (to_time > from_time),
    speed VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    ticks BIGINT NOT NULL DEFAULT 0,
    orders INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    fills INTEGER NOT NULL DEFAULT 0,
    winning_trades INTEGER NOT NULL DEFAULT 0,
    losing_trades INTEGER NOT NULL DEFAULT 0,
    gross_pnl NUMERIC(18,4),
    charges NUMERIC(18,4),
    net_pnl NUMERIC(18,4),
    unrealized_pnl NUMERIC(18,4),
    end_position INTEGER,
    win_rate NUMERIC(5,2),
    sharpe_ratio NUMERIC(10,4),
    max_drawdown NUMERIC(18,4),
    exposure_percent NUMERIC(5,2),
    error TEXT,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    finished_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_backtest_runs_strategy ON backtest_runs(strategy_id, started_at);

-- Each order of a run at its final state, in placement order.
CREATE TABLE backtest_trades (
    run_id UUID NOT NULL REFERENCES backtest_runs(run_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    order_id VARCHAR(100) NOT NULL,
    parent_order_id VARCHAR(100),
    symbol VARCHAR(50) NOT NULL,
    exchange VARCHAR(20) NOT NULL,
    transaction_type VARCHAR(10) NOT NULL CHECK (transaction_type IN ('BUY', 'SELL')),
    order_type VARCHAR(20) NOT NULL,
    product VARCHAR(10) NOT NULL,
    quantity INTEGER NOT NULL,
    price NUMERIC(18,4),
    trigger_price NUMERIC(18,4),
    status VARCHAR(20) NOT NULL,
    filled_quantity INTEGER NOT NULL,
    average_price NUMERIC(18,4),
    charges NUMERIC(18,4) NOT NULL DEFAULT 0,
    reason TEXT,
    order_timestamp TIMESTAMP WITH TIME ZONE NOT NULL,
    execution_timestamp TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (run_id, seq)
);

-- The same row-level security as the live tables (migration 4).
ALTER TABLE backtest_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE backtest_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY backtest_runs_engine ON backtest_runs TO algotrader_engine USING (true) WITH CHECK (true);
CREATE POLICY backtest_runs_own ON backtest_runs TO algotrader_app USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
ALTER TABLE backtest_trades ENABLE ROW LEVEL SECURITY;
ALTER TABLE backtest_trades FORCE ROW LEVEL SECURITY;
CREATE POLICY backtest_trades_engine ON backtest_trades TO algotrader_engine USING (true) WITH CHECK (true);
CREATE POLICY backtest_trades_own ON backtest_trades TO algotrader_app
    USING (run_id IN (SELECT r.run_id FROM backtest_runs r)) WITH CHECK (run_id IN (SELECT r.run_id FROM backtest_runs r));
REVOKE ALL ON backtest_runs, backtest_trades FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON backtest_runs, backtest_trades TO algotrader_engine;
GRANT SELECT ON backtest_runs, backtest_trades TO algotrader_app;
"""#)
}
