#!/usr/bin/env bash
# Quick start: install what is missing, build Release, and run the main job. Until the ZeroMQ
# server lands that is the demo: the demo region's lint and summary, then a scripted booking
# session on the embedded engine.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake --preset release -DSLOTMATCH_BUILD_TESTS=OFF -DSLOTMATCH_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release
echo
build/release/tools/slotmatch-demo --config tools/regions/demo.yaml "$@"
