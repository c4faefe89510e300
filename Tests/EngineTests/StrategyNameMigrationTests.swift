import Foundation
import Postgres
import Storage
import TestSupport
import Testing

/// Migration 14 on a database at version 13 that holds duplicate strategy names: the oldest of
/// each keeps its name, the others get the first free "-N", and `algotrader migrate` prints
/// each rename (also in `system_logs`) before the unique index makes a duplicate impossible.
@Suite("Migration 14: strategy names unique per user")
struct StrategyNameMigrationTests {
    @Test func migrationRenamesDuplicatesWithoutNewCollisionsAndMigratePrintsEachRename() throws {
        let url = try TestDatabase.makeEmpty()
        let db = try TestDatabase.connect(url)
        try Migrator(migrations: Array(Migration.all.prefix { $0.version <= 13 })).migrate(db)
        let asha = try SampleRows.userStrategyBrokerTrade(db, username: "asha")  // her 's1'
        let ira = try SampleRows.userStrategyBrokerTrade(db, username: "ira")   // his 's1': another user, kept
        func insert(_ user: String, _ name: String, age minutes: Int, removed: Bool = false) throws -> String {
            try db.query("""
                INSERT INTO strategies (user_id, name, strategy_type, created_at, deleted_at)
                VALUES ($1::uuid, $2, 'sma_crossover', now() - make_interval(mins => $3::int), CASE WHEN $4::boolean THEN now() END)
                RETURNING strategy_id::text
                """, [user, name, String(minutes), removed ? "true" : "false"]).scalar!
        }
        try db.query("UPDATE strategies SET created_at = now() - interval '1 day' WHERE strategy_id = $1::uuid", [asha.strategyID])
        let second = try insert(asha.userID, "s1", age: 30)
        let third = try insert(asha.userID, "s1", age: 20)
        _ = try insert(asha.userID, "s1-2", age: 10)          // holds the first suffix: the next is taken
        let removed = try insert(asha.userID, "s1", age: 5, removed: true)  // removed: not renamed
        let long = String(repeating: "x", count: 100)
        _ = try insert(ira.userID, long, age: 40)
        let longSecond = try insert(ira.userID, long, age: 30)

        let migrated = try CommandRunner.algotrader(["migrate", "--config", Repository.shippedConfig], environment: ["ALGOTRADER_DATABASE_URL": url])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let names = { (id: String) in try db.query("SELECT name FROM strategies WHERE strategy_id = $1::uuid", [id]).scalar }
        #expect(try names(asha.strategyID) == "s1", "the oldest keeps its name")
        #expect(try names(second) == "s1-3" && names(third) == "s1-4", "s1-2 was taken")
        #expect(try names(removed) == "s1")
        #expect(try names(ira.strategyID) == "s1")
        #expect(try names(longSecond) == String(repeating: "x", count: 98) + "-2", "cut to fit VARCHAR(100)")
        for (id, old, new) in [(second, "s1", "s1-3"), (third, "s1", "s1-4"), (longSecond, long, String(repeating: "x", count: 98) + "-2")] {
            #expect(migrated.stdout.contains("migration 14: ") && migrated.stdout.contains("strategy \(id) renamed from '\(old)' to '\(new)'"),
                    "\(migrated.stdout)")
        }
        #expect(try db.query("SELECT count(*) FROM system_logs WHERE component = 'migration' AND data->>'migration' = '14'").scalar == "3")
        #expect(migrated.stdout.contains("applied migrations 14"), "\(migrated.stdout)")
        // The constraint holds from now on; running migrate again reports nothing.
        #expect(throws: PostgresError.self) {
            try db.query("INSERT INTO strategies (user_id, name, strategy_type) VALUES ($1::uuid, 's1', 'sma_crossover')", [asha.userID])
        }
        let again = try CommandRunner.algotrader(["migrate", "--config", Repository.shippedConfig], environment: ["ALGOTRADER_DATABASE_URL": url])
        #expect(again.status == 0 && again.stdout.contains("schema is current") && !again.stdout.contains("renamed"), "\(again.stdout)")
    }
}
