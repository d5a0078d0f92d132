#!/usr/bin/env bash
# Build (once) and cache Shopify's toxiproxy, server and CLI, from the Go module proxy
# (version pinned in infra/toxiproxy/versions.env). The chaos lane puts it between the
# services and Kafka, Postgres and the Kubernetes API (test/support/toxiproxy.ts).
#
# Usage: infra/toxiproxy/build.sh      # prints the bin dir on stdout
#   RINGMASTER_CACHE   cache root (default: $HOME/.cache/ringmaster)
# Binaries: ${RINGMASTER_CACHE}/toxiproxy/<version>/bin/{toxiproxy-server,toxiproxy-cli}.
# Idempotent: with both binaries present it only prints the path (a few ms). Each binary is
# built into a temp dir of the cache and renamed into place, so a failed build leaves nothing
# half-written; one build at a time per cache (flock).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"

CACHE_ROOT="${RINGMASTER_CACHE:-${HOME}/.cache/ringmaster}"
BASE="${CACHE_ROOT}/toxiproxy/${TOXIPROXY_VERSION}"
BIN_DIR="${BASE}/bin"

all_present() { [[ -x "${BIN_DIR}/toxiproxy-server" && -x "${BIN_DIR}/toxiproxy-cli" ]]; }
if all_present; then
  echo "${BIN_DIR}"
  exit 0
fi

command -v go >/dev/null || { echo "toxiproxy/build.sh: 'go' not found in PATH" >&2; exit 1; }
mkdir -p "${BIN_DIR}"
exec 9>"${BASE}/.build.lock"
flock 9
if all_present; then
  echo "${BIN_DIR}"
  exit 0
fi

# The machine's Go only; never the work tree's modules.
export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-buildvcs=false"
LOG="${BASE}/build.log"
echo "[toxiproxy/build.sh] building ${TOXIPROXY_MODULE}@${TOXIPROXY_VERSION} into ${BIN_DIR} (log ${LOG})" >&2
for pair in server:toxiproxy-server cli:toxiproxy-cli; do
  cmd="${pair%%:*}"
  name="${pair##*:}"
  tmp="$(mktemp -d "${BASE}/tmp.XXXXXX")"
  if ! GOBIN="${tmp}" go install -ldflags "-s -w -X ${TOXIPROXY_MODULE}.Version=${TOXIPROXY_VERSION#v}" \
    "${TOXIPROXY_MODULE}/cmd/${cmd}@${TOXIPROXY_VERSION}" >>"${LOG}" 2>&1; then
    tail -n 20 "${LOG}" >&2
    rm -rf "${tmp}"
    echo "[toxiproxy/build.sh] error: go install ${cmd} failed (log ${LOG})" >&2
    exit 1
  fi
  mv -f "${tmp}/${cmd}" "${BIN_DIR}/${name}"
  rm -rf "${tmp}"
done
echo "${BIN_DIR}"
