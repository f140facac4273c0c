#!/bin/sh
# Runs once, when the PostgreSQL volume is new (docker-entrypoint-initdb.d): the store's own
# role and database, apart from Temporal's. sagsflow creates its tables itself at start.
set -eu
: "${STORE_DB_NAME:?}"
: "${STORE_DB_USER:?}"
: "${STORE_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v store_db="$STORE_DB_NAME" -v store_user="$STORE_DB_USER" \
  -v store_password="$STORE_DB_PASSWORD" <<'SQL'
CREATE ROLE :"store_user" LOGIN PASSWORD :'store_password';
CREATE DATABASE :"store_db" OWNER :"store_user";
REVOKE ALL ON DATABASE :"store_db" FROM PUBLIC;
SQL
