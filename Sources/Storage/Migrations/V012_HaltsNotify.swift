// Migration 12: a change to `halts` notifies the engine (docs/schema.md, "Migration 12").
//
// The engine read `halts` every 100 ms to learn of an operator's halt; now every statement that
// changes the table notifies channel `algotrader_halts`, and the engine reads the halts when it
// hears it. The notification is sent at commit, so the engine never reads a halt before it is
// committed; a statement that changes nothing still notifies (the engine reads and finds no
// change).
extension Migration {
    static let v012HaltsNotify = Migration(version: 12, name: "halts notify", sql: #"""
CREATE FUNCTION halts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('algotrader_halts', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER halts_changed AFTER INSERT OR UPDATE OR DELETE ON halts
    FOR EACH STATEMENT EXECUTE FUNCTION halts_notify();
"""#)
}
