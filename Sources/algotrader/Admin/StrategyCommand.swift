import ArgumentParser
import Foundation
import Engine
import Storage
import TradingCore

/// `algotrader strategy add|edit|list|enable|disable|remove|token`. Per-user writes go through
/// row-level security as that user; a running daemon picks changes up on SIGHUP or `ctl reload`
/// (or at once when made through the control socket).
struct StrategyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strategy", abstract: "Manage strategies (removal is a soft delete: trade history stays).",
        subcommands: [Add.self, Edit.self, List.self, Enable.self, Disable.self, Remove.self, Token.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a strategy; its parameters are checked as the engine would.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Owner: username or user id.") var user: String
        @Option(help: "A name for it.") var name: String
        @Option(help: "A built-in type (\(StrategyFactory.types.joined(separator: ", "))), or external: run by a process of yours (docs/strategies-sdk.md).") var type: String
        @Option(help: "Parameters, a JSON object (docs/strategies.md).") var params: String = "{}"
        @Option(help: "The broker for its orders, an id or a name of the user's (sets parameter broker_id).") var broker: String?
        @Flag(help: "Add it inactive (start it later with 'strategy enable').") var inactive = false

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            let userID = try Admin.userID(user, db)
            // The checks `strategy edit` makes too (StrategyChecks): the name, then the parameters
            // as they will be stored, broker included.
            try StrategyChecks.name(name, userID: userID, db)
            let change = try broker.map { StrategyDirectory.BrokerChange.set(try StrategyChecks.broker($0, userID: userID, db)) } ?? .keep
            guard let stored = try StrategyDirectory.parameters(db, params, broker: change) else { throw Admin.fail("--params: not a JSON object") }
            try StrategyChecks.parameters(stored, type: type, userID: userID, name: name, config: config, db)
            let id: String
            do {
                id = try StrategyDirectory.add(db, userID: userID, name: name, type: type, parameters: stored, active: !inactive,
                                               actor: Admin.actor, auditDetails: Admin.json(["type": type, "name": name]))
            } catch is StrategyDirectory.NameTaken {
                throw StrategyChecks.taken(name)  // added by someone else since the check
            }
            print("added strategy \(name) (\(id)); a running daemon starts it on SIGHUP or 'algotrader ctl reload'")
        }
    }

    /// The parameters typed as the engine types them (numbers keep their exact text).
    static func typedParameters(_ json: String, _ db: DatabaseConnection) throws -> [String: ParameterValue] {
        guard let members = try StrategyDirectory.members(db, ofObject: json) else { throw Admin.fail("--params must be a JSON object") }
        var values: [String: ParameterValue] = [:]
        for member in members {
            values[member.key] = ParameterValue.fromJSONB(type: member.type, text: member.text)
        }
        return values
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List strategies (removed ones with --all).")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this user's (username or id).") var user: String?
        @Flag(help: "Include removed strategies.") var all = false

        func run() throws {
            let db = try Admin.connect(try Admin.config(options))
            let userID = try user.map { try Admin.userID($0, db) }
            let rows = try StrategyDirectory.list(db, userID: userID, includeRemoved: all).map { s -> [String?] in
                [s.strategyID, s.username, s.name, s.type, s.state, s.isRunning ? "running" : "-", s.parameters]
            }
            Admin.table(["STRATEGY_ID", "USER", "NAME", "TYPE", "STATE", "RUNNING", "PARAMETERS"], rows)
        }
    }

    /// Sets `is_active` (and `deleted_at` for a removal) as the strategy's owner, audited.
    static func change(_ options: ConfigOptions, _ strategy: String, active: Bool, remove: Bool = false) throws {
        let db = try Admin.connect(try Admin.config(options))
        let (strategyID, owner) = try Admin.strategy(strategy, db)
        try StrategyDirectory.setState(db, strategyID: strategyID, owner: owner, active: active, remove: remove, actor: Admin.actor)
        print("\(remove ? "removed" : active ? "enabled" : "disabled") strategy \(strategyID); a running daemon applies it on SIGHUP or 'algotrader ctl reload'")
    }

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new secret for an external strategy's process, printed alone on stdout; the previous one stops working.",
            discussion: "Only its SHA-256 is stored. A running daemon needs no reload: a hello is checked against the stored secret, and a process connected with the old one is told to stop within a few seconds.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy: its id, or a name that names one strategy.") var strategy: String

        func run() throws {
            let db = try Admin.connect(try Admin.config(options))
            let (strategyID, owner) = try Admin.strategy(strategy, db)
            let (token, hash) = StrategyServer.issueToken()
            try StrategyDirectory.setToken(db, strategyID: strategyID, owner: owner, hash: hash, actor: Admin.actor)
            print(token)
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a strategy active.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy: its id, or a name that names one strategy.") var strategyID: String
        func run() throws { try StrategyCommand.change(options, strategyID, active: true) }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a strategy inactive.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy: its id, or a name that names one strategy.") var strategyID: String
        func run() throws { try StrategyCommand.change(options, strategyID, active: false) }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a strategy (soft delete: its trades, positions and performance stay).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy: its id, or a name that names one strategy.") var strategyID: String
        func run() throws { try StrategyCommand.change(options, strategyID, active: false, remove: true) }
    }
}

/// `algotrader risk set|show`.
struct RiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "risk", abstract: "A user's risk limits (CONTRACT.md section 5, docs/risk.md).", subcommands: [Set.self, Show.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set (or replace) a user's risk limits; a running daemon applies them on SIGHUP.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Username or user id.") var user: String
        @Option(help: "Largest realized plus unrealized loss in an Asia/Kolkata day.") var dailyLossLimit: String
        @Option(help: "Largest absolute position value per symbol.") var maxPositionSize: String
        @Option(help: "Largest fall of equity from its peak, percent.") var maxDrawdownPercent: String
        @Option(help: "Largest loss to the stoploss, percent of max-position-size.") var maxRiskPerTrade: String
        @Flag(help: "Store them inactive (no checks).") var inactive = false

        func validate() throws {
            for (name, value) in [("--daily-loss-limit", dailyLossLimit), ("--max-position-size", maxPositionSize),
                                  ("--max-drawdown-percent", maxDrawdownPercent), ("--max-risk-per-trade", maxRiskPerTrade)] {
                guard let d = FixedDecimal(value), d.units >= 0 else { throw ValidationError("\(name) must be a non-negative decimal number") }
            }
            for (name, value) in [("--max-drawdown-percent", maxDrawdownPercent), ("--max-risk-per-trade", maxRiskPerTrade)] {
                guard FixedDecimal(value)! <= FixedDecimal(100) else { throw ValidationError("\(name) is a percent (0-100)") }
            }
        }

        func run() throws {
            let db = try Admin.connect(try Admin.config(options))
            let userID = try Admin.userID(user, db)
            let limits = RiskLimits(dailyLossLimit: dailyLossLimit, maxPositionSize: maxPositionSize, maxDrawdownPercent: maxDrawdownPercent,
                                    maxRiskPerTrade: maxRiskPerTrade, isActive: !inactive)
            try RiskLimits.set(db, userID: userID, limits, actor: Admin.actor,
                               auditDetails: Admin.json(["daily_loss_limit": dailyLossLimit, "max_position_size": maxPositionSize,
                                                         "max_drawdown_percent": maxDrawdownPercent, "max_risk_per_trade": maxRiskPerTrade,
                                                         "is_active": inactive ? "false" : "true"]))
            print("risk limits set for \(user)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user's risk limits.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Username or user id.") var user: String

        func run() throws {
            let db = try Admin.connect(try Admin.config(options))
            let userID = try Admin.userID(user, db)
            guard let limits = try RiskLimits.read(db, userID: userID) else { print("no risk limits for \(user): orders are not risk-checked"); return }
            let rows: [[String?]] = [[limits.dailyLossLimit, limits.maxPositionSize, limits.maxDrawdownPercent, limits.maxRiskPerTrade,
                                      limits.isActive ? "active" : "inactive"]]
            Admin.table(["DAILY_LOSS_LIMIT", "MAX_POSITION_SIZE", "MAX_DRAWDOWN_%", "MAX_RISK_PER_TRADE_%", "STATE"], rows)
        }
    }
}
