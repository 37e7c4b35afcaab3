#!/usr/bin/env bash
# Assembles the npm package `edgegate` (packages/edgegate/) from a build made by scripts/build.sh,
# without cargo: packages/edgegate/dist/
#   index.js       the Workers entry (js/worker.mjs): it imports the gate as
#                  `import module from './index_bg.wasm'`, which wrangler and Miniflare load as a
#                  compiled WebAssembly module;
#   node.js        the Node.js entry (`edgegate/node`, js/node.mjs): reads index_bg.wasm with fs;
#   shared.js      what both entries run (js/*.mjs and wasm-bindgen's glue: the same inputs as
#                  build/index.js), one copy; nothing is minified (the app's bundler minifies);
#   index_bg.wasm  the prebuilt gate (byte for byte build/index_bg.wasm);
#   index.d.ts, node.d.ts  the types (js/index.d.ts, js/node.d.ts).
# Then `npm pack packages/edgegate` makes the tarball; installing it needs no Rust and no build.
set -euo pipefail
cd "$(dirname "$0")/.."

STAGE="${CARGO_TARGET_DIR:-target}/edge-js"
PKG=packages/edgegate
fail() { echo "build-package: $*" >&2; exit 1; }

for f in build/index.js build/index_bg.wasm "$STAGE/wasm.js" "$STAGE/index_bg.wasm" "$STAGE/worker.mjs"; do
  [ -s "$f" ] || fail "$f missing: run scripts/build.sh first"
done
cmp -s build/index_bg.wasm "$STAGE/index_bg.wasm" \
  || fail "build/ and $STAGE/ come from different builds: run scripts/build.sh"
# The package is exactly the build: the JS sources must be the ones it bundled.
for f in js/*.mjs; do
  cmp -s "$f" "$STAGE/$(basename "$f")" || fail "$f changed since the last build: run scripts/build.sh"
done
test -x node_modules/.bin/esbuild || fail "node_modules/.bin/esbuild missing: run scripts/setup.sh (npm ci)"

crate="$(awk '/^\[package\]/ { p = 1; next } /^\[/ { p = 0 } p && /^version *=/ { gsub(/[" ]/, ""); sub(/^version=/, ""); print; exit }' Cargo.toml)"
version="$(node -p "JSON.parse(require('fs').readFileSync('$PKG/package.json', 'utf8')).version")"
[ -n "$crate" ] && [ "$crate" = "$version" ] \
  || fail "$PKG/package.json version $version differs from Cargo.toml's package version $crate"

rm -rf "$PKG/dist" && mkdir -p "$PKG/dist"
# Two entries, one shared chunk (`shared.js`): Node's built-ins stay imports (only node.js has them).
node_modules/.bin/esbuild "index=$STAGE/worker.mjs" "node=$STAGE/node.mjs" --bundle --splitting \
  --format=esm --platform=neutral --target=es2022 --external:./index_bg.wasm '--external:node:*' \
  --chunk-names=shared --outdir="$PKG/dist" --log-level=warning
cp build/index_bg.wasm "$PKG/dist/index_bg.wasm"
cp js/index.d.ts "$PKG/dist/index.d.ts"
cp js/node.d.ts "$PKG/dist/node.d.ts"
[ "$(cd "$PKG/dist" && ls | tr '\n' ' ')" = "index.d.ts index.js index_bg.wasm node.d.ts node.js shared.js " ] \
  || fail "dist/ holds unexpected files: $(ls "$PKG/dist")"
grep -q '^import module from "./index_bg.wasm";$' "$PKG/dist/index.js" \
  || fail "dist/index.js does not import ./index_bg.wasm as a module"
grep -q 'index_bg.wasm' "$PKG/dist/shared.js" && fail "dist/shared.js names the wasm: only the entries may load it"
grep -q '^import.*"node:' "$PKG/dist/index.js" "$PKG/dist/shared.js" && fail "the Workers entry imports a Node built-in"

raw=$(wc -c < "$PKG/dist/index_bg.wasm")
gz=$(gzip -9 -n -c "$PKG/dist/index_bg.wasm" | wc -c)
printf 'built %s/dist/ (edgegate %s): index_bg.wasm %d bytes (%d gzip), index.js %d, node.js %d, shared.js %d bytes\n' \
  "$PKG" "$version" "$raw" "$gz" "$(wc -c < "$PKG/dist/index.js")" "$(wc -c < "$PKG/dist/node.js")" "$(wc -c < "$PKG/dist/shared.js")"
