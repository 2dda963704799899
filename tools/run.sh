#!/usr/bin/env bash
# Quick start: install what is missing, build Release, and serve the demo region with slotmatchd
# on tcp://127.0.0.1:5555 (override with SLOTMATCH_LISTEN). Every change is journalled to a
# SQLite store under data/ (override with SLOTMATCH_DATA) before it is acknowledged; started
# again, slotmatchd recovers from it. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake --preset release -DSLOTMATCH_BUILD_TESTS=OFF -DSLOTMATCH_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release

listen=${SLOTMATCH_LISTEN:-tcp://127.0.0.1:5555}
data=${SLOTMATCH_DATA:-data}
mkdir -p "$data"
bin=build/release/tools
cat <<INFO

slotmatchd serves the demo region (tools/region/demo.yaml) on $listen,
journalling every change to $data/slotmatch.sqlite (it recovers from there on the next start).
Try, in another shell:
  $bin/slotmatch --server $listen find --unit se2321000131-E000000000101 --channel web --limit 3
  $bin/slotmatch --server $listen book --unit se2321000131-E000000000101 --type lerum-nybesok --patient 19121212-1212 --channel web
Stop with Ctrl-C.

INFO
exec "$bin/slotmatchd" --config tools/region/demo.yaml --listen "$listen" \
    --store "sqlite:$data/slotmatch.sqlite" "$@"
