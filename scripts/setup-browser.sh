#!/usr/bin/env bash
# Installs what the browser tests need, from the package registries only (Debian, npm):
# Debian's `chromium` (driven headless by playwright-core through `executablePath`; playwright's
# own browser download is never used) and the npm packages in package-lock.json.
# Idempotent: a machine that has both spends well under a second here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

say() { printf '==> %s\n' "$*"; }

chromium_bin() {
  for c in "${CHROMIUM_BIN:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

if ! chromium_bin >/dev/null; then
  apt_install "used headless by the browser tests" chromium
fi
chromium_bin >/dev/null || { echo "chromium still missing after apt-get" >&2; exit 1; }

# playwright-core (pinned in package.json / package-lock.json): drives Chromium over CDP; it
# downloads nothing by itself.
if [ ! -f node_modules/playwright-core/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci (playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error
fi
