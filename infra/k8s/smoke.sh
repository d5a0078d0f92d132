#!/usr/bin/env bash
# End-to-end smoke test of the local control plane, the kwok stages and the Mimir fixture:
#   up (small, both layouts) -> all pods Ready -> evict an ingester: recreated with a new uid
#   and Ready -> PDB refuses one eviction too many (429) -> a never-ready pod stays unready
#   -> crash-loop pod restarts -> delete of a pod with a 1200 s grace period completes
#   -> down leaves no process.
# Uses its own cluster prefix and state dir, so it never touches clusters from 'up'.
# Prints 'N passed, N failed' at the end; exit 1 on any failure.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${RINGMASTER_CACHE:-${HOME}/.cache/ringmaster}"
export RINGMASTER_CLUSTER_PREFIX="${RINGMASTER_SMOKE_PREFIX:-rmsmoke}"
export RINGMASTER_STATE_DIR="${CACHE_ROOT}/clusters-smoke-$$"
CLUSTER="${ROOT}/scripts/cluster.sh"
NAME="${RINGMASTER_CLUSTER_PREFIX}-1"
KCFG="${RINGMASTER_STATE_DIR}/kwok/clusters/${NAME}/kubeconfig.yaml"
k() { kubectl --kubeconfig "${KCFG}" "$@"; }

passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
fail() { echo "FAIL - $*"; failed=$((failed + 1)); }
# wait_for <seconds> <command...>: polls every 0.25 s
wait_for() {
  local t="$1"; shift
  local deadline=$(($(date +%s) + t))
  until "$@"; do (($(date +%s) < deadline)) || return 1; sleep 0.25; done
}
cleanup() {
  "${CLUSTER}" down >/dev/null 2>&1 || true
  rm -rf "${RINGMASTER_STATE_DIR}"
}
trap cleanup EXIT

evict() { # evict <ns> <pod>: prints the HTTP-ish outcome
  printf '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"%s","namespace":"%s"}}' "$2" "$1" \
    | k create --raw "/api/v1/namespaces/$1/pods/$2/eviction" -f - 2>&1
}
uid() { k -n "$1" get pod "$2" -o jsonpath='{.metadata.uid}' 2>/dev/null; }
ready() { [[ "$(k -n "$1" get pod "$2" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; }
new_and_ready() { local u; u="$(uid "$1" "$2")"; [[ -n "${u}" && "${u}" != "$3" ]] && ready "$1" "$2"; }

t0=$(date +%s)
if "${CLUSTER}" up --fixture both --size small --timeout 180 >/dev/null; then
  ok "up --fixture both: every pod Ready in $(($(date +%s) - t0))s"
else
  fail "up --fixture both"; echo "0 passed, 1 failed"; exit 1
fi

[[ "$(k get nodes --no-headers | wc -l)" -eq 3 ]] && ok "3 fake nodes" || fail "3 fake nodes"
n="$(k get pods -A --no-headers | awk '$3 == "1/1" && $4 == "Running"' | wc -l)"
[[ "${n}" -eq 29 ]] && ok "29 pods Running and Ready" || fail "29 pods Running and Ready (got ${n})"

# Eviction -> StatefulSet recreates the pod (same name, new uid) and it becomes Ready.
old="$(uid mimir mimir-ingester-zone-a-0)"
out="$(evict mimir mimir-ingester-zone-a-0)"
if [[ "${out}" == *'"code":201'* ]] && wait_for 20 new_and_ready mimir mimir-ingester-zone-a-0 "${old}"; then
  ok "evicted ingester recreated with a new uid and Ready"
else
  fail "evicted ingester recreated with a new uid and Ready (${out})"
fi

# PDB: ingester maxUnavailable = replicas per zone (2): the third eviction is refused.
wait_for 20 ready mimir mimir-ingester-zone-a-0
evict mimir mimir-ingester-zone-b-0 >/dev/null
evict mimir mimir-ingester-zone-b-1 >/dev/null
out="$(evict mimir mimir-ingester-zone-c-0)"
[[ "${out}" == *TooManyRequests* || "${out}" == *"disruption budget"* ]] \
  && ok "PDB refuses a third ingester eviction (429)" || fail "PDB 429 (${out})"

# Faults on the pod template apply to the replacement pod.
k -n mimir patch statefulset mimir-ingester-zone-c --type merge \
  -p '{"spec":{"template":{"metadata":{"annotations":{"ringmaster.dev/fault":"never-ready"}}}}}' >/dev/null
wait_for 20 ready mimir mimir-ingester-zone-b-0
wait_for 20 ready mimir mimir-ingester-zone-b-1
old="$(uid mimir mimir-ingester-zone-c-0)"
k -n mimir delete pod mimir-ingester-zone-c-0 --wait=true >/dev/null
running_unready() {
  local u; u="$(uid mimir mimir-ingester-zone-c-0)"
  [[ -n "${u}" && "${u}" != "${old}" && "$(k -n mimir get pod mimir-ingester-zone-c-0 -o jsonpath='{.status.phase}')" == Running ]]
}
if wait_for 20 running_unready; then
  sleep 5
  if ready mimir mimir-ingester-zone-c-0; then fail "never-ready pod stays unready"; else ok "never-ready pod Running, still unready after 5s"; fi
else
  fail "never-ready replacement pod Running"
fi

# crash-loop: Ready, then restarts (restartCount grows).
printf '%s\n' 'apiVersion: v1' 'kind: Pod' 'metadata:' '  name: crasher' '  namespace: default' \
  '  annotations: {ringmaster.dev/fault: crash-loop}' 'spec:' '  automountServiceAccountToken: false' \
  '  containers: [{name: c, image: "grafana/mimir:2.14.0"}]' | k apply -f - >/dev/null
restarted() { [[ "$(k get pod crasher -o jsonpath='{.status.containerStatuses[0].restartCount}' 2>/dev/null)" -ge 1 ]]; }
wait_for 20 restarted && ok "crash-loop pod restarts" || fail "crash-loop pod restarts"

# Delete honours nothing but the stage delay, even with the ingester's 1200 s grace period.
t1=$(date +%s)
k -n mimir delete pod mimir-ingester-zone-a-1 --wait=true --timeout=30s >/dev/null \
  && ok "delete of a 1200s-grace pod done in $(($(date +%s) - t1))s" || fail "delete of a 1200s-grace pod"

if "${CLUSTER}" down >/dev/null 2>&1 && [[ -z "$(pgrep -f -- "${RINGMASTER_STATE_DIR}/" || true)" ]]; then
  ok "down: no process left"
else
  fail "down: no process left"
fi

echo "${passed} passed, ${failed} failed"
((failed == 0))
