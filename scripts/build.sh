#!/usr/bin/env bash
# Builds the worker (release wasm + JS shim) into build/ with worker-build, using only tools
# installed from the package registries (see scripts/setup.sh): no downloads at build time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt" \
ESBUILD_BIN="$PWD/node_modules/.bin/esbuild" \
  worker-build --release "$@"
