/// Failed-login limits (docs/security.md). A username is limited per peer — `max` failures for
/// one (username, peer) pair within the window — and a peer across usernames (`maxPerPeer`), so
/// guessing from one address is slowed while nobody elsewhere is locked out: there is no limit
/// on a username alone, which would let anyone lock any user out. Refused attempts are counted,
/// and an audit row is asked for at most once a minute per limit with the count since the last
/// one, so a flood appends a bounded number of rows. The keys kept are bounded too.
struct LoginLimiter {
    let max: Int
    let maxPerPeer: Int
    let window: Double
    /// Keys kept at most (pairs and peers); past it, expired ones go, then the stalest.
    let maxKeys: Int

    private struct Entry {
        /// Failure times within the window, oldest first (at most the limit's size).
        var failures: [Double] = []
        /// Refusals not yet written to the audit log, and when the last row was written.
        var refusedSinceAudit = 0
        var lastAudit: Double?
        var lastSeen: Double = 0
    }

    private var entries: [String: Entry] = [:]

    init(max: Int, maxPerPeer: Int, window: Double, maxKeys: Int = 10_000) {
        self.max = max
        self.maxPerPeer = maxPerPeer
        self.window = window
        self.maxKeys = maxKeys
    }

    var keyCount: Int { entries.count }

    private static func pairKey(_ user: String, _ peer: String) -> String { "u:" + user + "\u{1F}p:" + peer }
    private static func peerKey(_ peer: String) -> String { "p:" + peer }

    /// Seconds to wait and the limit that refuses, or nil when an attempt is allowed.
    mutating func blocked(user: String, peer: String, now: Double) -> (wait: Double, key: String)? {
        var result: (wait: Double, key: String)?
        for (key, limit) in [(Self.pairKey(user, peer), max), (Self.peerKey(peer), maxPerPeer)] {
            guard var entry = entries[key] else { continue }
            entry.failures.removeAll { now - $0 >= window }
            entries[key] = entry
            if entry.failures.count >= limit, let oldest = entry.failures.first {
                let wait = window - (now - oldest)
                if wait > (result?.wait ?? 0) { result = (wait, key) }
            }
        }
        return result
    }

    mutating func fail(user: String, peer: String, now: Double) {
        for (key, limit) in [(Self.pairKey(user, peer), max), (Self.peerKey(peer), maxPerPeer)] {
            var entry = entries[key] ?? make(now: now)
            entry.failures.append(now)
            if entry.failures.count > limit { entry.failures.removeFirst(entry.failures.count - limit) }
            entry.lastSeen = now
            entries[key] = entry
        }
    }

    mutating func succeed(user: String, peer: String) {
        entries[Self.pairKey(user, peer)] = nil
    }

    /// Counts a refused attempt under the limit `key`; returns the refusals to write in one audit
    /// row when one is due (the first refusal, then at most once a minute), else nil.
    mutating func refused(key: String, now: Double) -> Int? {
        guard var entry = entries[key] else { return nil }
        entry.refusedSinceAudit += 1
        entry.lastSeen = now
        defer { entries[key] = entry }
        if let last = entry.lastAudit, now - last < 60 { return nil }
        let count = entry.refusedSinceAudit
        entry.refusedSinceAudit = 0
        entry.lastAudit = now
        return count
    }

    /// A new entry, making room first when the table is full.
    private mutating func make(now: Double) -> Entry {
        if entries.count >= maxKeys {
            entries = entries.filter { now - $0.value.lastSeen < window }
            while entries.count >= maxKeys, let stalest = entries.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key {
                entries[stalest] = nil
            }
        }
        return Entry(lastSeen: now)
    }
}
