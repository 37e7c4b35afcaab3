#!/usr/bin/env bash
# Benchmarks (BENCHMARKS.md): native criterion, verify cost in workerd (edgegate vs jose vs
# @tsndr/cloudflare-worker-jwt), gate overhead over HTTP on bare workerd (passthrough vs edgegate vs
# a jose gate, wrk), sizes and start-up. Prints a summary table; raw results go to target/bench/.
#   scripts/bench.sh           full run (several minutes)
#   scripts/bench.sh --quick   tiny counts/durations, for CI (well under 2 minutes)
# Installs nothing beyond scripts/setup.sh and the npm devDependencies, except Debian's `wrk` when
# missing. Every process it starts runs in its own process group and is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"
OUT=target/bench
mkdir -p "$OUT"
say() { printf '==> %s\n' "$*" >&2; }

CURRENT=""
cleanup() {
  if [ -n "$CURRENT" ]; then kill -TERM -- "-$CURRENT" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Runs one step in its own process group (so cleanup reaches workerd, the origin and wrk).
step() {
  setsid "$@" &
  CURRENT=$!
  local rc=0
  wait "$CURRENT" || rc=$?
  CURRENT=""
  return "$rc"
}

# --- prerequisites -------------------------------------------------------------------------------
command -v wrk >/dev/null || apt_install "the HTTP load generator" wrk
[ -d node_modules/jose ] && [ -d node_modules/@tsndr/cloudflare-worker-jwt ] && [ -x node_modules/.bin/workerd ] \
  || { say "npm ci (devDependencies from package-lock.json)"; npm ci --no-audit --no-fund >/dev/null; }
{ [ -f build/index_bg.wasm ] && [ -f "${CARGO_TARGET_DIR:-target}/edge-js/wasm.js" ]; } || { say "building the worker (scripts/build.sh)"; bash scripts/build.sh; }
[ -f www/pkg/edgegate_bg.wasm ] || { say "building the browser module (scripts/build-browser.sh)"; bash scripts/build-browser.sh; }
if [ -n "$QUICK" ]; then
  # Quick: any origin build will do (the debug one is what scripts/test.sh builds).
  if [ -x target/release/edgegate-origin ]; then ORIGIN=target/release/edgegate-origin; else
    [ -x target/debug/edgegate-origin ] || cargo build -q -p edgegate-origin
    ORIGIN=target/debug/edgegate-origin
  fi
else
  cargo build -q --release -p edgegate-origin
  ORIGIN=target/release/edgegate-origin
fi
export EDGEGATE_ORIGIN_BIN="$PWD/$ORIGIN"

START=$(date +%s)
# --- 1. native (criterion) -----------------------------------------------------------------------
say "native: cargo bench -p edgegate --bench gate${QUICK:+ (short criterion times)}"
CRIT_ARGS=()
[ -n "$QUICK" ] && CRIT_ARGS=(-- --warm-up-time 0.2 --measurement-time 0.5 --sample-size 10 verify/)
step cargo bench -q -p edgegate --bench gate "${CRIT_ARGS[@]}" > "$OUT/native.txt" 2>&1 \
  || { cat "$OUT/native.txt" >&2; exit 1; }

# --- 2. verify cost in workerd (Miniflare) --------------------------------------------------------
say "verify: node benches/runtime/verify/run.mjs $QUICK"
step node benches/runtime/verify/run.mjs $QUICK --json "$OUT/verify.json" > "$OUT/verify.txt"

# --- 2b. one wasm decision, without HTTP ------------------------------------------------------------
say "decide: node benches/runtime/decide/run.mjs"
step node benches/runtime/decide/run.mjs $([ -n "$QUICK" ] && echo "--n 200") --json "$OUT/decide.json" > "$OUT/decide.txt"
cat "$OUT/decide.txt"

# --- 3. gate overhead over HTTP (bare workerd + wrk) ----------------------------------------------
# Three interleaved rounds (medians) for the figures; one for --quick.
ROUNDS=3
[ -n "$QUICK" ] && ROUNDS=1
say "http: node benches/runtime/http/run.mjs $QUICK --rounds $ROUNDS"
step node benches/runtime/http/run.mjs $QUICK --rounds "$ROUNDS" --json "$OUT/http.json" > "$OUT/http.txt"

# --- 3b. revocation delay: logout-all → first refused request (workerd + the reference origin) -----
say "revocation: node benches/runtime/revocation/run.mjs $QUICK"
step node benches/runtime/revocation/run.mjs $QUICK --json "$OUT/revocation.json" > "$OUT/revocation.txt"
cat "$OUT/revocation.txt"

# --- 4. size and start-up --------------------------------------------------------------------------
say "size: node benches/runtime/size.mjs $QUICK"
step node benches/runtime/size.mjs $QUICK --json "$OUT/size.json" > "$OUT/size.txt"

step node benches/runtime/summary.mjs "$OUT"
say "done in $(( $(date +%s) - START )) s (raw output in $OUT/)"
