public import Postgres

/// Whether `audit_log` is protected from the login of a connection (docs/security.md, "Audit"):
/// what `algotrader audit check` reports and what `serve` warns about at start.
///
/// A login can do whatever any role it may `SET ROLE` to can do, so every question is asked of
/// each role the login is a member of (itself included), not only of the login.
public enum AuditProtection {
    public struct Report: Sendable {
        /// The login asked about (`session_user`).
        public var login = ""
        /// The superuser roles the login is or may become (a superuser can do anything).
        public var superuserRoles: [String] = []
        /// The owner roles (of audit_log, its append function, its trigger function) the login is
        /// or may become: an owner can disable the triggers or replace the functions.
        public var ownerRoles: [String] = []
        /// Whether one of those owns audit_log itself (and so holds every right on it).
        public var ownsTable = false
        /// Whether the login has CREATEROLE, with which it may grant itself an owner's role.
        public var canCreateRoles = false
        /// Rights on audit_log itself the login holds through some role (INSERT, UPDATE, ...).
        public var tableRights: [String] = []
        /// Whether the login may call `audit_log_append` (the daemon's login should: it is the
        /// engine's one audit path; the web's should not).
        public var canAppend = false
        /// Each append-only trigger and its state: `always` (what migration 10 sets), `enabled
        /// except ...` (skipped under session_replication_role = replica), `replica only`,
        /// `disabled` or `missing`.
        public var triggers: [(name: String, state: String)] = []
        /// What is wrong, each with how to fix it; empty when the log is protected from the login.
        public var problems: [Problem] = []

        public var isProtected: Bool { problems.isEmpty }

        public init() {}
    }

    static let appendSignature = "audit_log_append(text,uuid,text,uuid,text,jsonb,text)"
    static let triggerNames = ["audit_log_no_update", "audit_log_no_truncate"]
    /// Where an operator reads how to run `serve` under a login of its own.
    static let fix = "run serve as a login that is only a member of algotrader_engine and algotrader_app (docs/operations.md, \"A runtime login\")"

    public static func inspect(_ db: PostgresConnection) throws -> Report {
        var report = Report()
        let present = try db.query("SELECT session_user, to_regclass('audit_log') IS NOT NULL, to_regprocedure($1) IS NOT NULL",
                                   [appendSignature]).rows[0]
        report.login = present[0] ?? "?"
        guard present[1] == "t" else {
            report.problems.append(Problem(what: "audit_log does not exist here", fix: "run 'algotrader migrate' as the schema owner"))
            return report
        }
        guard present[2] == "t" else {
            report.problems.append(Problem(what: "audit_log_append does not exist (schema older than migration 10)",
                                           fix: "run 'algotrader migrate' as the schema owner"))
            return report
        }
        // Every role the login may act as (pg_has_role ... MEMBER: itself, and each role it can
        // SET ROLE to, inherited or not).
        let reach = "SELECT r.oid, r.rolname, r.rolsuper FROM pg_roles r WHERE pg_has_role(session_user, r.oid, 'MEMBER')"
        let roles = try db.query("""
            WITH reach AS (\(reach))
            SELECT coalesce(string_agg(DISTINCT rolname, ',' ORDER BY rolname) FILTER (WHERE rolsuper), ''),
                   bool_or(has_any_column_privilege(oid, 'audit_log'::regclass, 'INSERT')),
                   bool_or(has_any_column_privilege(oid, 'audit_log'::regclass, 'UPDATE')),
                   bool_or(has_table_privilege(oid, 'audit_log'::regclass, 'DELETE')),
                   bool_or(has_table_privilege(oid, 'audit_log'::regclass, 'TRUNCATE')),
                   bool_or(has_table_privilege(oid, 'audit_log'::regclass, 'TRIGGER')),
                   bool_or(has_function_privilege(oid, $1::regprocedure, 'EXECUTE'))
            FROM reach
            """, [appendSignature]).rows[0]
        // The owners of the table, of the append function and of the trigger function: any of
        // them can disable the triggers or replace what they run.
        let owners = try db.query("""
            WITH reach AS (\(reach)),
                 owned AS (SELECT relowner AS owner, 'audit_log' AS what, 0 AS n FROM pg_class WHERE oid = 'audit_log'::regclass
                           UNION ALL SELECT proowner, proname::text, CASE proname WHEN 'audit_log_append' THEN 1 ELSE 2 END FROM pg_proc
                           WHERE oid IN ($1::regprocedure, 'audit_log_append_only()'::regprocedure)
                           -- The schema's owner may DROP the table and make another (on PostgreSQL 15+
                           -- `public` belongs to pg_database_owner: whoever owns the database).
                           UNION ALL SELECT nspowner, 'schema ' || nspname, 3 FROM pg_namespace
                           WHERE oid = (SELECT relnamespace FROM pg_class WHERE oid = 'audit_log'::regclass))
            SELECT reach.rolname || ' (owner of ' || string_agg(owned.what, ', ' ORDER BY owned.n) || ')', bool_or(owned.n = 0)
            FROM reach JOIN owned ON owned.owner = reach.oid GROUP BY reach.rolname ORDER BY reach.rolname
            """, [appendSignature]).rows
        report.ownerRoles = owners.compactMap { $0[0] }
        report.ownsTable = owners.contains { $0[1] == "t" }
        report.superuserRoles = (roles[0] ?? "").split(separator: ",").map(String.init)
        // CREATEROLE (before PostgreSQL 16: over every non-superuser role) lets a login grant
        // itself the owner's role.
        report.canCreateRoles = try db.query("SELECT rolcreaterole FROM pg_roles WHERE rolname = session_user").scalar == "t"
        for (i, right) in ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER"].enumerated() where roles[1 + i] == "t" {
            report.tableRights.append(right)
        }
        report.canAppend = roles[6] == "t"
        let states = try db.query("""
            SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND tgname = ANY($1::text[])
            """, [PostgresArrayLiteral.text(triggerNames)]).rows
        for name in triggerNames {
            let state = states.first { $0[0] == name }?[1]
            report.triggers.append((name, ["A": "always", "O": "enabled except under session_replication_role = replica", "R": "replica only", "D": "disabled"][state ?? ""] ?? "missing"))
        }
        // What the web's login (algotrader_app only) could do: nothing to the trail at all.
        let application = try db.query("""
            SELECT has_any_column_privilege('algotrader_app', 'audit_log'::regclass, 'INSERT')
                   OR has_any_column_privilege('algotrader_app', 'audit_log'::regclass, 'UPDATE')
                   OR has_table_privilege('algotrader_app', 'audit_log'::regclass, 'DELETE, TRUNCATE, TRIGGER'),
                   has_function_privilege('algotrader_app', $1::regprocedure, 'EXECUTE'),
                   has_function_privilege('public', $1::regprocedure, 'EXECUTE')
            """, [appendSignature]).rows[0]
        report.problems = problems(report, applicationWrites: application[0] == "t", applicationAppends: application[1] == "t",
                                   publicAppends: application[2] == "t")
        return report
    }

    /// One thing wrong: what it is, and how to fix it.
    public struct Problem: Sendable, CustomStringConvertible {
        public let what: String
        public let fix: String
        public var description: String { "\(what): \(fix)" }
    }

    static func problems(_ r: Report, applicationWrites: Bool, applicationAppends: Bool, publicAppends: Bool) -> [Problem] {
        var out: [Problem] = []
        if !r.superuserRoles.isEmpty {
            out.append(Problem(what: "the login '\(r.login)' is or may become a superuser (\(r.superuserRoles.joined(separator: ", "))), "
                               + "which can do anything to audit_log", fix: fix))
        }
        if !r.ownerRoles.isEmpty {
            out.append(Problem(what: "the login '\(r.login)' is or may become an owner: \(r.ownerRoles.joined(separator: ", ")); an owner can "
                               + "ALTER TABLE audit_log DISABLE TRIGGER (or replace the functions) and then change history", fix: fix))
        }
        if r.canCreateRoles {
            out.append(Problem(what: "the login '\(r.login)' has CREATEROLE, with which it may grant itself the owner's role",
                               fix: "ALTER ROLE \(r.login) NOCREATEROLE, and " + fix))
        }
        // A superuser or an owner holds every right on the table by being one; revoking is no fix.
        let implied = !r.superuserRoles.isEmpty || r.ownsTable
        if r.tableRights.contains("INSERT") && !implied {
            out.append(Problem(what: "the login '\(r.login)' may INSERT into audit_log directly (forged rows)",
                               fix: "as the owner, REVOKE INSERT ON audit_log FROM the role that grants it"))
        }
        let changes = r.tableRights.filter { $0 != "INSERT" }
        if !changes.isEmpty && !implied {
            out.append(Problem(what: "the login '\(r.login)' holds \(changes.joined(separator: ", ")) on audit_log",
                               fix: "as the owner, REVOKE them from the role that grants them"))
        }
        for trigger in r.triggers where trigger.state != "always" {
            out.append(trigger.state == "missing"
                       ? Problem(what: "trigger \(trigger.name) is missing, so nothing refuses UPDATE, DELETE or TRUNCATE",
                                 fix: "restore it as migration 4 made it, then ALTER TABLE audit_log ENABLE ALWAYS TRIGGER \(trigger.name)")
                       : Problem(what: "trigger \(trigger.name) is \(trigger.state)",
                                 fix: "as the owner, ALTER TABLE audit_log ENABLE ALWAYS TRIGGER \(trigger.name)"))
        }
        if applicationWrites {
            out.append(Problem(what: "algotrader_app (the web's role) holds a right on audit_log",
                               fix: "as the owner, REVOKE ALL ON audit_log FROM algotrader_app"))
        }
        if applicationAppends || publicAppends {
            out.append(Problem(what: "\(publicAppends ? "PUBLIC" : "algotrader_app") may execute audit_log_append",
                               fix: "as the owner, REVOKE ALL ON FUNCTION \(appendSignature) FROM PUBLIC, algotrader_app"))
        }
        return out
    }
}
