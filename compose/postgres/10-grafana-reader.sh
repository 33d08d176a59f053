#!/bin/sh
# First start only: a read-only role for Grafana's PostgreSQL panels. It can read the
# tables the portal's migrations create later, and write nothing.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE "$GRAFANA_PG_USER" LOGIN PASSWORD '$GRAFANA_PG_PASSWORD';
GRANT CONNECT ON DATABASE "$POSTGRES_DB" TO "$GRAFANA_PG_USER";
GRANT USAGE ON SCHEMA public TO "$GRAFANA_PG_USER";
ALTER DEFAULT PRIVILEGES FOR ROLE "$POSTGRES_USER" IN SCHEMA public
  GRANT SELECT ON TABLES TO "$GRAFANA_PG_USER";
SQL
