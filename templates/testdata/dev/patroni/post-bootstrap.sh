#!/bin/sh
# Runs once, on the node that initialises cluster pgha, with Patroni's
# superuser connection string as $1. Rendered by postgres-ha; do not edit.
set -eu
psql -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
# PMM's monitoring role: read-only statistics, password from an uploaded file.
psql -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
\set pw `cat /run/postgres-ha/secrets/pmm-db-password`
SELECT 'CREATE ROLE pmm LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pmm')\gexec
ALTER ROLE pmm WITH PASSWORD :'pw';
GRANT pg_monitor TO pmm;
SQL
