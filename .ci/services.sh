#!/usr/bin/env bash
# Private PostgreSQL, MariaDB and Redis servers for the services suite, on free loopback ports.
#
#   .ci/services.sh start   starts the servers, waits until each answers, creates the test database
#                           and user, writes the URLs to .ci/tmp/services.env:
#                             NEST_SESSION_PG_URL, NEST_SESSION_MARIADB_URL, NEST_SESSION_REDIS_URL
#                             NEST_SESSION_REDIS_CLUSTER_URLS   a Redis Cluster of 3 masters with a
#                                                               replica each (the masters' URLs)
#                             NEST_SESSION_REDIS_SENTINELS      3 Sentinels (host:port, comma-separated)
#                             NEST_SESSION_REDIS_SENTINEL_NAME  watching a master with one replica
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
SENTINEL_NAME=nest-session

log() { echo "[services] $*"; }
fail() {
  echo "[services] ERROR: $*" >&2
  exit 1
}

# A free TCP port on 127.0.0.1 (asked from the kernel through node, which the project needs anyway).
free_port() { free_ports 1; }

# N distinct free ports, one a line, held together until all are known so none is given twice.
free_ports() {
  node -e "
    const net = require('net');
    const servers = Array.from({ length: Number(process.argv[1]) }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, '127.0.0.1', ok)))).then(() => {
      console.log(servers.map((s) => s.address().port).join('\\n'));
      servers.forEach((s) => s.close());
    });" "$1"
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
    -c "CREATE DATABASE $DB OWNER $USER_NAME" \
    -c "DO \$\$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pg_checkpoint') THEN
          GRANT pg_checkpoint TO $USER_NAME; END IF; END \$\$" >/dev/null # bench:prune settles with CHECKPOINT
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

# Starts a redis-server in the background with the given options and records its PID.
spawn_redis() {
  local name=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  redis-server "$@" --bind 127.0.0.1 --save '' --appendonly no --repl-diskless-sync-delay 0 --daemonize no \
    --dir "$dir" \
    --logfile "$dir/server.log" </dev/null >/dev/null 2>&1 &
  local pid=$!
  record_pid "$name" "$pid" TERM
  echo "$pid"
}

redis_answers() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

# Every node sees all six nodes, all slots served and the cluster state ok.
cluster_ready() {
  local port info
  for port in "$@"; do
    info=$(redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null) || return 1
    grep -q '^cluster_state:ok' <<<"$info" || return 1
    grep -q '^cluster_slots_ok:16384' <<<"$info" || return 1
    grep -q "^cluster_known_nodes:$#" <<<"$info" || return 1
  done
  # Each master has its replica attached.
  for port in "${@:1:3}"; do
    redis-cli -h 127.0.0.1 -p "$port" info replication | grep -q '^connected_slaves:1' || return 1
  done
}

# A Redis Cluster of three masters with one replica each. The bus ports are free ports of their own
# (cluster-port), not port + 10000, which may be taken or out of range.
start_redis_cluster() {
  command -v redis-server >/dev/null 2>&1 || fail "Redis is not installed (apt-get install redis-server)"
  local free ports=() port i dir pids=() urls=()
  mapfile -t free < <(free_ports 12)
  ports=("${free[@]:0:6}")
  for i in 0 1 2 3 4 5; do
    port=${ports[$i]}
    dir=$BASE/redis-cluster/$port
    pids+=("$(spawn_redis "redis-cluster-$((i + 1))" "$dir" --port "$port" --cluster-port "${free[$((i + 6))]}" \
      --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000)")
  done
  for port in "${ports[@]}"; do wait_for "Redis Cluster node $port" redis_answers "$port"; done
  local nodes=()
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
    >"$BASE/redis-cluster/create.log" 2>&1 ||
    fail "redis-cli --cluster create failed: $(tail -n 5 "$BASE/redis-cluster/create.log")"
  # redis-cli makes the first three nodes the masters.
  wait_for "Redis Cluster (cluster_state:ok on every node)" cluster_ready "${ports[@]}"
  for port in "${ports[@]:0:3}"; do urls+=("redis://127.0.0.1:$port"); done
  echo "export NEST_SESSION_REDIS_CLUSTER_URLS=$(IFS=,; echo "${urls[*]}")" >>"$ENV_FILE"
  log "Redis Cluster: masters ${ports[*]:0:3}, replicas ${ports[*]:3:3} (pids ${pids[*]})"
}

# The master is known, with its replica, to every Sentinel, and each Sentinel knows the two others.
sentinels_ready() {
  local master=$1 port info
  shift
  for port in "$@"; do
    info=$(redis-cli -h 127.0.0.1 -p "$port" sentinel master "$SENTINEL_NAME" 2>/dev/null) || return 1
    [ "$(redis-cli -h 127.0.0.1 -p "$port" sentinel get-master-addr-by-name "$SENTINEL_NAME" | paste -sd:)" = \
      "127.0.0.1:$master" ] || return 1
    grep -A1 -x 'num-slaves' <<<"$info" | tail -n 1 | grep -qx 1 || return 1
    grep -A1 -x 'num-other-sentinels' <<<"$info" | tail -n 1 | grep -qx 2 || return 1
    grep -A1 -x 'flags' <<<"$info" | tail -n 1 | grep -qx master || return 1
  done
}

# A master with one replica, watched by three Sentinels (quorum 2) that fail over after 1 s of silence.
start_redis_sentinel() {
  command -v redis-server >/dev/null 2>&1 || fail "Redis is not installed (apt-get install redis-server)"
  local free master replica port dir pid sentinels=()
  mapfile -t free < <(free_ports 5)
  master=${free[0]}
  replica=${free[1]}
  pid=$(spawn_redis redis-sentinel-master "$BASE/redis-sentinel/master" --port "$master")
  spawn_redis redis-sentinel-replica "$BASE/redis-sentinel/replica" --port "$replica" \
    --replicaof 127.0.0.1 "$master" >/dev/null
  wait_for "Redis master $master" redis_answers "$master"
  wait_for "Redis replica $replica" sh -c \
    "redis-cli -h 127.0.0.1 -p $replica info replication | grep -q '^master_link_status:up'"
  for port in "${free[@]:2:3}"; do
    dir=$BASE/redis-sentinel/sentinel-$port
    mkdir -p "$dir"
    # Sentinel rewrites its configuration file: it must be a file of its own.
    cat >"$dir/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
daemonize no
dir $dir
logfile $dir/sentinel.log
sentinel monitor $SENTINEL_NAME 127.0.0.1 $master 2
sentinel down-after-milliseconds $SENTINEL_NAME 1000
sentinel failover-timeout $SENTINEL_NAME 3000
sentinel parallel-syncs $SENTINEL_NAME 1
CONF
    redis-server "$dir/sentinel.conf" --sentinel </dev/null >/dev/null 2>&1 &
    record_pid "redis-sentinel-$port" $! TERM
    sentinels+=("$port")
  done
  SENTINEL_MASTER=$master
  SENTINEL_PORTS=("${sentinels[@]}")
  log "Redis Sentinel: master $master (pid $pid), replica $replica, sentinels ${sentinels[*]} starting"
}

# Waits for the Sentinels start_redis_sentinel started (they find each other within a few seconds).
await_redis_sentinel() {
  wait_for "Redis Sentinels (master, replica and each other known)" sentinels_ready "$SENTINEL_MASTER" \
    "${SENTINEL_PORTS[@]}"
  local port addresses=()
  for port in "${SENTINEL_PORTS[@]}"; do addresses+=("127.0.0.1:$port"); done
  {
    echo "export NEST_SESSION_REDIS_SENTINELS=$(IFS=,; echo "${addresses[*]}")"
    echo "export NEST_SESSION_REDIS_SENTINEL_NAME=$SENTINEL_NAME"
  } >>"$ENV_FILE"
  log "Redis Sentinels ready"
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
  local started=$SECONDS
  # The Sentinels take a few seconds to find each other: the cluster is made meanwhile.
  start_redis_sentinel
  start_redis_cluster
  await_redis_sentinel
  log "Redis Cluster and Sentinel group up in $((SECONDS - started)) s"
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
