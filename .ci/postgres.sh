# Sourced by .ci/run: start a throw-away PostgreSQL on 127.0.0.1 and export its URL for the tests.
# Installs the server with apt when this machine has none.
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && pg_bin="$d"; done
if [ -z "$pg_bin" ]; then
  echo "ci: installing PostgreSQL with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && pg_bin="$d"; done
fi
id postgres >/dev/null 2>&1 || useradd --system --create-home postgres
PG_PORT=${PG_PORT:-54329}
PG_DIR=$(mktemp -d /tmp/diagnoser-ci-pg.XXXXXX)
chown postgres "$PG_DIR"
su postgres -s /bin/sh -c "$pg_bin/initdb -D $PG_DIR/data -A trust -U postgres -E UTF8 >/dev/null"
su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -w -o '-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' start >/dev/null"
su postgres -s /bin/sh -c "$pg_bin/createdb -h 127.0.0.1 -p $PG_PORT -U postgres diagnoser_test"
export DIAGNOSER_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/diagnoser_test"
stop_postgres() { su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $PG_DIR/data -m fast stop >/dev/null" || true; rm -rf "$PG_DIR"; }
echo "ci: PostgreSQL ready at 127.0.0.1:$PG_PORT"
