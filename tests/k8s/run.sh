#!/usr/bin/env bash
# Offline tests of the Dockerfile and the Kubernetes manifests under k8s/: renders every
# kustomization, validates the objects against the API schemas, checks what the manifests must
# say, runs each binary with the flags its container passes, and compares the Dockerfile's
# runtime packages with the libraries the binaries link. Needs kubectl (with kustomize), Node.js
# 20+ with npm, and the four service binaries built in $KILN_BUILD_DIR (default: build/).
#   KILN_BUILD_DIR=build tests/k8s/run.sh
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KILN_BUILD_DIR=${KILN_BUILD_DIR:-$DIR/../../build}
KILN_BUILD_DIR=$(cd "$KILN_BUILD_DIR" && pwd)

command -v kubectl >/dev/null || { echo "tests/k8s: kubectl is needed" >&2; exit 1; }
command -v npm >/dev/null || { echo "tests/k8s: Node.js 20+ and npm are needed" >&2; exit 1; }

cd "$DIR"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
./dockerfile_libs_test.sh
node --test ./*.test.mjs
