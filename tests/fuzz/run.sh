#!/usr/bin/env bash
# Runs the protocol's fuzz target (built by the fuzz preset) for a bounded time from the seed
# corpus, and fails when it finds a crash, a leak or a broken invariant. New inputs go into a
# temporary folder, so the repository's corpus stays as written.
#   tests/fuzz/run.sh SECONDS [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?seconds}
build=${2:-build/fuzz}
target="$build/tests/fuzz/slotmatch_fuzz_request"
[[ -x $target ]] || { echo "run.sh: no $target (cmake --preset fuzz && cmake --build --preset fuzz)"; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # crash files (crash-*) are written here; the log names them
if "$OLDPWD/$target" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
     "$work" "$OLDPWD/tests/fuzz/corpus" >"$work/fuzz.log" 2>&1; then
  grep -E '^Done|stat::number_of_executed_units|stat::new_units_added' "$work/fuzz.log" || true
  echo "fuzz: no crash in ${seconds} s ($(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -n 1))"
else
  rc=$?
  tail -n 40 "$work/fuzz.log"
  for f in crash-* leak-* timeout-*; do
    [[ -e $f ]] && { mkdir -p "$OLDPWD/build/fuzz-findings"; cp "$f" "$OLDPWD/build/fuzz-findings/"; }
  done
  echo "fuzz: FAILED (exit $rc); the input is in build/fuzz-findings/"
  exit 1
fi
