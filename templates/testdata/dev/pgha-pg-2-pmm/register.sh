#!/bin/sh
# Registers node pgha-pg-2's PostgreSQL with PMM (pmm-client prerun). Rendered by postgres-ha; do not edit.
# Query Analytics reads pg_stat_statements; the connection is TLS, verified
# against the cluster CA. (Patroni's /metrics needs a client certificate,
# which `pmm-admin add external` cannot present: it is not registered.)
set -eu
pmm-admin add postgresql --skip-connection-check \
  --username=pmm --password="$(cat /etc/postgres-ha/secrets/pmm-db-password)" \
  --host=127.0.0.1 --port=5432 --tls --tls-ca-file=/etc/postgres-ha/tls/ca.crt \
  --query-source=pgstatements pgha-pg-2-postgresql || true
