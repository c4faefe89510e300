// Migration 4: multi-user isolation (docs/security.md). Row-level security on every user-owned
// table keyed on the per-transaction setting `app.user_id`, two group roles, an append-only
// audit log, soft-deleted strategies, and the key id of encrypted broker credentials.
extension Migration {
    static let v004Security = Migration(version: 4, name: "security", sql: #"""
-- Group roles, created only if absent (roles belong to the cluster, not to this database).
-- algotrader_app: every per-user read and write; not an owner, no BYPASSRLS, so the policies
-- below always apply to it. algotrader_engine: the engine's system-wide work (ingest, the event
-- writer, maintenance); its policies admit every row.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'algotrader_app') THEN
        BEGIN
            CREATE ROLE algotrader_app NOLOGIN NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- made meanwhile by another migrate
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'algotrader_engine') THEN
        BEGIN
            CREATE ROLE algotrader_engine NOLOGIN NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END $$;
-- The login that migrates (and runs the engine) acts as either: as algotrader_engine by
-- membership, as algotrader_app by SET LOCAL ROLE for one user's transaction.
GRANT algotrader_app TO CURRENT_USER;
GRANT algotrader_engine TO CURRENT_USER;

-- The user a transaction acts for: SET LOCAL app.user_id = '<uuid>' (or set_config(..., true)).
-- Unset or empty: NULL, which matches no row.
CREATE OR REPLACE FUNCTION app_user_id() RETURNS uuid
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;

-- Soft delete: `algotrader strategy remove` sets deleted_at; trade history is never cascaded
-- away (the seed's ON DELETE CASCADE from strategies to trades and strategy_performance becomes
-- RESTRICT, so even a hard DELETE of a strategy with history fails).
ALTER TABLE strategies ADD COLUMN deleted_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE trades DROP CONSTRAINT trades_strategy_id_fkey,
    ADD CONSTRAINT trades_strategy_id_fkey FOREIGN KEY (strategy_id) REFERENCES strategies(strategy_id) ON DELETE RESTRICT;
ALTER TABLE strategy_performance DROP CONSTRAINT strategy_performance_strategy_id_fkey,
    ADD CONSTRAINT strategy_performance_strategy_id_fkey FOREIGN KEY (strategy_id) REFERENCES strategies(strategy_id) ON DELETE RESTRICT;

-- The key that encrypted a broker's credentials (also inside the JSON envelope), so
-- `algotrader keys rotate` finds the rows still under an old key.
ALTER TABLE brokers ADD COLUMN credentials_key_id TEXT;

-- Append-only audit trail: logins, failed logins, credential changes, strategy start/stop,
-- halts, resumes, risk changes. No foreign keys: the trail outlives the rows it names.
CREATE TABLE audit_log (
    audit_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    actor TEXT NOT NULL,
    actor_user_id UUID,
    action TEXT NOT NULL,
    target_user_id UUID,
    target TEXT,
    details JSONB NOT NULL DEFAULT '{}',
    peer TEXT
);
CREATE INDEX idx_audit_log_occurred_at ON audit_log(occurred_at);
CREATE INDEX idx_audit_log_target_user ON audit_log(target_user_id, occurred_at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Row-level security. Each user-owned table gets FORCE (so even its owner is filtered unless a
-- policy admits it), an engine policy admitting every row to algotrader_engine, and a user
-- policy admitting algotrader_app only the rows of app_user_id(). Tables without a user_id
-- column reach it through their parent; the parent's own policy filters the subquery.
DO $$
DECLARE
    spec TEXT[];
BEGIN
    FOREACH spec SLICE 1 IN ARRAY ARRAY[
        ['users', 'user_id = app_user_id()'],
        ['brokers', 'user_id = app_user_id()'],
        ['strategies', 'user_id = app_user_id()'],
        ['risk_settings', 'user_id = app_user_id()'],
        ['user_sessions', 'user_id = app_user_id()'],
        ['positions', 'user_id = app_user_id()'],
        ['halts', 'user_id = app_user_id()'],
        ['trades', 'strategy_id IN (SELECT s.strategy_id FROM strategies s)'],
        ['strategy_performance', 'strategy_id IN (SELECT s.strategy_id FROM strategies s)'],
        ['trade_logs', 'trade_id IN (SELECT t.trade_id FROM trades t)'],
        ['position_history', 'position_id IN (SELECT p.position_id FROM positions p)']
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', spec[1]);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', spec[1]);
        EXECUTE format('CREATE POLICY %I ON %I TO algotrader_engine USING (true) WITH CHECK (true)', spec[1] || '_engine', spec[1]);
        EXECUTE format('CREATE POLICY %I ON %I TO algotrader_app USING (%s) WITH CHECK (%s)', spec[1] || '_own', spec[1], spec[2], spec[2]);
    END LOOP;
END $$;

-- Grants (the matrix is in docs/security.md). Nothing for PUBLIC.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO algotrader_engine;
GRANT USAGE ON SCHEMA public TO algotrader_app, algotrader_engine;
GRANT SELECT, INSERT, UPDATE, DELETE ON brokers, strategies, risk_settings, user_sessions, trades, positions,
    position_history, trade_logs, strategy_performance TO algotrader_app;
GRANT SELECT, UPDATE (email, password_hash, last_login, updated_at) ON users TO algotrader_app;
GRANT SELECT, INSERT ON halts TO algotrader_app;
GRANT SELECT ON market_data, indicator_values TO algotrader_app;
-- The audit trail: the application role appends, never reads back, changes or deletes.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM algotrader_app, algotrader_engine;
GRANT INSERT ON audit_log TO algotrader_app;
GRANT SELECT, INSERT ON audit_log TO algotrader_engine;

-- A materialized view cannot carry RLS: per-user readers get it only through this view, which
-- runs with its owner's rights and filters on app_user_id() (security_barrier keeps a caller's
-- functions from seeing rows before the filter).
REVOKE ALL ON daily_performance_summary FROM PUBLIC, algotrader_app;
CREATE VIEW user_daily_performance WITH (security_barrier) AS
    SELECT * FROM daily_performance_summary WHERE user_id = app_user_id();
GRANT SELECT ON user_daily_performance TO algotrader_app;
"""#)
}
