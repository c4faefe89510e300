import ArgumentParser
import Foundation
import Postgres
import Storage

/// `algotrader halt` / `algotrader resume`: the operator's kill switch, per user or engine-wide.
/// A running daemon applies it within 100 ms (it reads the `halts` table); it survives restarts.
struct Halt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Halt trading for a user (or, without --user, the whole engine): orders that add risk are rejected, working orders cancelled."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "Username or user id; omit to halt every user.")
    var user: String?

    @Option(help: "Why (recorded with the halt).")
    var reason: String

    func run() throws {
        let db = try Admin.connect(try Admin.config(options))
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
    static let configuration = CommandConfiguration(abstract: "Lift the active halts of a user (or, without --user, the engine-wide halt).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Username or user id; omit to lift the engine-wide halt.")
    var user: String?

    func run() throws {
        let db = try Admin.connect(try Admin.config(options))
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
