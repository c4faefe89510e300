// Migration 1: the seed schema (docs/schema.md lists every deviation and its reason).
// Never edit this text once released: `algotrader migrate` refuses a database whose recorded
// checksum differs. Changes go into a new migration.
extension Migration {
    static let v001InitialSchema = Migration(version: 1, name: "initial_schema", sql: #"""
-- Time-ordered UUIDs (version 7): ids made in order keep B-tree inserts on the right-hand edge,
-- which the measured COPY rate depends on. The engine makes its own; this is the server default.
CREATE OR REPLACE FUNCTION uuid_generate_v7() RETURNS uuid AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$ LANGUAGE sql VOLATILE;

CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- 1. users
CREATE TABLE users (
    user_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    username VARCHAR(50) UNIQUE NOT NULL,
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role VARCHAR(20) NOT NULL CHECK (role IN ('trader', 'investor', 'admin')),
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    last_login TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_users_username ON users(username);
CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_role ON users(role);
CREATE INDEX idx_users_is_active ON users(is_active);

-- 2. brokers (+ execution_mode from CONTRACT.md section 3)
CREATE TABLE brokers (
    broker_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    api_type VARCHAR(50) NOT NULL CHECK (api_type IN ('zerodha', 'angel', 'icici')),
    api_credentials_encrypted JSONB NOT NULL,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    execution_mode VARCHAR(10) NOT NULL DEFAULT 'paper' CHECK (execution_mode IN ('paper', 'live'))
);
CREATE INDEX idx_brokers_user_id ON brokers(user_id);
CREATE INDEX idx_brokers_api_type ON brokers(api_type);
CREATE INDEX idx_brokers_is_active ON brokers(is_active);

-- 3. strategies
CREATE TABLE strategies (
    strategy_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    description TEXT,
    parameters JSONB NOT NULL DEFAULT '{}',
    strategy_type VARCHAR(50) NOT NULL,
    is_active BOOLEAN DEFAULT true,
    is_running BOOLEAN DEFAULT false,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    last_run TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_strategies_user_id ON strategies(user_id);
CREATE INDEX idx_strategies_type ON strategies(strategy_type);
CREATE INDEX idx_strategies_is_active ON strategies(is_active);
CREATE INDEX idx_strategies_is_running ON strategies(is_running);

-- 4. risk_settings
CREATE TABLE risk_settings (
    risk_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID UNIQUE NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    daily_loss_limit DECIMAL(15,2) NOT NULL,
    max_position_size DECIMAL(15,2) NOT NULL,
    max_drawdown_percent DECIMAL(5,2) NOT NULL,
    max_risk_per_trade DECIMAL(5,2) NOT NULL,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_risk_settings_user_id ON risk_settings(user_id);

-- 5. user_sessions
CREATE TABLE user_sessions (
    session_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    token_hash VARCHAR(255) NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    ip_address INET,
    user_agent TEXT
);
CREATE INDEX idx_user_sessions_user_id ON user_sessions(user_id);
CREATE INDEX idx_user_sessions_token_hash ON user_sessions(token_hash);
CREATE INDEX idx_user_sessions_expires_at ON user_sessions(expires_at);

-- 6. market_data: time-partitioned. Prices NUMERIC(18,4) (CDS trades in 0.0025 steps), the
-- primary key includes the partitioning columns, `exchange` from CONTRACT.md section 1.
-- With TimescaleDB (preloaded and not switched off) a hypertable; otherwise native partitioning:
-- LIST by kind (tick | bar), then RANGE by time (ticks daily, bars monthly), so retention drops
-- whole tick partitions and never touches bars.
CREATE TABLE market_data_layout (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    layout TEXT NOT NULL CHECK (layout IN ('native', 'timescaledb'))
);

DO $layout$
DECLARE
    use_timescale BOOLEAN :=
        coalesce(current_setting('algotrader.timescaledb', true), 'auto') <> 'off'
        AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND current_setting('shared_preload_libraries') LIKE '%timescaledb%';
    -- One column list for both layouts, so they can never drift apart.
    columns TEXT := $cols$
        data_id UUID NOT NULL DEFAULT uuid_generate_v7(),
        symbol VARCHAR(50) NOT NULL,
        "timestamp" TIMESTAMP WITH TIME ZONE NOT NULL,
        open NUMERIC(18,4) NOT NULL,
        high NUMERIC(18,4) NOT NULL,
        low NUMERIC(18,4) NOT NULL,
        close NUMERIC(18,4) NOT NULL,
        volume BIGINT NOT NULL,
        oi NUMERIC(18,4),
        "interval" VARCHAR(10) NOT NULL CHECK ("interval" IN ('tick', '1min', '5min', '15min', '30min', '1hour', '1day')),
        tick_data JSONB,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
        exchange VARCHAR(20) NOT NULL DEFAULT 'NSE'
    $cols$;
BEGIN
    IF use_timescale THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXECUTE 'CREATE TABLE market_data (' || columns || ', PRIMARY KEY (data_id, "timestamp"))';
        -- No default (timestamp DESC) index: the BRIN index below serves time ranges at a
        -- fraction of the ingest cost.
        PERFORM create_hypertable('market_data', 'timestamp', chunk_time_interval => INTERVAL '1 day',
                                  create_default_indexes => false);
        CREATE UNIQUE INDEX ux_market_data_bar ON market_data (symbol, exchange, "interval", "timestamp")
            WHERE "interval" <> 'tick';
        INSERT INTO market_data_layout (layout) VALUES ('timescaledb');
    ELSE
        EXECUTE 'CREATE TABLE market_data (' || columns || ', PRIMARY KEY (data_id, "interval", "timestamp")) PARTITION BY LIST ("interval")';
        CREATE TABLE market_data_tick PARTITION OF market_data
            FOR VALUES IN ('tick') PARTITION BY RANGE ("timestamp");
        CREATE TABLE market_data_bar PARTITION OF market_data
            FOR VALUES IN ('1min', '5min', '15min', '30min', '1hour', '1day') PARTITION BY RANGE ("timestamp");
        -- The natural key of a bar: bars are upserted on it, so a restart never stores one twice.
        CREATE UNIQUE INDEX ux_market_data_bar ON market_data_bar (symbol, exchange, "interval", "timestamp");
        INSERT INTO market_data_layout (layout) VALUES ('native');
    END IF;
END
$layout$;

-- The seed's (symbol, timestamp) index serves per-symbol time-range reads; the time index is
-- BRIN (rows arrive in time order, so it is tiny and nearly free on ingest). The seed's
-- single-column symbol index (a prefix of this one) and interval index (the partition key)
-- are not created: see docs/schema.md for the measured cost.
CREATE INDEX idx_market_data_symbol_timestamp ON market_data (symbol, "timestamp");
CREATE INDEX idx_market_data_timestamp ON market_data USING brin ("timestamp");

-- Native layout: partitions are made ahead and on demand by this function (idempotent).
-- Ticks get one partition per UTC day, bars one per UTC month.
CREATE OR REPLACE FUNCTION market_data_ensure_partitions(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ)
RETURNS INTEGER AS $$
DECLARE
    day_start TIMESTAMPTZ;
    month_start TIMESTAMPTZ;
    made INTEGER := 0;
    part TEXT;
BEGIN
    IF (SELECT layout FROM market_data_layout) <> 'native' THEN
        RETURN 0;
    END IF;
    -- Two writers making the same partition at once would collide; take turns.
    PERFORM pg_advisory_xact_lock(7414925466453737216);
    day_start := date_trunc('day', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE day_start <= p_to LOOP
        part := 'market_data_tick_p' || to_char(day_start AT TIME ZONE 'UTC', 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            -- CREATE + ATTACH rather than CREATE ... PARTITION OF: ATTACH takes only a SHARE
            -- UPDATE EXCLUSIVE lock on the parent, so readers of market_data neither block it
            -- nor deadlock with it.
            EXECUTE format('CREATE TABLE %I (LIKE market_data_tick INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format('ALTER TABLE market_data_tick ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, day_start, day_start + INTERVAL '1 day');
            made := made + 1;
        END IF;
        day_start := day_start + INTERVAL '1 day';
    END LOOP;
    month_start := date_trunc('month', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE month_start <= p_to LOOP
        part := 'market_data_bar_p' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE market_data_bar INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format('ALTER TABLE market_data_bar ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, month_start, (month_start AT TIME ZONE 'UTC' + INTERVAL '1 month') AT TIME ZONE 'UTC');
            made := made + 1;
        END IF;
        month_start := (month_start AT TIME ZONE 'UTC' + INTERVAL '1 month') AT TIME ZONE 'UTC';
    END LOOP;
    RETURN made;
END;
$$ LANGUAGE plpgsql;

-- Retention, the seed's 30 days for ticks: whole tick partitions (native) or tick rows
-- (TimescaleDB, where a chunk holds bars too) older than the window go; bars stay.
CREATE OR REPLACE FUNCTION market_data_apply_retention(p_keep_ticks INTERVAL DEFAULT INTERVAL '30 days')
RETURNS INTEGER AS $$
DECLARE
    cutoff TIMESTAMPTZ := now() - p_keep_ticks;
    dropped INTEGER := 0;
    part RECORD;
BEGIN
    IF (SELECT layout FROM market_data_layout) = 'native' THEN
        FOR part IN
            SELECT c.relname,
                   (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'market_data_tick'::regclass
        LOOP
            IF part.upper_bound <= cutoff THEN
                EXECUTE format('DROP TABLE %I', part.relname);
                dropped := dropped + 1;
            END IF;
        END LOOP;
    ELSE
        DELETE FROM market_data WHERE "interval" = 'tick' AND "timestamp" < cutoff;
        GET DIAGNOSTICS dropped = ROW_COUNT;
    END IF;
    -- Indicator values follow the rows they describe (soft reference, see indicator_values).
    DELETE FROM indicator_values WHERE data_interval = 'tick' AND data_timestamp < cutoff;
    RETURN dropped;
END;
$$ LANGUAGE plpgsql;

-- 7. indicator_values: `values` is a reserved word, so it is quoted. market_data's key is
-- (data_id, interval, timestamp) and its tick partitions are dropped by retention, which a
-- foreign key would block: data_id is a soft reference, with the referenced row's time and
-- interval beside it so retention removes indicator rows with the rows they describe.
CREATE TABLE indicator_values (
    indicator_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    data_id UUID NOT NULL,
    indicator_name VARCHAR(50) NOT NULL,
    "values" JSONB NOT NULL,
    calculated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    data_timestamp TIMESTAMP WITH TIME ZONE,
    data_interval VARCHAR(10) CHECK (data_interval IN ('tick', '1min', '5min', '15min', '30min', '1hour', '1day'))
);
CREATE INDEX idx_indicator_values_data_id ON indicator_values(data_id);
CREATE INDEX idx_indicator_values_name ON indicator_values(indicator_name);
CREATE INDEX idx_indicator_values_calculated_at ON indicator_values(calculated_at);

-- 8. trades: prices widened to NUMERIC(18,4).
CREATE TABLE trades (
    trade_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    strategy_id UUID NOT NULL REFERENCES strategies(strategy_id) ON DELETE CASCADE,
    broker_id UUID NOT NULL REFERENCES brokers(broker_id) ON DELETE RESTRICT,
    symbol VARCHAR(50) NOT NULL,
    exchange VARCHAR(20) NOT NULL,
    instrument_type VARCHAR(20) NOT NULL,
    order_type VARCHAR(20) NOT NULL CHECK (order_type IN ('MARKET', 'LIMIT', 'SL', 'SL-M')),
    transaction_type VARCHAR(10) NOT NULL CHECK (transaction_type IN ('BUY', 'SELL')),
    quantity INTEGER NOT NULL,
    price NUMERIC(18,4),
    trigger_price NUMERIC(18,4),
    stoploss NUMERIC(18,4),
    target NUMERIC(18,4),
    status VARCHAR(20) NOT NULL CHECK (status IN ('PENDING', 'OPEN', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED')),
    order_id VARCHAR(100),
    parent_order_id VARCHAR(100),
    order_timestamp TIMESTAMP WITH TIME ZONE,
    execution_timestamp TIMESTAMP WITH TIME ZONE,
    average_price NUMERIC(18,4),
    filled_quantity INTEGER DEFAULT 0,
    metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_trades_strategy_id ON trades(strategy_id);
CREATE INDEX idx_trades_broker_id ON trades(broker_id);
CREATE INDEX idx_trades_symbol ON trades(symbol);
CREATE INDEX idx_trades_status ON trades(status);
CREATE INDEX idx_trades_order_timestamp ON trades(order_timestamp);
CREATE INDEX idx_trades_execution_timestamp ON trades(execution_timestamp);
-- An order id names one order: a retried submit can never make a second row.
CREATE UNIQUE INDEX ux_trades_order_id ON trades(order_id) WHERE order_id IS NOT NULL;

-- 9. positions: quantity is signed (short is negative); P&L widened to NUMERIC(20,4) so the
-- trigger's products of 4-decimal prices are exact; at most one non-CLOSED row per user,
-- symbol and exchange (CONTRACT.md section 5).
CREATE TABLE positions (
    position_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    trade_id UUID NOT NULL REFERENCES trades(trade_id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    symbol VARCHAR(50) NOT NULL,
    exchange VARCHAR(20) NOT NULL,
    instrument_type VARCHAR(20) NOT NULL,
    quantity INTEGER NOT NULL,
    average_price NUMERIC(18,4) NOT NULL,
    current_price NUMERIC(18,4),
    unrealized_pnl NUMERIC(20,4) DEFAULT 0,
    realized_pnl NUMERIC(20,4) DEFAULT 0,
    status VARCHAR(20) NOT NULL CHECK (status IN ('OPEN', 'CLOSED', 'PARTIALLY_CLOSED')),
    opened_at TIMESTAMP WITH TIME ZONE NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_positions_trade_id ON positions(trade_id);
CREATE INDEX idx_positions_user_id ON positions(user_id);
CREATE INDEX idx_positions_symbol ON positions(symbol);
CREATE INDEX idx_positions_status ON positions(status);
CREATE INDEX idx_positions_opened_at ON positions(opened_at);
CREATE UNIQUE INDEX ux_positions_one_open ON positions(user_id, symbol, exchange) WHERE status <> 'CLOSED';

-- 10. position_history
CREATE TABLE position_history (
    history_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    position_id UUID NOT NULL REFERENCES positions(position_id) ON DELETE CASCADE,
    price NUMERIC(18,4) NOT NULL,
    quantity INTEGER NOT NULL,
    pnl NUMERIC(20,4) NOT NULL,
    action VARCHAR(20) NOT NULL CHECK (action IN ('OPEN', 'CLOSE', 'INCREASE', 'DECREASE')),
    "timestamp" TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX idx_position_history_position_id ON position_history(position_id);
CREATE INDEX idx_position_history_timestamp ON position_history("timestamp");

-- 11. trade_logs
CREATE TABLE trade_logs (
    log_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    trade_id UUID NOT NULL REFERENCES trades(trade_id) ON DELETE CASCADE,
    log_level VARCHAR(10) NOT NULL CHECK (log_level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')),
    message TEXT NOT NULL,
    data JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_trade_logs_trade_id ON trade_logs(trade_id);
CREATE INDEX idx_trade_logs_level ON trade_logs(log_level);
CREATE INDEX idx_trade_logs_created_at ON trade_logs(created_at);

-- 12. strategy_performance
CREATE TABLE strategy_performance (
    performance_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    strategy_id UUID NOT NULL REFERENCES strategies(strategy_id) ON DELETE CASCADE,
    date DATE NOT NULL,
    total_trades INTEGER DEFAULT 0,
    winning_trades INTEGER DEFAULT 0,
    losing_trades INTEGER DEFAULT 0,
    total_pnl DECIMAL(15,2) DEFAULT 0,
    max_drawdown DECIMAL(15,2) DEFAULT 0,
    sharpe_ratio DECIMAL(10,4),
    win_rate DECIMAL(5,2),
    metrics JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(strategy_id, date)
);
CREATE INDEX idx_strategy_performance_strategy_id ON strategy_performance(strategy_id);
CREATE INDEX idx_strategy_performance_date ON strategy_performance(date);

-- 13. system_logs
CREATE TABLE system_logs (
    log_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    component VARCHAR(50) NOT NULL,
    log_level VARCHAR(10) NOT NULL CHECK (log_level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')),
    message TEXT NOT NULL,
    data JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_system_logs_component ON system_logs(component);
CREATE INDEX idx_system_logs_level ON system_logs(log_level);
CREATE INDEX idx_system_logs_created_at ON system_logs(created_at);

-- Triggers: updated_at
CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_brokers_updated_at BEFORE UPDATE ON brokers
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_strategies_updated_at BEFORE UPDATE ON strategies
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_risk_settings_updated_at BEFORE UPDATE ON risk_settings
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_trades_updated_at BEFORE UPDATE ON trades
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_positions_updated_at BEFORE UPDATE ON positions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_strategy_performance_updated_at BEFORE UPDATE ON strategy_performance
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- Position P&L: as the seed, plus on INSERT and when quantity or average price change (a fill
-- that moves the position must re-mark it, not only a new price).
CREATE OR REPLACE FUNCTION calculate_position_pnl()
RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR NEW.current_price IS DISTINCT FROM OLD.current_price
       OR NEW.quantity IS DISTINCT FROM OLD.quantity
       OR NEW.average_price IS DISTINCT FROM OLD.average_price THEN
        IF NEW.current_price IS NOT NULL THEN
            NEW.unrealized_pnl = (NEW.current_price - NEW.average_price) * NEW.quantity;
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER calculate_position_pnl_trigger BEFORE INSERT OR UPDATE ON positions
    FOR EACH ROW EXECUTE FUNCTION calculate_position_pnl();

-- Materialized view, dates in Asia/Kolkata (the trading day), created populated.
CREATE MATERIALIZED VIEW daily_performance_summary AS
SELECT
    u.user_id,
    u.username,
    (t.execution_timestamp AT TIME ZONE 'Asia/Kolkata')::date AS trade_date,
    COUNT(*) AS total_trades,
    SUM(CASE WHEN t.transaction_type = 'SELL' THEN t.filled_quantity * t.average_price ELSE 0 END) AS total_sales,
    SUM(CASE WHEN t.transaction_type = 'BUY' THEN t.filled_quantity * t.average_price ELSE 0 END) AS total_purchases,
    SUM(p.realized_pnl) AS total_realized_pnl
FROM users u
JOIN strategies s ON u.user_id = s.user_id
JOIN trades t ON s.strategy_id = t.strategy_id
LEFT JOIN positions p ON t.trade_id = p.trade_id
WHERE t.status = 'FILLED'
GROUP BY u.user_id, u.username, (t.execution_timestamp AT TIME ZONE 'Asia/Kolkata')::date
WITH DATA;

CREATE UNIQUE INDEX idx_daily_performance_summary_unique ON daily_performance_summary(user_id, trade_date);

-- With TimescaleDB, the seed's retention policy runs as a TimescaleDB job. add_retention_policy
-- itself would drop whole chunks, bars included; this job keeps bars and deletes only ticks.
CREATE OR REPLACE PROCEDURE market_data_retention_job(job_id INTEGER, config JSONB)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM market_data_apply_retention(coalesce((config->>'keep_ticks')::interval, INTERVAL '30 days'));
END;
$$;

DO $jobs$
BEGIN
    IF (SELECT layout FROM market_data_layout) = 'timescaledb' THEN
        PERFORM add_job('market_data_retention_job', INTERVAL '1 hour', config => '{"keep_ticks": "30 days"}'::jsonb);
    END IF;
END
$jobs$;
"""#)
}
