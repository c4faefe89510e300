public import Postgres

/// Per-user database access (docs/security.md): one transaction as the non-owner role
/// `algotrader_app` with `app.user_id` set, so row-level security admits only that user's rows,
/// whatever the SQL inside asks for. `userID` nil leaves the setting empty: no user-owned row.
public enum UserScope {
    public static let role = "algotrader_app"

    @discardableResult
    public static func run<T>(_ db: PostgresConnection, userID: String?, _ body: (PostgresConnection) throws -> T) throws -> T {
        try db.transaction { conn in
            try conn.execute("SET LOCAL ROLE \(role)")
            try conn.query("SELECT set_config('app.user_id', $1, true)", [userID ?? ""])
            return try body(conn)
        }
    }
}
