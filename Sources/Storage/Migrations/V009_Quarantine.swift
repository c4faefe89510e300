// Migration 9: the quarantine for records PostgreSQL refuses for their content (docs/schema.md,
// "Migration 9"), and open interest widened to the contract's 10^15.
//
// A batch or round the database refuses for what it holds (a data exception or a constraint,
// SQLSTATE classes 22 and 23), not for a lost connection, is split until the refused record is
// found; that record lands here, exactly as the engine had it, with the refusal, and everything
// around it is stored. A journal record that cannot be read back lands here too. `record_key`
// (the tick's id, the round and position of an order record, ...) makes a retried quarantine a
// no-op. Only the engine writes it; the application role cannot read it (it may hold any user's
// order records).
extension Migration {
    static let v009Quarantine = Migration(version: 9, name: "quarantine", sql: #"""
CREATE TABLE quarantine (
    quarantine_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    kind VARCHAR(20) NOT NULL CHECK (kind IN ('tick', 'bar', 'order_record', 'event', 'tick_journal', 'event_journal')),
    record_key TEXT NOT NULL,
    sqlstate VARCHAR(5),
    reason TEXT NOT NULL,
    record BYTEA NOT NULL,
    details JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (kind, record_key)
);
CREATE INDEX idx_quarantine_created ON quarantine (created_at);
-- A quarantined bus event is still served by the replay endpoint, by its seq.
CREATE INDEX idx_quarantine_event_seq ON quarantine (((details->>'seq')::bigint)) WHERE kind = 'event';

REVOKE ALL ON quarantine FROM PUBLIC;
GRANT SELECT, INSERT ON quarantine TO algotrader_engine;

ALTER TABLE market_data ALTER COLUMN oi TYPE NUMERIC(20,4);
"""#)
}
