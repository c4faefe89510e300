/// The bar lengths of `market_data.interval` (CONTRACT.md section 1).
public enum BarInterval: String, CaseIterable, Sendable, Hashable, Comparable {
    case oneMinute = "1min"
    case fiveMinutes = "5min"
    case fifteenMinutes = "15min"
    case thirtyMinutes = "30min"
    case oneHour = "1hour"
    case oneDay = "1day"

    /// Length in seconds (a day bar is one Asia/Kolkata calendar day).
    public var seconds: Int64 {
        switch self {
        case .oneMinute: 60
        case .fiveMinutes: 300
        case .fifteenMinutes: 900
        case .thirtyMinutes: 1_800
        case .oneHour: 3_600
        case .oneDay: 86_400
        }
    }

    public var nanoseconds: Int64 { seconds * 1_000_000_000 }

    public static func < (lhs: BarInterval, rhs: BarInterval) -> Bool { lhs.seconds < rhs.seconds }
}
