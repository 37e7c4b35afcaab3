#!/usr/bin/env bash
# Builds the decode-only browser module into www/pkg/ (an npm-ready ES module package):
#   edgegate.js (ES module, `--target web`), edgegate_bg.wasm (wasm-opt -Oz), edgegate.d.ts,
#   package.json. Same crate as the gate, but `--no-default-features --features browser`: no
#   jsonwebtoken, no crypto, no `worker`. Uses only tools installed by scripts/setup.sh
#   (wasm-bindgen CLI at Cargo.lock's version, binaryen's wasm-opt from npm).
# Fails if a signing/verifying or worker crate is in the browser build's dependency tree, and
# prints the module's size (raw and gzip).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

OUT=www/pkg
TARGET=wasm32-unknown-unknown
# A target dir of its own: the gate's release build writes the same target/<triple>/release/
# edgegate.wasm path (with other features), and both may run at the same time.
TARGET_DIR=target/browser
WASM="$TARGET_DIR/$TARGET/release/edgegate.wasm"

have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
if [ "$have" != "$WASM_BINDGEN_VERSION" ]; then
  echo "wasm-bindgen CLI $have does not match Cargo.lock's wasm-bindgen $WASM_BINDGEN_VERSION: run scripts/setup.sh" >&2
  exit 1
fi
test -x node_modules/.bin/wasm-opt || { echo "node_modules/.bin/wasm-opt missing: run scripts/setup.sh (npm ci)" >&2; exit 1; }

banned='^(jsonwebtoken|rsa|p256|p384|ed25519-dalek|curve25519-dalek|hmac|sha2|ring|getrandom|worker|worker-sys|web-sys) '
found="$(cargo tree -p edgegate --no-default-features --features browser --target "$TARGET" -e normal --prefix none \
  | sort -u | grep -E "$banned" || true)"
if [ -n "$found" ]; then
  echo "the browser build must not depend on:" >&2
  echo "$found" >&2
  exit 1
fi

# Size first (native release builds keep opt-level 3; see Cargo.toml).
CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
  cargo build --release --target "$TARGET" --target-dir "$TARGET_DIR" --lib --no-default-features --features browser --quiet

rm -rf "$OUT"
wasm-bindgen --target web --out-dir "$OUT" --out-name edgegate "$WASM"
node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$OUT/edgegate_bg.wasm" -o "$OUT/edgegate_bg.wasm"

version="$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)"
cat > "$OUT/package.json" <<JSON
{
  "name": "edgegate-decode",
  "version": "$version",
  "description": "Decode-only JWT reader from edgegate, for browsers. It NEVER verifies: decoding is not verifying.",
  "license": "Apache-2.0",
  "type": "module",
  "main": "./edgegate.js",
  "module": "./edgegate.js",
  "types": "./edgegate.d.ts",
  "exports": {
    ".": {
      "types": "./edgegate.d.ts",
      "default": "./edgegate.js"
    },
    "./edgegate_bg.wasm": "./edgegate_bg.wasm"
  },
  "files": [
    "edgegate.js",
    "edgegate.d.ts",
    "edgegate_bg.wasm",
    "edgegate_bg.wasm.d.ts"
  ],
  "sideEffects": false
}
JSON

raw=$(wc -c < "$OUT/edgegate_bg.wasm")
gz=$(gzip -9 -n -c "$OUT/edgegate_bg.wasm" | wc -c)
js_raw=$(wc -c < "$OUT/edgegate.js")
js_gz=$(gzip -9 -n -c "$OUT/edgegate.js" | wc -c)
printf 'built %s: edgegate_bg.wasm %d bytes (%d gzip), edgegate.js %d bytes (%d gzip)\n' \
  "$OUT" "$raw" "$gz" "$js_raw" "$js_gz"
