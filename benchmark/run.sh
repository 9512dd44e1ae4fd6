#!/usr/bin/env bash
# `npm run bench`: every benchmark, one after the other, each printing its own figures.
# Run after `npm run build`. Not a test: figures depend on the machine and its load.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
step() { echo; echo "=== $1"; shift; "$@" || { echo "(failed: $*)"; status=1; }; }
step "librampart.so: load cost, check cost, bash loop" bash benchmark/preload.sh
step "policy evaluation" node --import tsx benchmark/policy-eval.ts
step "server throughput" node --import tsx benchmark/server.ts
step "CLI start-up" node --import tsx benchmark/cli.ts
step "wrap shim" node --import tsx benchmark/wrap.ts
exit $status
