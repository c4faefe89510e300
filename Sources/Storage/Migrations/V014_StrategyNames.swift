// Migration 14: strategy names unique per user (docs/schema.md, "Migration 14").
//
// Every strategy command takes an id or a name, so a name must say which strategy it is: two
// live strategies of one user with one name made a name useless for both. Existing duplicates
// are renamed, the oldest keeping its name and the others becoming "name-2", "name-3", ... (the
// first such suffix no live strategy of the user has), and each rename is written to
// `system_logs` (component `migration`) for `algotrader migrate` to print: an operator must
// learn that a name they use in scripts now names a different row. Removed strategies
// (`deleted_at`) are left as they are and do not hold their name: a removed strategy's name
// may be used again. `user_id` is NOT NULL (migration 1), so every row has an owner to be
// unique under.
extension Migration {
    static let v014StrategyNames = Migration(version: 14, name: "strategy names", sql: #"""
DO $$
DECLARE
    r RECORD;
    n INTEGER;
    candidate TEXT;
BEGIN
    FOR r IN
        SELECT s.strategy_id, s.user_id, s.name, u.username,
               row_number() OVER (PARTITION BY s.user_id, s.name ORDER BY s.created_at, s.strategy_id) AS rank
        FROM strategies s JOIN users u ON u.user_id = s.user_id
        WHERE s.deleted_at IS NULL
        ORDER BY s.user_id, s.name, s.created_at, s.strategy_id
    LOOP
        CONTINUE WHEN r.rank = 1;
        n := r.rank;
        LOOP
            -- name is VARCHAR(100): a long name is cut to leave room for its suffix.
            candidate := left(r.name, 100 - length('-' || n)) || '-' || n;
            EXIT WHEN NOT EXISTS (SELECT 1 FROM strategies
                                  WHERE user_id = r.user_id AND name = candidate AND deleted_at IS NULL);
            n := n + 1;
        END LOOP;
        UPDATE strategies SET name = candidate WHERE strategy_id = r.strategy_id;
        INSERT INTO system_logs (component, log_level, message, data)
        VALUES ('migration', 'WARNING',
                format('user %s: strategy %s renamed from ''%s'' to ''%s'' (names are unique per user)',
                       r.username, r.strategy_id, r.name, candidate),
                jsonb_build_object('migration', 14, 'strategy_id', r.strategy_id, 'user_id', r.user_id,
                                   'old_name', r.name, 'new_name', candidate));
    END LOOP;
END $$;
CREATE UNIQUE INDEX strategies_user_name_key ON strategies (user_id, name) WHERE deleted_at IS NULL;
"""#)
}
