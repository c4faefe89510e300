// Migration 16: halts recorded by reconciliation (docs/schema.md, "Migration 16").
//
// A difference that nothing explains between a live broker and the engine halts the broker's
// strategies with `breach = 'reconcile'` (docs/protocol.md, "Reconciliation"). Migration 6's CHECK
// allowed only the risk breakers' kinds, so PostgreSQL refused that row and the whole record (its
// system log too) went to quarantine: the halt held in memory but was lost at the next restart.
extension Migration {
    static let v016ReconcileHalts = Migration(version: 16, name: "reconcile halts", sql: #"""
ALTER TABLE halts DROP CONSTRAINT halts_breach_check;
ALTER TABLE halts ADD CONSTRAINT halts_breach_check
    CHECK (breach IN ('daily_loss', 'drawdown', 'strategy_loss', 'order_ratio', 'reconcile'));
"""#)
}
