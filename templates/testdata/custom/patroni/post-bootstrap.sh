#!/bin/sh
# Runs once, on the node that initialises cluster orders, with Patroni's
# superuser connection string as $1. Rendered by postgres-ha; do not edit.
set -eu
psql -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
