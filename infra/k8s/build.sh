#!/usr/bin/env bash
# Build (once) and cache a real Kubernetes control plane from Go modules:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes),
#   etcd (go.etcd.io/etcd/server/v3), kwok and kwokctl (sigs.k8s.io/kwok).
# Versions are pinned in infra/k8s/versions.env.
#
# Usage: infra/k8s/build.sh            # prints the bin dir on stdout
#   RINGMASTER_CACHE   cache root (default: $HOME/.cache/ringmaster)
#   RINGMASTER_BUILD_JOBS  go build -p value (default: number of CPUs)
#
# Idempotent: when every binary is already in the cache it only prints the path.
# Binaries land in  ${RINGMASTER_CACHE}/k8s/<k8s-version>/bin/ ; each one is built
# to a temp file in the cache and renamed into place only after a successful build,
# so a half-finished build never leaves a broken binary behind. Wrapper Go modules
# are generated under ${RINGMASTER_CACHE}/k8s/<k8s-version>/src/ (never in the work
# tree). The build log is ${RINGMASTER_CACHE}/k8s/<k8s-version>/build.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"

CACHE_ROOT="${RINGMASTER_CACHE:-${HOME}/.cache/ringmaster}"
BASE="${CACHE_ROOT}/k8s/${K8S_VERSION}"
BIN_DIR="${BASE}/bin"
BINS=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl kubectl)

all_present() {
  local b
  for b in "${BINS[@]}"; do
    [[ -x "${BIN_DIR}/${b}" ]] || return 1
  done
}

if all_present; then
  echo "${BIN_DIR}"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: 'go' not found in PATH (need Go >= 1.26)" >&2; exit 1; }

mkdir -p "${BIN_DIR}" "${BASE}/src"
LOG="${BASE}/build.log"

# One build at a time per cache (a second caller waits, then finds everything built).
exec 9>"${BASE}/.build.lock"
if ! flock -n 9; then
  echo "build.sh: another build holds ${BASE}/.build.lock; waiting..." >&2
  flock 9
fi
if all_present; then
  echo "${BIN_DIR}"
  exit 0
fi

# Never let the go command fetch another toolchain; never touch a module in the work tree.
export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off
JOBS="${RINGMASTER_BUILD_JOBS:-$(nproc)}"
LDFLAGS_BASE="-s -w"

log() { echo "[build.sh $(date +%H:%M:%S)] $*" | tee -a "${LOG}" >&2; }
run() { log "+ $*"; "$@" >>"${LOG}" 2>&1; }

START=$(date +%s)
log "building into ${BIN_DIR} (k8s ${K8S_VERSION}, etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}), log: ${LOG}"

# install_bin <name> <built-file>: atomic rename into the bin dir.
install_bin() {
  chmod 0755 "$2"
  mv -f "$2" "${BIN_DIR}/$1"
  log "installed ${BIN_DIR}/$1"
}

# --- kwok / kwokctl --------------------------------------------------------------
build_kwok() {
  local name="$1" tmpbin
  tmpbin="$(mktemp -d "${BASE}/tmp.XXXXXX")"
  local ld="${LDFLAGS_BASE} -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"
  GOBIN="${tmpbin}" run go install -p "${JOBS}" -trimpath -ldflags="${ld}" "sigs.k8s.io/kwok/cmd/${name}@${KWOK_VERSION}"
  install_bin "${name}" "${tmpbin}/${name}"
  rm -rf "${tmpbin}"
}

# --- etcd ------------------------------------------------------------------------
build_etcd() {
  local dir="${BASE}/src/etcd" gomod tmp
  rm -rf "${dir}"; mkdir -p "${dir}"
  gomod="$(go mod download -json "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [[ -f "${gomod}" ]] || { log "cannot find go.mod of go.etcd.io/etcd/server/v3@${ETCD_VERSION}"; return 1; }
  {
    echo "module ringmaster.local/etcd-build"
    echo
    echo "go 1.24"
    echo
    echo "require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}"
    echo
    # Upstream maps sibling modules to local dirs ("=> ../api"); pin them to the same release.
    grep -E '^[[:space:]]*(replace[[:space:]]+)?go\.etcd\.io/etcd/[^[:space:]]+[[:space:]]+=>[[:space:]]+\.\.?/' "${gomod}" \
      | sed -E 's/^[[:space:]]*(replace[[:space:]]+)?//' | awk '{print $1}' | sort -u \
      | while read -r m; do echo "replace ${m} => ${m} ${ETCD_VERSION}"; done
  } >"${dir}/go.mod"
  cat >"${dir}/main.go" <<'GO'
// Command etcd: the etcd server, built from go.etcd.io/etcd/server/v3.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "${dir}" && run go mod tidy)
  tmp="$(mktemp "${BASE}/tmp.etcd.XXXXXX")"
  (cd "${dir}" && run go build -p "${JOBS}" -trimpath -ldflags="${LDFLAGS_BASE}" -o "${tmp}" .)
  install_bin etcd "${tmp}"
}

# --- Kubernetes ------------------------------------------------------------------
K8S_DIR="${BASE}/src/kubernetes"
prepare_k8s() {
  # .ready-2: the module also pins kubectl (a marker per tools.go content, so old caches re-tidy).
  [[ -f "${K8S_DIR}/.ready-2" ]] && return 0
  local gomod
  rm -rf "${K8S_DIR}"; mkdir -p "${K8S_DIR}"
  gomod="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [[ -f "${gomod}" ]] || { log "cannot find go.mod of k8s.io/kubernetes@${K8S_VERSION}"; return 1; }
  local staging
  staging="$(grep -E '=>[[:space:]]+\./staging/src/k8s\.io/' "${gomod}" | sed -E 's/^[[:space:]]*(replace[[:space:]]+)?//' | awk '{print $1}' | sort -u)"
  [[ -n "${staging}" ]] || { log "no staging replaces found in ${gomod}"; return 1; }
  log "staging modules: $(echo "${staging}" | wc -l)"
  {
    echo "module ringmaster.local/k8s-build"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    echo "replace ("
    echo "${staging}" | while read -r m; do echo "	${m} => ${m} ${K8S_STAGING_VERSION}"; done
    echo ")"
  } >"${K8S_DIR}/go.mod"
  cat >"${K8S_DIR}/tools.go" <<'GO'
//go:build tools

// Package tools pins the Kubernetes commands this wrapper module builds.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "${K8S_DIR}" && run go mod tidy)
  touch "${K8S_DIR}/.ready-2"
}

build_k8s() {
  local name="$1" tmp minor major ld v
  prepare_k8s
  major="${K8S_MINOR%%.*}"; minor="${K8S_MINOR#*.}"
  ld="${LDFLAGS_BASE}"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X ${v}.gitVersion=${K8S_VERSION} -X ${v}.gitMajor=${major} -X ${v}.gitMinor=${minor} -X ${v}.gitTreeState=clean"
  done
  tmp="$(mktemp "${BASE}/tmp.${name}.XXXXXX")"
  (cd "${K8S_DIR}" && run go build -p "${JOBS}" -trimpath -ldflags="${ld}" -o "${tmp}" "k8s.io/kubernetes/cmd/${name}")
  install_bin "${name}" "${tmp}"
}

cleanup() { rm -rf "${BASE}"/tmp.* 2>/dev/null || true; }
trap cleanup EXIT

# Sequential on purpose (2-core machines): cheap ones first.
for b in kwokctl kwok etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [[ -x "${BIN_DIR}/${b}" ]]; then continue; fi
  T0=$(date +%s)
  case "${b}" in
    kwok|kwokctl) build_kwok "${b}" ;;
    etcd) build_etcd ;;
    kube-*|kubectl) build_k8s "${b}" ;;
  esac
  log "${b} built in $(( $(date +%s) - T0 ))s"
done

log "all binaries built in $(( $(date +%s) - START ))s"
echo "${BIN_DIR}"
