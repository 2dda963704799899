#!/usr/bin/env bash
# Quick start: install what is missing, build with tests, run ctest, fuzz the protocol for a
# minute (libFuzzer with ASan and UBSan), build the release preset as a user would and run a
# short benchmark smoke (bench/durable_vs_peers.sh for a second per system), then build and run
# the same suite under ThreadSanitizer (whose ctest summary ends the output). Exits non-zero
# when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
jobs=$(nproc)

echo "== build and test (debug)"
cmake --preset debug -DSLOTMATCH_BUILD_TESTS=ON >/dev/null
cmake --build --preset debug
ctest --preset debug -j "$jobs"

echo "== fuzz the protocol for a minute (libFuzzer, ASan, UBSan; tests/fuzz)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
tests/fuzz/run.sh 60

echo "== the user's build (release preset, tests on, no -Werror) and a benchmark smoke"
cmake --preset release >/dev/null
cmake --build --preset release
build/release/bench/slotmatch_codec_bench --benchmark_min_time=0.01 >/dev/null
bench/durable_vs_peers.sh --duration-s 1 --in-flight 32

echo "== build and test under ThreadSanitizer"
cmake --preset tsan -DSLOTMATCH_BUILD_TESTS=ON >/dev/null
cmake --build --preset tsan
ctest --preset tsan -j "$jobs"
