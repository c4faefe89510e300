// Migration 8: a backtest run's figures per Asia/Kolkata day (docs/schema.md, "Migration 8"),
// the run's counterpart of `strategy_performance`, so a replay over several days reads like the
// live performance table without ever writing to it.
extension Migration {
    static let v008BacktestPerformance = Migration(version: 8, name: "backtest performance", sql: #"""
CREATE TABLE backtest_performance (
    run_id UUID NOT NULL REFERENCES backtest_runs(run_id) ON DELETE CASCADE,
    date DATE NOT NULL,
    total_trades INTEGER NOT NULL DEFAULT 0,
    winning_trades INTEGER NOT NULL DEFAULT 0,
    losing_trades INTEGER NOT NULL DEFAULT 0,
    total_pnl NUMERIC(18,4) NOT NULL DEFAULT 0,
    gross_pnl NUMERIC(18,4) NOT NULL DEFAULT 0,
    charges NUMERIC(18,4) NOT NULL DEFAULT 0,
    max_drawdown NUMERIC(18,4) NOT NULL DEFAULT 0,
    sharpe_ratio NUMERIC(10,4),
    win_rate NUMERIC(5,2),
    PRIMARY KEY (run_id, date)
);

ALTER TABLE backtest_performance ENABLE ROW LEVEL SECURITY;
ALTER TABLE backtest_performance FORCE ROW LEVEL SECURITY;
CREATE POLICY backtest_performance_engine ON backtest_performance TO algotrader_engine USING (true) WITH CHECK (true);
CREATE POLICY backtest_performance_own ON backtest_performance TO algotrader_app
    USING (run_id IN (SELECT r.run_id FROM backtest_runs r)) WITH CHECK (run_id IN (SELECT r.run_id FROM backtest_runs r));
REVOKE ALL ON backtest_performance FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON backtest_performance TO algotrader_engine;
GRANT SELECT ON backtest_performance TO algotrader_app;
"""#)
}
