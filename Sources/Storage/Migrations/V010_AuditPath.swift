// Migration 10: an honest audit log and a runtime login that does not own the schema
// (docs/security.md, "Audit"; docs/operations.md, "A runtime login").
//
// Until now `algotrader_app` and `algotrader_engine` could INSERT into audit_log, so any holder of
// either role could forge rows, and `serve` had to run as the schema owner (it made partitions,
// dropped old ones and refreshed the materialized view), which can DISABLE the append-only
// triggers. Here every write to audit_log goes through one SECURITY DEFINER function that only
// algotrader_engine may call, and each operation of `serve` that needed ownership becomes a
// function owned by the owner, so `serve` runs as a login that is merely a member of
// algotrader_engine and algotrader_app.
//
// Safe to run again: CREATE OR REPLACE, ALTER FUNCTION, REVOKE and GRANT are all idempotent,
// and nothing here touches a row of audit_log.
extension Migration {
    static let v010AuditPath = Migration(version: 10, name: "audit path", sql: #"""
-- The engine's one audit path. Runs as its owner (the schema owner), so neither role needs any
-- right on the table. occurred_at and audit_id are never the caller's: the table's defaults
-- (clock_timestamp(), the identity) fill them. search_path is pinned so a caller cannot put
-- objects of its own (pg_temp included) in front of the ones named here. The bounds keep a
-- caller from bloating the trail; AuditLog.record clips to them first, so attacker-chosen text
-- (a username typed at login) never makes an audit row fail.
CREATE OR REPLACE FUNCTION audit_log_append(p_actor TEXT, p_actor_user_id UUID, p_action TEXT, p_target_user_id UUID,
                                            p_target TEXT, p_details JSONB, p_peer TEXT)
RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    id BIGINT;
BEGIN
    IF p_actor IS NULL OR btrim(p_actor) = '' OR length(p_actor) > 256 THEN
        RAISE EXCEPTION 'audit_log_append: actor must be 1 to 256 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_action IS NULL OR p_action !~ '^[a-z][a-z0-9_]{0,63}$' THEN
        RAISE EXCEPTION 'audit_log_append: action must be 1 to 64 of [a-z0-9_], got %', left(p_action, 80)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(p_target) > 1024 OR length(p_peer) > 256 THEN
        RAISE EXCEPTION 'audit_log_append: target (1024) or peer (256) too long' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_details IS NOT NULL AND (jsonb_typeof(p_details) <> 'object' OR octet_length(p_details::text) > 65536) THEN
        RAISE EXCEPTION 'audit_log_append: details must be a JSON object of at most 64 KiB' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO audit_log (actor, actor_user_id, action, target_user_id, target, details, peer)
    VALUES (p_actor, p_actor_user_id, p_action, p_target_user_id, p_target, coalesce(p_details, '{}'::jsonb), p_peer)
    RETURNING audit_id INTO id;
    RETURN id;
END $$;
REVOKE ALL ON FUNCTION audit_log_append(TEXT, UUID, TEXT, UUID, TEXT, JSONB, TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_log_append(TEXT, UUID, TEXT, UUID, TEXT, JSONB, TEXT) TO algotrader_engine;

-- No role writes the table itself any more. The engine keeps SELECT (reading the trail changes
-- nothing); the application role, which the web will log in with, has nothing at all.
REVOKE ALL ON audit_log FROM PUBLIC, algotrader_app, algotrader_engine;
GRANT SELECT ON audit_log TO algotrader_engine;

-- The append-only triggers fire ALWAYS, so even a session with session_replication_role =
-- replica (which skips ordinary triggers) cannot change history.
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_update;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;

-- What serve did that needed ownership, now done by functions owned by the owner:
-- making tick and bar partitions ahead (CREATE TABLE in the schema, ATTACH PARTITION needs the
-- parent's owner), dropping tick partitions past retention (DROP TABLE needs the owner), and
-- refreshing the materialized view (REFRESH needs the owner before PostgreSQL 17). Partitions
-- made this way belong to the owner, so the runtime login cannot drop or alter them either.
ALTER FUNCTION market_data_ensure_partitions(TIMESTAMPTZ, TIMESTAMPTZ) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION market_data_apply_retention(INTERVAL) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION market_data_ensure_partitions(TIMESTAMPTZ, TIMESTAMPTZ) FROM PUBLIC;
REVOKE ALL ON FUNCTION market_data_apply_retention(INTERVAL) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION market_data_ensure_partitions(TIMESTAMPTZ, TIMESTAMPTZ) TO algotrader_engine;
GRANT EXECUTE ON FUNCTION market_data_apply_retention(INTERVAL) TO algotrader_engine;

CREATE OR REPLACE FUNCTION daily_performance_summary_refresh() RETURNS VOID
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY daily_performance_summary;
END $$;
REVOKE ALL ON FUNCTION daily_performance_summary_refresh() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daily_performance_summary_refresh() TO algotrader_engine;

-- The tick writer's staging table is a TEMP table. PUBLIC has CONNECT and TEMPORARY on a new
-- database, but a hardened one may not: grant them to the roles that need them when this login
-- may (it owns the database); otherwise they stay the DBA's (docs/operations.md).
DO $$
BEGIN
    IF has_database_privilege(current_database(), 'TEMPORARY WITH GRANT OPTION')
       AND has_database_privilege(current_database(), 'CONNECT WITH GRANT OPTION') THEN
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO algotrader_engine', current_database());
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO algotrader_app', current_database());
    END IF;
END $$;
"""#)
}
