#!/usr/bin/env bash
# A hot standby's takeover on PostgreSQL (issue 14), measured end to end with real processes:
#   - a throwaway PostgreSQL (tests/journal/pg/throwaway_pg.sh), a generated region
#     (slotmatch-gen --units U --days D), a primary slotmatchd --store postgresql://... and a
#     slotmatchd --standby on the same store;
#   - history first: slotmatch_wire_bench books and cancels on the primary for --load-s seconds,
#     while the first round's --standby follows the store;
#   - then, each round: a --standby that has laid the region out ahead (Engine::prelay) and
#     followed the store to its last event (journal::fold_forward), kill -9 of the primary, and at once `slotmatch --server PRIMARY,STANDBY
#     book --unit u0 --type u0-t0 --patient ...` (the client library's failover); the time from
#     the kill to that booking's acknowledgement is the takeover. The killed primary comes back
#     as the next standby, so the rounds alternate between the two.
# Prints each round and the median.
#
# Usage: bench/standby_takeover.sh [--build DIR] [--units U] [--days D] [--load-s S]
#                                  [--rounds N] [--keep]
# Needs the release build and Debian's postgresql (tools/install-deps.sh). Everything runs on
# 127.0.0.1 in a mktemp -d folder under ${TMPDIR:-/tmp}, removed at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build/release
units=100
days=30
load_s=5
rounds=3
keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --units) units=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --load-s) load_s=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "standby_takeover: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
slotmatchd=$build/tools/slotmatchd
cli=$build/tools/slotmatch
gen=$build/tools/slotmatch-gen
wire=$build/bench/slotmatch_wire_bench
for f in "$slotmatchd" "$cli" "$gen" "$wire"; do
  [[ -x $f ]] || { echo "standby_takeover: $f is missing: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
done
py=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/slotmatch-takeover.XXXXXX")
declare -A pid
cleanup() {
  for k in "${!pid[@]}"; do kill "${pid[$k]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash "$here/tests/journal/pg/throwaway_pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
  if [[ $keep -eq 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for LOG TEXT: until the log has the text (60 s at most).
wait_for() {
  for _ in $(seq 1 3000); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
  echo "standby_takeover: no '$2' in $1:" >&2; cat "$1" >&2; exit 1
}

echo "[standby_takeover] a throwaway PostgreSQL"
bash "$here/tests/journal/pg/throwaway_pg.sh" start "$work/pg" >/dev/null
store=$(cat "$work/pg/url")
"$gen" --units "$units" --days "$days" >"$work/region.yaml"
ports=("$(free_port)" "$(free_port)")
endpoint() { echo "tcp://127.0.0.1:${ports[$1]}"; }
# start NAME WHICH [--standby]: slotmatchd on port WHICH, its output in NAME.log
start() {
  local name=$1 which=$2; shift 2
  "$slotmatchd" --config "$work/region.yaml" --store "$store" --listen "$(endpoint "$which")" "$@" \
    >"$work/$name.log" 2>&1 &
  pid[$which]=$!
}

# A standby whose "followed the store" lines have stopped for 2 s: it has folded every event.
followed_all() {
  local n
  while :; do
    n=$(grep -c "standby: followed the store" "$1" || true)
    sleep 2
    [[ $(grep -c "standby: followed the store" "$1" || true) == "$n" ]] && break
  done
}

start primary-0 0
wait_for "$work/primary-0.log" "listening on"
start standby-1 1 --standby
wait_for "$work/standby-1.log" "slotmatchd: standby: another slotmatchd holds"
echo "[standby_takeover] history: $load_s s of book-then-cancel on the primary, the standby following"
"$wire" --server "$(endpoint 0)" --phases 2 --window 32 --duration-s "$load_s" --repetitions 1 \
  --warmup-s 0 >"$work/load.txt" 2>&1
grep -E "pipelined, window 32:" "$work/load.txt" || true

primary=0
times=()
for round in $(seq 1 "$rounds"); do
  standby=$((1 - primary))
  ((round == 1)) || start "standby-$round" "$standby" --standby
  wait_for "$work/standby-$round.log" "slotmatchd: standby: another slotmatchd holds"
  # A standby runs long before the primary fails: it has laid the region out by then, and
  # followed the store.
  wait_for "$work/standby-$round.log" "slotmatchd: standby: laid out the region's first publication ahead"
  grep -o "laid out the region's first publication ahead: .*" "$work/standby-$round.log" | sed 's/^/[standby_takeover] standby: /'
  wait_for "$work/standby-$round.log" "slotmatchd: standby: followed the store"
  followed_all "$work/standby-$round.log"
  grep "standby: followed the store" "$work/standby-$round.log" |
    awk -v r="$round" '{n++; s=$0} END {sub(/.*followed the store/, "followed the store", s); printf "[standby_takeover] standby: %d folds while it waited, the last: %s\n", n, s}'
  patient=$($py -c "
import sys; n=int(sys.argv[1]); d='1980010%d%03d' % (1 + n % 9, 100 + n)
s=0
for i,c in enumerate(d[2:]):
    v=int(c)*(2 if i%2==0 else 1); s+=v-9 if v>9 else v
print(d+str((10-s%10)%10))" "$round")
  t0=$(date +%s.%N)
  kill -9 "${pid[$primary]}"
  wait "${pid[$primary]}" 2>/dev/null || true
  "$cli" --server "$(endpoint 0),$(endpoint 1)" --timeout-ms 60000 book --unit u0 --type u0-t0 \
    --patient "$patient" >"$work/book-$round.json"
  t1=$(date +%s.%N)
  took=$(echo "$t1 - $t0" | bc)
  times+=("$took")
  recovered=$(grep -o "recovered [0-9]* events.* in [0-9.]* s[^:]*" "$work/standby-$round.log" | sed 's/ from [^ ]* in / in /')
  printf '[standby_takeover] round %d: kill -9 -> first acknowledged booking on the standby: %.3f s (%s)\n' \
    "$round" "$took" "$recovered"
  primary=$standby
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "takeover median of %d: %.3f s (machine: %s cores)\n", NR, a[int((NR+1)/2)], "'"$(nproc)"'"}'
