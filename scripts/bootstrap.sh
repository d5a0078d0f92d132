#!/usr/bin/env bash
# Sourced by demo.sh and test.sh: installs what a fresh machine lacks. npm packages here; the
# Kubernetes binaries (and kubectl) by infra/k8s/build.sh, Debian's PostgreSQL and the Kafka
# jars by scripts/infra.sh. Each skips what is already cached.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[bootstrap] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
# The pinned control plane and a kubectl of the same version, built once from Go modules.
K8S_BIN="$(bash infra/k8s/build.sh)"
export PATH="${K8S_BIN}:${PATH}"
