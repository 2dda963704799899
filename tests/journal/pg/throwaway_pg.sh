#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: initdb into a directory of its own under /tmp
# (mktemp -d), start it on a free loopback port (its socket there too), create the database
# "slotmatch", and write its URI to DIR/url. Usage: throwaway_pg.sh start DIR | stop DIR.
# DIR (in the build tree) holds only the URI and where the server lives: as root the server
# runs as "postgres" (initdb refuses root), which cannot enter a checkout under a 0700 folder
# such as /root, so its own directory is made under /tmp and given to postgres, and removed
# at stop. Never touches a system cluster. SLOTMATCH_PG_OPTIONS adds server options
# (bench/durable_vs_peers.sh: "-c max_connections=300").
set -euo pipefail
cmd=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/initdb" ]] || { echo "throwaway_pg: no PostgreSQL server (apt-get install postgresql)"; exit 1; }
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Stops the server DIR names, if any, and removes its directory and DIR.
stop() {
  local home
  home=$(cat "$dir/home" 2>/dev/null || true)
  if [[ -n "$home" && -d "$home/data" ]]; then
    as_pg "$bin/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null 2>&1 ||
      as_pg "$bin/pg_ctl" -D "$home/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  [[ -n "$home" && "$home" == /tmp/slotmatch-pg.* ]] && rm -rf "$home"
  rm -rf "$dir"
}

case $cmd in
  start)
    stop
    mkdir -p "$dir"
    home=$(mktemp -d /tmp/slotmatch-pg.XXXXXX)
    echo "$home" >"$dir/home"
    [[ $(id -u) -eq 0 ]] && chown postgres "$home"
    as_pg "$bin/initdb" -D "$home/data" -A trust -U slotmatch >"$home/initdb.log" 2>&1 ||
      { cat "$home/initdb.log"; exit 1; }
    for attempt in 1 2 3 4 5; do
      port=$((20000 + RANDOM % 40000))
      if as_pg "$bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 30 \
           -o "-c listen_addresses=127.0.0.1 -p $port -k $home -c fsync=on -c synchronous_commit=on ${SLOTMATCH_PG_OPTIONS:-}" \
           start >/dev/null; then
        as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U slotmatch slotmatch
        echo "postgresql://slotmatch@127.0.0.1:$port/slotmatch" >"$dir/url"
        echo "throwaway_pg: $(cat "$dir/url") (in $home)"
        exit 0
      fi
    done
    echo "throwaway_pg: the server did not start:"; cat "$home/server.log"; exit 1
    ;;
  stop)
    stop
    ;;
  *) echo "usage: throwaway_pg.sh start|stop DIR"; exit 2 ;;
esac
