// Migration 15: imported history (docs/schema.md, "Migration 15").
//
// `algotrader history import` loads downloaded ticks and bars into `market_data` at any age.
// Retention must never remove them, while it still removes what the engine stored live, so each
// imported row carries the import it came from (`import_id`, NULL for live rows: adding a
// nullable column without a default rewrites nothing and costs live ingest nothing) and each
// import is recorded in `history_imports`. Native layout: tick partitions past retention are
// still dropped whole unless an import of ticks overlaps them; those keep their imported rows
// and lose only the live ones, once (the partition is then marked by a comment: a tick past the
// window is refused at ingest, so no live row can come back into it). Imports create only the partitions their rows need
// (`market_data_ensure_history_partitions`): ten years of day bars are 120 monthly bar
// partitions, not 3,650 daily tick partitions. A backtest run names all its instruments (a
// strategy process may trade several) and what it replayed (`ticks`, or `1min bars` when the
// range held only imported bars).
extension Migration {
    static let v015HistoryImports = Migration(version: 15, name: "history imports", sql: #"""
ALTER TABLE market_data ADD COLUMN import_id UUID;
ALTER TABLE backtest_runs ADD COLUMN instruments TEXT[];
ALTER TABLE backtest_runs ADD COLUMN data_source TEXT;
UPDATE backtest_runs SET instruments = ARRAY[exchange || ':' || symbol], data_source = 'ticks';

CREATE TABLE history_imports (
    import_id UUID PRIMARY KEY DEFAULT uuid_generate_v7(),
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    kind VARCHAR(10) NOT NULL CHECK (kind IN ('ticks', 'bars')),
    "interval" VARCHAR(10) NOT NULL CHECK ("interval" IN ('tick', '1min', '5min', '15min', '30min', '1hour', '1day')),
    instruments TEXT[] NOT NULL,
    first_time TIMESTAMP WITH TIME ZONE NOT NULL,
    last_time TIMESTAMP WITH TIME ZONE NOT NULL CHECK (last_time >= first_time),
    rows_read BIGINT NOT NULL,
    rows_imported BIGINT NOT NULL,
    rows_adopted BIGINT NOT NULL,
    imported_by TEXT,
    imported_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_history_imports_time ON history_imports (kind, first_time, last_time);
GRANT SELECT, INSERT, UPDATE, DELETE ON history_imports TO algotrader_engine;
GRANT SELECT ON history_imports TO algotrader_app;

-- The partitions an import's rows need: a tick partition for each UTC day in p_ticks, a bar
-- partition for each UTC month in p_bars (native layout; TimescaleDB makes its chunks itself).
CREATE OR REPLACE FUNCTION market_data_ensure_history_partitions(p_ticks TIMESTAMPTZ[], p_bars TIMESTAMPTZ[])
RETURNS INTEGER AS $$
DECLARE
    t TIMESTAMPTZ;
    made INTEGER := 0;
    part TEXT;
BEGIN
    IF (SELECT layout FROM market_data_layout) <> 'native' THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(7414925466453737216);
    FOR t IN SELECT DISTINCT date_trunc('day', x AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM unnest(p_ticks) AS x LOOP
        part := 'market_data_tick_p' || to_char(t AT TIME ZONE 'UTC', 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE market_data_tick INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format('ALTER TABLE market_data_tick ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, t, t + INTERVAL '1 day');
            made := made + 1;
        END IF;
    END LOOP;
    FOR t IN SELECT DISTINCT date_trunc('month', x AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM unnest(p_bars) AS x LOOP
        part := 'market_data_bar_p' || to_char(t AT TIME ZONE 'UTC', 'YYYYMM');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE market_data_bar INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format('ALTER TABLE market_data_bar ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, t, (t AT TIME ZONE 'UTC' + INTERVAL '1 month') AT TIME ZONE 'UTC');
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION market_data_ensure_history_partitions(TIMESTAMPTZ[], TIMESTAMPTZ[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION market_data_ensure_history_partitions(TIMESTAMPTZ[], TIMESTAMPTZ[]) TO algotrader_engine;

-- Retention as in migration 1, but only of what the engine stored live. SECURITY DEFINER and
-- the search path are restated: CREATE OR REPLACE resets what migration 10 set.
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
                   (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS lower_bound,
                   (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'market_data_tick'::regclass
        LOOP
            -- A partition whose bounds cannot be read (a DEFAULT one) is left alone, as before.
            CONTINUE WHEN part.upper_bound IS NULL OR part.upper_bound > cutoff;
            IF EXISTS (SELECT 1 FROM history_imports h WHERE h.kind = 'ticks'
                       AND h.first_time < part.upper_bound AND h.last_time >= part.lower_bound) THEN
                -- Imported ticks stay; the live ones go, once: no live tick can arrive past the
                -- window, so the partition is marked and not scanned again.
                IF obj_description(format('%I', part.relname)::regclass, 'pg_class') IS DISTINCT FROM 'algotrader: imported history only' THEN
                    EXECUTE format('DELETE FROM %I WHERE import_id IS NULL', part.relname);
                    EXECUTE format('COMMENT ON TABLE %I IS %L', part.relname, 'algotrader: imported history only');
                    dropped := dropped + 1;
                END IF;
            ELSE
                EXECUTE format('DROP TABLE %I', part.relname);
                dropped := dropped + 1;
            END IF;
        END LOOP;
    ELSE
        DELETE FROM market_data WHERE "interval" = 'tick' AND "timestamp" < cutoff AND import_id IS NULL;
        GET DIAGNOSTICS dropped = ROW_COUNT;
    END IF;
    DELETE FROM indicator_values WHERE data_interval = 'tick' AND data_timestamp < cutoff;
    RETURN dropped;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp;
"""#)
}
