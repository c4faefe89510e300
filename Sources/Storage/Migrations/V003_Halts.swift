// Migration 3: halts (kill switches), per user or for the whole engine (user_id NULL).
extension Migration {
    static let v003Halts = Migration(version: 3, name: "halts", sql: #"""
-- A halt is active until resumed. Set by an operator (`algotrader halt`) or by a risk breach
-- (daily loss, drawdown); the engine reads the active ones every 100 ms, so a halt takes effect
-- within that and survives a restart.
CREATE TABLE halts (
    halt_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES users(user_id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    source VARCHAR(20) NOT NULL CHECK (source IN ('operator', 'breach')),
    created_by TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    resumed_by TEXT,
    resumed_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_halts_active ON halts(user_id) WHERE resumed_at IS NULL;
"""#)
}
