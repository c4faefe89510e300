/// Who may not add risk now, and why: the one owner of the desk's halts. The engine sets the
/// halts stored in `halts` (operators', daily loss) and the silent feeds; the desk adds its own
/// breakers. What a halt does to working orders is the desk's (it owns the orders); this only
/// answers who is halted and which halts the next IST day lifts.
public struct HaltBook: Sendable, Equatable {
    /// Users halted (an operator, or their daily loss limit).
    public internal(set) var users: Set<String> = []
    /// Exchanges whose feed is silent in session (when feed health halts strategies).
    public var exchanges: Set<String> = []
    /// The whole engine (an operator's kill switch).
    public internal(set) var engine = false
    /// Strategies halted by a breaker, their own `max_loss` or an operator.
    public internal(set) var strategies: Set<String> = []
    /// The users this desk halted for a daily loss, and the strategies for their `max_loss`:
    /// the halts a new day may lift.
    var dailyLoss: Set<String> = []
    var strategyLoss: Set<String> = []

    public init() {}

    /// Whether the user may only reduce positions.
    func isHalted(userID: String) -> Bool { engine || users.contains(userID) }

    /// Replaces the user and engine halts; returns the users newly halted and whether the
    /// engine halt is new (their working orders are to be cancelled).
    mutating func set(users newUsers: Set<String>, engine newEngine: Bool) -> (users: Set<String>, engine: Bool) {
        let newly = newUsers.subtracting(users)
        let engineNow = newEngine && !engine
        users = newUsers
        engine = newEngine
        return (newly, engineNow)
    }

    /// Replaces the strategy halts; returns the strategies newly halted.
    mutating func set(strategies newStrategies: Set<String>) -> Set<String> {
        let newly = newStrategies.subtracting(strategies)
        strategies = newStrategies
        strategyLoss.formIntersection(newStrategies)
        return newly
    }

    /// A halt the desk raised itself: a strategy's breaker (`strategy_loss` is lifted at the
    /// next day's start) or a user's daily loss.
    mutating func haltStrategy(_ strategyID: String, breach: String) {
        strategies.insert(strategyID)
        if breach == "strategy_loss" { strategyLoss.insert(strategyID) }
    }

    mutating func noteDailyLossHalt(_ userID: String) { dailyLoss.insert(userID) }

    /// A new IST day: `max_loss` halts are lifted, and daily loss halts when `liftDailyLoss`;
    /// returns the kinds lifted, as `halts.breach` names them.
    mutating func startDay(liftDailyLoss: Bool) -> [String] {
        var lifting = ["strategy_loss"]
        if liftDailyLoss {
            users.subtract(dailyLoss)
            dailyLoss = []
            lifting.insert("daily_loss", at: 0)
        }
        strategies.subtract(strategyLoss)
        strategyLoss = []
        return lifting
    }
}
