#!/usr/bin/env bash
# Quick start: install what is missing, build with tests, run ctest, then build and run the
# same suite under ThreadSanitizer. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
jobs=$(nproc)

echo "== build and test (debug)"
cmake --preset debug -DSLOTMATCH_BUILD_TESTS=ON >/dev/null
cmake --build --preset debug
ctest --preset debug -j "$jobs"

echo "== build and test under ThreadSanitizer"
cmake --preset tsan -DSLOTMATCH_BUILD_TESTS=ON >/dev/null
cmake --build --preset tsan
ctest --preset tsan -j "$jobs"
