#!/usr/bin/env bash
# Local PostgreSQL for Ringmaster's development and tests, without Docker: Debian's
# `postgresql` package (installed here with apt-get if missing), but a DEDICATED cluster of
# our own (own data directory, port and socket directory) rather than the system cluster
# `main`, so it never clashes with, nor depends on, whatever else runs on the machine.
# It listens on 127.0.0.1 only; TCP logins need a password (scram-sha-256). TLS is on
# (plain connections keep working): a local CA and server certificate generated once
# (infra/tls/issue-cert.sh, SANs 127.0.0.1/localhost) in <home>/tls, and a second login role
# `ringmaster_secure` that may connect over TLS only, its random password in
# <home>/secure/ringmaster_secure.password (mode 600), for tests of the clients' TLS.
#
# Usage: infra/postgres/postgres.sh start|stop|status|reset|env|psql [psql args...]
#   start   install the server if missing, initdb once, start, wait for pg_isready, make
#           sure the role and databases exist, print DATABASE_URL. No-op when running.
#   stop    fast shutdown (pg_ctl -m fast) and wait. No-op when stopped.
#   status  exit 0 and say so when accepting connections; exit 3 when not.
#   reset   stop, then delete the whole cluster (next start re-creates it empty).
#   env     print DATABASE_URL and TEST_DATABASE_URL, and for the TLS-only role
#           DATABASE_SECURE_URL (no password in it), DATABASE_SECURE_PASSWORD_FILE and
#           DATABASE_SECURE_CA_FILE, starting nothing.
#   psql    psql into the ringmaster database as the ringmaster user.
#
# Environment (all optional):
#   PGPORT_RINGMASTER (15432)
#   RINGMASTER_STATE ($HOME/.local/state/ringmaster): cluster in $RINGMASTER_STATE/postgres,
#     except as root when the `postgres` OS user cannot reach that path (root's home is
#     private): then /var/lib/ringmaster/postgres. RINGMASTER_PG_HOME overrides both.
#   PG_BIN (newest /usr/lib/postgresql/<ver>/bin)  PG_START_TIMEOUT (60 s)
# Credentials are fixed for local use: user ringmaster, password ringmaster, databases
# ringmaster and ringmaster_test.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

PG_HOST=127.0.0.1                         # loopback only, on purpose
PG_PORT="${PGPORT_RINGMASTER:-15432}"
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
RM_USER=ringmaster
RM_PASSWORD=ringmaster
RM_DB=ringmaster
RM_TEST_DB=ringmaster_test
RM_SECURE_USER=ringmaster_secure
RINGMASTER_STATE="${RINGMASTER_STATE:-$HOME/.local/state/ringmaster}"

DATABASE_URL="postgres://$RM_USER:$RM_PASSWORD@$PG_HOST:$PG_PORT/$RM_DB"
TEST_DATABASE_URL="postgres://$RM_USER:$RM_PASSWORD@$PG_HOST:$PG_PORT/$RM_TEST_DB"

log() { printf 'postgres: %s\n' "$*" >&2; }
die() { printf 'postgres: error: %s\n' "$*" >&2; exit 1; }
print_env() {
  choose_home
  echo "DATABASE_URL=$DATABASE_URL"
  echo "TEST_DATABASE_URL=$TEST_DATABASE_URL"
  echo "DATABASE_SECURE_URL=postgres://$RM_SECURE_USER@$PG_HOST:$PG_PORT/$RM_TEST_DB"
  echo "DATABASE_SECURE_PASSWORD_FILE=$PG_SECURE_PASSWORD_FILE"
  echo "DATABASE_SECURE_CA_FILE=$PG_TLS/ca.crt"
}

# The server refuses to run as root, so as root everything runs as the `postgres` OS user
# (created by the Debian package) and the cluster's files belong to it.
if [[ $EUID -eq 0 ]]; then
  PG_OS_USER=postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  PG_OS_USER="$(id -un)"
  as_pg() { "$@"; }
fi

find_pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/initdb" ]] || die "PG_BIN=$PG_BIN has no initdb"
    return 0
  fi
  PG_BIN="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [[ -n "$PG_BIN" && -x "$PG_BIN/initdb" ]]
}

ensure_server_installed() {
  find_pg_bin && return 0
  [[ $EUID -eq 0 ]] || die "PostgreSQL server not installed; run: sudo apt-get update && sudo apt-get install -y postgresql"
  command -v apt-get >/dev/null || die "PostgreSQL server not installed and apt-get is unavailable; install PostgreSQL 15+ and set PG_BIN"
  log "installing Debian's postgresql package (once) ..."
  # The package also creates and starts the system cluster `main` on 5432 where an init
  # system runs; we leave it alone and use our own cluster.
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  find_pg_bin || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
}

choose_home() {
  if [[ -n "${RINGMASTER_PG_HOME:-}" ]]; then
    PG_HOME="$RINGMASTER_PG_HOME"
  else
    PG_HOME="$RINGMASTER_STATE/postgres"
    if [[ $EUID -eq 0 ]]; then
      mkdir -p "$RINGMASTER_STATE"
      if ! runuser -u postgres -- test -x "$RINGMASTER_STATE" 2>/dev/null; then
        PG_HOME=/var/lib/ringmaster/postgres
      fi
    fi
  fi
  PG_DATA="$PG_HOME/data"
  PG_RUN="$PG_HOME/run"          # unix socket directory (ours, not /var/run/postgresql)
  PG_LOG="$PG_HOME/postgres.log"
  PG_TLS="$PG_HOME/tls"          # ca.crt (public), server.crt, server.key (the server's, 600)
  PG_SECURE_PASSWORD_FILE="$PG_HOME/secure/$RM_SECURE_USER.password"
}

# The server certificate and the TLS-only role's password, generated once. The key must
# belong to the server's OS user; the password file to whoever runs this script (clients).
ensure_tls_files() {
  mkdir -p "$PG_HOME"
  "$SCRIPT_DIR/../tls/issue-cert.sh" "$PG_TLS" Postgres || die "could not make the TLS certificate"
  if [[ $EUID -eq 0 ]]; then chown -R "$PG_OS_USER:" "$PG_TLS"; fi
  chmod 755 "$PG_TLS"
  chmod 600 "$PG_TLS/server.key"
  if [[ ! -s "$PG_SECURE_PASSWORD_FILE" ]]; then
    mkdir -p "$(dirname "$PG_SECURE_PASSWORD_FILE")"
    chmod 711 "$(dirname "$PG_SECURE_PASSWORD_FILE")"
    (umask 077 && openssl rand -hex 24 >"$PG_SECURE_PASSWORD_FILE.tmp" \
      && mv "$PG_SECURE_PASSWORD_FILE.tmp" "$PG_SECURE_PASSWORD_FILE") \
      || die "could not write $PG_SECURE_PASSWORD_FILE"
  fi
}

# pg_hba.conf is initdb's; the TLS-only role's lines go first (first match wins): over TLS
# with its password, never without TLS. Added once; returns 0 when it changed the file.
ensure_hba() {
  local hba="$PG_DATA/pg_hba.conf" lines
  as_pg grep -q "^hostnossl all $RM_SECURE_USER " "$hba" && return 1
  lines="# Added by infra/postgres/postgres.sh: $RM_SECURE_USER logs in over TLS only.
hostssl   all $RM_SECURE_USER 127.0.0.1/32 scram-sha-256
hostnossl all $RM_SECURE_USER 0.0.0.0/0 reject
hostnossl all $RM_SECURE_USER ::/0 reject"
  { echo "$lines"; as_pg cat "$hba"; } | as_pg tee "$hba.tmp" >/dev/null
  as_pg mv "$hba.tmp" "$hba"
  return 0
}

# Does the server speak TLS with the certificate clients are told to trust?
tls_ready() {
  PGPASSWORD="$(cat "$PG_SECURE_PASSWORD_FILE")" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -A -t -q \
    "host=$PG_HOST port=$PG_PORT dbname=$RM_TEST_DB user=$RM_SECURE_USER sslmode=verify-full sslrootcert=$PG_TLS/ca.crt" \
    -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>/dev/null | grep -qx t
}

# Serialize start/stop/reset (two test runners starting at once).
take_lock() {
  mkdir -p "$RINGMASTER_STATE"
  exec 9>"$RINGMASTER_STATE/postgres.lock"
  flock -w 120 9 || die "another postgres.sh holds $RINGMASTER_STATE/postgres.lock for more than 120 s"
}

port_open() { (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null; }
is_running() { [[ -f "$PG_DATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
is_ready() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -d "$RM_DB" -U "$RM_USER"; }

ensure_cluster() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  log "creating cluster in $PG_DATA (initdb, as OS user $PG_OS_USER)"
  mkdir -p "$PG_HOME"
  if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER:" "$PG_HOME"; fi
  as_pg mkdir -p "$PG_DATA" "$PG_RUN"
  # Superuser = the OS user, by peer auth over our own unix socket only; every TCP login
  # (127.0.0.1) needs a password.
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >"$PG_HOME/initdb.log" 2>&1 \
    || { cat "$PG_HOME/initdb.log" >&2; die "initdb failed"; }
  as_pg sh -c "echo \"include_if_exists = 'ringmaster.conf'\" >> '$PG_DATA/postgresql.conf'"
}

# Settings that may change between starts (port, paths) live in ringmaster.conf,
# rewritten on every start and included from postgresql.conf.
# Returns 0 when the file changed (a running server then needs a reload).
write_conf() {
  local conf
  conf="$(cat <<EOF
# Written by infra/postgres/postgres.sh on every start; edit the script, not this file.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
# A throwaway development/test database: skip the disk flushes that only protect against an
# operating-system crash or power loss (a crash of postgres itself loses nothing). This makes
# migrations and integration tests several times faster on a busy machine.
fsync = off
full_page_writes = off
# Enough for three services, several test workers and psql.
max_connections = 200
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
# TLS for clients that ask for it (sslmode=require/verify-full); plain connections still work
# for every role but $RM_SECURE_USER (pg_hba.conf). Changing these needs only a reload.
ssl = on
ssl_cert_file = '$PG_TLS/server.crt'
ssl_key_file = '$PG_TLS/server.key'
EOF
)"
  if [[ "$(as_pg cat "$PG_DATA/ringmaster.conf" 2>/dev/null)" == "$conf" ]]; then return 1; fi
  as_pg tee "$PG_DATA/ringmaster.conf" >/dev/null <<<"$conf"
}

bootstrap_roles() {
  # The TLS-only role's password goes in on stdin, not on a command line `ps` would show.
  { printf '\\set rm_secure_password %s\n' "$(cat "$PG_SECURE_PASSWORD_FILE")"
    cat "$SCRIPT_DIR/bootstrap.sql"; } |
    as_pg "$PG_BIN/psql" -X -q -h "$PG_RUN" -p "$PG_PORT" -d postgres \
      -v rm_user="$RM_USER" -v rm_password="$RM_PASSWORD" \
      -v rm_db="$RM_DB" -v rm_test_db="$RM_TEST_DB" -v rm_secure_user="$RM_SECURE_USER" \
      -f - >/dev/null
}

# Waits until TLS logins of the secure role work (right after a start or a reload).
wait_tls() {
  local deadline=$((SECONDS + PG_START_TIMEOUT))
  until tls_ready; do
    ((SECONDS < deadline)) || die "no TLS login as $RM_SECURE_USER on $PG_HOST:$PG_PORT within ${PG_START_TIMEOUT}s (log: $PG_LOG)"
    sleep 0.2
  done
}

cmd_start() {
  local t0=$SECONDS
  take_lock
  ensure_server_installed
  choose_home
  if is_running; then
    is_ready || die "cluster in $PG_DATA is running but does not answer on $PG_HOST:$PG_PORT (started with another PGPORT_RINGMASTER? stop it first; log: $PG_LOG)"
    ensure_tls_files
    bootstrap_roles
    # A cluster started by an older script: TLS and pg_hba need only a reload, no restart.
    local changed=1
    write_conf && changed=0
    ensure_hba && changed=0
    if ((changed == 0)); then
      as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null
      log "reloaded the configuration (TLS, pg_hba.conf)"
    fi
    wait_tls
    log "already running on $PG_HOST:$PG_PORT (data $PG_DATA)"
    print_env
    return 0
  fi
  port_open && die "port $PG_HOST:$PG_PORT is already in use by another process (not this cluster); free it or set PGPORT_RINGMASTER"
  ensure_cluster
  ensure_tls_files
  write_conf || true
  ensure_hba || true
  if [[ $EUID -eq 0 ]]; then touch "$PG_LOG" && chown "$PG_OS_USER:" "$PG_LOG"; fi
  as_pg mkdir -p "$PG_RUN"
  log "starting PostgreSQL $(basename "$(dirname "$PG_BIN")") on $PG_HOST:$PG_PORT (data $PG_DATA)"
  # pg_ctl detaches the server into its own session; it must not inherit the lock (9>&-).
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_START_TIMEOUT" start >/dev/null 9>&-; then
    tail -n 20 "$PG_LOG" >&2 || true
    die "server did not start (log: $PG_LOG)"
  fi
  local deadline=$((SECONDS + PG_START_TIMEOUT))
  until is_ready; do
    ((SECONDS < deadline)) || die "not accepting connections on $PG_HOST:$PG_PORT within ${PG_START_TIMEOUT}s (log: $PG_LOG)"
    sleep 0.2
  done
  bootstrap_roles
  wait_tls
  log "ready in $((SECONDS - t0)) s (TLS on; $RM_SECURE_USER over TLS only)"
  print_env
}

cmd_stop() {
  take_lock
  find_pg_bin || { log "not installed, nothing to stop"; return 0; }
  choose_home
  if ! is_running; then
    log "not running"
    return 0
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
  log "stopped"
}

cmd_status() {
  find_pg_bin || { log "not installed"; return 3; }
  choose_home
  if is_running && is_ready; then
    log "running on $PG_HOST:$PG_PORT (data $PG_DATA)"
    print_env
    return 0
  fi
  is_running && { log "server process up but not accepting connections (log: $PG_LOG)"; return 3; }
  log "not running"
  return 3
}

cmd_reset() {
  cmd_stop
  choose_home
  log "deleting $PG_HOME"
  rm -rf "$PG_HOME"
}

cmd_psql() {
  find_pg_bin || die "not installed (infra/postgres/postgres.sh start)"
  PGPASSWORD="$RM_PASSWORD" exec "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$RM_USER" -d "$RM_DB" "$@"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  env) print_env ;;
  psql) shift; cmd_psql "$@" ;;
  *) echo "usage: $0 start|stop|status|reset|env|psql [psql args]" >&2; exit 2 ;;
esac
