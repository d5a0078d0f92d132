#!/usr/bin/env bash
# Local Kubernetes clusters for Ringmaster: a real control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, built by infra/k8s/build.sh) plus kwok, which
# fakes nodes and kubelets so thousands of pods cost little.
#
#   scripts/cluster.sh up [--clusters N] [--size small|large]
#                         [--fixture none|microservices|monolithic|both] [--timeout SECONDS]
#   scripts/cluster.sh down
#   scripts/cluster.sh status
#   scripts/cluster.sh env          # prints 'export KUBECONFIG=...' for eval
#
# Names (documented in infra/k8s/README.md):
#   clusters   ${RINGMASTER_CLUSTER_PREFIX:-ringmaster}-1 .. -N
#   contexts   kwok-ringmaster-1 .. kwok-ringmaster-N
#   state dir  ${RINGMASTER_STATE_DIR:-${RINGMASTER_CACHE:-$HOME/.cache/ringmaster}/clusters}
#   kubeconfig (merged, all clusters)  <state dir>/kubeconfig.yaml
#   kubeconfig (one cluster)           <state dir>/kwok/clusters/<name>/kubeconfig.yaml
#
# Pod behaviour (kwok Stages, infra/k8s/stages/pods.yaml.tmpl), read at cluster creation;
# durations are Go-like ("1s", "500ms", "1.5s", "2m") or plain milliseconds:
#   RINGMASTER_POD_START_DELAY      scheduled -> Running (not Ready)   default 100ms
#   RINGMASTER_POD_START_JITTER     extra random 0..jitter              default 200ms
#   RINGMASTER_POD_READY_DELAY      Running -> Ready                    default 1s
#   RINGMASTER_POD_READY_JITTER     extra random 0..jitter              default 500ms
#   RINGMASTER_POD_SLOW_READY_DELAY Running -> Ready for fault slow-ready   default 60s
#   RINGMASTER_POD_CRASH_AFTER      Ready -> crashed for fault crash-loop   default 3s
#   RINGMASTER_POD_CRASH_BACKOFF    crashed -> running again (not Ready)    default 2s
#   RINGMASTER_POD_DELETE_DELAY     deletionTimestamp -> object gone        default 200ms
# Changing them needs 'down' then 'up' ('up' warns when a running cluster has other stages).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_DIR="${ROOT}/infra/k8s"
FIXTURE_DIR="${ROOT}/test/fixtures/mimir"
# shellcheck source=../infra/k8s/versions.env
source "${K8S_DIR}/versions.env"

CACHE_ROOT="${RINGMASTER_CACHE:-${HOME}/.cache/ringmaster}"
STATE_DIR="${RINGMASTER_STATE_DIR:-${CACHE_ROOT}/clusters}"
PREFIX="${RINGMASTER_CLUSTER_PREFIX:-ringmaster}"
MERGED_KUBECONFIG="${STATE_DIR}/kubeconfig.yaml"
export KWOK_WORKDIR="${STATE_DIR}/kwok"
ZONES=(zone-a zone-b zone-c)

log() { echo "[cluster.sh] $*" >&2; }
# kwokctl logs JSON lines; keep them in a file and show the tail only when it fails.
kwokctl_q() {
  local logf="${STATE_DIR}/kwokctl.log"
  mkdir -p "${STATE_DIR}"
  echo "--- $(date -u +%FT%TZ) kwokctl $*" >>"${logf}"
  if ! without_inherited_fds "${KWOKCTL}" "$@" >>"${logf}" 2>&1; then
    tail -n 20 "${logf}" >&2
    die "kwokctl $1 $2 failed (full log: ${logf})"
  fi
}
die() { echo "[cluster.sh] error: $*" >&2; exit 1; }
# Runs a command with only stdin/stdout/stderr open. The control plane kwokctl starts outlives
# this script: an inherited descriptor would stay open as long as the cluster runs. Under
# `flock /tmp/ringmaster-heavy.lock scripts/cluster.sh up` that descriptor is the lock, and
# every later flock waits until the cluster goes down (seen: all heavy jobs stuck behind etcd).
without_inherited_fds() {
  (
    for fd in /proc/${BASHPID}/fd/*; do
      fd="${fd##*/}"
      ((fd > 2)) && eval "exec ${fd}>&-" 2>/dev/null
    done
    exec "$@"
  )
}

usage() { sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# to_ms "1.5s" -> 1500
to_ms() {
  local v="$1" n mult
  case "${v}" in
    *ms) n="${v%ms}"; mult=1 ;;
    *s) n="${v%s}"; mult=1000 ;;
    *m) n="${v%m}"; mult=60000 ;;
    *) n="${v}"; mult=1 ;;
  esac
  awk -v n="${n}" -v m="${mult}" 'BEGIN { if (n !~ /^[0-9]+(\.[0-9]+)?$/) exit 1; printf "%d", n * m }' \
    || die "bad duration '${v}' (use e.g. 500ms, 1s, 1.5s, 2m)"
}

cluster_names() { # names of this project's existing kwok clusters
  "${KWOKCTL}" get clusters 2>/dev/null | grep -E "^${PREFIX}-[0-9]+$" || true
}
cluster_kubeconfig() { echo "${KWOK_WORKDIR}/clusters/$1/kubeconfig.yaml"; }
kc() { local name="$1"; shift; kubectl --kubeconfig "$(cluster_kubeconfig "${name}")" "$@"; }

bins() { # builds the binaries if needed (no-op when cached)
  BIN_DIR="$("${K8S_DIR}/build.sh")"
  KWOKCTL="${BIN_DIR}/kwokctl"
}
bins_no_build() { # for down/status: never start a 20-minute build
  BIN_DIR="${CACHE_ROOT}/k8s/${K8S_VERSION}/bin"
  KWOKCTL="${BIN_DIR}/kwokctl"
  [[ -x "${KWOKCTL}" ]]
}

# Renders the kwokctl --config file: KwokctlConfiguration + node Stages + pod Stages.
render_config() {
  local out="$1"
  local start ready slow crash backoff del sj rj
  start="$(to_ms "${RINGMASTER_POD_START_DELAY:-100ms}")"
  sj="$(to_ms "${RINGMASTER_POD_START_JITTER:-200ms}")"
  ready="$(to_ms "${RINGMASTER_POD_READY_DELAY:-1s}")"
  rj="$(to_ms "${RINGMASTER_POD_READY_JITTER:-500ms}")"
  slow="$(to_ms "${RINGMASTER_POD_SLOW_READY_DELAY:-60s}")"
  crash="$(to_ms "${RINGMASTER_POD_CRASH_AFTER:-3s}")"
  backoff="$(to_ms "${RINGMASTER_POD_CRASH_BACKOFF:-2s}")"
  del="$(to_ms "${RINGMASTER_POD_DELETE_DELAY:-200ms}")"
  {
    cat <<EOF
# Generated by scripts/cluster.sh; do not edit.
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  kubeVersion: ${K8S_VERSION}
  bindAddress: 127.0.0.1
  kubeApiserverBinary: ${BIN_DIR}/kube-apiserver
  kubeControllerManagerBinary: ${BIN_DIR}/kube-controller-manager
  kubeSchedulerBinary: ${BIN_DIR}/kube-scheduler
  kwokControllerBinary: ${BIN_DIR}/kwok
  etcdBinary: ${BIN_DIR}/etcd
  kubectlBinary: $(command -v kubectl)
  disableQPSLimits: true
  components:
  - etcd
  - kube-apiserver
  - kube-controller-manager
  - kube-scheduler
  - kwok-controller
---
EOF
    cat "${K8S_DIR}/stages/nodes.yaml"
    echo "---"
    sed -e "s/\${START_DELAY}/${start}/g" -e "s/\${START_DELAY_MAX}/$((start + sj))/g" \
        -e "s/\${READY_DELAY}/${ready}/g" -e "s/\${READY_DELAY_MAX}/$((ready + rj))/g" \
        -e "s/\${SLOW_READY_DELAY}/${slow}/g" -e "s/\${SLOW_READY_DELAY_MAX}/$((slow + rj))/g" \
        -e "s/\${CRASH_AFTER}/${crash}/g" -e "s/\${CRASH_AFTER_MAX}/$((crash + rj))/g" \
        -e "s/\${CRASH_BACKOFF}/${backoff}/g" -e "s/\${CRASH_BACKOFF_MAX}/$((backoff + rj))/g" \
        -e "s/\${DELETE_DELAY}/${del}/g" \
        "${K8S_DIR}/stages/pods.yaml.tmpl"
  } >"${out}"
  if grep -q '\${[A-Z_]*}' "${out}"; then die "unrendered placeholder in ${out}"; fi
}

# Fake nodes: per zone 1 (small) or 3 (large) nodes, 250 pods each (large: 9 x 250 = 2250).
apply_nodes() {
  local name="$1" size="$2" per_zone i z
  case "${size}" in small) per_zone=1 ;; large) per_zone=3 ;; esac
  {
    for z in "${ZONES[@]}"; do
      for ((i = 0; i < per_zone; i++)); do
        cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-${z}-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-${z}-${i}
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
    topology.kubernetes.io/zone: ${z}
    topology.kubernetes.io/region: local
spec: {}
status:
  allocatable:
    cpu: "64"
    memory: 512Gi
    pods: "250"
  capacity:
    cpu: "64"
    memory: 512Gi
    pods: "250"
EOF
      done
    done
  } | kc "${name}" apply -f - >/dev/null
}

api_ready() { kc "$1" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }

merge_kubeconfigs() {
  local files=() n
  for n in $(cluster_names); do files+=("$(cluster_kubeconfig "${n}")"); done
  if ((${#files[@]} == 0)); then rm -f "${MERGED_KUBECONFIG}"; return; fi
  local IFS=:
  KUBECONFIG="${files[*]}" kubectl config view --flatten >"${MERGED_KUBECONFIG}.tmp"
  mv "${MERGED_KUBECONFIG}.tmp" "${MERGED_KUBECONFIG}"
  chmod 600 "${MERGED_KUBECONFIG}"
}

# wait_ready <cluster> <namespace> <timeout-s>: every StatefulSet/Deployment has all
# replicas Ready and at its update revision.
wait_ready() {
  local name="$1" ns="$2" timeout="$3" deadline line notready
  deadline=$(($(date +%s) + timeout))
  while :; do
    notready="$(kc "${name}" -n "${ns}" get statefulsets,deployments -o \
      jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.spec.replicas} {.status.readyReplicas} {.status.updatedReplicas}{"\n"}{end}' \
      | awk '$2 != $3 || $2 != $4 { print }')" || notready="(api error)"
    if [[ -z "${notready}" ]]; then return 0; fi
    if (($(date +%s) >= deadline)); then
      log "timeout after ${timeout}s waiting for ${name}/${ns}; not ready (kind/name replicas ready updated):"
      echo "${notready}" | head -20 >&2
      return 1
    fi
    sleep 1
  done
}

cmd_up() {
  local n=1 size=small fixture=none timeout=600
  while (($#)); do
    case "$1" in
      --clusters) n="$2"; shift 2 ;;
      --size) size="$2"; shift 2 ;;
      --fixture) fixture="$2"; shift 2 ;;
      --timeout) timeout="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown flag for up: $1" ;;
    esac
  done
  [[ "${n}" =~ ^[1-9][0-9]*$ ]] || die "--clusters must be a positive integer"
  case "${size}" in small|large) ;; *) die "--size must be small or large" ;; esac
  case "${fixture}" in none|microservices|monolithic|both) ;; *) die "--fixture must be none, microservices, monolithic or both" ;; esac

  local t0; t0=$(date +%s)
  bins
  mkdir -p "${STATE_DIR}" "${KWOK_WORKDIR}"
  local config="${STATE_DIR}/kwokctl-config.yaml"
  render_config "${config}"

  local i name exists
  for ((i = 1; i <= n; i++)); do
    name="${PREFIX}-${i}"
    if cluster_names | grep -qx "${name}"; then
      if api_ready "${name}"; then
        log "${name}: already up, reusing"
        if ! cmp -s "${config}" "${KWOK_WORKDIR}/clusters/${name}/ringmaster-config.yaml"; then
          log "warning: ${name} runs with other stages/options than requested now; run 'down' then 'up' to apply"
        fi
        exists=1
      else
        # Its processes died (reboot, CI teardown). 'kwokctl start' would reuse the ports
        # picked at creation, which another cluster may hold by now: recreate instead.
        log "${name}: exists but not serving; recreating it (its objects are lost)"
        kwokctl_q delete cluster --name "${name}" --kubeconfig "${STATE_DIR}/kwokctl-kubeconfig.yaml"
        exists=0
      fi
    else
      exists=0
    fi
    if ((exists == 0)); then
      log "${name}: creating (kwokctl --runtime binary)"
      kwokctl_q create cluster --name "${name}" --config "${config}" \
        --kubeconfig "${STATE_DIR}/kwokctl-kubeconfig.yaml" --wait 120s
      cp "${config}" "${KWOK_WORKDIR}/clusters/${name}/ringmaster-config.yaml"
    fi
    local tries=0
    until api_ready "${name}"; do
      ((tries++ < 120)) || die "${name}: kube-apiserver not ready"
      sleep 0.5
    done
    apply_nodes "${name}" "${size}"
  done
  merge_kubeconfigs

  if [[ "${fixture}" != none ]]; then
    local layouts=() l ns
    case "${fixture}" in both) layouts=(microservices monolithic) ;; *) layouts=("${fixture}") ;; esac
    for ((i = 1; i <= n; i++)); do
      name="${PREFIX}-${i}"
      for l in "${layouts[@]}"; do
        node "${FIXTURE_DIR}/render.mjs" --layout "${l}" --size "${size}" | kc "${name}" apply -f - >/dev/null
      done
    done
    for ((i = 1; i <= n; i++)); do
      name="${PREFIX}-${i}"
      for l in "${layouts[@]}"; do
        ns="$(node "${FIXTURE_DIR}/render.mjs" --layout "${l}" --print-namespace)"
        log "${name}: waiting for every pod in namespace ${ns} to be Ready"
        wait_ready "${name}" "${ns}" "${timeout}"
      done
    done
  fi

  log "up in $(($(date +%s) - t0))s"
  for ((i = 1; i <= n; i++)); do
    name="${PREFIX}-${i}"
    echo "cluster=${name} context=kwok-${name} kubeconfig=$(cluster_kubeconfig "${name}")"
  done
  echo "merged kubeconfig: ${MERGED_KUBECONFIG}"
}

# PIDs of control-plane processes started for our clusters (their args name our workdir).
our_pids() { pgrep -f -- "${KWOK_WORKDIR}/clusters/${PREFIX}-" || true; }

cmd_down() {
  bins_no_build || { log "kwokctl not built: no cluster to delete"; return 0; }
  local name
  for name in $(cluster_names); do
    log "${name}: deleting"
    ( kwokctl_q delete cluster --name "${name}" --kubeconfig "${STATE_DIR}/kwokctl-kubeconfig.yaml" ) || true
  done
  # Safety net: anything still running from our cluster dirs is ours; end it by pid.
  local pids tries=0
  pids="$(our_pids)"
  while [[ -n "${pids}" ]] && ((tries++ < 20)); do
    sleep 0.5
    pids="$(our_pids)"
  done
  if [[ -n "${pids}" ]]; then
    log "left-over processes after delete, ending them: ${pids//$'\n'/ }"
    # shellcheck disable=SC2086
    kill ${pids} 2>/dev/null || true
    sleep 1
    pids="$(our_pids)"
    # shellcheck disable=SC2086
    [[ -z "${pids}" ]] || kill -9 ${pids} 2>/dev/null || true
  fi
  rm -f "${MERGED_KUBECONFIG}" "${STATE_DIR}/kwokctl-kubeconfig.yaml"
  if [[ -n "$(our_pids)" ]]; then die "processes still running: $(our_pids | tr '\n' ' ')"; fi
  log "down: no cluster and no process left"
}

cmd_status() {
  bins_no_build || { echo "control plane not built yet (infra/k8s/build.sh)"; return 0; }
  local name found=0
  for name in $(cluster_names); do
    found=1
    if api_ready "${name}"; then
      echo "${name}: up  context=kwok-${name}  kubeconfig=$(cluster_kubeconfig "${name}")"
      echo "  server: $(kc "${name}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
      echo "  nodes:  $(kc "${name}" get nodes --no-headers 2>/dev/null | wc -l)"
      kc "${name}" get pods -A --no-headers 2>/dev/null | awk '
        { split($3, r, "/"); total[$1]++; if (r[1] == r[2] && $4 == "Running") ready[$1]++ }
        END { for (ns in total) printf "  pods:   %-14s %d/%d ready\n", ns, ready[ns], total[ns] }'
    else
      echo "${name}: down (exists, apiserver not serving)"
    fi
  done
  ((found)) || echo "no ${PREFIX}-* cluster"
  [[ -f "${MERGED_KUBECONFIG}" ]] && echo "merged kubeconfig: ${MERGED_KUBECONFIG}"
  local pids; pids="$(our_pids)"
  echo "processes: $(echo -n "${pids}" | grep -c . || true)"
}

cmd_env() { echo "export KUBECONFIG=${MERGED_KUBECONFIG}"; }

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  env) shift; cmd_env "$@" ;;
  -h|--help|help|"") usage ;;
  *) die "unknown command '$1' (up, down, status, env)" ;;
esac
