#!/usr/bin/env bash
# Sourced by demo.sh and test.sh: installs what a fresh machine lacks (npm packages, Debian's
# PostgreSQL, the Kafka jars and the Kubernetes binaries are each handled by their own script,
# which skips what is cached).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[bootstrap] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "[bootstrap] installing kubectl (Debian)" >&2
  (apt-get update -qq && apt-get install -y -qq kubernetes-client) >&2 || echo "[bootstrap] kubectl not installed; tests use it: install it by hand" >&2
fi
bash infra/k8s/build.sh >&2
