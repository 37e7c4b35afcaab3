#!/usr/bin/env bash
# Builds the worker (release wasm + JS shim) into build/ with worker-build, using only tools
# installed from the package registries (see scripts/setup.sh): no downloads at build time.
#
# worker-build runs wasm-opt (-Oz, see Cargo.toml) and keeps the wasm "name" section (function
# names for stack traces, ~115 KB raw / ~25 KB gzip). edgegate's request path has no panics to
# trace, so a second wasm-opt pass strips the section and optimises for size once more (a second
# -Oz still finds ~2 KB gzip); EDGEGATE_KEEP_WASM_NAMES=1 skips it (e.g. to profile with named
# frames).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# Panic locations of dependencies carry their absolute registry path; shorten it (smaller module,
# and no build machine paths in the artifact).
# Size first for the worker (Cargo.toml keeps opt-level 3 for native release builds and for the
# two hot crates, sha2 and base64).
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
# The registry's index folder (`index.crates.io-<hash>`) is dropped too: later flags win.
remap="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src=crates"
for index in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*; do
  [ -d "$index" ] && remap+=" --remap-path-prefix=$index=crates"
done
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$remap --remap-path-prefix=$PWD=edgegate"
WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt" \
ESBUILD_BIN="$PWD/node_modules/.bin/esbuild" \
  worker-build --release "$@"
if [ "${EDGEGATE_KEEP_WASM_NAMES:-0}" != 1 ]; then
  # The same feature set worker-build enables (never newer encodings than workerd supports).
  node_modules/.bin/wasm-opt build/index_bg.wasm -o build/index_bg.wasm \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
    -Oz --strip-debug --strip-producers
fi
