#!/usr/bin/env bash
# Starts and stops the real infrastructure Ringmaster's services and integration tests run
# against on this machine, without Docker: a single-node Kafka (infra/kafka/kafka.sh) and a
# dedicated PostgreSQL cluster (infra/postgres/postgres.sh), both on 127.0.0.1 only.
# (With Docker, `docker compose up -d` at the repo root gives the same ports and credentials.)
#
# Usage: scripts/infra.sh up|down|status|env
#   up      start both (each is a no-op if already running), print the connection settings
#           (plain ones, and KAFKA_SECURE_* / DATABASE_SECURE_* for the TLS listeners: CA
#           files, user names, password files) and write them to $RINGMASTER_STATE/infra.env
#           for other scripts to source:
#             set -a; . "${RINGMASTER_STATE:-$HOME/.local/state/ringmaster}/infra.env"; set +a
#   down    stop both and remove infra.env. Data is kept (kafka.sh/postgres.sh reset wipe it).
#   status  report both; exit 0 only when both are up.
#   env     print the settings without starting anything.
# Ports and locations: see the headers of kafka.sh and postgres.sh (KAFKA_PORT,
# KAFKA_CONTROLLER_PORT, PGPORT_RINGMASTER, RINGMASTER_CACHE, RINGMASTER_STATE).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_SH="$ROOT/infra/kafka/kafka.sh"
POSTGRES_SH="$ROOT/infra/postgres/postgres.sh"
RINGMASTER_STATE="${RINGMASTER_STATE:-$HOME/.local/state/ringmaster}"
ENV_FILE="$RINGMASTER_STATE/infra.env"

all_env() { "$KAFKA_SH" env; "$POSTGRES_SH" env; }

case "${1:-}" in
  up)
    t0=$SECONDS
    "$POSTGRES_SH" start >/dev/null
    "$KAFKA_SH" start >/dev/null
    mkdir -p "$RINGMASTER_STATE"
    # A temp file per process: two jobs running 'up' at once (two heavy-lock slots) shared one
    # name and the second mv failed ('cannot stat infra.env.tmp').
    tmp="$ENV_FILE.tmp.$$"
    { echo "# Written by scripts/infra.sh up; removed by scripts/infra.sh down."; all_env; } >"$tmp"
    mv "$tmp" "$ENV_FILE"
    echo "infra: up in $((SECONDS - t0)) s; settings also in $ENV_FILE" >&2
    all_env
    ;;
  down)
    rm -f "$ENV_FILE"
    rc=0
    "$KAFKA_SH" stop || rc=$?
    "$POSTGRES_SH" stop || rc=$?
    exit "$rc"
    ;;
  status)
    rc=0
    "$KAFKA_SH" status >/dev/null || rc=3
    "$POSTGRES_SH" status >/dev/null || rc=3
    exit "$rc"
    ;;
  env) all_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
