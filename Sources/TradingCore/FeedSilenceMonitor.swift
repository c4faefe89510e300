/// Feed health (pure): which exchanges' feeds fell silent during their trading session, and which
/// came back. An exchange is watched once a tick of it was seen; it is silent when no tick came
/// for `silenceNanoseconds` while its session (Asia/Kolkata, Monday to Friday, not an exchange
/// holiday) is open.
public struct FeedSilenceMonitor: Sendable {
    /// Session hours per exchange: minutes after IST midnight, open and close.
    public let sessions: [String: (open: Int64, close: Int64)]
    public let silenceNanoseconds: Int64
    /// Exchange holidays (IST days since 1970-01-01): no session, so no silence alarm.
    public var holidays: [String: Set<Int64>] = [:]
    private var lastSeen: [String: Timestamp] = [:]
    public private(set) var silent: Set<String> = []
    /// Exchanges watched (at most the configured sessions).
    public var watchedCount: Int { lastSeen.count }

    public enum Change: Sendable, Equatable {
        case silent(exchange: String, sinceSeconds: Int64)
        case resumed(exchange: String)
    }

    public init(sessions: [String: (open: Int64, close: Int64)], silenceSeconds: Int64) {
        self.sessions = sessions
        self.silenceNanoseconds = silenceSeconds * 1_000_000_000
    }

    /// `"NSE=09:15-15:30,MCX=09:00-23:30"`; nil if malformed (``TradingCalendar/parseSessions(_:)``).
    public static func parseSessions(_ text: String) -> [String: (open: Int64, close: Int64)]? {
        TradingCalendar.parseSessions(text)?.mapValues { ($0.open, $0.close) }
    }

    /// Ticks of `exchange` were received at `time` (wall clock).
    /// Only exchanges with a session are watched (no other can fall silent in one), so ticks of
    /// made-up exchanges grow nothing here.
    public mutating func saw(_ exchange: String, at time: Timestamp) {
        guard sessions[exchange] != nil else { return }
        lastSeen[exchange] = time
    }

    /// Whether `exchange`'s session is open at `time`.
    public func inSession(_ exchange: String, at time: Timestamp) -> Bool {
        guard let session = sessions[exchange] else { return false }
        let ist = time.nanosecondsSinceEpoch + SessionCalendar.istOffsetSeconds * 1_000_000_000
        let days = floorDiv(ist, Timestamp.nanosecondsPerDay)
        let weekday = ((days % 7) + 7 + 3) % 7  // 0 = Monday (1970-01-01 was a Thursday)
        guard weekday < 5, !(holidays[exchange]?.contains(days) ?? false) else { return false }
        let minute = (ist - days * Timestamp.nanosecondsPerDay) / 60_000_000_000
        return minute >= session.open && minute < session.close
    }

    /// The changes since the last call: feeds newly silent, and silent feeds that resumed.
    public mutating func evaluate(now: Timestamp) -> [Change] {
        var changes: [Change] = []
        for (exchange, seen) in lastSeen.sorted(by: { $0.key < $1.key }) {
            let quiet = now.nanosecondsSinceEpoch - seen.nanosecondsSinceEpoch
            let isSilent = silenceNanoseconds > 0 && quiet > silenceNanoseconds && inSession(exchange, at: now)
            if isSilent && !silent.contains(exchange) {
                silent.insert(exchange)
                changes.append(.silent(exchange: exchange, sinceSeconds: quiet / 1_000_000_000))
            } else if !isSilent && silent.contains(exchange) {
                silent.remove(exchange)
                changes.append(.resumed(exchange: exchange))
            }
        }
        return changes
    }
}
