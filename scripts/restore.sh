#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into a cluster that does not hold this database yet
# (docs/operations.md, "Backup and restore").
#   scripts/restore.sh FILE ADMIN_URL [DATABASE]
# ADMIN_URL: a postgresql:// URL of a superuser on the new cluster (its database part is only
# used to connect, e.g. postgresql://postgres@db2.internal/postgres). DATABASE: the database to
# restore into (default: the name it had when backed up); it must be new or empty.
# pg_restore runs in one transaction: if anything fails, the database is left empty (the roles
# and the empty database made before it stay, and a rerun reuses them).
set -euo pipefail
usage="usage: restore.sh FILE ADMIN_URL [DATABASE]"
file=${1:?$usage}
admin_url=${2:?$usage}
[ -r "$file" ] || { echo "restore: cannot read $file" >&2; exit 1; }
case $admin_url in
  postgres://* | postgresql://*) ;;
  *) echo "restore: ADMIN_URL must be a postgresql:// URL" >&2; exit 64 ;;
esac

toc=$(pg_restore --list "$file")
# The login that owned the schema (the owner of its tables).
owner=$(awk '$4 == "TABLE" && $5 == "public" && $6 == "schema_migrations" { print $7; exit }' <<<"$toc")
[ -n "$owner" ] || { echo "restore: $file holds no algotrader schema (no schema_migrations table)" >&2; exit 1; }
database=${3:-$(sed -n 's/^;[[:space:]]*dbname: //p' <<<"$toc" | head -1)}
[[ $database =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "restore: unsupported database name '$database'" >&2; exit 64; }
if grep -Eq ' EXTENSION - timescaledb( |$)' <<<"$toc"; then
  echo "restore: $file holds the TimescaleDB layout; restore it with timescaledb_pre_restore() and" >&2
  echo "timescaledb_post_restore() as docs/operations.md describes (this script does not)" >&2
  exit 1
fi

# The same server as ADMIN_URL, database DATABASE.
with_database() {
  local url=$1 query="" rest
  case $url in *\?*) query="?${url#*\?}"; url=${url%%\?*} ;; esac
  rest=${url#*://}
  rest=${rest%%/*}
  echo "${url%%://*}://$rest/$2$query"
}
psql_admin() { psql --no-psqlrc --dbname="$admin_url" -v ON_ERROR_STOP=1 --quiet --tuples-only --no-align "$@"; }

# Roles belong to the cluster, so a dump of one database never holds them. The schema needs
# its owner (a login) and the two group roles of migration 4, with the owner a member of both,
# exactly as `algotrader migrate` leaves them. Roles that exist already are kept as they are.
psql_admin -v owner="$owner" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'owner') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT 'CREATE ROLE algotrader_app NOLOGIN NOBYPASSRLS' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'algotrader_app') \gexec
SELECT 'CREATE ROLE algotrader_engine NOLOGIN NOBYPASSRLS' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'algotrader_engine') \gexec
SELECT format('GRANT algotrader_app, algotrader_engine TO %I', :'owner')
WHERE NOT pg_has_role(:'owner', 'algotrader_app', 'MEMBER') OR NOT pg_has_role(:'owner', 'algotrader_engine', 'MEMBER') \gexec
SQL

# The database, owned by the schema's owner (in PostgreSQL 15 and later only the database owner
# may create in its public schema). An existing one must be empty.
exists=$(psql_admin -v db="$database" <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
)
target_url=$(with_database "$admin_url" "$database")
if [ "$exists" = 0 ]; then
  psql_admin -v db="$database" -v owner="$owner" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0', :'db', :'owner') \gexec
SQL
else
  objects=$(psql --no-psqlrc --dbname="$target_url" -v ON_ERROR_STOP=1 -qtAc \
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')")
  [ "$objects" = 0 ] || { echo "restore: database $database exists and is not empty; restore into a new one" >&2; exit 1; }
  psql_admin -v db="$database" -v owner="$owner" <<'SQL'
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'owner') \gexec
SQL
fi

# As the owner (SET ROLE), in one transaction, stopping at the first error. Rows are loaded
# before row-level security is enabled on their tables (pg_dump puts it after the data);
# --enable-row-security lets the materialized view's refresh run as the owner under its
# policies (with row_security off PostgreSQL refuses any query a policy would filter).
pg_restore --dbname="$target_url" --role="$owner" --exit-on-error --single-transaction --enable-row-security "$file"
psql --no-psqlrc --dbname="$target_url" -v ON_ERROR_STOP=1 --quiet -c ANALYZE
echo "restored $database (owner $owner); give $owner a password if it has none, then run 'algotrader migrate'"
