#!/usr/bin/env bash
# Mutation testing of the security-critical modules with cargo-mutants: natively, lib tests only.
# Too slow for every CI run, so scripts/test.sh does not call it; see docs/mutation.md.
#
#   scripts/mutants.sh                    every module in MODULES below
#   scripts/mutants.sh src/low_level/token.rs       only these files
#   scripts/mutants.sh --in-diff main     only mutants on lines changed since `main` (work tree)
#
# Env: MUTANTS_JOBS (mutants built at once, default 1), CARGO_BUILD_JOBS (default 1),
# MUTANTS_TIMEOUT (seconds per test run, default 30). Exits with cargo-mutants' code:
# 0 all caught, 2 some missed, 3 some timed out.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

CARGO_MUTANTS_VERSION=27.1.0
MODULES=(src/low_level/token.rs src/low_level/cookie.rs src/low_level/csrf.rs src/low_level/path.rs src/low_level/claims.rs src/low_level/keys.rs src/low_level/policy.rs src/low_level/headers.rs)

base=""
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --in-diff) base="${2:?--in-diff needs a git revision}"; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 64 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || files=("${MODULES[@]}")

if [ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
  echo "==> cargo install cargo-mutants $CARGO_MUTANTS_VERSION"
  cargo install --locked cargo-mutants --version "$CARGO_MUTANTS_VERSION"
fi

export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
jobs="${MUTANTS_JOBS:-1}"
# Mutants build in a scratch copy of the tree; a target dir of their own keeps the dependencies
# built between runs without taking the lock of the everyday target dir.
target_root="${CARGO_TARGET_DIR:-$PWD/target}"
case "$target_root" in /*) ;; *) target_root="$PWD/$target_root" ;; esac
mutants_dir="$target_root/mutants"
mkdir -p "$mutants_dir"
export CARGO_TARGET_DIR="$mutants_dir"

args=(--package edgegate --output "$mutants_dir" --jobs "$jobs"
  --jobserver-tasks "$((jobs * CARGO_BUILD_JOBS))" --timeout "${MUTANTS_TIMEOUT:-30}"
  # `--lib` for the build as well as the test run: no integration test (Wycheproof, attacks) is
  # built or run per mutant.
  --cargo-arg=--lib)
for f in "${files[@]}"; do
  args+=(--file "$f")
done
if [ -n "$base" ]; then
  diff="$mutants_dir/in-diff.patch"
  git diff "$base" -- "${files[@]}" >"$diff"
  args+=(--in-diff "$diff")
fi

out="$mutants_dir/mutants.out"
# An in-diff run with nothing to test writes no report: never print the last run's as this one's.
if [ -d "$out" ]; then
  rm -rf "$out.old"
  mv "$out" "$out.old"
fi
start=$(date +%s)
status=0
cargo mutants "${args[@]}" || status=$?
elapsed=$(($(date +%s) - start))
# The scratch tree's crate is built under a new path each run: drop it, keep the dependencies.
cargo clean --quiet --package edgegate --target-dir "$mutants_dir" || true

count() { # count OUTCOME FILE: mutants of FILE in OUTCOME.txt
  if [ -f "$out/$1.txt" ]; then grep -c "^$2:" "$out/$1.txt" || true; else echo 0; fi
}
pct() { # pct CAUGHT VIABLE
  if [ "$2" -gt 0 ]; then awk -v c="$1" -v v="$2" 'BEGIN { printf "%.1f%%", 100 * c / v }'; else echo "-"; fi
}
printf '\n%-16s %7s %7s %9s %8s %7s\n' module caught missed unviable timeout score
tc=0 tm=0 tu=0 tt=0
for f in "${files[@]}"; do
  c=$(count caught "$f") m=$(count missed "$f") u=$(count unviable "$f") t=$(count timeout "$f")
  tc=$((tc + c)) tm=$((tm + m)) tu=$((tu + u)) tt=$((tt + t))
  printf '%-16s %7d %7d %9d %8d %7s\n' "$f" "$c" "$m" "$u" "$t" "$(pct "$c" $((c + m + t)))"
done
printf '%-16s %7d %7d %9d %8d %7s\n' total "$tc" "$tm" "$tu" "$tt" "$(pct "$tc" $((tc + tm + tt)))"
echo "score = caught / (caught + missed + timeout); $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty'), $(date -u +%F), ${elapsed}s"
if [ -s "$out/missed.txt" ]; then
  echo "missed:"
  sed 's/^/  /' "$out/missed.txt"
fi
exit "$status"
