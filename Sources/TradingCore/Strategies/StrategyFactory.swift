/// Makes the built-in strategy types from `strategies.strategy_type` and `parameters`.
public enum StrategyFactory {
    public static let types = ["sma_crossover", "rsi_mean_reversion", "opening_range_breakout"]

    public static func make(type: String, identity: StrategyIdentity, parameters: StrategyParameters,
                            calendar: SessionCalendar = .standard) throws(StrategyConfigurationError) -> any TradingStrategy {
        _ = try StrategyOrderPolicy(parameters: parameters)  // product, validity, max_loss: refused here, not at the first order
        switch type {
        case "sma_crossover": return try SMACrossoverStrategy(identity: identity, parameters: parameters)
        case "rsi_mean_reversion": return try RSIMeanReversionStrategy(identity: identity, parameters: parameters)
        case "opening_range_breakout": return try OpeningRangeBreakoutStrategy(identity: identity, parameters: parameters, calendar: calendar)
        default:
            throw StrategyConfigurationError(parameter: "strategy_type", "'\(type)' is not a built-in type (\(types.joined(separator: ", ")))")
        }
    }
}
