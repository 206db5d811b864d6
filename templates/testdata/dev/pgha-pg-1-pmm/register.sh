#!/bin/sh
# Registers node pgha-pg-1's PostgreSQL with PMM (pmm-client prerun). Rendered by postgres-ha; do not edit.
set -eu
pmm-admin add postgresql --skip-connection-check \
  --username=pmm --password="$(cat /etc/postgres-ha/secrets/pmm-db-password)" \
  --host=127.0.0.1 --port=5432 --tls --tls-ca-file=/etc/postgres-ha/tls/ca.crt \
  --query-source=pgstatements pgha-pg-1-postgresql || true
pmm-admin add external --listen-port=8008 --scheme=https --service-name=pgha-pg-1-patroni --group=patroni || true
