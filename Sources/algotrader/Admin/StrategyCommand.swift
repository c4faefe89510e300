import ArgumentParser
import Foundation
import Storage
import TradingCore

/// `algotrader strategy add|list|enable|disable|remove`. Per-user writes go through row-level
/// security as that user; a running daemon picks changes up on SIGHUP (or at once when made
/// through the control socket).
struct StrategyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strategy", abstract: "Manage strategies (removal is a soft delete: trade history stays).",
        subcommands: [Add.self, List.self, Enable.self, Disable.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a strategy; its parameters are checked as the engine would.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Owner: username or user id.") var user: String
        @Option(help: "A name for it.") var name: String
        @Option(help: "A built-in type: \(StrategyFactory.types.joined(separator: ", ")).") var type: String
        @Option(help: "Parameters, a JSON object (docs/strategies.md).") var params: String = "{}"
        @Flag(help: "Add it inactive (start it later with 'strategy enable').") var inactive = false

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            let userID = try Admin.userID(user, db)
            let values: [String: ParameterValue]
            do {
                values = try StrategyCommand.typedParameters(params, db)
            } catch {
                throw Admin.fail("--params: not a JSON object")
            }
            do {
                _ = try StrategyFactory.make(type: type, identity: StrategyIdentity(strategyID: "-", userID: userID, name: name, brokerID: nil),
                                             parameters: StrategyParameters(values),
                                             calendar: SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes))
            } catch {
                throw Admin.fail("--params: \(error)")
            }
            let id = try UserScope.run(db, userID: userID) { conn -> String in
                let id = try conn.query("""
                    INSERT INTO strategies (user_id, name, strategy_type, parameters, is_active) VALUES ($1::uuid, $2, $3, $4::jsonb, $5::boolean)
                    RETURNING strategy_id::text
                    """, [userID, name, type, params, inactive ? "false" : "true"]).scalar!
                try AuditLog.record(conn, actor: Admin.actor, action: .strategyAdded, targetUserID: userID, target: id,
                                    details: Admin.json(["type": type, "name": name]))
                return id
            }
            print("added strategy \(name) (\(id)); a running daemon starts it on SIGHUP")
        }
    }

    /// The parameters typed as the engine types them (numbers keep their exact text).
    static func typedParameters(_ json: String, _ db: DatabaseConnection) throws -> [String: ParameterValue] {
        guard try db.query("SELECT jsonb_typeof($1::jsonb)", [json]).scalar == "object" else { throw Admin.fail("--params must be a JSON object") }
        var values: [String: ParameterValue] = [:]
        for row in try db.query("SELECT key, jsonb_typeof(value), value #>> '{}' FROM jsonb_each($1::jsonb)", [json]).rows {
            switch row[1] {
            case "string": values[row[0]!] = .string(row[2] ?? "")
            case "number": values[row[0]!] = .number(row[2] ?? "")
            case "boolean": values[row[0]!] = .bool(row[2] == "true")
            case "null": values[row[0]!] = .null
            default: values[row[0]!] = .other
            }
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
            let rows = try db.query("""
                SELECT s.strategy_id::text, u.username, s.name, s.strategy_type,
                       CASE WHEN s.deleted_at IS NOT NULL THEN 'removed' WHEN s.is_active THEN 'active' ELSE 'inactive' END,
                       CASE WHEN s.is_running THEN 'running' ELSE '-' END, s.parameters::text
                FROM strategies s JOIN users u USING (user_id)
                WHERE ($1::uuid IS NULL OR s.user_id = $1::uuid) AND ($2::boolean OR s.deleted_at IS NULL)
                ORDER BY u.username, s.name
                """, [userID, all ? "true" : "false"]).rows
            Admin.table(["STRATEGY_ID", "USER", "NAME", "TYPE", "STATE", "RUNNING", "PARAMETERS"], rows)
        }
    }

    /// Sets `is_active` (and `deleted_at` for a removal) as the strategy's owner, audited.
    static func change(_ options: ConfigOptions, _ strategyID: String, active: Bool, remove: Bool = false) throws {
        let db = try Admin.connect(try Admin.config(options))
        guard let owner = try db.query("SELECT user_id::text FROM strategies WHERE strategy_id::text = lower($1) AND deleted_at IS NULL",
                                       [strategyID]).scalar else {
            throw Admin.fail("no strategy '\(strategyID)'")
        }
        try UserScope.run(db, userID: owner) { conn in
            try conn.query("UPDATE strategies SET is_active = $2::boolean, deleted_at = CASE WHEN $3::boolean THEN now() END WHERE strategy_id = $1::uuid",
                           [strategyID.lowercased(), active ? "true" : "false", remove ? "true" : "false"])
            try AuditLog.record(conn, actor: Admin.actor, action: remove ? .strategyRemoved : (active ? .strategyStarted : .strategyStopped),
                                targetUserID: owner, target: strategyID.lowercased())
        }
        print("\(remove ? "removed" : active ? "enabled" : "disabled") strategy \(strategyID); a running daemon applies it on SIGHUP")
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a strategy active.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy id.") var strategyID: String
        func run() throws { try StrategyCommand.change(options, strategyID, active: true) }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a strategy inactive.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy id.") var strategyID: String
        func run() throws { try StrategyCommand.change(options, strategyID, active: false) }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a strategy (soft delete: its trades, positions and performance stay).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy id.") var strategyID: String
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
            try UserScope.run(db, userID: userID) { conn in
                try conn.query("""
                    INSERT INTO risk_settings (user_id, daily_loss_limit, max_position_size, max_drawdown_percent, max_risk_per_trade, is_active)
                    VALUES ($1::uuid, $2::numeric, $3::numeric, $4::numeric, $5::numeric, $6::boolean)
                    ON CONFLICT (user_id) DO UPDATE SET daily_loss_limit = EXCLUDED.daily_loss_limit,
                        max_position_size = EXCLUDED.max_position_size, max_drawdown_percent = EXCLUDED.max_drawdown_percent,
                        max_risk_per_trade = EXCLUDED.max_risk_per_trade, is_active = EXCLUDED.is_active
                    """, [userID, dailyLossLimit, maxPositionSize, maxDrawdownPercent, maxRiskPerTrade, inactive ? "false" : "true"])
                try AuditLog.record(conn, actor: Admin.actor, action: .riskChanged, targetUserID: userID,
                                    details: Admin.json(["daily_loss_limit": dailyLossLimit, "max_position_size": maxPositionSize,
                                                         "max_drawdown_percent": maxDrawdownPercent, "max_risk_per_trade": maxRiskPerTrade,
                                                         "is_active": inactive ? "false" : "true"]))
            }
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
            let rows = try UserScope.run(db, userID: userID) { conn in
                try conn.query("""
                    SELECT daily_loss_limit::text, max_position_size::text, max_drawdown_percent::text, max_risk_per_trade::text,
                           CASE WHEN coalesce(is_active, true) THEN 'active' ELSE 'inactive' END FROM risk_settings
                    """).rows
            }
            guard !rows.isEmpty else { print("no risk limits for \(user): orders are not risk-checked"); return }
            Admin.table(["DAILY_LOSS_LIMIT", "MAX_POSITION_SIZE", "MAX_DRAWDOWN_%", "MAX_RISK_PER_TRADE_%", "STATE"], rows)
        }
    }
}
