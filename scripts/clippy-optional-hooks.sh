#!/usr/bin/env bash
# Lints librampart.so with every optional row of crates/preload/exports.txt switched on: a hook
# whose symbol this libc lacks is compiled out of the real build, so this is what type-checks it.
# The --cfg reaches the preload crate only (clippy's own arguments), nothing else is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
cfgs=()
while read -r symbol _kind availability _; do
  if [ "${availability:-}" = optional ]; then cfgs+=(--cfg "has_symbol_$symbol"); fi
done < <(sed 's/#.*//' crates/preload/exports.txt)
exec cargo clippy -p rampart-preload --lib -- -D warnings "${cfgs[@]}"
