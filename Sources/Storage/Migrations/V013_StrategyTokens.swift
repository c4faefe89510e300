// Migration 13: a secret per strategy process (docs/schema.md, "Migration 13").
//
// A strategy row of type `external` is run by a process of its user's that authenticates with
// the strategy's secret (`algotrader strategy token`). Only the secret's SHA-256 is kept, so a
// database dump reveals none; issuing a new one replaces the hash, which revokes the old.
extension Migration {
    static let v013StrategyTokens = Migration(version: 13, name: "strategy tokens", sql: #"""
ALTER TABLE strategies ADD COLUMN token_hash TEXT CHECK (token_hash ~ '^[0-9a-f]{64}$');
ALTER TABLE strategies ADD COLUMN token_issued_at TIMESTAMP WITH TIME ZONE;
"""#)
}
