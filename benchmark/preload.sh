#!/usr/bin/env bash
# librampart.so benchmark. Prints figures (medians, p99, ratios), each comparison measured side by
# side in one run on this machine. Not a test: nothing here passes or fails on speed.
#   (1) load cost: posix_spawn+wait of /bin/true with no preload, a do-nothing preload (gcc) and
#       librampart.so with RAMPART_MODE=disabled (loading only, no check)
#   (2) check cost, against the stub server and against `rampart serve` when it is built:
#       one check in a long-lived process (posix_spawn of a denied command: hook to decision,
#       keep-alive) and in a freshly forked child (execve of a denied command), plus an allowed
#       posix_spawn+wait of /bin/true in enforce vs disabled mode
#   (3) a bash loop running /bin/true 1000 times, without and with the library (target <= 1.5x)
# Environment: RAMPART_LIBRARY (default target/release/librampart.so), BENCH_N (samples, 500),
# BENCH_ROUNDS (bash loop rounds per variant, 3).
set -euo pipefail
cd "$(dirname "$0")/.."

LIB=${RAMPART_LIBRARY:-$PWD/target/release/librampart.so}
N=${BENCH_N:-500}
ROUNDS=${BENCH_ROUNDS:-3}
DENIED=(/bin/true true rampart-deny-me) # path, argv: harmless even if it were allowed

if [ ! -f "$LIB" ]; then
  echo "librampart.so not found at $LIB: run 'cargo build --release -p rampart-preload' first" >&2
  exit 1
fi

work=$(mktemp -d /tmp/rampart-bench-preload.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

gcc -O2 -o "$work/spawnloop" benchmark/preload/spawnloop.c
echo 'void rampart_bench_do_nothing(void) {}' >"$work/empty.c"
gcc -O2 -shared -fPIC -o "$work/empty.so" "$work/empty.c"
rustc -O --edition 2021 -o "$work/stub" benchmark/preload/stub_main.rs

# median of numbers given as arguments
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# field value (median_us=...) from a spawnloop line
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== librampart.so"
ls -l "$LIB" | awk '{ print $5 " bytes  " $NF }'
ldd "$LIB" | sed 's/^/  /'

echo
echo "== (1) load cost: posix_spawn+wait of /bin/true, variants interleaved, $N samples each"
load=$("$work/spawnloop" load "$N" none "$work/empty.so" "$LIB")
echo "$load" | sed "s|$work/empty.so|do-nothing.so|; s|$LIB|librampart.so, disabled|; s/^/  /"
base=$(field median_us "$(sed -n 1p <<<"$load")")
empty=$(field median_us "$(sed -n 2p <<<"$load")")
ours=$(field median_us "$(sed -n 3p <<<"$load")")
echo "  extra per process (median): do-nothing preload +$(minus "$empty" "$base") us, librampart.so +$(minus "$ours" "$base") us (target <= 100 us)"

# The servers start in this shell (not in a $(...) subshell) so that cleanup can stop them; they
# write their URL to a file.
start_stub() {
  "$work/stub" >"$work/stub.url" 2>"$work/stub.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/stub.url" ] && break; sleep 0.05; done
}

# Starts `rampart serve` with a benchmark policy (deny commands containing the marker, allow the
# rest) in a temporary HOME; writes its URL to $work/serve.url when it answers.
start_serve() {
  [ -f dist/cli.js ] || return 0
  local port home="$work/home"
  mkdir -p "$home"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$work/policy.yaml" <<'YAML'
version: "1"
default_action: allow
policies:
  - name: benchmark-denies-its-marker
    match:
      tool: exec
    rules:
      - action: deny
        when:
          command_contains: ["rampart-deny-me"]
        message: denied by the benchmark policy
YAML
  HOME="$home" node dist/cli.js serve --port "$port" --config "$work/policy.yaml" \
    --audit-dir "$work/audit" --token bench-token </dev/null >"$work/serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 150); do
    if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
      echo "http://127.0.0.1:$port" >"$work/serve.url"
      return 0
    fi
    sleep 0.1
  done
  echo "  (rampart serve did not answer; its output:)" >&2
  sed 's/^/    /' "$work/serve.log" >&2
}

preloaded() { # url mode command...
  local url=$1 mode=$2
  shift 2
  env LD_PRELOAD="$LIB" RAMPART_URL="$url" RAMPART_TOKEN=bench-token RAMPART_MODE="$mode" "$@"
}

check_cost() { # label url
  local label=$1 url=$2 parent child enforce disabled
  echo
  echo "== (2) check cost against $label ($url), $N samples"
  parent=$(preloaded "$url" enforce "$work/spawnloop" check-parent "$N" "${DENIED[@]}" 2>/dev/null) || {
    echo "  check-parent failed: is the library denying? $(preloaded "$url" enforce "$work/spawnloop" check-parent 1 "${DENIED[@]}" 2>&1 | tail -2)"
    return 0
  }
  child=$(preloaded "$url" enforce "$work/spawnloop" check-child "$N" "${DENIED[@]}" 2>/dev/null) || {
    echo "  check-child failed"
    return 0
  }
  echo "  one check in a long-lived process (posix_spawn, denied): median $(field median_us "$parent") us, p99 $(field p99_us "$parent") us (target <= 150 us median, <= 1000 us p99)"
  echo "  one check in a fresh forked child (execve, denied):      median $(field median_us "$child") us, p99 $(field p99_us "$child") us"
  local e=() d=()
  for _ in $(seq "$ROUNDS"); do
    e+=("$(field median_us "$(preloaded "$url" enforce "$work/spawnloop" spawn "$N")")")
    d+=("$(field median_us "$(preloaded "$url" disabled "$work/spawnloop" spawn "$N")")")
  done
  enforce=$(median "${e[@]}")
  disabled=$(median "${d[@]}")
  echo "  allowed posix_spawn+wait of /bin/true from a preloaded parent: enforce $enforce us, disabled $disabled us (median of $ROUNDS interleaved rounds) => check adds $(minus "$enforce" "$disabled") us"
}

bash_loop() { # label url
  local label=$1 url=$2 plain=() with=() disabled=() t0 t1
  local loop='for ((i = 0; i < 1000; i++)); do /bin/true; done'
  for _ in $(seq "$ROUNDS"); do
    t0=$(now_ms); bash -c "$loop"; t1=$(now_ms); plain+=("$(minus "$t1" "$t0")")
    t0=$(now_ms); preloaded "$url" enforce bash -c "$loop"; t1=$(now_ms); with+=("$(minus "$t1" "$t0")")
    t0=$(now_ms); preloaded "$url" disabled bash -c "$loop"; t1=$(now_ms); disabled+=("$(minus "$t1" "$t0")")
  done
  local p w d
  p=$(median "${plain[@]}")
  w=$(median "${with[@]}")
  d=$(median "${disabled[@]}")
  echo "  $label: without $p ms, with librampart.so (enforce) $w ms => $(ratio "$w" "$p")x (target <= 1.5x); loaded but disabled $d ms => $(ratio "$d" "$p")x"
}

start_stub
stub_url=$(head -1 "$work/stub.url")
start_serve || true
serve_url=$(cat "$work/serve.url" 2>/dev/null || true)

check_cost "the stub server (tests/common/stub_server.rs)" "$stub_url"
if [ -n "$serve_url" ]; then
  check_cost "rampart serve (node dist/cli.js serve, every decision audited)" "$serve_url"
else
  echo
  echo "== (2) rampart serve: not available (run npm run build), skipped"
fi

echo
echo "== (3) bash loop of 1000 /bin/true, median of $ROUNDS interleaved rounds"
bash_loop "stub server" "$stub_url"
[ -n "$serve_url" ] && bash_loop "rampart serve" "$serve_url"
exit 0
