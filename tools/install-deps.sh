#!/usr/bin/env bash
# Installs the Debian 12 packages slotmatch builds and tests with, when any is missing.
# Runs as root (or through sudo); does nothing when everything is there.
set -euo pipefail

packages=(
  g++ cmake ninja-build tzdata          # toolchain; tzdata for Europe/Stockholm
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev                       # region config
  libhowardhinnant-date-dev             # time zones (g++ 12 has no std::chrono::tzdb)
  libboost-program-options-dev         # command lines
  nlohmann-json3-dev                    # JSON replies of the programs
  libzmq3-dev cppzmq-dev                # ZeroMQ transport (client <-> slotmatchd)
  libflatbuffers-dev flatbuffers-compiler flatbuffers-compiler-dev  # wire schema (flatc)
  libsqlite3-dev                        # the journal's event store
  libtbb-dev                            # parallel start-up (the region's slots laid out)
  libpq-dev postgresql                  # the PostgreSQL store, and the tests' throwaway server
  clang-14 libfuzzer-14-dev             # the protocol's fuzz target (libFuzzer, ASan, UBSan)
  python3-zmq python3-flatbuffers       # tests/outside: a Python client from the docs alone
  redis-server                          # bench/durable_vs_peers.sh: Redis, a peer to measure against
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
