/// Which stored bars a replay on bars reads, per instrument: the finest stored interval from
/// which every interval its strategies ask for can be rebuilt (a 5min bar is five 1min bars on
/// the same session-anchored grid, a 1hour bar four 15min ones, a day bar any intraday bars of
/// its day), so the replay keeps as much of the price path as was imported. Pure.
public enum BarReplayPlan {
    /// An instrument's choice, or why there is none.
    public enum Choice: Sendable, Equatable {
        case bars(BarInterval)
        case missing(String)
    }

    /// Whether bars of `source` rebuild bars of `target`.
    public static func serves(_ source: BarInterval, _ target: BarInterval) -> Bool {
        if target == .oneDay { return true }
        return source != .oneDay && target.seconds % source.seconds == 0
    }

    /// `needs`: the bar intervals the strategies trading the instrument ask for (empty for a
    /// strategy of ticks only); `stored`: the intervals stored for it in the range.
    public static func choose(needs: Set<BarInterval>, stored: Set<BarInterval>, instrument: String) -> Choice {
        let usable = stored.filter { source in needs.allSatisfy { serves(source, $0) } }
        if let finest = usable.min() { return .bars(finest) }
        if stored.isEmpty { return .missing("no bars of \(instrument)") }
        return .missing("the strategies need \(needs.sorted().map(\.rawValue).joined(separator: ", ")) bars of \(instrument), "
                        + "which cannot be built from the stored \(stored.sorted().map(\.rawValue).joined(separator: ", ")) bars")
    }
}
