import Foundation
import Postgres
import TestSupport
import Testing

/// `algotrader strategy edit` and names unique per user, against a real database: an edit is
/// checked as `add` checks (the same code), stores everything or nothing, says what changed and
/// is audited; a duplicate name is refused with a clear error, never a raw SQL one.
@Suite("Strategy edit and unique names")
struct StrategyEditTests {
    static func run(_ arguments: [String], _ url: String) throws -> CommandRunner.Outcome {
        try AdminCommandTests.run(arguments, AdminCommandTests.environment(url))
    }

    /// The fields an edit may change, as stored.
    static func row(_ db: PostgresConnection, _ id: String) throws -> [String?] {
        try db.query("SELECT name, parameters::text, broker_id::text FROM strategies WHERE strategy_id = $1::uuid", [id]).rows[0]
    }

    static let cross = #"{"symbol": "INFY", "fast": 5, "slow": 20, "quantity": 10}"#

    @Test func editChangesNameParametersAndBrokerSaysWhatChangedAndIsAudited() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "meera")
        let added = try Self.run(["strategy", "add", "--user", "meera", "--name", "cross", "--type", "sma_crossover", "--params", Self.cross], url)
        #expect(added.status == 0, "\(added.stderr)")
        let id = try #require(try db.query("SELECT strategy_id::text FROM strategies WHERE name = 'cross'").scalar)
        let second = try #require(try db.query("""
            INSERT INTO brokers (user_id, name, api_type, api_credentials_encrypted) VALUES ($1::uuid, 'angel', 'angel', '{}') RETURNING broker_id::text
            """, [ids.userID]).scalar)

        // By name: a new name and new parameters (replacing the old object whole).
        let edited = try Self.run(["strategy", "edit", "cross", "--name", "cross-fast", "--params",
                                   #"{"symbol": "INFY", "fast": 3, "slow": 20, "quantity": 10}"#], url)
        #expect(edited.status == 0, "\(edited.stderr)")
        #expect(edited.stdout.contains("name: 'cross' -> 'cross-fast'") && edited.stdout.contains(#""fast": 3"#), "\(edited.stdout)")
        #expect(try Self.row(db, id) == ["cross-fast", #"{"fast": 3, "slow": 20, "symbol": "INFY", "quantity": 10}"#, nil])

        // By id: the broker by its name; it becomes the parameter and the remembered broker.
        let broker = try Self.run(["strategy", "edit", id, "--broker", "angel"], url)
        #expect(broker.status == 0 && broker.stdout.contains("broker: none -> \(second)"), "\(broker.stdout) \(broker.stderr)")
        #expect(try Self.row(db, id)[2] == second)
        #expect(try db.query("SELECT parameters->>'broker_id' FROM strategies WHERE strategy_id = $1::uuid", [id]).scalar == second)
        // --params replaces: the broker_id left out is gone from the parameters (the remembered broker stays).
        let replaced = try Self.run(["strategy", "edit", "cross-fast", "--params", #"{"symbol": "INFY", "fast": 3, "slow": 20, "quantity": 10}"#], url)
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try db.query("SELECT parameters ? 'broker_id' FROM strategies WHERE strategy_id = $1::uuid", [id]).scalar == "f")
        #expect(try Self.row(db, id)[2] == second)
        let dropped = try Self.run(["strategy", "edit", "cross-fast", "--no-broker"], url)
        #expect(dropped.status == 0 && dropped.stdout.contains("broker: \(second) -> none"), "\(dropped.stdout) \(dropped.stderr)")
        #expect(try Self.row(db, id)[2] == nil)

        let same = try Self.run(["strategy", "edit", "cross-fast", "--name", "cross-fast"], url)
        #expect(same.status == 0 && same.stdout.contains("unchanged"), "\(same.stdout)")
        #expect(try Self.run(["strategy", "edit", "cross-fast"], url).status == 64, "nothing to change is a usage error")
        #expect(try Self.run(["strategy", "edit", "cross-fast", "--broker", "angel", "--no-broker"], url).status == 64)

        let audited = try db.query("""
            SELECT details->>'old_name', details->>'name' FROM audit_log WHERE action = 'strategy_edited' AND target = $1 ORDER BY audit_id
            """, [id]).rows
        #expect(audited.count == 4, "one row per edit that changed something: \(audited)")
        #expect(audited.first == ["cross", "cross-fast"])
    }

    @Test func aBadEditIsRefusedNamingWhatIsWrongAndChangesNothing() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "meera")
        let other = try SampleRows.userStrategyBrokerTrade(db, username: "omar")
        #expect(try Self.run(["strategy", "add", "--user", "meera", "--name", "cross", "--type", "sma_crossover", "--params", Self.cross], url).status == 0)
        let id = try #require(try db.query("SELECT strategy_id::text FROM strategies WHERE name = 'cross'").scalar)
        #expect(try Self.run(["strategy", "add", "--user", "meera", "--name", "ext", "--type", "external",
                              "--params", #"{"instruments": ["NSE:INFY"]}"#], url).status == 0)
        let before = try Self.row(db, id)
        let audits = try db.query("SELECT count(*) FROM audit_log").scalar

        let refusals: [([String], String)] = [
            (["cross", "--params", #"{"symbol": "INFY", "fast": 30, "slow": 20, "quantity": 10}"#], "fast"),
            (["cross", "--params", #"{"symbol": "INFY", "fast": 5, "slow": 20, "quantity": 10, "fsat": 4}"#], "fsat"),
            (["cross", "--params", "[1, 2]"], "not a JSON object"),
            (["cross", "--params", "{not json"], "not a JSON object"),
            (["cross", "--broker", other.brokerID], "no broker"),
            (["cross", "--broker", "nosuch"], "no broker"),
            (["cross", "--params", #"{"symbol": "INFY", "fast": 5, "slow": 20, "quantity": 10, "broker_id": "\#(other.brokerID)"}"#], "broker_id"),
            (["cross", "--name", "s1"], "already has a strategy named 's1'"),
            (["cross", "--name", ""], "--name"),
            (["cross", "--name", "two\nlines"], "--name"),
            (["cross", "--name", " padded"], "space"),
            (["cross", "--name", UUID().uuidString], "UUID"),
            // A valid name with a bad parameter: nothing at all is stored.
            (["cross", "--name", "fine", "--params", #"{"symbol": "INFY", "quantity": 10}"#], "fast"),
            (["ext", "--params", #"{"instruments": ["INFY"]}"#], "instruments"),
            (["nosuch", "--name", "x"], "no strategy 'nosuch'"),
        ]
        for (arguments, named) in refusals {
            let refused = try Self.run(["strategy", "edit"] + arguments, url)
            #expect(refused.status == 64 && refused.stderr.contains(named), "\(arguments): \(refused.status) \(refused.stderr)")
            #expect(!refused.stderr.contains("postgres"), "no raw SQL error: \(refused.stderr)")
        }
        let disabled = try Self.run(["broker", "disable", ids.brokerID], url)
        #expect(disabled.status == 0)
        let toDisabled = try Self.run(["strategy", "edit", "cross", "--broker", "paper"], url)
        #expect(toDisabled.status == 64 && toDisabled.stderr.contains("disabled"), "\(toDisabled.stderr)")
        #expect(try Self.row(db, id) == before, "nothing changed")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE action <> 'broker_disabled'").scalar == audits, "nothing audited")
    }

    @Test func aDuplicateNameIsRefusedOnAddAndEditButAnotherUserOrARemovedOneMayHaveIt() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let meera = try SampleRows.userStrategyBrokerTrade(db, username: "meera")
        _ = try SampleRows.userStrategyBrokerTrade(db, username: "omar")
        let add = { (user: String, name: String) in
            try Self.run(["strategy", "add", "--user", user, "--name", name, "--type", "sma_crossover", "--params", Self.cross], url)
        }
        let duplicate = try add("meera", "s1")
        #expect(duplicate.status == 64 && duplicate.stderr.contains("already has a strategy named 's1' (\(meera.strategyID))"), "\(duplicate.stderr)")
        #expect(try db.query("SELECT count(*) FROM strategies WHERE user_id = $1::uuid", [meera.userID]).scalar == "1")
        #expect(try add("meera", "cross").status == 0)
        let renamed = try Self.run(["strategy", "edit", "cross", "--name", "s1"], url)
        #expect(renamed.status == 64 && renamed.stderr.contains("names are unique per user"), "\(renamed.stderr)")
        // Unique per user: omar has his own s1 and may add another 'cross'.
        #expect(try add("omar", "cross").status == 0)
        // 'cross' now names two strategies (of two users): an ambiguous name is refused, ids work.
        let ambiguous = try Self.run(["strategy", "edit", "cross", "--name", "x"], url)
        #expect(ambiguous.status == 64 && ambiguous.stderr.contains("ambiguous"), "\(ambiguous.stderr)")
        // A removed strategy gives its name up.
        #expect(try Self.run(["strategy", "remove", meera.strategyID], url).status == 0)
        #expect(try add("meera", "s1").status == 0)
        // The database itself refuses a duplicate that bypasses the command.
        #expect(throws: PostgresError.self) {
            try db.query("INSERT INTO strategies (user_id, name, strategy_type) VALUES ($1::uuid, 's1', 'sma_crossover')", [meera.userID])
        }
    }
}
