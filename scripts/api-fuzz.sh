#!/usr/bin/env bash
# npm run test:api-fuzz: Schemathesis against the planner's served OpenAPI spec, with real
# requests to one planner process (its own topic prefix and database schema; no cluster, so
# every target is unknown and a valid request is answered 422). Fails on any 5xx, on a status
# or content type the spec does not list, or on a body that does not match its schema.
#   API_FUZZ_MAX_EXAMPLES (50), API_FUZZ_SEED (1), API_FUZZ_PORT (13180), API_FUZZ_NAME (apifuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache="${RINGMASTER_CACHE:-$HOME/.cache/ringmaster}"
venv="${cache}/venv-schemathesis"
spec_version=("schemathesis>=3.30,<4" "hypothesis<6.131")
max_examples="${API_FUZZ_MAX_EXAMPLES:-50}"
seed="${API_FUZZ_SEED:-1}"
port="${API_FUZZ_PORT:-13180}"
name="${API_FUZZ_NAME:-apifuzz}" # topic prefix and schema, reused by every run

# hypothesis 6.131+ changed an internal API schemathesis 3.x relies on ("'many' object has no
# attribute 'more'"), so it is pinned too; the stamp reinstalls when the pins change.
if [[ ! -x "${venv}/bin/schemathesis" || "$(cat "${venv}/.pins" 2>/dev/null)" != "${spec_version[*]}" ]]; then
  echo "api-fuzz: installing ${spec_version[*]} into ${venv}" >&2
  mkdir -p "${cache}"
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install -q "${spec_version[@]}" >&2
  echo "${spec_version[*]}" >"${venv}/.pins"
fi

started_infra=0
bash scripts/infra.sh status >/dev/null 2>&1 || started_infra=1
bash scripts/infra.sh up >&2
set -a
# shellcheck disable=SC1091
source "${RINGMASTER_STATE:-$HOME/.local/state/ringmaster}/infra.env"
set +a
npm run -s build >&2

mkdir -p .ringmaster/logs
log=".ringmaster/logs/${name}-planner.log"
report=".ringmaster/api-fuzz-junit.xml"
rm -f "${report}"

# An admin token for the fuzzer (schemathesis' ignored_auth check also calls without it and
# expects the 401).
tokens=".ringmaster/logs/${name}-tokens.json"
token="$(npm run -s token -- add --file "${tokens}" --name api-fuzz --scope 'roll:*/*')"

PLANNER_TOKENS_FILE="${tokens}" \
  KAFKA_TOPIC_PREFIX="${name}." \
  DATABASE_URL="${TEST_DATABASE_URL:-$DATABASE_URL}" \
  DATABASE_SCHEMA="${name}" \
  PLANNER_GROUP_ID="${name}-planner" \
  PLANNER_ID="${name}" \
  PLANNER_RATE_LIMIT_RPS=0 \
  PORT="${port}" \
  NO_COLOR=1 \
  node dist/apps/planner/src/main.js >"${log}" 2>&1 &
planner=$!
stop_planner() {
  local rc=$?
  kill -TERM "${planner}" 2>/dev/null || true
  wait "${planner}" 2>/dev/null || true
  # Stop Kafka and Postgres again only if this script started them.
  if ((started_infra)); then bash scripts/infra.sh down >&2 || true; fi
  return "${rc}"
}
trap stop_planner EXIT

base="http://127.0.0.1:${port}"
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null "${base}/readyz" 2>/dev/null && break
  kill -0 "${planner}" 2>/dev/null || {
    echo "api-fuzz: the planner exited; see ${log}" >&2
    tail -20 "${log}" >&2
    exit 1
  }
  sleep 1
done
curl -fsS -o /dev/null "${base}/readyz" || {
  echo "api-fuzz: planner not ready after 120 s; see ${log}" >&2
  exit 1
}

# Negative data (values outside the spec) is sent too, and every answer to it must still be a
# documented 4xx in the JSON error shape. negative_data_rejection itself is left out: a query
# value mutated to another type serializes to a valid string (?cluster=0), a false positive.
# Hypothesis keeps its files out of the work tree; no example database, so a seed repeats a run.
export HYPOTHESIS_STORAGE_DIRECTORY="${cache}/hypothesis"
"${venv}/bin/schemathesis" --version >&2
status=0
"${venv}/bin/schemathesis" run "${base}/openapi.json" \
  --checks all \
  -H "Authorization: Bearer ${token}" \
  --exclude-checks negative_data_rejection \
  --data-generation-method all \
  --hypothesis-max-examples "${max_examples}" \
  --hypothesis-seed "${seed}" \
  --hypothesis-database none \
  --hypothesis-deadline 5000 \
  --request-timeout 10000 \
  --junit-xml "${report}" \
  --no-color >&2 || status=$?

read -r ops failures < <(python3 - "${report}" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1"); sys.exit()
cases = root.iter("testcase")
n = f = 0
for c in cases:
    n += 1
    if c.find("failure") is not None or c.find("error") is not None:
        f += 1
print(n, f)
PY
)
echo "api-fuzz: operations=${ops} failures=${failures}"
((failures == 0 && status == 0)) || exit 1
