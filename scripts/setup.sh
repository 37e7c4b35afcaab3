#!/usr/bin/env bash
# Installs everything edgegate's build, demo and tests need, from the package registries only
# (crates.io, npm, Debian). Idempotent: tools already at the right version are kept, so a warm
# machine spends seconds here. Called by scripts/dev.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

say() { printf '==> %s\n' "$*"; }

# Rust: rust-toolchain.toml pins the toolchain, components and the wasm32 target; rustup
# installs them on first use. `rustup show` makes that happen now, visibly.
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install rustup (https://rustup.rs) first" >&2
  exit 1
fi
# Install it explicitly: auto-install may be off (RUSTUP_AUTO_INSTALL=0) on CI machines.
channel="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup toolchain list | grep -q "^$channel"; then
  say "rustup toolchain install $channel (+ rustfmt, clippy, wasm32-unknown-unknown)"
  rustup toolchain install "$channel" --profile minimal --component rustfmt,clippy \
    --target wasm32-unknown-unknown
fi
rustup show active-toolchain >/dev/null
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# Debian packages: cargo-installed tools (cargo-fuzz, cargo-mutants, worker-build) may link OpenSSL.
need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || need_apt+=(libssl-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt_install "cargo-installed tools link OpenSSL" "${need_apt[@]}"
fi

# wasm-bindgen CLI at exactly the version in Cargo.lock (scripts/build.sh and build-browser.sh).
# No --locked: one of its locked dependencies is not on the registry.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (several minutes on 2 cores)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet
fi

# worker-build (scripts/build-rust-example.sh: the example workers-rs app), at the version of the
# worker crate in Cargo.lock.
if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
  say "cargo install worker-build $WORKER_BUILD_VERSION (several minutes on 2 cores)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --quiet
fi

# npm: wrangler + workerd, miniflare, esbuild, binaryen's wasm-opt (versions in package-lock.json).
if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
