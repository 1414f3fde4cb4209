#!/usr/bin/env bash
# Runs the interceptor benchmark on an optimised build, with mitmproxy (Debian) for comparison.
# Usage: bench/intercept/run.sh [--seconds S] [--concurrency C] [--idle N] [--server-threads N] [--mitmdump PATH|none]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build/release"

if ! command -v mitmdump >/dev/null 2>&1; then
  echo "bench: installing Debian mitmproxy (for the comparison run)"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends mitmproxy ||
    echo "bench: mitmproxy could not be installed; its row will say so"
fi

# The release preset leaves warnings as warnings: at -O3 g++ 12 warns (-Wnull-dereference) inside Asio.
(cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release --target bench_intercept -j2)
exec "$build/bench/intercept/bench_intercept" "$@"
