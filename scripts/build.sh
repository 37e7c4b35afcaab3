#!/usr/bin/env bash
# Builds the Worker into build/: index_bg.wasm (the decision core, release, size-first) and
# index.js (the hand-written JS entry in js/ bundled with wasm-bindgen's glue). Uses only tools
# installed from the package registries by scripts/setup.sh (wasm-bindgen CLI at Cargo.lock's
# version, binaryen's wasm-opt and esbuild from npm): no downloads at build time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

TARGET=wasm32-unknown-unknown
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
WASM="$TARGET_DIR/$TARGET/release/edgegate.wasm"
STAGE="$TARGET_DIR/edge-js"

have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
if [ "$have" != "$WASM_BINDGEN_VERSION" ]; then
  echo "wasm-bindgen CLI $have does not match Cargo.lock's wasm-bindgen $WASM_BINDGEN_VERSION: run scripts/setup.sh" >&2
  exit 1
fi
for tool in wasm-opt esbuild; do
  test -x "node_modules/.bin/$tool" || { echo "node_modules/.bin/$tool missing: run scripts/setup.sh (npm ci)" >&2; exit 1; }
done

# Size first for the module (Cargo.toml keeps opt-level 3 for native release builds and for the
# two hot crates, sha2 and base64). Panic locations of dependencies carry their absolute registry
# path: shorten it (smaller module, no build machine paths in the artifact); later flags win, so
# the registry's index folder (`index.crates.io-<hash>`) is dropped too.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=${EDGEGATE_OPT_LEVEL:-z}
remap="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src=crates"
for index in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*; do
  [ -d "$index" ] && remap+=" --remap-path-prefix=$index=crates"
done
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$remap --remap-path-prefix=$PWD=edgegate"
cargo build --release --target "$TARGET" --target-dir "$TARGET_DIR" --lib --quiet

rm -rf "$STAGE" && mkdir -p "$STAGE" build
wasm-bindgen --target web --no-typescript --out-dir "$STAGE" --out-name wasm "$WASM"
# Never newer encodings than workerd supports; no name section (the request path has no panics to
# trace); EDGEGATE_KEEP_WASM_NAMES=1 keeps it (e.g. to profile with named frames).
strip=(--strip-debug --strip-producers)
[ "${EDGEGATE_KEEP_WASM_NAMES:-0}" = 1 ] && strip=(--debuginfo)
node_modules/.bin/wasm-opt "$STAGE/wasm_bg.wasm" -o "$STAGE/index_bg.wasm" \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types ${EDGEGATE_WASM_OPT:--Oz} "${strip[@]}"
cp js/*.mjs "$STAGE/"
node_modules/.bin/esbuild "$STAGE/worker.mjs" --bundle --format=esm --platform=neutral --target=es2022 \
  $([ "${EDGEGATE_KEEP_WASM_NAMES:-0}" = 1 ] || echo --minify) --external:./index_bg.wasm --outfile=build/index.js --log-level=warning
cp "$STAGE/index_bg.wasm" build/index_bg.wasm
cp js/index.d.ts build/index.d.ts
rm -f build/package.json && rm -rf build/worker
raw=$(wc -c < build/index_bg.wasm)
gz=$(gzip -9 -n -c build/index_bg.wasm | wc -c)
printf 'built build/: index_bg.wasm %d bytes (%d gzip), index.js %d bytes\n' "$raw" "$gz" "$(wc -c < build/index.js)"
