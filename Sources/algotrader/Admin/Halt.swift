import ArgumentParser
import Foundation
import Storage

/// `algotrader halt` / `algotrader resume`: the operator's kill switch, per user, per strategy or engine-wide.
/// A running daemon applies it within 100 ms (it reads the `halts` table); it survives restarts.
struct Halt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Halt trading for a user, one strategy, or (with neither) the whole engine: orders that add risk are rejected, working orders cancelled."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "Username or user id; omit (and --strategy) to halt every user.")
    var user: String?

    @Option(help: "Strategy id or name: halt only this strategy (its owner's other strategies go on).")
    var strategy: String?

    @Option(help: "Why (recorded with the halt).")
    var reason: String

    func validate() throws {
        if user != nil && strategy != nil { throw ValidationError("give --user or --strategy, not both") }
    }

    func run() throws {
        let db = try Admin.connect(try Admin.config(options))
        let scope = try Admin.haltScope(user: user, strategy: strategy, db)
        try OperatorHalts.halt(db, scope, reason: reason, actor: Admin.actor)
        switch scope {
        case .engine: print("halted the whole engine")
        case .user(let id): print("halted user \(id)")
        case .strategy(let id, _): print("halted strategy \(id)")
        }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lift the active halts of a user (its strategies' too), of one strategy, or (with neither) the engine-wide halt.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Username or user id: lift all of the user's halts, its strategies' included; omit to lift the engine-wide halt.")
    var user: String?

    @Option(help: "Strategy id or name: lift only this strategy's halts (a breaker's or an operator's).")
    var strategy: String?

    func validate() throws {
        if user != nil && strategy != nil { throw ValidationError("give --user or --strategy, not both") }
    }

    func run() throws {
        let db = try Admin.connect(try Admin.config(options))
        let scope = try Admin.haltScope(user: user, strategy: strategy, db)
        let lifted = try OperatorHalts.resume(db, scope, actor: Admin.actor)
        if case .strategy(let id, _) = scope { print("lifted \(lifted) halt(s) of strategy \(id)") } else { print("lifted \(lifted) halt(s)") }
    }
}
