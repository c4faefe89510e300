import Synchronization
public import Storage
public import TradingCore

/// Collects bad messages and sequence gaps and turns them into rate-limited `system_logs`
/// entries: at most one per reason (or per stream, for gaps) per interval, each carrying the
/// count since the previous entry and one sample. A flood of bad input therefore costs a few
/// rows a minute, while the counters stay exact.
public final class IncidentReporter: Sendable {
    struct Pending {
        var count = 0
        var firstSample: String
        var detail: String?
        var lastLogged: UInt64 = 0
        var firstSeen: UInt64
    }

    private struct State {
        var bad: [TickRejection: Pending] = [:]
        var gaps: [String: Pending] = [:]
    }

    private let state = Mutex(State())
    private let intervalNanoseconds: UInt64
    /// Streams with gaps reported one by one; the rest are reported together.
    static let maxGapStreams = 1_000

    public init(intervalSeconds: Int) {
        self.intervalNanoseconds = UInt64(intervalSeconds) * 1_000_000_000
    }

    /// Records a dropped message: the reason, the field, and the first bytes of the payload.
    public func recordBad(_ error: TickDecodeError, endpoint: String, payloadPrefix: [UInt8], now: UInt64) {
        state.withLock { s in
            if s.bad[error.reason] == nil {
                // The sample is the sender's bytes: made printable (a raw NUL would be refused by
                // system_logs' jsonb), invalid UTF-8 replaced.
                let sample = PrintableText.make(String(decoding: payloadPrefix, as: UTF8.self), maxCharacters: 120)
                s.bad[error.reason] = Pending(firstSample: sample, detail: nil, firstSeen: now)
            }
            s.bad[error.reason]!.count += 1
            if let field = error.field { s.bad[error.reason]!.detail = "\(field) via \(endpoint)" } else { s.bad[error.reason]!.detail = endpoint }
        }
    }

    /// Records a sequence gap: `from...to` never arrived in stream (`source`, `session`).
    public func recordGap(source: String, session: String, from: Int64, to: Int64, now: UInt64) {
        var key = "\(source)/\(session)"
        state.withLock { s in
            // One entry per stream, up to a bound: a flood of new sessions shares one entry.
            if s.gaps[key] == nil && s.gaps.count >= Self.maxGapStreams { key = "(other streams)" }
            if s.gaps[key] == nil {
                s.gaps[key] = Pending(firstSample: "\(from)-\(to)", detail: nil, firstSeen: now)
            }
            s.gaps[key]!.count += 1
            s.gaps[key]!.detail = "\(from)-\(to)"
        }
    }

    /// Entries due now (or all pending ones when `force`), marking them logged.
    public func due(now: UInt64, force: Bool = false) -> [SystemLogEntry] {
        state.withLock { s in
            var entries: [SystemLogEntry] = []
            for (reason, pending) in s.bad where pending.count > 0 && (force || pending.lastLogged == 0 || now - pending.lastLogged >= intervalNanoseconds) {
                var data = JSONObjectWriter()
                data.add("reason", reason.rawValue)
                data.add("count", pending.count)
                data.add("detail", pending.detail ?? "")
                data.add("sample", pending.firstSample)
                entries.append(SystemLogEntry(
                    component: "ingest", level: .warning,
                    message: "dropped \(pending.count) bad tick message(s): \(reason.rawValue)", data: data.text))
                s.bad[reason] = Pending(count: 0, firstSample: "", detail: nil, lastLogged: now, firstSeen: now)
            }
            for (stream, pending) in s.gaps where pending.count > 0 && (force || pending.lastLogged == 0 || now - pending.lastLogged >= intervalNanoseconds) {
                var data = JSONObjectWriter()
                data.add("stream", stream)
                data.add("gaps", pending.count)
                data.add("first_missing", pending.firstSample)
                data.add("last_missing", pending.detail ?? "")
                entries.append(SystemLogEntry(
                    component: "ingest", level: .warning,
                    message: "\(pending.count) sequence gap(s) in stream \(stream); first missing range \(pending.firstSample), last \(pending.detail ?? "")",
                    data: data.text))
                s.gaps[stream] = Pending(count: 0, firstSample: "", detail: nil, lastLogged: now, firstSeen: now)
            }
            // Streams reported and quiet for a whole interval leave the table.
            s.gaps = s.gaps.filter { $0.value.count > 0 || now &- $0.value.lastLogged < intervalNanoseconds }
            return entries
        }
    }
}
