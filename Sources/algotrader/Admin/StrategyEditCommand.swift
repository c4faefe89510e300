import ArgumentParser
import Foundation
import Storage
import TradingCore

extension StrategyCommand {
    /// `algotrader strategy edit STRATEGY [--name N] [--params JSON] [--broker B | --no-broker]`.
    ///
    /// `--params` replaces the parameters as a whole (the object `add` takes and `list` shows):
    /// what is given is exactly what is stored, and a key is removed by leaving it out. A merge
    /// would need a way to delete a key and would make the stored object depend on what was
    /// there before, which a reader of the command line cannot see.
    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a strategy's name, parameters or broker; checked as 'strategy add' checks.",
            discussion: """
                --params replaces the whole parameter object (keys left out are removed); --broker then sets its broker_id. \
                Nothing is stored when any check fails. A running daemon applies the change on SIGHUP or 'algotrader ctl reload' \
                (a strategy whose parameters changed restarts with fresh state and keeps its position).
                """)
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The strategy: its id, or a name that names one strategy.") var strategy: String
        @Option(help: "A new name (unique among the user's strategies).") var name: String?
        @Option(help: "New parameters, a JSON object that replaces the old one (docs/strategies.md).") var params: String?
        @Option(help: "The broker for its orders, an id or a name of the user's (sets parameter broker_id).") var broker: String?
        @Flag(help: "Drop the broker choice: the user's only active broker is used (and remembered).") var noBroker = false

        func validate() throws {
            guard name != nil || params != nil || broker != nil || noBroker else {
                throw ValidationError("nothing to change: give --name, --params, --broker or --no-broker")
            }
            if broker != nil && noBroker { throw ValidationError("give --broker or --no-broker, not both") }
        }

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            let (strategyID, owner) = try Admin.strategy(strategy, db)
            guard let current = try StrategyDirectory.stored(db, strategyID: strategyID) else { throw Admin.fail("no strategy '\(strategy)'") }
            // What changes is checked as `add` checks it; what is left alone is not judged again
            // (a name stored before names were checked can still have its parameters edited).
            let newName = name ?? current.name
            if newName != current.name { try StrategyChecks.name(newName, userID: owner, excluding: strategyID, db) }
            let change: StrategyDirectory.BrokerChange
            if let broker {
                change = .set(try StrategyChecks.broker(broker, userID: owner, db))
            } else {
                change = noBroker ? .clear : .keep
            }
            guard let newParameters = try StrategyDirectory.parameters(db, params ?? current.parameters, broker: change) else {
                throw Admin.fail("--params: not a JSON object")
            }
            let parametersChanged = try !StrategyDirectory.sameJSON(db, newParameters, current.parameters)
            if parametersChanged {
                try StrategyChecks.parameters(newParameters, type: current.type, userID: owner, name: newName, config: config, db)
            }
            let boundAfter: String? = switch change {
            case .keep: current.boundBrokerID
            case .set(let id): id
            case .clear: nil
            }
            let brokerBefore = try Self.broker(current.parameters, bound: current.boundBrokerID, db)
            let brokerAfter = try Self.broker(newParameters, bound: boundAfter, db)
            var lines: [String] = []
            if newName != current.name { lines.append("name: '\(current.name)' -> '\(newName)'") }
            if parametersChanged { lines.append("parameters: \(current.parameters) -> \(newParameters)") }
            if brokerAfter != brokerBefore {
                lines.append("broker: \(brokerBefore ?? "none") -> \(brokerAfter ?? "none (the user's only active broker, remembered when it runs)")")
            } else if boundAfter != current.boundBrokerID {
                lines.append("remembered broker: \(current.boundBrokerID ?? "none") -> \(boundAfter ?? "none")")
            }
            guard !lines.isEmpty else {
                print("strategy \(current.name) (\(strategyID)) unchanged")
                return
            }
            let details = Admin.json([
                "old_name": current.name, "name": newName, "old_parameters": current.parameters, "parameters": newParameters,
                "old_broker_id": brokerBefore, "broker_id": brokerAfter,
            ])
            do {
                try StrategyDirectory.edit(db, strategyID: strategyID, owner: owner, name: newName, parameters: newParameters, broker: change,
                                           actor: Admin.actor, auditDetails: details)
            } catch is StrategyDirectory.NameTaken {
                throw StrategyChecks.taken(newName)  // taken by someone else since the check
            }
            print("edited strategy \(newName) (\(strategyID)):")
            for line in lines { print("  " + PrintableText.make(line, maxCharacters: 4_000)) }
            print("a running daemon applies it on SIGHUP or 'algotrader ctl reload'")
        }

        /// The broker a strategy's orders go to as the engine picks it (StrategyCatalog): the
        /// `broker_id` parameter, else the remembered one; nil: the user's only active broker.
        static func broker(_ parameters: String, bound: String?, _ db: DatabaseConnection) throws -> String? {
            let given = try StrategyDirectory.members(db, ofObject: parameters)?.first { $0.key == "broker_id" && $0.type == "string" }?.text
            return given?.lowercased() ?? bound
        }
    }
}
