/// Each user's P&L as the risk check reads it (docs/risk.md): the one owner of a user's day
/// loss. It is the fold of the user's fills, kept per Asia/Kolkata day: the realized P&L and the
/// charges of the executions of the day a fill is in, and since the desk started (for equity and
/// its peak). Unrealized P&L is the positions' business and comes in as an argument.
///
/// The day is the fill's own: a day's figures start from zero at the first fill of a later day,
/// and a fill stamped before the current day counts in the current day.
/// Before, the day's base was taken at the day's first intent, so a stoploss that filled in the
/// morning before the strategy asked for anything was counted as yesterday's loss.
public struct DayLedger: Sendable, Equatable {
    /// One user's figures, 1/10,000 units.
    struct Figures: Sendable, Equatable {
        /// The IST day (days since 1970-01-01) of `dayRealized` and `dayCharges`.
        var day: Int64 = .min
        var dayRealized: Int128 = 0
        var dayCharges: Int128 = 0
        /// Since the desk started (with the restored day's figures): equity's realized part.
        var realized: Int128 = 0
        var charges: Int128 = 0
        /// The highest equity seen.
        var equityPeak: Int128?
    }

    var users: [String: Figures] = [:]

    public init() {}

    /// A fill of `userID` on IST day `day`: its realized P&L (before charges) and its charges;
    /// also a day's results read back at a restart (added up per user).
    mutating func record(userID: String, day: Int64, realized: Int128, charges: Int128) {
        var f = users[userID] ?? Figures()
        if f.day != day && !(day < f.day && f.day != .min) {
            // A later day starts from zero. A fill stamped before the current day (an old tick,
            // a late gateway report) counts in the current day: its money moves today.
            f.day = day
            f.dayRealized = 0
            f.dayCharges = 0
        }
        f.dayRealized += realized
        f.dayCharges += charges
        f.realized += realized
        f.charges += charges
        users[userID] = f
    }

    /// The user's day P&L on IST day `today`: the day's realized P&L (less its charges when
    /// `includesCharges`) plus `unrealized`, the open positions' P&L at their marks.
    public func dayPnL(userID: String, today: Int64, unrealized: Int128, includesCharges: Bool) -> Int128 {
        guard let f = users[userID], f.day == today else { return unrealized }
        return f.dayRealized - (includesCharges ? f.dayCharges : 0) + unrealized
    }

    /// The risk check's figures: day P&L, equity (`capital` plus realized and unrealized P&L)
    /// and equity's peak, which this reading raises when equity is above it.
    mutating func measure(userID: String, today: Int64, unrealized: Int128, capital: Int128,
                          includesCharges: Bool) -> (dayPnL: Int128, equity: Int128, peak: Int128) {
        var f = users[userID] ?? Figures()
        let equity = capital + f.realized - (includesCharges ? f.charges : 0) + unrealized
        let peak = max(f.equityPeak ?? equity, equity)
        f.equityPeak = peak
        users[userID] = f
        return (dayPnL(userID: userID, today: today, unrealized: unrealized, includesCharges: includesCharges), equity, peak)
    }
}
