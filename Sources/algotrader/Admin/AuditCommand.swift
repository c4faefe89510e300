import ArgumentParser
import Foundation
import Storage

/// `algotrader audit check`: is the audit log protected from the login in `database.url`?
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The audit log (docs/security.md, \"Audit\").", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report whether the audit log is protected from the login in database.url (run it with serve's configuration).",
            discussion: """
                Asks, for the login and every role it may become: superuser? owner of audit_log or of its functions \
                (an owner can disable the append-only triggers)? INSERT, UPDATE, DELETE, TRUNCATE or TRIGGER on \
                audit_log? It also reads the triggers' state and whether algotrader_app or PUBLIC could write audit \
                rows. Exits 0 only when the log is protected from this login; otherwise 1, naming each problem and its fix.
                """)
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            defer { db.close() }
            let report = try AuditProtection.inspect(db)
            func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }
            print("login: \(report.login)")
            print("superuser: \(report.superuserRoles.isEmpty ? "no" : "yes (\(report.superuserRoles.joined(separator: ", ")))")")
            print("owner of audit_log or its functions (can disable its triggers): "
                  + (report.ownerRoles.isEmpty ? "no" : "yes (\(report.ownerRoles.joined(separator: ", ")))"))
            for right in ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER"] {
                print("\(right) on audit_log: \(report.tableRights.contains(right) ? "granted" : "refused")")
            }
            for trigger in report.triggers { print("trigger \(trigger.name): \(trigger.state)") }
            print("appends through audit_log_append: \(yesNo(report.canAppend))"
                  + (report.canAppend ? " (the engine's one audit path)" : ""))
            guard report.isProtected else {
                for problem in report.problems { FileHandle.standardError.write(Data("algotrader audit check: \(problem)\n".utf8)) }
                print("audit log NOT protected from \(report.login): \(report.problems.count) problem(s)")
                throw ExitCode.failure
            }
            print("audit log protected from \(report.login)")
        }
    }
}
