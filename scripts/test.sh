#!/usr/bin/env bash
# Runs every test: formatting and lints (native + wasm32), native unit/integration/doc tests,
# the worker inside workerd against the real origin, the npm package, and an offline deploy dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
say() { printf '\n==> %s\n' "$*"; }

say "cargo fmt --check"
cargo fmt --all -- --check
(cd examples/workers-rs && cargo fmt -- --check)

say "cargo clippy (native, all targets) and (wasm32: the JS entry's exports, the workers-rs module, its example app)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy -p edgegate --all-targets --features workers-rs --quiet -- -D warnings
cargo clippy -p edgegate --lib --target wasm32-unknown-unknown --quiet -- -D warnings
cargo clippy -p edgegate --lib --target wasm32-unknown-unknown --no-default-features --features workers-rs --quiet -- -D warnings
(cd examples/workers-rs && cargo clippy --target wasm32-unknown-unknown --locked --quiet -- -D warnings)
(cd fuzz && cargo clippy --all-targets --quiet -- -D warnings)

say "native tests (cargo test --workspace; the workers-rs module's pure half)"
cargo test --workspace
cargo test -p edgegate --lib --features workers-rs workers::

say "native benchmarks, one iteration each so they cannot rot (numbers: cargo bench -p edgegate)"
cargo test -p edgegate --bench gate

say "fuzzing: cookie, token, decision (libFuzzer via cargo fuzz, ${FUZZ_SECONDS:-30}s each)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

say "browser module: lints and native tests (decode-only build, no gate)"
cargo clippy -p edgegate --lib --no-default-features --features browser --target wasm32-unknown-unknown --quiet -- -D warnings
cargo clippy -p edgegate --all-targets --features browser --quiet -- -D warnings
cargo test -p edgegate --lib --no-default-features --features browser
cargo test -p edgegate --doc --no-default-features --features browser

say "the JS entry's types (tsc: js/index.d.ts against js/types.check.ts)"
node_modules/.bin/tsc -p js

say "build the worker (release wasm), the example workers-rs app (worker-build) and the reference origin"
bash scripts/build.sh
bash scripts/build-rust-example.sh
cargo build -p edgegate-origin --quiet

say "worker tests inside workerd (Miniflare) against the real origin, and the example workers-rs app"
node --test --test-concurrency=1 --test-timeout=60000 tests/worker/

say "the npm package: assemble packages/edgegate/dist/, npm pack, install into fresh projects (no Rust on PATH), wrangler dry run, contract slice in workerd (every form, ORIGIN bound too), a Vitest project's own tests, the same slice on Node.js (edgegate/node)"
bash scripts/build-package.sh
node --test --test-concurrency=1 --test-timeout=120000 tests/package/

say "browser module: build www/pkg, then test it in Node and headless Chromium"
bash scripts/setup-browser.sh
bash scripts/build-browser.sh
node --test --test-timeout=120000 tests/browser/

say "the README's run command, end to end (scripts/dev.sh --smoke)"
GATE_PORT=18787 ORIGIN_PORT=18788 bash scripts/dev.sh --smoke

say "deploy readiness: wrangler deploy --dry-run (offline)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# The build ran above; skip wrangler's [build] command to avoid a second build.
npx wrangler deploy --dry-run --outdir "$out" 2>&1 | tail -n 5
test -s "$out/index.js" || { echo "dry run produced no bundle" >&2; exit 1; }

say "benchmarks, quick (tiny counts: exercises the harness; figures come from scripts/bench.sh)"
bash scripts/bench.sh --quick

say "all tests passed"
