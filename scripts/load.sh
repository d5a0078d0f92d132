#!/usr/bin/env bash
# npm run bench:load: the planner under concurrent REST clients and request events, on the real
# stack (test/bench/load.bench.ts says what it does and prints). Brings up Kafka, Postgres and two
# kwok clusters like `npm test` does, builds the services, and stops again only what it started.
#   scripts/load.sh            --quick: 2 x 10 namespaces, 32 clients, 20 rollout requests (~5 min)
#   scripts/load.sh --full     2 x 15 namespaces (780 pods), 64 clients, 60 requests (~15 min)
# Last line: load: targets=.. rest_rps=.. rest_p50_ms=.. rest_p99_ms=.. errors=.. rollouts=.. ...
# Exit status 1 when a correctness check fails (a violation, a 5xx, a lost or doubled request).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

started_infra=0
started_cluster=0
cleanup() {
  local rc=$?
  ((started_cluster)) && bash scripts/cluster.sh down >&2 || true
  ((started_infra)) && bash scripts/infra.sh down >&2 || true
  exit "$rc"
}
trap cleanup EXIT

bash scripts/infra.sh status >/dev/null 2>&1 || started_infra=1
# Not '| grep -q': under pipefail, status dies of SIGPIPE once grep has its match, and the
# clusters (others' too) were always taken for ours and torn down at the end.
cluster_status="$(bash scripts/cluster.sh status 2>/dev/null || true)"
grep -q ': up ' <<<"${cluster_status}" || started_cluster=1
bash scripts/infra.sh up >&2
bash scripts/cluster.sh up --clusters 2 --fixture none >&2
npm run -s build >&2
npx ts-node --transpile-only -r tsconfig-paths/register test/bench/load.bench.ts "$@"
