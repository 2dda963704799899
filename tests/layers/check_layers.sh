#!/usr/bin/env bash
# The layers' rule (ARCHITECTURE.md "Layers", tools/README.md): which part may include which.
# The build enforces most of it (each library exposes only its own folder), and this check
# says it in one place, so that a file that reaches across (by a relative path, or through a
# header another part happens to expose) fails a test with the line that does it.
# Usage: check_layers.sh SOURCE_DIR. Exit 0 when every arrow runs the right way.
# check_layers.sh --self-test SOURCE_DIR: on a copy with a client file that includes a journal
# header, the check must fail (so it is not a check that cannot).
set -uo pipefail
if [[ $1 == --self-test ]]; then
  copy=$(mktemp -d)
  trap 'rm -rf "$copy"' EXIT
  cp -r "$2/engine" "$2/codec" "$2/tools" "$copy/"
  sed -i '1a #include "event_store.hpp"' "$copy/tools/client/client.cpp"
  if bash "$0" "$copy" >"$copy/out" 2>&1; then
    echo "layers: the self-test planted a client -> journal include and the check passed"; exit 1
  fi
  grep -q "tools/client/client.cpp:2:#include \"event_store.hpp\"" "$copy/out" ||
    { echo "layers: the check failed without naming the planted line:"; cat "$copy/out"; exit 1; }
  echo "layers: a planted client -> journal include is caught"
  exit 0
fi
src=$1
cd "$src" || exit 2
failed=0

# The headers of a part, by file name (the parts include each other's headers by name).
headers_of() { (cd "$1" && ls -- *.hpp 2>/dev/null); }

# forbid PART WHY PATTERN...: no line of PART's files includes anything matching a pattern.
forbid() {
  local part=$1 why=$2; shift 2
  local pattern
  for pattern in "$@"; do
    local hits
    hits=$(grep -rnE --include='*.hpp' --include='*.cpp' "^#include [<\"]([^>\"]*/)?(${pattern})[>\"]" "$part" || true)
    if [[ -n "$hits" ]]; then
      echo "layers: $part must not include $pattern ($why):"
      echo "$hits" | sed 's/^/  /'
      failed=1
    fi
  done
}

names() { headers_of "$1" | sed 's/\./\\./g' | paste -sd'|'; }
server=$(names tools/server)
journal=$(names tools/journal)
client=$(names tools/client)
keys=$(names tools/keys)

forbid engine "the domain has no wire, socket or SQL" 'zmq\.hpp' 'flatbuffers/.*' 'sqlite3\.h' \
  'libpq-fe\.h' 'slotmatch_generated\.h' 'slotmatch/codec\.hpp'
forbid codec "the wire has no sockets or SQL" 'zmq\.hpp' 'sqlite3\.h' 'libpq-fe\.h'
forbid tools/client "the client uses only the codec" "$server" "$journal" 'sqlite3\.h' 'libpq-fe\.h'
forbid tools/journal "the journal may use the codec and the engine's events, never the server or the client" \
  "$server" "$client"
forbid tools/server "no arrow between the server and the client" "$client" 'sqlite3\.h' 'libpq-fe\.h'
# The keys part (key files, registry, ZAP gate, the actor of a key) is below the server, the
# journal and the client, which all use it; it knows none of them.
forbid tools/keys "the keys part knows no server, journal or client" "$server" "$journal" "$client" \
  'sqlite3\.h' 'libpq-fe\.h'
for part in tools/program tools/report tools/region tools/process; do
  forbid "$part" "a shared part knows no server, journal or client" "$server" "$journal" "$client"
done
# Nothing below tools/ reaches up into the tests or the benchmarks.
forbid tools "the programs do not depend on the tests" 'engine_fixture\.hpp' 'store_contract\.hpp' \
  'store_events\.hpp' 'server_process\.hpp'

if ((failed)); then exit 1; fi
echo "layers: every include follows the arrows (engine, codec, tools/{server,journal,client,...})"
