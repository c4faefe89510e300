import Foundation
import Testing
import TestSupport

/// Storage is the only module with SQL: the engine and the commands hold none and never import
/// the libpq wrapper, so every statement has one home (and one place its errors are classified).
@Suite struct ModuleBoundaryTests {
    /// Statements as they are written in this code base: a keyword that starts a statement,
    /// followed by what makes it one (`SELECT ... FROM`, `INSERT INTO`, `UPDATE t SET`, ...).
    static let statement = try! NSRegularExpression(pattern: [
        #"\bSELECT\b.*\bFROM\b"#, #"\bSELECT\s+(pg_|set_config|jsonb_|count\()"#, #"\bINSERT\s+INTO\b"#, #"\bUPDATE\s+\w+\s+SET\b"#,
        #"\bDELETE\s+FROM\b"#, #"\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|TRIGGER|FUNCTION|ROLE|VIEW)\b"#, #"\bDECLARE\s+\w+.*\bCURSOR\b"#,
        #"\bFETCH\s+FORWARD\b"#, #"\b(LISTEN|NOTIFY)\s+\w+"#, #"\bSET\s+(LOCAL\s+)?ROLE\b"#, #"\bCOPY\s+\w+.*\bFROM\s+STDIN\b"#,
    ].joined(separator: "|"))

    /// `import Postgres` in any of its forms (`@testable`, `public`, `import struct Postgres.X`).
    static let importOfTheWrapper = #"^(@\w+\s+)*((public|internal|package|fileprivate|private)\s+)?import\s+((struct|class|enum|protocol|func|var|let|typealias)\s+)?(Postgres|CLibPQ)\b"#

    /// A call that runs a statement on a connection (its text may be built elsewhere).
    static let connectionCall = #"\.(query|execute|copyIn)\(|\.transaction\s*[({]"#

    static func swiftFiles(under folder: String) throws -> [URL] {
        let root = Repository.root.appendingPathComponent(folder)
        let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        return (walker?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }
    }

    @Test func noFileOfTheEngineOrTheCommandsImportsPostgresOrHoldsSQL() throws {
        var found: [String] = []
        let files = try Self.swiftFiles(under: "Sources/Engine") + Self.swiftFiles(under: "Sources/algotrader")
        #expect(files.count > 40, "the sources were found")
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() {
                let text = String(line)
                let code = text.trimmingCharacters(in: .whitespaces)
                if code.hasPrefix("//") { continue }
                let place = "\(file.lastPathComponent):\(number + 1): \(code)"
                if code.range(of: Self.importOfTheWrapper,
                              options: .regularExpression) != nil {
                    found.append(place)
                }
                // A statement's text may span lines; running one needs a call on the connection.
                if code.range(of: Self.connectionCall, options: .regularExpression) != nil {
                    found.append(place)
                }
                if Self.statement.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil { found.append(place) }
            }
        }
        #expect(found.isEmpty, "SQL or the libpq wrapper outside Storage:\n\(found.joined(separator: "\n"))")
    }

    /// The check finds what it is for (a check that finds nothing proves nothing).
    @Test func theCheckRecognisesTheStatementsStorageHolds() throws {
        let storage = try Self.swiftFiles(under: "Sources/Storage")
        var matched = 0
        for file in storage {
            let text = try String(contentsOf: file, encoding: .utf8)
            matched += Self.statement.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
        }
        #expect(matched > 100, "statements recognised in Storage: \(matched)")
        for sample in [#"import struct Postgres.PostgresConnection"#, #"@testable import Postgres"#] {
            #expect(sample.range(of: Self.importOfTheWrapper,
                                 options: .regularExpression) != nil, "\(sample)")
        }
        for sample in ["try db.query(sql, [id])", "try conn.execute(text)", "try db.transaction { conn in"] {
            #expect(sample.range(of: Self.connectionCall, options: .regularExpression) != nil, "\(sample)")
        }
        for sample in [#"db.query("SELECT user_id::text FROM users")"#, #""UPDATE brokers SET is_active = false""#,
                       #"try conn.execute("SET LOCAL ROLE x")"#, #""DECLARE replay_ticks NO SCROLL CURSOR FOR""#] {
            #expect(Self.statement.firstMatch(in: sample, range: NSRange(sample.startIndex..., in: sample)) != nil, "\(sample)")
        }
    }
}
