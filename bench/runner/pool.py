#!/usr/bin/env python3
"""Board pool benchmark (issue 14): the main job (every shipped scenario, `provhil run`) at the
simulator profiles' own time scale, on the default inventory with its provisioning pool (sim-1 and
its twins) and on the same inventory cut to one provisioning board (sim-1 alone), measured in the same
run, alternating. Reports the wall times, their ratio (target: the pool at most 0.35 of one board), and
the floor no pool can beat: the longest single scenario of the pooled run.

Usage: bench/runner/pool.py [--provhil build/release/provhil] [--repeat 1]
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def inventories(work: pathlib.Path):
    """(pool, one board): the default inventory with absolute paths, and the same without the twins."""
    text = (ROOT / "fixtures/boards.yaml").read_text()
    text = text.replace("profile: sim/", f"profile: {ROOT / 'fixtures/sim'}/")
    text += f"dialects: {ROOT / 'fixtures/dialects'}\n"
    # A board block: "  - name: ..." up to the next board, blank line or top-level key.
    one = re.sub(r"  - name: twin-\d+\n(?:    .*\n)*", "", text)
    if one == text:
        sys.exit("fixtures/boards.yaml has no twin-N boards: the pool this benchmark measures is gone")
    pool_file, one_file = work / "pool.yaml", work / "one.yaml"
    pool_file.write_text(text)
    one_file.write_text(one)
    return pool_file, one_file


def main_job(provhil: str, inventory: pathlib.Path, reports: pathlib.Path):
    """Wall seconds of `provhil run` on the shipped scenarios, and its cases from results.json."""
    cmd = [provhil, "run", "--quiet", "--inventory", str(inventory), "--reports", str(reports),
           str(ROOT / "scenarios")]
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"provhil run on {inventory.name} exited {done.returncode}\n{done.stdout}")
    cases = json.loads((reports / "results.json").read_text())["cases"]
    return wall, cases


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provhil", default=str(ROOT / "build/release/provhil"))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best wall time counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provhil-pool-") as tmp:
        work = pathlib.Path(tmp)
        pool_file, one_file = inventories(work)
        best = {}
        longest = None
        boards_used = set()
        for i in range(args.repeat):
            for label, inventory in (("one board", one_file), ("pool", pool_file)):
                wall, cases = main_job(args.provhil, inventory, work / f"reports-{label.replace(' ', '-')}-{i}")
                if label == "pool" and wall < best.get(label, float("inf")):
                    boards_used = {c["board"] for c in cases if c["board"] == "sim-1" or c["board"].startswith("twin-")}
                    top = max(cases, key=lambda c: c["duration_ms"])
                    longest = (top["scenario"], top["duration_ms"] / 1000)
                best[label] = min(best.get(label, float("inf")), wall)
    one, pool = best["one board"], best["pool"]
    print(f"provhil: {args.provhil}; the main job (scenarios/) at the profiles' time scale; best of {args.repeat}")
    print(f"{'inventory':<34} {'wall s':>8} {'x one board':>11}")
    print(f"{'one provisioning board (sim-1)':<34} {one:>8.1f} {1.0:>11.2f}")
    print(f"{'pool: ' + ', '.join(sorted(boards_used)):<34} {pool:>8.1f} {pool / one:>11.2f}")
    name, seconds = longest
    print(f"longest scenario of the pooled run: {name} {seconds:.1f} s; the pool's wall time is "
          f"{pool / seconds:.2f}x it (no pool can go below it)")
    verdict = "met" if pool / one <= 0.35 else "not met"
    print(f"target: pool <= 0.35 x one board: {verdict} ({pool / one:.2f}); "
          f"the floor allows {seconds / one:.2f}")


if __name__ == "__main__":
    main()
