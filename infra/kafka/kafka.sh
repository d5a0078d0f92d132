#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for Ringmaster's
# development and tests, without Docker and without a Kafka tarball: the broker's jars come
# from Maven Central through infra/kafka/pom.xml (Java 17 + Maven), are cached outside the
# work tree, and the broker runs as a plain background JVM bound to 127.0.0.1 only.
#
# Usage: infra/kafka/kafka.sh start|stop|status|reset|env|topics [TopicCommand args...]
#   start   fetch jars once, format storage once, start the broker, wait until it serves
#           metadata, print KAFKA_BROKERS. A no-op when it is already running.
#   stop    SIGTERM and wait (SIGKILL after KAFKA_STOP_TIMEOUT seconds). No-op when stopped.
#   status  exit 0 and say so when running; exit 3 when not.
#   reset   stop, then delete all topics/data (keeps the cached jars).
#   env     print KAFKA_BROKERS=... and the KAFKA_SECURE_* settings of the SASL_SSL listener
#           (what clients should use), starting nothing.
#   topics  run kafka-topics (org.apache.kafka.tools.TopicCommand) against this broker,
#           e.g. `kafka.sh topics --list`.
#
# Environment (all optional):
#   KAFKA_PORT (19092)  KAFKA_CONTROLLER_PORT (19093)  KAFKA_VERSION (3.9.2)
#   KAFKA_PROXIED_PORT (19094): a second plaintext listener, advertised as
#   KAFKA_PROXIED_ADVERTISED_PORT (19095), where a fault proxy forwards to it (chaos tests)
#   KAFKA_SECURE_PORT (19096): a SASL_SSL listener (TLS + SCRAM-SHA-512) for tests of the
#   clients' transport security. Generated once into $RINGMASTER_STATE/kafka and kept across
#   restarts and resets: a CA and a server certificate for 127.0.0.1/localhost (tls/ca.crt,
#   tls/server.p12), the SCRAM user `ringmaster` and its random password (sasl/ringmaster.password,
#   mode 600). `env` prints KAFKA_SECURE_BROKERS, KAFKA_SECURE_CA_FILE,
#   KAFKA_SECURE_USERNAME and KAFKA_SECURE_PASSWORD_FILE.
#   RINGMASTER_CACHE ($HOME/.cache/ringmaster)        jars: $RINGMASTER_CACHE/kafka/<ver>/libs
#   RINGMASTER_STATE ($HOME/.local/state/ringmaster)  data, logs, pid: $RINGMASTER_STATE/kafka
#   KAFKA_HEAP_OPTS (-Xms128m -Xmx512m)  KAFKA_START_TIMEOUT (120 s)  KAFKA_STOP_TIMEOUT (30 s)
#   MVN (mvn)  JAVA (java)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"   # keep in step with <kafka.version> in pom.xml
KAFKA_HOST=127.0.0.1                      # loopback only, on purpose
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_PROXIED_PORT="${KAFKA_PROXIED_PORT:-19094}"
KAFKA_PROXIED_ADVERTISED_PORT="${KAFKA_PROXIED_ADVERTISED_PORT:-19095}"
KAFKA_SECURE_PORT="${KAFKA_SECURE_PORT:-19096}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
MVN="${MVN:-mvn}"
JAVA="${JAVA:-java}"

RINGMASTER_CACHE="${RINGMASTER_CACHE:-$HOME/.cache/ringmaster}"
RINGMASTER_STATE="${RINGMASTER_STATE:-$HOME/.local/state/ringmaster}"
LIBS_ROOT="$RINGMASTER_CACHE/kafka/$KAFKA_VERSION"
LIBS_DIR="$LIBS_ROOT/libs"
LIBS_MARKER="$LIBS_ROOT/.complete"        # holds the sha256 of the pom the jars came from
STATE_DIR="$RINGMASTER_STATE/kafka"
DATA_DIR="$STATE_DIR/data"
LOG_DIR="$STATE_DIR/logs"
PID_FILE="$STATE_DIR/kafka.pid"
PROPS_FILE="$STATE_DIR/server.properties"
CLUSTER_ID_FILE="$STATE_DIR/cluster.id"
LOCK_FILE="$STATE_DIR/.lock"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
SECURE_BOOTSTRAP="$KAFKA_HOST:$KAFKA_SECURE_PORT"
TLS_DIR="$STATE_DIR/tls"
SASL_DIR="$STATE_DIR/sasl"
SASL_USER=ringmaster
SASL_PASSWORD_FILE="$SASL_DIR/$SASL_USER.password"
# Client settings for the SASL_SSL listener (Kafka's own tools), with the password: mode 600.
SECURE_CLIENT_PROPS="$SASL_DIR/client.properties"

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

# Serialize start/stop/reset of this state directory (two test runners starting at once).
# The broker JVM must not inherit the lock descriptor: it is closed for it (9>&-).
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "another kafka.sh holds $LOCK_FILE for more than 300 s"
}

port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

# The pid from the pid file, if that process is alive and is our broker (not a recycled pid).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS_FILE" || return 1
  echo "$pid"
}

java_tool() { # run a Kafka command-line class with the cached jars, quiet logging
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    "-Dlog4j.configuration=file:$SCRIPT_DIR/tools-log4j.properties" \
    -cp "$LIBS_DIR/*" "$@"
}

ensure_libs() {
  local pom_sum
  pom_sum="$(sha256sum "$SCRIPT_DIR/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$LIBS_MARKER" && "$(cat "$LIBS_MARKER")" == "$pom_sum" ]]; then
    return 0
  fi
  command -v "$JAVA" >/dev/null || die "java not found (Java 17 is needed: apt-get install -y openjdk-17-jre-headless)"
  command -v "$MVN" >/dev/null || die "mvn not found (apt-get install -y maven), needed once to fetch the Kafka jars"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS_DIR (once) ..."
  local tmp="$LIBS_ROOT/libs.tmp.$$" t0=$SECONDS
  rm -rf "$tmp" && mkdir -p "$LIBS_ROOT"
  if ! "$MVN" -B -q -f "$SCRIPT_DIR/pom.xml" package \
      "-Dkafka.version=$KAFKA_VERSION" "-Dkafka.libs.dir=$tmp" >"$LIBS_ROOT/mvn.log" 2>&1; then
    tail -n 30 "$LIBS_ROOT/mvn.log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch Kafka $KAFKA_VERSION (full log: $LIBS_ROOT/mvn.log)"
  fi
  rm -rf "$LIBS_DIR" && mv "$tmp" "$LIBS_DIR"
  echo "$pom_sum" >"$LIBS_MARKER"
  log "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

render_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  sed -e "s|@HOST@|$KAFKA_HOST|g" -e "s|@PORT@|$KAFKA_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" -e "s|@LOG_DIRS@|$DATA_DIR|g" \
      -e "s|@PROXIED_PORT@|$KAFKA_PROXIED_PORT|g" \
      -e "s|@PROXIED_ADVERTISED_PORT@|$KAFKA_PROXIED_ADVERTISED_PORT|g" \
      -e "s|@SECURE_PORT@|$KAFKA_SECURE_PORT|g" -e "s|@TLS_DIR@|$TLS_DIR|g" \
      -e "s|@KEYSTORE_PASSWORD@|$(cat "$TLS_DIR/keystore.password")|g" \
      "$SCRIPT_DIR/server.properties.template" >"$PROPS_FILE.tmp"
  chmod 600 "$PROPS_FILE.tmp"   # holds the keystore password
  mv "$PROPS_FILE.tmp" "$PROPS_FILE"
}

# A random secret in a file only its owner reads (hex: safe in properties and JAAS strings).
secret_file() {
  [[ -s "$1" ]] && return 0
  (umask 077 && openssl rand -hex 24 >"$1.tmp" && mv "$1.tmp" "$1")
}

# The SASL_SSL listener's CA, server certificate (infra/tls/issue-cert.sh: clients verify
# the chain and the 127.0.0.1 SAN, KAFKA_SSL_CA_FILE=tls/ca.crt), its PKCS12 keystore and the
# password files, generated once.
ensure_secure_files() {
  command -v openssl >/dev/null || die "openssl not found (apt-get install -y openssl), needed once for the SASL_SSL listener"
  mkdir -p "$TLS_DIR" "$SASL_DIR"
  chmod 755 "$TLS_DIR"   # ca.crt is public; the key material in it is mode 600
  chmod 700 "$SASL_DIR"
  secret_file "$SASL_PASSWORD_FILE"
  secret_file "$TLS_DIR/keystore.password"
  "$SCRIPT_DIR/../tls/issue-cert.sh" "$TLS_DIR" Kafka || die "could not make the TLS certificate"
  if [[ ! -s "$TLS_DIR/server.p12" ]]; then
    (umask 077 && openssl pkcs12 -export -name kafka -in "$TLS_DIR/server.crt" \
      -inkey "$TLS_DIR/server.key" -certfile "$TLS_DIR/ca.crt" \
      -passout "file:$TLS_DIR/keystore.password" -out "$TLS_DIR/server.p12.tmp") \
      || die "openssl pkcs12 failed"
    mv "$TLS_DIR/server.p12.tmp" "$TLS_DIR/server.p12"
  fi
  (
    umask 077
    printf '%s\n' \
      "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-512" \
      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$SASL_USER\" password=\"$(cat "$SASL_PASSWORD_FILE")\";" \
      "ssl.truststore.type=PEM" "ssl.truststore.location=$TLS_DIR/ca.crt" \
      "request.timeout.ms=5000" "default.api.timeout.ms=10000" >"$SECURE_CLIENT_PROPS.tmp"
    mv "$SECURE_CLIENT_PROPS.tmp" "$SECURE_CLIENT_PROPS"
  )
}

# SCRAM credentials live in the cluster's metadata log: set once per formatted cluster (the
# marker names the cluster id, so a reset sets them again), through the PLAINTEXT listener.
ensure_scram_user() {
  local marker
  marker="$SASL_DIR/.scram-$(cat "$CLUSTER_ID_FILE")"
  [[ -f "$marker" ]] && return 0
  local cfg="$SASL_DIR/scram.properties"
  # In a file the value goes without the [...] that --add-config needs on the command line
  # (which would show the password to `ps`).
  (umask 077 && printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$(cat "$SASL_PASSWORD_FILE")" >"$cfg")
  local out
  if ! out="$(java_tool kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" \
      --command-config "$STATE_DIR/admin.properties" --alter --entity-type users \
      --entity-name "$SASL_USER" --add-config-file "$cfg" 2>&1)"; then
    rm -f "$cfg"
    # Its error messages quote the credential: never show the password.
    sed -E 's/password=[^],[:space:]]*/password=***/g' <<<"$out" >&2
    die "could not set the SCRAM credentials of $SASL_USER"
  fi
  rm -f "$cfg"
  rm -f "$SASL_DIR"/.scram-*
  touch "$marker"
  log "SCRAM-SHA-512 user $SASL_USER set (password in $SASL_PASSWORD_FILE)"
}

# Does the SASL_SSL listener verify and authenticate? A metadata request through it.
serves_secure_metadata() {
  java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$SECURE_BOOTSTRAP" \
    --command-config "$SECURE_CLIENT_PROPS" --list >/dev/null 2>&1
}

print_env() {
  echo "KAFKA_BROKERS=$BOOTSTRAP"
  echo "KAFKA_SECURE_BROKERS=$SECURE_BOOTSTRAP"
  echo "KAFKA_SECURE_CA_FILE=$TLS_DIR/ca.crt"
  echo "KAFKA_SECURE_USERNAME=$SASL_USER"
  echo "KAFKA_SECURE_PASSWORD_FILE=$SASL_PASSWORD_FILE"
}

ensure_formatted() {
  [[ -f "$DATA_DIR/meta.properties" ]] && return 0
  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    java_tool kafka.tools.StorageTool random-uuid >"$CLUSTER_ID_FILE.tmp"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
  fi
  log "formatting $DATA_DIR (cluster id $(cat "$CLUSTER_ID_FILE"))"
  java_tool kafka.tools.StorageTool format --ignore-formatted \
    -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS_FILE" >"$LOG_DIR/format.log" 2>&1 \
    || { cat "$LOG_DIR/format.log" >&2; die "StorageTool format failed"; }
}

# Does the broker answer a metadata request? TopicCommand --list is exactly that.
serves_metadata() {
  java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config "$STATE_DIR/admin.properties" --list >/dev/null 2>&1
}

cmd_start() {
  local t0=$SECONDS pid
  take_lock
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on $BOOTSTRAP"
    port_open "$KAFKA_SECURE_PORT" \
      && ensure_scram_user \
      || log "warning: this broker predates the SASL_SSL listener ($SECURE_BOOTSTRAP); 'kafka.sh stop' then 'start' to add it"
    print_env
    return 0
  fi
  rm -f "$PID_FILE"
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_PROXIED_PORT" "$KAFKA_SECURE_PORT"; do
    port_open "$p" && die "port $KAFKA_HOST:$p is already in use by another process (not this broker); free it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
  done
  ensure_libs
  ensure_secure_files
  render_config
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$STATE_DIR/admin.properties"
  ensure_formatted

  # Remember where this run's lines begin in the (appended, rotated) server.log.
  local log_mark=0
  [[ -f "$LOG_DIR/server.log" ]] && log_mark="$(wc -l <"$LOG_DIR/server.log")"
  log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT, data $DATA_DIR)"
  # setsid: the broker outlives this shell and is not hit by its terminal's Ctrl-C.
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM flags
  setsid "$JAVA" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$LOG_DIR" "-Dlog4j.configuration=file:$SCRIPT_DIR/log4j.properties" \
    -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS_FILE" \
    </dev/null >"$LOG_DIR/kafka.out" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"

  # Wait for: the port to accept connections, then a metadata request to succeed.
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until port_open "$KAFKA_PORT" && serves_metadata; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      cat "$LOG_DIR/kafka.out" >&2
      tail -n "+$((log_mark + 1))" "$LOG_DIR/server.log" 2>/dev/null | grep -E ' (WARN|ERROR|FATAL) ' | tail -n 20 >&2 || true
      die "broker exited during startup (logs: $LOG_DIR)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n "+$((log_mark + 1))" "$LOG_DIR/server.log" 2>/dev/null | tail -n 20 >&2 || true
      die "broker (pid $pid) did not serve metadata on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s; left running, see $LOG_DIR (kafka.sh stop to end it)"
    fi
    sleep 0.5
  done
  ensure_scram_user
  until serves_secure_metadata; do
    if ((SECONDS >= deadline)); then
      tail -n "+$((log_mark + 1))" "$LOG_DIR/server.log" 2>/dev/null | grep -E ' (WARN|ERROR|FATAL) ' | tail -n 20 >&2 || true
      die "the SASL_SSL listener $SECURE_BOOTSTRAP refused $SASL_USER within ${KAFKA_START_TIMEOUT}s; broker left running, see $LOG_DIR"
    fi
    sleep 0.5
  done
  log "ready in $((SECONDS - t0)) s (pid $pid, logs $LOG_DIR; SASL_SSL on $SECURE_BOOTSTRAP)"
  print_env
}

cmd_stop() {
  local pid
  take_lock
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$KAFKA_PORT"; then
      log "running (pid $pid) on $BOOTSTRAP, data $DATA_DIR"
    else
      log "process $pid is up but $BOOTSTRAP does not accept connections yet"
    fi
    print_env
    return 0
  fi
  log "not running"
  return 3
}

cmd_reset() {
  cmd_stop
  log "deleting $DATA_DIR, logs and cluster id (jars stay cached in $LIBS_DIR)"
  rm -rf "$DATA_DIR" "$LOG_DIR" "$CLUSTER_ID_FILE" "$PROPS_FILE"
}

cmd_topics() {
  running_pid >/dev/null || die "not running (infra/kafka/kafka.sh start)"
  java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  env) print_env ;;
  topics) shift; cmd_topics "$@" ;;
  *) echo "usage: $0 start|stop|status|reset|env|topics [kafka-topics args]" >&2; exit 2 ;;
esac
