import Foundation
import Postgres
import Storage
import TestSupport
import Testing

/// A database migrated and filled by the previous release migrates to this one with every row
/// kept and the engine starting. The previous release's database is a fixture it recorded itself
/// (Tests/Fixtures/upgrade/README.md, scripts/make-upgrade-fixture.sh): building an old tag
/// inside `make test` would cost minutes, and CI's clone may be shallow.
@Suite("Upgrade from the previous release")
struct UpgradeTests {
    static let release = "v0.1.0"
    static let fixtures = Repository.root.appendingPathComponent("Tests/Fixtures/upgrade")

    /// The rows per table the fixture was recorded with ("name count" lines).
    static func recordedRows() throws -> [String: String] {
        let text = try String(contentsOf: fixtures.appendingPathComponent("\(release).rows"), encoding: .utf8)
        var rows: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { rows[String(parts[0])] = String(parts[1]) }
        }
        return rows
    }

    @Test func aDatabaseFilledByV010MigratesToThisBuildKeepingEveryRowAndTheEngineStarts() throws {
        let cluster = try ScratchCluster()
        // The documented restore, into the cluster's empty database "algotrader" (the fixture's
        // name); it creates the owner login and the group roles the dump needs first.
        let dump = Self.fixtures.appendingPathComponent("\(Self.release).dump").path
        let restored = try CommandRunner.run(Repository.root.appendingPathComponent("scripts/restore.sh"),
                                             [dump, "postgresql://postgres@127.0.0.1:\(cluster.port)/postgres"], environment: [:])
        try #require(restored.status == 0, "\(restored.stderr)")
        let db = try TestDatabase.connect("postgresql://postgres@127.0.0.1:\(cluster.port)/algotrader")
        let owner = try #require(try db.query("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'schema_migrations'").scalar)
        #expect(owner == "algotrader")
        let url = "postgresql://\(owner)@127.0.0.1:\(cluster.port)/algotrader"

        // The fixture came back whole, with rows in every table of the release's schema.
        let before = try DatabaseContents.rows(db)
        let recorded = try Self.recordedRows()
        #expect(!recorded.isEmpty)
        #expect(before.mapValues { String($0.split(separator: " ")[0]) } == recorded, "the restored fixture holds the rows it was recorded with")
        #expect(try DatabaseContents.emptyTables(db) == [])
        let versions = { try db.query("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations").scalar }
        #expect(try versions() == "1,2,3,4,5,6,7,8", "the release's schema")
        let releaseMigrations = "SELECT md5(string_agg(m::text, ',' ORDER BY version)) FROM schema_migrations m WHERE version <= 8"
        let recordedMigrations = try db.query(releaseMigrations).scalar
        let sequences = try DatabaseContents.sequences(db)
        let releaseColumns = try DatabaseContents.columns(db)

        // This build's migrate, as the owner: the migrations since the release, nothing lost.
        let env = ["ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_DATABASE_TIMESCALEDB": "off"]
        let started = Date()
        let migrated = try CommandRunner.algotrader(["migrate", "--config", Repository.shippedConfig], environment: env)
        let seconds = Date().timeIntervalSince(started)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let applied = (9...Migration.latestVersion).map(String.init).joined(separator: ", ")
        #expect(migrated.stdout.contains("applied migrations \(applied); schema at version \(Migration.latestVersion)"), "\(migrated.stdout)")
        #expect(try versions() == (1...Migration.latestVersion).map(String.init).joined(separator: ","))
        #expect(try db.query(releaseMigrations).scalar == recordedMigrations, "the release's migrations are recorded as they were")
        // Compared on the columns the release had: a column a migration adds is not a lost row.
        let after = try DatabaseContents.rows(db, columns: releaseColumns)
        for (relation, value) in before.sorted(by: { $0.key < $1.key }) where relation != "schema_migrations" {
            #expect(after[relation] == value, "\(relation): every row kept as it was")
        }
        let sequencesAfter = try DatabaseContents.sequences(db)
        for (sequence, value) in sequences { #expect(sequencesAfter[sequence] == value, "\(sequence)") }
        #expect(seconds < 30, "migrating the fixture took \(seconds) s")

        // The release's sealed broker credentials open with this build and the key they were sealed under.
        let key = try String(contentsOf: Self.fixtures.appendingPathComponent("\(Self.release).credentials-key"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let live = try #require(try db.query("SELECT broker_id FROM brokers WHERE execution_mode = 'live'").scalar)
        let opened = try CommandRunner.algotrader(["broker", "credentials", live, "--config", Repository.shippedConfig],
                                                  environment: env.merging(["ALGOTRADER_SECURITY_CREDENTIALS_KEY": key]) { $1 })
        #expect(opened.status == 0 && opened.stdout.contains("fixture-secret"), "\(opened.stderr)")

        // The engine starts on it, and a user the release made logs in with the release's hash.
        let notify = try NotifySocket()
        let daemon = try DaemonProcess(databaseURL: url, environment: ["NOTIFY_SOCKET": notify.path], captureStderr: true)
        #expect(notify.wait(for: "READY=1", seconds: 60), "serve is ready on the upgraded database: \(daemon.stderr)")
        let login = try CommandRunner.algotrader(["ctl", "login", "asha", "--endpoint", "ipc://\(daemon.directory)/control.ipc",
                                                  "--token-file", "\(daemon.directory)/asha.token"], environment: [:], stdin: "asha-pass\n")
        #expect(login.status == 0, "\(login.stdout)\(login.stderr)")
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}
