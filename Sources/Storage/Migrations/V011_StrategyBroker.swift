// Migration 11: the broker a strategy runs with, remembered (docs/schema.md, "Migration 11").
//
// A strategy without `broker_id` in its parameters runs with its user's only active broker. When
// the user later adds a second one, that rule no longer picks one, and every such strategy was
// refused at the next reload. The engine now stores the broker it first ran a strategy with here
// and keeps using it; an explicit `broker_id` parameter still wins. Existing strategies that
// traded get the broker of their latest order on a broker that is still active (one disabled
// since would refuse the strategy at once).
extension Migration {
    static let v011StrategyBroker = Migration(version: 11, name: "strategy broker", sql: #"""
ALTER TABLE strategies ADD COLUMN broker_id UUID REFERENCES brokers(broker_id);
CREATE INDEX idx_strategies_broker_id ON strategies(broker_id);
-- A backfill, not a change anyone made: updated_at keeps its value.
ALTER TABLE strategies DISABLE TRIGGER update_strategies_updated_at;
UPDATE strategies s SET broker_id = first.broker_id
FROM (SELECT DISTINCT ON (t.strategy_id) t.strategy_id, t.broker_id FROM trades t JOIN brokers b USING (broker_id)
      WHERE coalesce(b.is_active, true) ORDER BY t.strategy_id, t.order_timestamp DESC, t.trade_id DESC) first
WHERE first.strategy_id = s.strategy_id AND s.broker_id IS NULL;
ALTER TABLE strategies ENABLE TRIGGER update_strategies_updated_at;
"""#)
}
