// Migration 2: the durable event log behind the fill/order bus (CONTRACT.md section 2).
extension Migration {
    static let v002EventBus = Migration(version: 2, name: "event_bus", sql: #"""
-- Every fill and order event, in publication order. An event is committed here (in the same
-- transaction as the trades/positions rows it reports) before it is published, so `seq` is
-- contiguous across restarts (the next is max(seq) + 1) and the replay endpoint serves any
-- missed range from here. `payload` is the exact JSON text that was published.
CREATE TABLE bus_events (
    seq BIGINT PRIMARY KEY,
    topic TEXT NOT NULL,
    event VARCHAR(10) NOT NULL CHECK (event IN ('fill', 'order')),
    trade_id UUID,
    payload TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_bus_events_trade_id ON bus_events(trade_id);
"""#)
}
