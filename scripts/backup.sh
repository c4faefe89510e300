#!/usr/bin/env bash
# A backup of the algotrader database that restores (docs/operations.md, "Backup and restore").
#   scripts/backup.sh DATABASE_URL FILE [pg_dump options...]
# Run it as the login that owns the schema (the one `algotrader migrate` runs as) or
# as a superuser, while the daemon runs or not: pg_dump reads one consistent snapshot. FILE is
# pg_dump's custom format (compressed); scripts/restore.sh restores it into a new cluster.
# Extra options go to pg_dump, e.g. --exclude-table-data='market_data_tick_p*' to leave ticks out.
# The password comes from ~/.pgpass or PGPASSFILE, never from the command line.
set -euo pipefail
usage="usage: backup.sh DATABASE_URL FILE [pg_dump options...]"
url=${1:?$usage}
file=${2:?$usage}
shift 2

# Every user-owned table FORCEs row-level security, so even the schema owner is filtered by the
# policies, and plain pg_dump (row_security off) stops at the first such table. With
# --enable-row-security the owner reads through its membership of algotrader_engine, whose
# policies admit every row. A table whose policies would hide rows from this login (no
# permissive `USING (true)` policy for a role it acts as, or a restrictive one that filters)
# would silently be dumped in part: refuse instead, naming it.
hidden=$(psql --no-psqlrc --dbname="$url" -v ON_ERROR_STOP=1 --quiet --tuples-only --no-align <<'SQL'
WITH me AS (SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user),
applies AS (  -- the policies that apply to this login (PUBLIC is role 0)
    SELECT p.* FROM pg_policy p
    WHERE p.polcmd IN ('*', 'r')
      AND (0 = ANY (p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) r WHERE r <> 0 AND pg_has_role(r, 'USAGE')))
)
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT (SELECT bypass FROM me)
  AND NOT (NOT c.relforcerowsecurity AND pg_has_role(c.relowner, 'USAGE'))
  AND (NOT EXISTS (SELECT 1 FROM applies a WHERE a.polrelid = c.oid AND a.polpermissive
                     AND pg_get_expr(a.polqual, a.polrelid) = 'true')
       OR EXISTS (SELECT 1 FROM applies a WHERE a.polrelid = c.oid AND NOT a.polpermissive
                    AND pg_get_expr(a.polqual, a.polrelid) IS DISTINCT FROM 'true'))
ORDER BY 1;
SQL
)
if [ -n "$hidden" ]; then
  echo "backup: row-level security would hide rows of these tables from $(psql --no-psqlrc --dbname="$url" -qtAc 'SELECT current_user'):" >&2
  while IFS= read -r table; do echo "  $table" >&2; done <<<"$hidden"
  echo "backup: nothing written; run it as the schema owner (a member of algotrader_engine) or a superuser" >&2
  exit 1
fi

# Written beside FILE and renamed when complete, so FILE is never a partial dump.
tmp="$file.partial"
trap 'rm -f "$tmp"' EXIT
pg_dump --dbname="$url" --format=custom --enable-row-security --file="$tmp" "$@"
mv "$tmp" "$file"
trap - EXIT
