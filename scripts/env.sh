# Sourced by the scripts: PATH for cargo-installed tools, quiet wrangler, pinned tool versions.
export PATH="$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
export WORKER_BUILD_VERSION=0.8.7
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)"
export WASM_BINDGEN_VERSION
