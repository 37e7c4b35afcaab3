#!/usr/bin/env bash
# Fuzzes edgegate with libFuzzer (cargo fuzz): the cookie parser, token splitting/decoding and
# the whole decision function, each for SECONDS (default 60), starting from the committed seed
# corpus in fuzz/corpus/<target>/. Any crash, panic, failed invariant or timeout fails the run.
#
#   bash scripts/fuzz.sh [SECONDS]                    # all three targets
#   FUZZ_TARGETS="token" bash scripts/fuzz.sh 300     # one target, longer
#   FUZZ_SANITIZER=address bash scripts/fuzz.sh       # with ASan (needs a nightly toolchain)
#
# By default the targets build with the project's pinned stable toolchain and no sanitizer:
# edgegate is safe Rust (a sanitizer would mostly slow it down) and the fuzz build keeps debug
# assertions, so integer overflow panics too. New inputs go to a scratch corpus, never into the
# committed seeds; a crashing input is kept in fuzz/artifacts/<target>/ and printed in hex.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

SECONDS_PER_TARGET="${1:-60}"
TARGETS="${FUZZ_TARGETS:-cookie token decision}"
SANITIZER="${FUZZ_SANITIZER:-none}"
say() { printf '==> %s\n' "$*"; }

# cargo-fuzz from crates.io (idempotent: kept when already installed).
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "cargo install cargo-fuzz --locked (a few minutes on 2 cores)"
  cargo install cargo-fuzz --locked --quiet
fi

toolchain=()
if [ "$SANITIZER" != none ]; then
  # Sanitizers need -Zsanitizer, i.e. nightly; this machine cannot download toolchains.
  rustup run nightly rustc --version >/dev/null 2>&1 || {
    echo "FUZZ_SANITIZER=$SANITIZER needs an installed nightly toolchain" >&2
    exit 1
  }
  toolchain=(+nightly)
fi

cd fuzz
say "build the fuzz targets (release, debug assertions, sanitizer: $SANITIZER)"
cargo "${toolchain[@]}" fuzz build --sanitizer "$SANITIZER" 2>&1 | { grep -v '^\s*Compiling' || true; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
for target in $TARGETS; do
  say "fuzz $target for ${SECONDS_PER_TARGET}s"
  mkdir -p "$scratch/$target" "artifacts/$target"
  log="$scratch/$target.log"
  # The scratch corpus comes first: libFuzzer writes new inputs there, and only reads the seeds.
  if cargo "${toolchain[@]}" fuzz run --sanitizer "$SANITIZER" "$target" \
      "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -dict=jwt.dict -print_final_stats=1 >"$log" 2>&1; then
    # One summary line: executions, exec/s, coverage (cov: edges, ft: features), corpus.
    last="$(grep -E '^#[0-9]+' "$log" | tail -n 1)"
    runs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
    echo "    $target: ${runs:-?} executions; last status: $last"
  else
    status=1
    echo "FUZZ FAILURE in $target; the end of libFuzzer's output:" >&2
    tail -n 60 "$log" >&2
    for f in artifacts/"$target"/*; do
      [ -f "$f" ] || continue
      echo "--- crashing input $f (hex):" >&2
      od -An -tx1 -v "$f" | head -n 40 >&2
    done
  fi
done
exit "$status"
