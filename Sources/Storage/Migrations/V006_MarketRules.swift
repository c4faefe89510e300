// Migration 6: Indian market rules (issue 8; docs/schema.md, "Migration 6").
extension Migration {
    static let v006MarketRules = Migration(version: 6, name: "market rules", sql: #"""
-- The instrument master, loaded by `algotrader instruments import` from the brokers' instruments
-- CSV (Zerodha's layout). One row per tradable contract, keyed by what orders name.
CREATE TABLE instruments (
    exchange VARCHAR(20) NOT NULL,
    tradingsymbol VARCHAR(50) NOT NULL,
    instrument_token BIGINT NOT NULL,
    exchange_token BIGINT,
    name TEXT,
    segment VARCHAR(20) NOT NULL,
    instrument_type VARCHAR(20) NOT NULL,
    lot_size INTEGER NOT NULL CHECK (lot_size >= 1),
    tick_size NUMERIC(12,4) NOT NULL CHECK (tick_size > 0),
    freeze_quantity INTEGER CHECK (freeze_quantity >= 1),
    expiry DATE,
    strike NUMERIC(18,4),
    last_price NUMERIC(18,4),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (exchange, tradingsymbol)
);
CREATE INDEX idx_instruments_token ON instruments(instrument_token);

-- Exchange holidays (`algotrader calendar import`); weekends are closed by rule, not rows.
CREATE TABLE exchange_holidays (
    exchange VARCHAR(20) NOT NULL,
    holiday_date DATE NOT NULL,
    description TEXT,
    PRIMARY KEY (exchange, holiday_date)
);

-- Products, validity, the algo id and the charges of each order.
ALTER TABLE trades
    ADD COLUMN product VARCHAR(10) NOT NULL DEFAULT 'MIS' CHECK (product IN ('MIS', 'CNC', 'NRML')),
    ADD COLUMN validity VARCHAR(10) NOT NULL DEFAULT 'DAY' CHECK (validity IN ('DAY', 'IOC')),
    ADD COLUMN algo_id VARCHAR(64),
    ADD COLUMN charges NUMERIC(18,4) NOT NULL DEFAULT 0;

-- realized_pnl is net of charges; the gross and the charges are kept beside it.
ALTER TABLE positions
    ADD COLUMN product VARCHAR(10) CHECK (product IN ('MIS', 'CNC', 'NRML')),
    ADD COLUMN charges NUMERIC(18,4) NOT NULL DEFAULT 0,
    ADD COLUMN gross_realized_pnl NUMERIC(18,4) NOT NULL DEFAULT 0;

-- total_pnl is net of charges; gross_pnl and charges beside it.
ALTER TABLE strategy_performance
    ADD COLUMN gross_pnl NUMERIC(15,2),
    ADD COLUMN charges NUMERIC(15,2);

-- A breaker halts one strategy; `breach` says which limit (daily loss halts lift at the next
-- IST day's start).
ALTER TABLE halts
    ADD COLUMN strategy_id UUID REFERENCES strategies(strategy_id) ON DELETE CASCADE,
    ADD COLUMN breach VARCHAR(30) CHECK (breach IN ('daily_loss', 'drawdown', 'strategy_loss', 'order_ratio'));
CREATE INDEX idx_halts_strategy_active ON halts(strategy_id) WHERE resumed_at IS NULL AND strategy_id IS NOT NULL;

-- Reference data: everyone reads, only the owner (the admin commands) writes.
REVOKE ALL ON instruments, exchange_holidays FROM PUBLIC;
GRANT SELECT ON instruments, exchange_holidays TO algotrader_app, algotrader_engine;
"""#)
}
