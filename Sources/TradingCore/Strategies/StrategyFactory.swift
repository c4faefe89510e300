/// Makes the built-in strategy types from `strategies.strategy_type` and `parameters`.
public enum StrategyFactory {
    public static let types = ["sma_crossover", "rsi_mean_reversion", "opening_range_breakout"]
    /// Every `strategy_type` a row may have: the built-in ones, and `external` (run by a process
    /// of the user's over the strategy socket).
    public static let allTypes = types + [ExternalStrategyConfig.type]

    /// Checks a row's type and parameters as the engine will when it starts it.
    public static func validate(type: String, identity: StrategyIdentity, parameters: StrategyParameters,
                                calendar: SessionCalendar = .standard) throws(StrategyConfigurationError) {
        if type == ExternalStrategyConfig.type {
            _ = try ExternalStrategyConfig(parameters: parameters)
        } else {
            _ = try make(type: type, identity: identity, parameters: parameters, calendar: calendar)
        }
    }

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
