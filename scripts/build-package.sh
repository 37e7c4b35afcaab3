#!/usr/bin/env bash
# Assembles the npm package `edgegate` (packages/edgegate/) from a build made by scripts/build.sh,
# without cargo: packages/edgegate/dist/
#   index.js       the JS entry (js/*.mjs) bundled with wasm-bindgen's glue — the same inputs as
#                  build/index.js, not minified (the app's bundler minifies); it imports the gate as
#                  `import module from './index_bg.wasm'`, which wrangler and Miniflare load as a
#                  compiled WebAssembly module;
#   index_bg.wasm  the prebuilt gate (byte for byte build/index_bg.wasm);
#   index.d.ts     the types (js/index.d.ts).
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
node_modules/.bin/esbuild "$STAGE/worker.mjs" --bundle --format=esm --platform=neutral --target=es2022 \
  --external:./index_bg.wasm --outfile="$PKG/dist/index.js" --log-level=warning
cp build/index_bg.wasm "$PKG/dist/index_bg.wasm"
cp js/index.d.ts "$PKG/dist/index.d.ts"
grep -q '^import module from "./index_bg.wasm";$' "$PKG/dist/index.js" \
  || fail "dist/index.js does not import ./index_bg.wasm as a module"

raw=$(wc -c < "$PKG/dist/index_bg.wasm")
gz=$(gzip -9 -n -c "$PKG/dist/index_bg.wasm" | wc -c)
printf 'built %s/dist/ (edgegate %s): index_bg.wasm %d bytes (%d gzip), index.js %d bytes\n' \
  "$PKG" "$version" "$raw" "$gz" "$(wc -c < "$PKG/dist/index.js")"
