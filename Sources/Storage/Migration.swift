/// One versioned schema change, applied in one transaction and recorded with its checksum.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Every migration this binary knows, in order. Append only.
    public static let all: [Migration] = [.v001InitialSchema, .v002EventBus, .v003Halts, .v004Security, .v005Reliability, .v006MarketRules, .v007Backtests, .v008BacktestPerformance, .v009Quarantine,
                                         .v010AuditPath, .v011StrategyBroker, .v012HaltsNotify, .v013StrategyTokens, .v014StrategyNames,
                                         .v015HistoryImports, .v016ReconcileHalts]

    /// The schema version this binary is built for.
    public static var latestVersion: Int { all.last?.version ?? 0 }
}
