// Migration 5: what crash recovery and the local journal need (docs/operations.md).
extension Migration {
    static let v005Reliability = Migration(version: 5, name: "reliability", sql: #"""
-- This database's identity: the local journal lives under journal.dir/<database_id>, so it is
-- replayed into this database only, never into another (CONTRACT.md section 4).
CREATE TABLE engine_identity (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    database_id UUID NOT NULL DEFAULT gen_random_uuid(),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO engine_identity DEFAULT VALUES;

-- The last seq seen per publisher stream, saved every second and at stop, so a restarted engine
-- still drops a publisher's resends (with the ticks written since the save, read at start).
CREATE TABLE feed_sequences (
    src TEXT NOT NULL,
    session TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (src, session)
);

-- Rounds of order records that went to the local journal during an outage and were applied
-- since: replaying a round twice (a crash between applying and moving the checkpoint) is a no-op.
CREATE TABLE event_journal_rounds (
    round_id UUID PRIMARY KEY,
    applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);

REVOKE ALL ON engine_identity, feed_sequences, event_journal_rounds FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON engine_identity, feed_sequences, event_journal_rounds TO algotrader_engine;
"""#)
}
