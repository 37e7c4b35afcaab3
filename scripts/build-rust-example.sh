#!/usr/bin/env bash
# Builds the example workers-rs app (examples/workers-rs/: a worker 0.8 `#[event(fetch)]` crate
# behind edgegate's `workers` module) with worker-build, the tool workers-rs users build with,
# into examples/workers-rs/build/ (index.js, index_bg.wasm). Tools come from the package
# registries through scripts/setup.sh: worker-build at the worker crate's version in Cargo.lock,
# the wasm-bindgen CLI at Cargo.lock's wasm-bindgen, wasm-opt (binaryen) and esbuild from npm —
# worker-build would otherwise download them from GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ROOT="$PWD"
EXAMPLE=examples/workers-rs

have="$(worker-build --version 2>/dev/null || true)"
if [ "$have" != "$WORKER_BUILD_VERSION" ]; then
  echo "worker-build ${have:-missing} is not $WORKER_BUILD_VERSION (the worker crate in Cargo.lock): run scripts/setup.sh" >&2
  exit 1
fi
# The example has its own lock (its own workspace): it must pin the same wasm-bindgen as the
# CLI, and the worker crate worker-build belongs to.
lock_version() { awk -v n="$1" '$0 == "name = \"" n "\"" {getline; gsub(/"/,"",$3); print $3; exit}' "$EXAMPLE/Cargo.lock"; }
for pin in "wasm-bindgen $WASM_BINDGEN_VERSION" "worker $WORKER_BUILD_VERSION"; do
  read -r crate want <<< "$pin"
  if [ "$(lock_version "$crate")" != "$want" ]; then
    echo "$EXAMPLE/Cargo.lock has $crate $(lock_version "$crate"), expected $want (as Cargo.lock)" >&2
    exit 1
  fi
done
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
if [ "$have" != "$WASM_BINDGEN_VERSION" ]; then
  echo "wasm-bindgen CLI $have does not match Cargo.lock's wasm-bindgen $WASM_BINDGEN_VERSION: run scripts/setup.sh" >&2
  exit 1
fi
for tool in wasm-opt esbuild; do
  test -x "node_modules/.bin/$tool" || { echo "node_modules/.bin/$tool missing: run scripts/setup.sh (npm ci)" >&2; exit 1; }
done

cd "$EXAMPLE"
WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt" \
ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild" \
  worker-build --release "$@"
raw=$(wc -c < build/index_bg.wasm)
gz=$(gzip -9 -n -c build/index_bg.wasm | wc -c)
printf 'built %s/build/: index_bg.wasm %d bytes (%d gzip), index.js %d bytes\n' "$EXAMPLE" "$raw" "$gz" "$(wc -c < build/index.js)"
