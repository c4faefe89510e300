public import Postgres

/// The maintenance jobs (docs/operations.md), run on a timer by the daemon and tested directly:
/// retention, the 1min-bar rollup, partitions made ahead, and housekeeping of small tables.
public struct Maintenance: Sendable {
    public var tickRetentionDays: Int
    public var systemLogRetentionDays: Int
    public var tradeLogRetentionDays: Int
    public var oneMinuteBarRetentionDays: Int
    /// Publisher streams not heard from for this long leave `feed_sequences` (`ingest.stream_idle_seconds`).
    public var streamIdleSeconds: Int

    public init(tickRetentionDays: Int = 30, systemLogRetentionDays: Int = 90, tradeLogRetentionDays: Int = 365,
                oneMinuteBarRetentionDays: Int = 90, streamIdleSeconds: Int = 86_400) {
        self.streamIdleSeconds = streamIdleSeconds
        self.tickRetentionDays = tickRetentionDays
        self.systemLogRetentionDays = systemLogRetentionDays
        self.tradeLogRetentionDays = tradeLogRetentionDays
        self.oneMinuteBarRetentionDays = oneMinuteBarRetentionDays
    }

    /// What one run did.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public var tickPartitionsOrRowsDropped = 0
        public var systemLogsDeleted = 0
        public var tradeLogsDeleted = 0
        public var oneMinuteBarsDeleted = 0
        public var sessionsDeleted = 0
        public var journalRoundsDeleted = 0
        public var streamsDeleted = 0

        public init() {}

        public var description: String {
            "ticks=\(tickPartitionsOrRowsDropped) system_logs=\(systemLogsDeleted) trade_logs=\(tradeLogsDeleted) "
                + "1min_bars=\(oneMinuteBarsDeleted) sessions=\(sessionsDeleted) journal_rounds=\(journalRoundsDeleted) streams=\(streamsDeleted)"
        }
    }

    /// Refreshes the seed's materialized view `daily_performance_summary` concurrently (readers
    /// never block), through the owner's function (migration 10): REFRESH needs the view's owner,
    /// and the daemon's login is not it.
    public static func refreshDailyPerformance(_ db: PostgresConnection) throws {
        try db.query("SELECT daily_performance_summary_refresh()")
    }

    /// Runs every job once, each in its own statement (a failure stops the run; the next retries).
    public func run(_ db: PostgresConnection) throws -> Report {
        var report = Report()
        // Partitions for the coming week exist before any tick needs them. This and retention are
        // the owner's functions (migration 10), which the daemon's login may only execute.
        try db.query("SELECT market_data_ensure_partitions(now() - interval '1 day', now() + interval '7 days')")
        report.tickPartitionsOrRowsDropped = Int(try db.query("SELECT market_data_apply_retention(make_interval(days => $1::int))",
                                                              [String(tickRetentionDays)]).scalar ?? "0") ?? 0
        report.systemLogsDeleted = try db.query("DELETE FROM system_logs WHERE created_at < now() - make_interval(days => $1::int)",
                                                [String(systemLogRetentionDays)]).affectedRows
        report.tradeLogsDeleted = try db.query("DELETE FROM trade_logs WHERE created_at < now() - make_interval(days => $1::int)",
                                               [String(tradeLogRetentionDays)]).affectedRows
        // 1min bars past their retention go only where the 5min bar covering them is stored, so
        // no price history disappears (the seed's rollup rule); imported bars never go.
        report.oneMinuteBarsDeleted = try db.query(#"""
            DELETE FROM market_data m
            WHERE m."interval" = '1min' AND m."timestamp" < now() - make_interval(days => $1::int) AND m.import_id IS NULL
              AND EXISTS (SELECT 1 FROM market_data b
                          WHERE b."interval" = '5min' AND b.symbol = m.symbol AND b.exchange = m.exchange
                            AND b."timestamp" <= m."timestamp" AND b."timestamp" > m."timestamp" - interval '5 minutes')
            """#, [String(oneMinuteBarRetentionDays)]).affectedRows
        report.sessionsDeleted = try db.query("DELETE FROM user_sessions WHERE expires_at < now() - interval '1 day'").affectedRows
        report.journalRoundsDeleted = try db.query("DELETE FROM event_journal_rounds WHERE applied_at < now() - interval '30 days'").affectedRows
        report.streamsDeleted = try db.query("DELETE FROM feed_sequences WHERE updated_at < now() - make_interval(secs => $1::int)",
                                             [String(streamIdleSeconds)]).affectedRows
        return report
    }
}
