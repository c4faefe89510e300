public import Postgres

/// What a database holds, enumerated from its own catalog so that a table added later is covered
/// without anyone listing it: the rows of every table, partition and materialized view, the
/// sequences, and the schema's facts (columns, keys, indexes, triggers, row-level security,
/// grants, functions). For the backup and upgrade tests, which compare two databases. Read with a
/// superuser's connection: row-level security hides nothing from it.
public enum DatabaseContents {
    /// Relations of the public schema whose rows are compared: tables, partitions (each on its
    /// own, and again in their parent) and materialized views.
    public static func relations(_ db: PostgresConnection) throws -> [String] {
        try db.query("""
            SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'm')
            ORDER BY relname COLLATE "C"
            """).rows.map { $0[0]! }
    }

    /// Relation name -> "rows md5": the row count and an MD5 of the rows' text in a fixed order,
    /// with the session settings that shape that text pinned. `columns` limits a relation to
    /// those columns (an upgrade compares the columns that existed before it; a column it adds
    /// is not a changed row).
    public static func rows(_ db: PostgresConnection, columns: [String: [String]] = [:]) throws -> [String: String] {
        try db.transaction { conn in
            try conn.execute("SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3")
            var result: [String: String] = [:]
            for relation in try relations(conn) {
                let list = columns[relation].map { $0.map { "\"\($0)\"" }.joined(separator: ", ") } ?? "*"
                let row = try conn.query("""
                    SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C"), ''))
                    FROM (SELECT \(list) FROM public."\(relation)") t
                    """).scalar!
                result[relation] = row
            }
            return result
        }
    }

    /// Relation name -> its columns, in order.
    public static func columns(_ db: PostgresConnection) throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for row in try db.query("""
            SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """).rows {
            result[row[0]!, default: []].append(row[1]!)
        }
        return result
    }

    /// Tables and materialized views with no rows, partitions aside (those made ahead of time
    /// are empty by design; their parent is counted).
    public static func emptyTables(_ db: PostgresConnection) throws -> [String] {
        let names = try db.query("""
            SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'm') AND NOT relispartition
            ORDER BY relname COLLATE "C"
            """).rows.map { $0[0]! }
        return try names.filter { try db.query("SELECT NOT EXISTS (SELECT 1 FROM public.\"\($0)\")").scalar == "t" }
    }

    /// Sequence name -> "last_value is_called".
    public static func sequences(_ db: PostgresConnection) throws -> [String: String] {
        var result: [String: String] = [:]
        for row in try db.query("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'").rows {
            let name = row[0]!
            result[name] = try db.query("SELECT last_value || ' ' || is_called FROM public.\"\(name)\"").scalar!
        }
        return result
    }

    /// One line per fact of the public schema, sorted. CHECK constraints are compared by name
    /// only: PostgreSQL prints a reparsed `IN (...)` check differently from the original though
    /// it means the same.
    public static func schemaFacts(_ db: PostgresConnection) throws -> [String] {
        try db.query(#"""
            SELECT line FROM (
              SELECT format('relation %s kind=%s owner=%s rls=%s force=%s acl=%s partition=%s', c.relname, c.relkind,
                            pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity, c.relacl::text,
                            pg_get_expr(c.relpartbound, c.oid)) AS line
              FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'm', 'v', 'S', 'i', 'I')
              UNION ALL
              SELECT format('column %s.%s %s notnull=%s default=%s identity=%s acl=%s', c.relname, a.attname,
                            format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attacl::text)
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
              UNION ALL
              SELECT format('constraint %s.%s %s %s', c.relname, k.conname, k.contype,
                            CASE WHEN k.contype <> 'c' THEN pg_get_constraintdef(k.oid) END)
              FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = 'public'::regnamespace
              UNION ALL
              SELECT 'index ' || pg_get_indexdef(i.indexrelid)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace
              UNION ALL
              SELECT format('trigger %s.%s enabled=%s %s', c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid))
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
              UNION ALL
              SELECT format('policy %s.%s cmd=%s permissive=%s roles=%s using=%s check=%s', c.relname, p.polname, p.polcmd,
                            p.polpermissive,
                            (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END, ',' ORDER BY 1)
                             FROM unnest(p.polroles) r),
                            pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
              FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = 'public'::regnamespace
              UNION ALL
              SELECT format('function %s(%s) owner=%s md5=%s acl=%s', p.proname, pg_get_function_identity_arguments(p.oid),
                            pg_get_userbyid(p.proowner), md5(p.prosrc), p.proacl::text)
              FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
              UNION ALL
              SELECT format('view %s %s', c.relname, md5(pg_get_viewdef(c.oid)))
              FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
              UNION ALL
              SELECT format('schema public acl=%s', nspacl::text) FROM pg_namespace WHERE nspname = 'public'
            ) facts ORDER BY line COLLATE "C"
            """#).rows.map { $0[0]! }
    }

    /// The lines of `a` missing from `b` and of `b` missing from `a`, for a readable failure.
    public static func difference(_ a: [String], _ b: [String]) -> String {
        let left = Set(a), right = Set(b)
        return (a.filter { !right.contains($0) }.map { "- " + $0 } + b.filter { !left.contains($0) }.map { "+ " + $0 })
            .prefix(20).joined(separator: "\n")
    }
}
