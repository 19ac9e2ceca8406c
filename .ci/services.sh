#!/usr/bin/env bash
# Private PostgreSQL, MariaDB and Redis servers for the services suite, on free loopback ports.
#
#   .ci/services.sh start   starts the three servers, waits until each answers, creates the test
#                           database and user, writes the URLs to .ci/tmp/services.env
#   .ci/services.sh stop    stops the servers this script started (by their recorded PIDs only)
#
# Installs nothing: the Debian packages postgresql, mariadb-server and redis-server must be there
# (.ci/run installs them). Fails when a server does not start.
set -euo pipefail
cd "$(dirname "$0")/.."

TMP=.ci/tmp
ENV_FILE=$TMP/services.env
PID_FILE=$TMP/services.pids
DIR_FILE=$TMP/services.dir
DB=nest_session
USER_NAME=nest_session
PASSWORD=nest_session

log() { echo "[services] $*"; }
fail() {
  echo "[services] ERROR: $*" >&2
  exit 1
}

# A free TCP port on 127.0.0.1 (asked from the kernel through node, which the project needs anyway).
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Runs a command as a system user when we are root (PostgreSQL refuses root), as ourselves otherwise.
as_user() {
  local user=$1
  shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

# Waits up to 60 s for a command to succeed.
wait_for() {
  local what=$1
  shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  fail "$what did not answer within 60 s"
}

pg_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] || fail "PostgreSQL is not installed (apt-get install postgresql)"
  echo "$dir"
}

record_pid() { echo "$1 $2 $3" >>"$PID_FILE"; }

start_postgres() {
  local bin port dir
  bin=$(pg_bin)
  port=$(free_port)
  dir=$BASE/postgres
  mkdir -p "$dir/socket"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir"
  as_user postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    fail "initdb failed: $(tail -n 5 "$dir/initdb.log")"
  as_user postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
    fail "PostgreSQL did not start: $(tail -n 5 "$dir/server.log" 2>/dev/null)"
  local pid
  pid=$(head -n 1 "$dir/data/postmaster.pid")
  record_pid postgres "$pid" INT
  wait_for PostgreSQL psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc 'SELECT 1'
  psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE USER $USER_NAME PASSWORD '$PASSWORD'" \
    -c "CREATE DATABASE $DB OWNER $USER_NAME" >/dev/null
  echo "export NEST_SESSION_PG_URL=postgres://$USER_NAME:$PASSWORD@127.0.0.1:$port/$DB" >>"$ENV_FILE"
  log "PostgreSQL on 127.0.0.1:$port (pid $pid)"
}

start_mariadb() {
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] ||
    fail "MariaDB is not installed (apt-get install mariadb-server)"
  local mariadbd port dir
  mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  port=$(free_port)
  dir=$BASE/mariadb
  mkdir -p "$dir/data"
  [ "$(id -u)" -eq 0 ] && chown -R mysql:mysql "$dir"
  as_user mysql mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install.log" 2>&1 || fail "mariadb-install-db failed: $(tail -n 5 "$dir/install.log")"
  local run_as=()
  [ "$(id -u)" -eq 0 ] && run_as=(--user=mysql)
  "$mariadbd" --no-defaults "${run_as[@]}" --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --log-error="$dir/server.log" \
    --innodb-flush-log-at-trx-commit=2 --skip-log-bin >/dev/null 2>&1 </dev/null &
  local pid=$!
  record_pid mariadb "$pid" TERM
  wait_for MariaDB mariadb --no-defaults --socket="$dir/mysqld.sock" -u root -e 'SELECT 1'
  kill -0 "$pid" 2>/dev/null || fail "MariaDB exited: $(tail -n 5 "$dir/server.log")"
  mariadb --no-defaults --socket="$dir/mysqld.sock" -u root -e "
    CREATE DATABASE $DB CHARACTER SET utf8mb4;
    CREATE USER '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
    CREATE USER '$USER_NAME'@'localhost' IDENTIFIED BY '$PASSWORD';
    GRANT ALL ON $DB.* TO '$USER_NAME'@'127.0.0.1';
    GRANT ALL ON $DB.* TO '$USER_NAME'@'localhost';"
  echo "export NEST_SESSION_MARIADB_URL=mysql://$USER_NAME:$PASSWORD@127.0.0.1:$port/$DB" >>"$ENV_FILE"
  log "MariaDB on 127.0.0.1:$port (pid $pid)"
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 || fail "Redis is not installed (apt-get install redis-server)"
  local port dir
  port=$(free_port)
  dir=$BASE/redis
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$dir" \
    --logfile "$dir/server.log" </dev/null >/dev/null 2>&1 &
  local pid=$!
  record_pid redis "$pid" TERM
  wait_for Redis sh -c "redis-cli -h 127.0.0.1 -p $port ping | grep -q PONG"
  echo "export NEST_SESSION_REDIS_URL=redis://127.0.0.1:$port" >>"$ENV_FILE"
  log "Redis on 127.0.0.1:$port (pid $pid)"
}

stop() {
  if [ -f "$PID_FILE" ]; then
    while read -r name pid signal; do
      [ -n "$pid" ] || continue
      if kill -0 "$pid" 2>/dev/null; then
        kill -s "$signal" "$pid" 2>/dev/null || true
        for _ in $(seq 1 60); do
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
          log "$name (pid $pid) did not stop in 30 s: killing it"
          kill -KILL "$pid" 2>/dev/null || true
        fi
      fi
      log "$name stopped (pid $pid)"
    done <"$PID_FILE"
    rm -f "$PID_FILE"
  fi
  if [ -f "$DIR_FILE" ]; then
    rm -rf "$(cat "$DIR_FILE")"
    rm -f "$DIR_FILE"
  fi
  rm -f "$ENV_FILE"
}

start() {
  mkdir -p "$TMP"
  [ -f "$PID_FILE" ] && stop
  BASE=$(mktemp -d /tmp/nest-session-services.XXXXXX)
  chmod 755 "$BASE"
  echo "$BASE" >"$DIR_FILE"
  : >"$ENV_FILE"
  : >"$PID_FILE"
  # A server that fails to start leaves the others running: stop them all before failing.
  trap 'status=$?; if [ $status -ne 0 ]; then stop; fi; exit $status' EXIT
  start_postgres
  start_mariadb
  start_redis
  trap - EXIT
  log "URLs written to $ENV_FILE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
