public import TradingCore

/// The COPY statements for `market_data`'s tick rows; the rows themselves are encoded by
/// ``CopyRowEncoder`` in the core.
public enum TickCopyEncoder {
    /// The column list the rows follow.
    public static let copyStatement =
        #"COPY market_data (data_id, symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", tick_data) FROM STDIN"#
    /// The same rows into the session's staging table (the idempotent path after an unknown outcome).
    static let stageCopyStatement =
        #"COPY tick_stage (data_id, symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", tick_data) FROM STDIN"#
    /// Moves staged rows into `market_data`, skipping ids already stored.
    static let insertStagedStatement = #"""
        INSERT INTO market_data (data_id, symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", tick_data)
        SELECT data_id, symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", tick_data FROM tick_stage
        ON CONFLICT DO NOTHING
        """#

    /// Appends one row (terminated by a newline), in the columns of ``copyStatement``.
    @inlinable
    public static func append(_ tick: Tick, id: UUIDBytes, to out: inout [UInt8]) {
        CopyRowEncoder.append(tick, id: id, to: &out)
    }
}
