# Sourced by the scripts: PATH for cargo-installed tools, quiet wrangler, pinned tool versions.
export PATH="$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)"
export WASM_BINDGEN_VERSION
# worker-build (the example workers-rs app's build tool) belongs to the worker crate in Cargo.lock.
WORKER_BUILD_VERSION="$(awk '/^name = "worker"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)"
export WORKER_BUILD_VERSION

# apt_install WHY PKG...: installs Debian packages (root + apt-get), or explains what to install.
apt_install() {
  local why="$1"
  shift
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    printf '==> apt-get install %s (%s)\n' "$*" "$why"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "missing Debian packages: $* ($why); install them with apt-get" >&2
    return 1
  fi
}
