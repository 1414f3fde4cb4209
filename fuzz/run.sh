#!/usr/bin/env bash
# Runs fuzz targets of the `fuzz` preset for a bounded time each; fails on any crash, leak, timeout
# or out-of-memory (libFuzzer's own exit code). New inputs go to build/fuzz/corpus/<target> (never into
# the repository); a failing input is written to build/fuzz/artifacts/ -- copy it to tests/fuzz/<target>/
# so the dev build's ctest replays it from then on.
# Usage: fuzz/run.sh SECONDS [TARGET...]   (default: every target; TARGET is e.g. scenario)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=()
  for dict in "$root"/fuzz/dict/*.dict; do targets+=("$(basename "$dict" .dict)"); done
fi
build="$root/build/fuzz"
mkdir -p "$build/artifacts"
status=0
for target in "${targets[@]}"; do
  binary="$build/fuzz/fuzz_$target"
  [[ -x "$binary" ]] || { echo "fuzz: $binary not built (cmake --build --preset fuzz)" >&2; exit 2; }
  work="$build/corpus/$target"
  mkdir -p "$work"
  seeds=("$root/fuzz/corpus/$target")
  [[ -d "$root/tests/fuzz/$target" ]] && seeds+=("$root/tests/fuzz/$target")
  log="$build/fuzz-$target.log"
  echo "fuzz: $target for ${seconds}s"
  # -timeout: one input taking longer is a hang; -rss_limit_mb: bounded memory is part of the contract.
  if ! "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -dict="$root/fuzz/dict/$target.dict" -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$target-" "$work" "${seeds[@]}" >"$log" 2>&1; then
    echo "fuzz: $target FAILED (log: $log)" >&2
    grep -E "ERROR|SUMMARY|artifact" "$log" >&2 || tail -30 "$log" >&2
    status=1
    continue
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: $target ok: ${runs:-?} inputs in ${seconds}s ($(( ${runs:-0} / seconds ))/s)"
done
exit "$status"
