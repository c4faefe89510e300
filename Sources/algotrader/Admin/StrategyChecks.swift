import ArgumentParser
import Config
import Foundation
import Storage
import TradingCore

/// The checks `strategy add` and `strategy edit` share, so an edit can store nothing that an
/// add would refuse. Each failure exits 64 naming what is wrong.
enum StrategyChecks {
    /// Longest name: `strategies.name` is VARCHAR(100).
    static let maxName = 100

    /// A new name: 1-100 characters without control characters (listings show one strategy a
    /// line), no leading or trailing space (two names that print alike would differ), not a
    /// UUID (every strategy command takes an id or a name in one argument, so such a name could
    /// be read as another strategy's id), and no other live strategy of the user has it
    /// (migration 14). `excluding`: the strategy being renamed.
    static func name(_ name: String, option: String = "--name", userID: String, excluding: String? = nil, _ db: DatabaseConnection) throws {
        guard PrintableText.isIdentifier(name, maxCharacters: maxName) else {
            throw Admin.fail("\(option): a strategy name is 1-\(maxName) characters without control characters")
        }
        guard name.trimmingCharacters(in: .whitespaces) == name else {
            throw Admin.fail("\(option): '\(name)' begins or ends with a space")
        }
        guard UUID(uuidString: name) == nil else { throw Admin.fail("\(option): '\(name)' is a UUID, which would read as a strategy id") }
        if let holder = try StrategyDirectory.holder(db, ofName: name, userID: userID, excluding: excluding) {
            throw taken(name, holder: holder)
        }
    }

    static func taken(_ name: String, holder: String? = nil) -> ExitCode {
        Admin.fail("--name: the user already has a strategy named '\(name)'\(holder.map { " (\($0))" } ?? ""): names are unique per user")
    }

    /// A broker of the user's, by id or name, that is active: its id.
    static func broker(_ broker: String, option: String = "--broker", userID: String, _ db: DatabaseConnection) throws -> String {
        let found = try BrokerDirectory.find(db, userID: userID, idOrName: broker)
        guard let first = found.first else { throw Admin.fail("\(option): the strategy's user has no broker '\(broker)'") }
        guard found.count == 1 else {
            throw Admin.fail("\(option): broker name '\(broker)' is ambiguous: use its id (\(found.map(\.brokerID).joined(separator: ", ")))")
        }
        guard first.isActive else { throw Admin.fail("\(option): broker '\(first.name)' (\(first.brokerID)) is disabled") }
        return first.brokerID
    }

    /// Parameters (a JSON object) for a strategy of `type`, checked as the engine checks them
    /// before it starts one (the type's own parameters, an external strategy's instruments, the
    /// order parameters), and a `broker_id` among them checked to be an active broker of the
    /// user (the engine would otherwise send its orders to an account that is not theirs).
    static func parameters(_ json: String, type: String, userID: String, name: String, config: EngineConfig,
                           _ db: DatabaseConnection) throws {
        let values: [String: ParameterValue]
        do {
            values = try StrategyCommand.typedParameters(json, db)
        } catch {
            throw Admin.fail("--params: not a JSON object")
        }
        do {
            try StrategyFactory.validate(type: type, identity: StrategyIdentity(strategyID: "-", userID: userID, name: name, brokerID: nil),
                                         parameters: StrategyParameters(values),
                                         calendar: SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes))
        } catch {
            throw Admin.fail("--params: \(error)")
        }
        switch values["broker_id"] {
        case nil: break
        case .string(let id)?:
            guard UUID(uuidString: id) != nil else { throw Admin.fail("--params: parameter 'broker_id': '\(id)' is not a broker id (a UUID)") }
            _ = try broker(id, option: "--params: parameter 'broker_id'", userID: userID, db)
        case _?:
            throw Admin.fail("--params: parameter 'broker_id' must be a string (a broker id)")
        }
    }
}
