#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: initdb into DIR, start it on a free loopback
# port (its socket in DIR too), create the database "slotmatch", and write its URI to DIR/url.
# Usage: throwaway_pg.sh start DIR | stop DIR. As root it runs the server as "postgres"
# (initdb refuses root). Never touches a system cluster.
set -euo pipefail
cmd=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/initdb" ]] || { echo "throwaway_pg: no PostgreSQL server (apt-get install postgresql)"; exit 1; }
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case $cmd in
  start)
    [[ -f "$dir/data/postmaster.pid" ]] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U slotmatch >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log"; exit 1; }
    for attempt in 1 2 3 4 5; do
      port=$((20000 + RANDOM % 40000))
      if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
           -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c synchronous_commit=on" \
           start >/dev/null; then
        as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U slotmatch slotmatch
        echo "postgresql://slotmatch@127.0.0.1:$port/slotmatch" >"$dir/url"
        echo "throwaway_pg: $(cat "$dir/url")"
        exit 0
      fi
    done
    echo "throwaway_pg: the server did not start:"; cat "$dir/server.log"; exit 1
    ;;
  stop)
    [[ -d "$dir/data" ]] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
  *) echo "usage: throwaway_pg.sh start|stop DIR"; exit 2 ;;
esac
