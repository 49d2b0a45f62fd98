#!/bin/sh
# Initializes the database in its volume on the first start (the password from the secret),
# then runs PostgreSQL as the postgres user, listening on the project's network.
set -eu
PGDATA=/var/lib/postgresql/data
BIN=$(ls -d /usr/lib/postgresql/*/bin | head -1)
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  tr -d '\n' < /run/secrets/db_password > /tmp/pwfile
  chown postgres /tmp/pwfile
  su postgres -s /bin/sh -c "$BIN/initdb -D $PGDATA -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile=/tmp/pwfile" > /dev/null
  rm -f /tmp/pwfile
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec su postgres -s /bin/sh -c "exec $BIN/postgres -D $PGDATA -c listen_addresses='*'"
