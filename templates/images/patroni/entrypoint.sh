#!/bin/sh
# postgres-ha container entrypoint (installed as /usr/local/bin/postgres-ha-entrypoint).
#
# As root it:
#   1. copies /etc/postgres-ha/ (files uploaded by Docker: root-owned, any mode)
#      to /run/postgres-ha/ with the same sub-paths, owned postgres:postgres,
#      directories 0700 and files 0600 (PostgreSQL refuses group/world-readable
#      keys);
#   2. makes sure the data directory (a volume) and the unix-socket directory
#      exist and belong to postgres;
#   3. drops to the postgres user and execs the command (default: patroni).
# Run as any other user it only execs the command.
set -eu

SRC_DIR=/etc/postgres-ha
RUN_DIR=/run/postgres-ha
DATA_DIR=${PGDATA:-/var/lib/postgresql/data}
SOCKET_DIR=/run/postgresql
PG_USER=postgres

if [ "$#" -eq 0 ]; then
    set -- patroni "$RUN_DIR/patroni.yml"
fi

if [ "$(id -u)" -ne 0 ]; then
    exec "$@"
fi

# 1. private copy of the configuration and secrets
mkdir -p "$RUN_DIR"
# drop whatever a previous start of this container left behind
find "$RUN_DIR" -mindepth 1 -delete
if [ -d "$SRC_DIR" ]; then
    # -L: follow symlinks, so the copies are plain files we own
    cp -RL "$SRC_DIR/." "$RUN_DIR/"
fi
chown -R "$PG_USER:$PG_USER" "$RUN_DIR"
find "$RUN_DIR" -type d -exec chmod 0700 {} +
find "$RUN_DIR" -type f -exec chmod 0600 {} +

# 2. data directory (volume mount point) and unix socket directory
mkdir -p "$DATA_DIR"
if [ "$(stat -c %U "$DATA_DIR")" != "$PG_USER" ]; then
    chown "$PG_USER:$PG_USER" "$DATA_DIR"
fi
chmod 0700 "$DATA_DIR"
mkdir -p "$SOCKET_DIR"
chown "$PG_USER:$PG_USER" "$SOCKET_DIR"
chmod 2775 "$SOCKET_DIR"
# A container killed and started again keeps its socket lock file (the
# directory is in the container's own layer, not a tmpfs), and the PID in it
# may now be another process of this container: PostgreSQL then refuses to
# start ("lock file .s.PGSQL.5432.lock already exists"), and the node never
# rejoins. Nothing of PostgreSQL runs yet at this point: drop them.
rm -f "$SOCKET_DIR"/.s.PGSQL.*

# A data directory of another PostgreSQL major version (a stack deployed
# with an older image) cannot be started by this one, and Patroni would
# try to re-clone a replica over it: stop here, with what to do.
PG_VERSION_FILE="$DATA_DIR/pgdata/PG_VERSION"
if [ -n "${PG_MAJOR:-}" ] && [ -f "$PG_VERSION_FILE" ] && [ "$(cat "$PG_VERSION_FILE")" != "$PG_MAJOR" ]; then
    echo "postgres-ha: $PG_VERSION_FILE says PostgreSQL $(cat "$PG_VERSION_FILE"), this image runs PostgreSQL $PG_MAJOR:" >&2
    echo "postgres-ha: a major upgrade needs pg_upgrade or a dump and restore (README, Upgrading); nothing was changed" >&2
    exit 78
fi

# 3. become postgres
HOME=$(getent passwd "$PG_USER" | cut -d: -f6)
USER=$PG_USER
LOGNAME=$PG_USER
export HOME USER LOGNAME
cd "$HOME"
exec setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups -- "$@"
