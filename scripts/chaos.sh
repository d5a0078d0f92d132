#!/usr/bin/env bash
# npm run test:chaos: the fault campaign (test/chaos/*.chaos-spec.ts) on the real stack, brought
# up like `npm test` brings it up. Each case records what its own observers counted; the last
# line sums them:
#   chaos: cases=<n> rollouts=<n> violations=<n> double_restarts=<n> lost=<n>
# Exit status: the Jest lane's (any failed case fails the run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RINGMASTER_CHAOS_DIR="${RINGMASTER_CHAOS_DIR:-$PWD/.ringmaster/chaos}"
rm -rf "${RINGMASTER_CHAOS_DIR}"
mkdir -p "${RINGMASTER_CHAOS_DIR}"
status=0
bash scripts/test.sh chaos || status=$?
npx ts-node --transpile-only -r tsconfig-paths/register -e \
  'console.log(require("./test/support/chaos.report").chaosSummary())'
exit "${status}"
