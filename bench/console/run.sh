#!/usr/bin/env bash
# Console engine benchmark with its baselines, all on the same pty stream, in one run:
#   plain read loop (the physical limit here), the engine (10 patterns matching only at the end, with and
#   without logs), pexpect (Debian python3-pexpect) with the same 10 patterns; then match latency.
# Usage: [ROUNDS=3] bench/console/run.sh [MEGABYTES=200] [LATENCY_MATCHES=10000]
# Builds bench_console with the release preset (build/release) unless BENCH_CONSOLE points at a binary.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
megabytes="${1:-200}"
matches="${2:-10000}"
rounds="${ROUNDS:-3}"
bytes=$((megabytes * 1000 * 1000))
# pexpect is two orders of magnitude slower: give it a tenth of the stream (its rate does not depend on size).
pexpect_bytes=$((bytes / 10))

if [[ ! -x /usr/bin/python3 ]] || ! /usr/bin/python3 -c 'import pexpect' 2>/dev/null; then
  echo "bench: installing the pexpect baseline (Debian python3-pexpect)"
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends python3 python3-pexpect >/dev/null
fi

bench="${BENCH_CONSOLE:-}"
if [[ -z "$bench" ]]; then
  (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release --target bench_console >/dev/null)
  bench="$root/build/release/bench/console/bench_console"
fi
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo "stream: $megabytes MB of Edgent-like lines through a pty; pexpect: $((pexpect_bytes / 1000000)) MB"
echo "each mode runs $rounds times, interleaved; the best rate counts (the machine is shared and noisy)"
best() {  # best <field> <lines...>: the largest value of a field over the runs of one mode
  local name="$1"; shift
  printf '%s\n' "$@" | sed -n "s/.* $name=\([^ ]*\).*/\1/p" | sort -g | tail -1
}
plain=(); engine=(); engine_logs=(); pexp=()
for ((round = 1; round <= rounds; round++)); do
  plain+=("$("$bench" plain "$bytes")");                       echo "${plain[-1]}"
  engine+=("$("$bench" console "$bytes")");                    echo "${engine[-1]}"
  engine_logs+=("$("$bench" console "$bytes" --logs "$logs")"); echo "${engine_logs[-1]}"
  rm -f "$logs"/*
  pexp+=("$(/usr/bin/python3 "$root/bench/console/pexpect_baseline.py" "$bench" "$pexpect_bytes")"); echo "${pexp[-1]}"
done
lat="$("$bench" latency "$matches")";                          echo "$lat"

awk -v p="$(best mb_per_s "${plain[@]}")" -v e="$(best mb_per_s "${engine[@]}")" \
    -v l="$(best mb_per_s "${engine_logs[@]}")" -v x="$(best mb_per_s "${pexp[@]}")" \
    -v rss="$(best peak_rss_kb "${engine[@]}")" -v rssl="$(best peak_rss_kb "${engine_logs[@]}")" \
    -v p99="$(field p99_us "$lat")" 'BEGIN {
  printf "\nsummary\n";
  printf "  engine          %8.1f MB/s  = %5.1f%% of plain read (target >= 50%%), %6.1fx pexpect (target >= 10x)\n", e, 100*e/p, e/x;
  printf "  engine + logs   %8.1f MB/s  = %5.1f%% of plain read, %6.1fx pexpect\n", l, 100*l/p, l/x;
  printf "  plain read loop %8.1f MB/s   pexpect %8.1f MB/s\n", p, x;
  printf "  engine peak RSS %8.1f MB (worst run; with logs %.1f MB; target < 32 MB)\n", rss/1024, rssl/1024;
  printf "  match latency p99 %6.1f us (target < 1000 us)\n", p99;
}'
