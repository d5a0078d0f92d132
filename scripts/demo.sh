#!/usr/bin/env bash
# npm run demo: a real rolling update, end to end. Brings up Kafka, Postgres and a kwok
# Kubernetes cluster with a Mimir-shaped fixture, starts planner, executor and health watcher
# as separate processes, submits a rollout over REST and shows it live until it ends.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec node -r ts-node/register/transpile-only -r tsconfig-paths/register scripts/demo.ts "$@"
