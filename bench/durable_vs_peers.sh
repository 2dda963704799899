#!/usr/bin/env bash
# The durable path against the disk's limit and the usual peers, in one run on one disk:
#   - the limit: fdatasync of 4 KiB (dd oflag=dsync into a file written before), so N requests in
#     flight can at best be acknowledged N per sync;
#   - slotmatchd without a store: the same requests answered from memory, no disk, at each N
#     and one at a time (its round trip R0); a durable figure at N in flight cannot pass
#     N / (R0 + fdatasync) (Little's law) nor the best rate without a store (the CPU);
#   - slotmatchd --store sqlite (persisted: a reply leaves once its events are committed), the
#     staff book-then-cancel mix of slotmatch_wire_bench, N single-operation requests in flight;
#   - Redis (appendfsync always), a Lua script that books a free slot or cancels a booked one,
#     N clients of redis-benchmark;
#   - PostgreSQL (synchronous_commit=on), UPDATE ... RETURNING by id that books or cancels,
#     N clients of pgbench;
# for N = 32 and 256; then slotmatch's open-loop latency from request to durable reply at half
# its highest durable rate (and without a store at the same rate), against the fdatasync
# latency of the same run.
#
# Usage: bench/durable_vs_peers.sh [--build DIR] [--duration-s S] [--channel staff|web]
#                                  [--in-flight "32 256"] [--keep]
# Needs the release build (cmake --preset release && cmake --build --preset release) and
# Debian's redis-server and postgresql (tools/install-deps.sh installs them).
# Everything runs on 127.0.0.1 in a mktemp -d folder under ${TMPDIR:-/tmp}, removed at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build/release
duration=5
channel=staff
in_flight="32 256"
keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --duration-s) duration=$2; shift 2 ;;
    --channel) channel=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "durable_vs_peers: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
slotmatchd=$build/tools/slotmatchd
gen=$build/tools/slotmatch-gen
wire=$build/bench/slotmatch_wire_bench
for f in "$slotmatchd" "$gen" "$wire"; do
  [[ -x $f ]] || { echo "durable_vs_peers: $f is missing: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
done
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
  { echo "durable_vs_peers: no redis-server (tools/install-deps.sh)" >&2; exit 2; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $pgbin/pgbench ]] || { echo "durable_vs_peers: no PostgreSQL (tools/install-deps.sh)" >&2; exit 2; }
py=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/slotmatch-durable.XXXXXX")
server_pid= redis_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  bash "$here/tests/journal/pg/throwaway_pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
  if [[ $keep -eq 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
say() { echo "[durable_vs_peers] $*" >&2; }
# The median of one figure of a slotmatch_wire_bench --json file: figure FILE PHASE NAME.
figure() {
  $py -c 'import json,sys
f=[x for x in json.load(open(sys.argv[1]))["figures"] if x["phase"].startswith(sys.argv[2]) and x["figure"]==sys.argv[3]]
m=f[0]["median"]; print(round(m) if sys.argv[3]!="p99" else round(m,1))' "$@"
}
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the limit: 4 KiB fdatasync on this disk
say "fdatasync of 4 KiB in $work ($(df -h --output=source,fstype "$work" | tail -1 | tr -s ' '))"
dd if=/dev/zero of="$work/sync.bin" bs=4k count=2000 status=none
sync_us=$(dd if=/dev/zero of="$work/sync.bin" bs=4k count=2000 oflag=dsync conv=notrunc 2>&1 |
  $py -c 'import sys,re; t=[l for l in sys.stdin if " s, " in l][0]; print(round(float(re.search(r"([0-9.]+) s,", t).group(1))/2000*1e6, 1))')
say "fdatasync: $sync_us µs"

# ---- slotmatchd: starts it on the region with the options given (port in $port)
$gen --units 100 --days 30 >"$work/region.yaml"
start_slotmatchd() {
  port=$(free_port)
  "$slotmatchd" --config "$work/region.yaml" --listen "tcp://127.0.0.1:$port" "$@" \
    >"$work/slotmatchd.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do grep -q "listening on" "$work/slotmatchd.log" && break; sleep 0.1; done
  grep -q "listening on" "$work/slotmatchd.log" || { cat "$work/slotmatchd.log"; exit 1; }
}
stop_slotmatchd() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }
# The same mix at each N into array $1, files named $2-N.
pipelined() {
  local -n into=$1
  local n
  for n in $in_flight; do
    say "slotmatch ($2): $n in flight, $duration s x 3"
    "$wire" --server "tcp://127.0.0.1:$port" --channel "$channel" --phases 2 --window "$n" \
      --duration-s "$duration" --repetitions 3 --json "$work/$2-$n.json" >"$work/$2-$n.txt"
    into[$n]=$(figure "$work/$2-$n.json" 2 operations/s)
  done
}

# ---- slotmatchd, persisted on SQLite
say "slotmatchd --store sqlite"
start_slotmatchd --store "sqlite:$work/slotmatch.sqlite"
declare -A sm
pipelined sm persisted
best=0; for n in $in_flight; do (( sm[$n] > best )) && best=${sm[$n]}; done
rate=$((best / 2))
say "slotmatch: open loop at $rate requests/s (half of $best)"
"$wire" --server "tcp://127.0.0.1:$port" --channel "$channel" --phases 4 --rate "$rate" \
  --duration-s "$duration" --repetitions 3 --json "$work/persisted-open.json" >"$work/persisted-open.txt"
p99=$(figure "$work/persisted-open.json" 4 p99)
stop_slotmatchd

# ---- slotmatchd without a store: the request path's own ceiling and latency floor, no disk
say "slotmatchd without a store"
start_slotmatchd
declare -A bare
pipelined bare memory
say "slotmatch (memory): open loop at $rate requests/s"
"$wire" --server "tcp://127.0.0.1:$port" --channel "$channel" --phases 4 --rate "$rate" \
  --duration-s "$duration" --repetitions 3 --json "$work/memory-open.json" >"$work/memory-open.txt"
bare_p99=$(figure "$work/memory-open.json" 4 p99)
say "slotmatch (memory): one request at a time, $duration s x 3"
"$wire" --server "tcp://127.0.0.1:$port" --channel "$channel" --phases 1 \
  --duration-s "$duration" --repetitions 3 --json "$work/memory-one.json" >"$work/memory-one.txt"
r0=$(figure "$work/memory-one.json" 1 p50)
stop_slotmatchd

# ---- Redis, appendfsync always
rport=$(free_port)
mkdir "$work/redis"
redis-server --port "$rport" --bind 127.0.0.1 --dir "$work/redis" --appendonly yes \
  --appendfsync always --save "" --daemonize no --protected-mode yes >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
# Books the slot (KEYS[1]) for the patient (ARGV[1]) when it is free, else cancels its booking.
sha=$(redis-cli -p "$rport" SCRIPT LOAD "local b = redis.call('HGET', KEYS[1], 'booking')
if b then redis.call('HDEL', KEYS[1], 'booking', 'patient') return 0 end
local id = redis.call('INCR', 'booking_seq')
redis.call('HSET', KEYS[1], 'booking', id, 'patient', ARGV[1]) return id")
declare -A rd
for n in $in_flight; do
  say "redis: $n clients"
  requests=$((n * 400 > 40000 ? n * 400 : 40000))
  rd[$n]=$(redis-benchmark -p "$rport" -c "$n" -n "$requests" -r 100000 --csv \
    EVALSHA "$sha" 1 "slot:__rand_int__" "19121212__rand_int__" 2>/dev/null |
    $py -c 'import sys,csv; rows=[r for r in csv.reader(sys.stdin) if r and r[0]!="test"]; print(round(float(rows[-1][1])))')
done
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=

# ---- PostgreSQL, synchronous_commit=on (from /: as root the server's tools run as postgres,
# which cannot enter a checkout under a 0700 folder such as the one mktemp -d makes)
cd /
say "postgresql: a throwaway server"
max_in_flight=0; for n in $in_flight; do (( n > max_in_flight )) && max_in_flight=$n; done
SLOTMATCH_PG_OPTIONS="-c max_connections=$((max_in_flight + 20))" \
  bash "$here/tests/journal/pg/throwaway_pg.sh" start "$work/pg" >/dev/null
url=$(cat "$work/pg/url")
"$pgbin/psql" -q "$url" -c "CREATE TABLE slots (id integer PRIMARY KEY, booking bigint, patient bigint);
  INSERT INTO slots SELECT g, NULL, NULL FROM generate_series(1, 100000) g; CREATE SEQUENCE booking_seq;" \
  -c "VACUUM ANALYZE slots"
cat >"$work/book.sql" <<'SQL'
\set id random(1, 100000)
UPDATE slots SET booking = CASE WHEN booking IS NULL THEN nextval('booking_seq') END,
                 patient = CASE WHEN booking IS NULL THEN 191212120000 + :id END
 WHERE id = :id RETURNING booking;
SQL
declare -A pg
for n in $in_flight; do
  say "postgresql: $n clients, $duration s"
  "$pgbin/pgbench" -n -M prepared -c "$n" -j 2 -T "$duration" -f "$work/book.sql" "$url" \
    >"$work/pgbench-$n.txt" 2>&1 || { cat "$work/pgbench-$n.txt" >&2; exit 1; }
  pg[$n]=$($py -c 'import sys,re; print(round(float(re.search(r"tps = ([0-9.]+)", open(sys.argv[1]).read()).group(1))))' "$work/pgbench-$n.txt")
done

# ---- the table
$py - "$sync_us" "$p99" "$rate" "$in_flight" "$(for n in $in_flight; do echo "$n ${sm[$n]} ${rd[$n]} ${pg[$n]} ${bare[$n]}"; done)" "$bare_p99" "$r0" <<'PY'
import sys
sync_us, p99, rate, ns, rows = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
bare_p99, r0_us = float(sys.argv[6]), float(sys.argv[7])
best_bare = max(int(line.split()[4]) for line in rows.splitlines())
print(f"machine: {open('/proc/cpuinfo').read().count('processor')} cores; fdatasync of 4 KiB: {sync_us} µs")
print()
print("| in flight | limit (N per fdatasync) | slotmatch | Redis | PostgreSQL | slotmatch / limit | / Redis | / PostgreSQL | without a store | its / limit | bound | slotmatch / bound |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for line in rows.splitlines():
    n, sm, rd, pg, bare = (int(x) for x in line.split())
    limit = n / (sync_us / 1e6)
    bound = min(n / ((r0_us + sync_us) / 1e6), best_bare)
    print(f"| {n} | {limit:,.0f} | {sm:,} | {rd:,} | {pg:,} | {sm/limit:.2f} | {sm/rd:.2f} | "
          f"{sm/pg:.2f} | {bare:,} | {bare/limit:.2f} | {bound:,.0f} | {sm/bound:.2f} |")
print()
print("without a store: the same requests answered from memory alone (slotmatchd without --store).")
print(f"bound: the lower of N / (R0 + fdatasync) and the best rate without a store ({best_bare:,}).")
print(f"R0 = {r0_us:,.1f} µs, the median round trip without a store, one request at a time. With N")
print("in flight a durable request takes at least R0 plus one fdatasync (Little's law), and no")
print("durable figure can pass what the CPU does without a disk. The limit (N per fdatasync)")
print("would need a request path that costs nothing.")
print()
print(f"slotmatch open loop at {rate:,} requests/s: p99 request -> durable reply {p99:,.1f} µs "
      f"= {p99/sync_us:.2f} x fdatasync; without a store, request -> reply {bare_p99:,.1f} µs "
      f"= {bare_p99/sync_us:.2f} x fdatasync")
PY
