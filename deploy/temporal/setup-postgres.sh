#!/bin/sh
# Creates or upgrades Temporal's two PostgreSQL databases (temporal, temporal_visibility) with
# temporal-sql-tool from the temporalio/admin-tools image. Safe to run again: an existing
# database is kept and only brought up to the schema version of this admin-tools release.
set -eu

: "${POSTGRES_SEEDS:=postgresql}"
: "${DB_PORT:=5432}"
: "${POSTGRES_USER:?POSTGRES_USER must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}"   # read by temporal-sql-tool itself
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT}"
attempt=1
until nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"; do
  if [ "$attempt" -ge 60 ]; then
    echo "PostgreSQL did not answer" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
    -u "$POSTGRES_USER" "$@"
}

for database in temporal temporal_visibility; do
  case "$database" in
    temporal) versioned="$SCHEMA_DIR/temporal/versioned" ;;
    *) versioned="$SCHEMA_DIR/visibility/versioned" ;;
  esac
  # "create" fails when the database exists: that is the normal case after the first run.
  sql_tool --db "$database" create || echo "database $database exists"
  # setup-schema -v 0.0 only creates the version table; update-schema applies every step.
  sql_tool --db "$database" setup-schema -v 0.0 || echo "schema of $database already set up"
  sql_tool --db "$database" update-schema -d "$versioned"
done
echo "Temporal schema ready"
