#!/usr/bin/env bash
# npm test: every lane against the real thing.
#   unit  *.spec.ts       pure core, mappers, services' logic (no I/O)
#   int   *.int-spec.ts   real Kafka, Postgres and a kwok Kubernetes control plane
#   e2e   *.e2e-spec.ts   planner, executors and health watcher as separate processes
#   chaos *.chaos-spec.ts the fault campaign (scripts/chaos.sh: npm run test:chaos)
# It installs what is missing (npm packages, Postgres, Kafka jars, the Kubernetes binaries),
# starts Kafka, Postgres and two kwok clusters, and stops again whatever it started itself.
# Lanes can be chosen: scripts/test.sh unit int   (default: unit int e2e)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

lanes=("$@")
((${#lanes[@]})) || lanes=(unit int e2e)
needs_stack=0
for l in "${lanes[@]}"; do [[ "$l" == unit ]] || needs_stack=1; done

started_infra=0
started_cluster=0
cleanup() {
  local rc=$?
  ((started_cluster)) && bash scripts/cluster.sh down >&2 || true
  ((started_infra)) && bash scripts/infra.sh down >&2 || true
  exit "$rc"
}
trap cleanup EXIT

if ((needs_stack)); then
  bash scripts/infra.sh status >/dev/null 2>&1 || started_infra=1
  # Not '| grep -q': under pipefail, status dies of SIGPIPE once grep has its match, and the
  # clusters (others' too) were always taken for ours and torn down at the end.
  cluster_status="$(bash scripts/cluster.sh status 2>/dev/null || true)"
  grep -q ': up ' <<<"${cluster_status}" || started_cluster=1
  bash scripts/infra.sh up >&2
  bash scripts/cluster.sh up --clusters 2 --fixture both >&2
  set -a
  # shellcheck disable=SC1091
  source "${RINGMASTER_STATE:-$HOME/.local/state/ringmaster}/infra.env"
  set +a
  eval "$(bash scripts/cluster.sh env)"
  npm run -s build
fi

mkdir -p .ringmaster
passed=0
failed=0
status=0
for lane in "${lanes[@]}"; do
  echo "== ${lane} tests" >&2
  report=".ringmaster/jest-${lane}.json"
  rm -f "${report}"
  extra=()
  # --forceExit: a failed test can leave a watch, socket or child process open, and Jest then
  # waits for it forever (a CI run sat after the e2e summary until killed); the lane's report
  # is written before the exit.
  [[ "$lane" == unit ]] || extra=(--runInBand --forceExit)
  npx jest --selectProjects "${lane}" "${extra[@]}" --json --outputFile="${report}" || status=1
  if [[ -f "${report}" ]]; then
    read -r p f < <(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites)' "${PWD}/${report}")
    passed=$((passed + p))
    failed=$((failed + f))
  else
    status=1
  fi
done
echo "tests: ${passed} passed, ${failed} failed"
exit "${status}"
