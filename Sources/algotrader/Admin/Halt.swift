import ArgumentParser
import Foundation
import Postgres
import Storage

/// `algotrader halt` / `algotrader resume`: the operator's kill switch, per user or engine-wide.
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
        if let strategy {
            let (strategyID, owner) = try Admin.strategy(strategy, db)
            try db.transaction { conn in
                // A strategy halt is the row a breaker writes, less the breach: the daemon reads
                // it the same way (its orders cancelled, only reducing orders pass).
                try conn.query("""
                    INSERT INTO halts (user_id, strategy_id, reason, source, created_by) VALUES ($1::uuid, $2::uuid, $3, 'operator', $4)
                    """, [owner, strategyID, reason, Admin.actor])
                try AuditLog.record(conn, actor: Admin.actor, action: .halt, targetUserID: owner, target: "strategy",
                                    details: Admin.json(["reason": reason, "strategy_id": strategyID]))
            }
            print("halted strategy \(strategyID)")
            return
        }
        let userID = try user.map { try Admin.userID($0, db) }
        try db.transaction { conn in
            try conn.query("INSERT INTO halts (user_id, reason, source, created_by) VALUES ($1::uuid, $2, 'operator', $3)",
                           [userID, reason, Admin.actor])
            try AuditLog.record(conn, actor: Admin.actor, action: .halt, targetUserID: userID, target: userID == nil ? "engine" : "user",
                                details: Admin.json(["reason": reason]))
        }
        print(userID.map { "halted user \($0)" } ?? "halted the whole engine")
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
        if let strategy {
            let (strategyID, owner) = try Admin.strategy(strategy, db)
            let lifted = try db.transaction { conn in
                let result = try conn.query("""
                    UPDATE halts SET resumed_at = now(), resumed_by = $2 WHERE resumed_at IS NULL AND strategy_id = $1::uuid
                    """, [strategyID, Admin.actor])
                try AuditLog.record(conn, actor: Admin.actor, action: .resume, targetUserID: owner, target: "strategy",
                                    details: "{\"lifted\":\(result.affectedRows),\"strategy_id\":\"\(strategyID)\"}")
                return result.affectedRows
            }
            print("lifted \(lifted) halt(s) of strategy \(strategyID)")
            return
        }
        let userID = try user.map { try Admin.userID($0, db) }
        let lifted = try db.transaction { conn in
            let result = try conn.query("""
                UPDATE halts SET resumed_at = now(), resumed_by = $2
                WHERE resumed_at IS NULL AND user_id IS NOT DISTINCT FROM $1::uuid
                """, [userID, Admin.actor])
            try AuditLog.record(conn, actor: Admin.actor, action: .resume, targetUserID: userID, target: userID == nil ? "engine" : "user",
                                details: "{\"lifted\":\(result.affectedRows)}")
            return result.affectedRows
        }
        print("lifted \(lifted) halt(s)")
    }
}
