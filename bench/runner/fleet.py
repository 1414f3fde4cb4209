#!/usr/bin/env python3
"""Fleet benchmark (issue 6): N simulated boards all run the happy path at time scale 0.

Reports, per N: wall time, the harness's own CPU time per scenario (the runner process only, not its
simulators), all CPU per scenario (runner, simulators and the kernel work done for them) and the
harness's peak RSS (VmHWM of the runner process), plus the wall-time ratio to one board measured in
the same run and to the CPU floor (all CPU spread over every core: no run on this machine can be
shorter). Targets: 64 boards in at most 2x the wall time of 1 board; harness RSS
at most 128 MB at 64 boards.

Usage: bench/runner/fleet.py [--provhil build/release/provhil] [--boards 1,8,32,64] [--repeat 3]
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def inventory(n: int) -> str:
    lines = ["boards:"]
    for i in range(n):
        lines += [f"  - name: sim-{i:02d}",
                  f"    sim: {{ profile: {ROOT / 'fixtures/sim/esp32.yaml'} }}",
                  "    tags: [esp32, sim, provision-call]"]
    lines += ["lab:", "  wifi: { ssid: LabNet, pass: labpass123 }",
              "interceptor: { listen: \"127.0.0.1:0\", advertise: 127.0.0.1, mode: mock }",
              f"dialects: {ROOT / 'fixtures/dialects'}"]
    return "\n".join(lines) + "\n"


def proc_figures(pid: int):
    """(utime+stime seconds, VmHWM kB) of the process itself, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        return ticks / os.sysconf("SC_CLK_TCK"), hwm
    except (OSError, StopIteration, IndexError):
        return None


def run_fleet(provhil: str, n: int, work: pathlib.Path):
    lab = work / f"lab-{n}.yaml"
    lab.write_text(inventory(n))
    reports = work / f"reports-{n}"
    cmd = [provhil, "run", "--quiet", "--lab", str(lab), "--reports", str(reports), "--sim-time-scale", "0",
           str(ROOT / "scenarios/provision-ap.yaml")]
    before = os.times()
    start = time.monotonic()
    child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = (0.0, 0)
    while child.poll() is None:
        figures = proc_figures(child.pid)
        if figures:
            last = figures
        time.sleep(0.01)
    wall = time.monotonic() - start
    after = os.times()
    all_cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    out = child.stdout.read()
    if child.returncode != 0:
        sys.exit(f"fleet of {n}: provhil run exited {child.returncode}\n{out}")
    return wall, last[0], last[1], all_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provhil", default=str(ROOT / "build/release/provhil"))
    parser.add_argument("--boards", default="1,8,32,64")
    parser.add_argument("--repeat", type=int, default=3, help="runs per fleet size; the best wall time counts")
    args = parser.parse_args()
    sizes = [int(x) for x in args.boards.split(",")]
    print(f"provhil: {args.provhil}; happy path (scenarios/provision-ap.yaml) at time scale 0; best of {args.repeat}")
    cores = os.cpu_count() or 1
    print(f"{'boards':>6} {'wall s':>8} {'x 1 board':>9} {'harness CPU ms/scn':>18} {'all CPU ms/scn':>14} "
          f"{'x CPU floor':>11} {'peak RSS MB':>12}")
    baseline = None
    with tempfile.TemporaryDirectory(prefix="provhil-fleet-") as tmp:
        for n in sizes:
            runs = [run_fleet(args.provhil, n, pathlib.Path(tmp)) for _ in range(args.repeat)]
            wall, cpu, hwm, all_cpu = min(runs, key=lambda r: r[0])
            peak = max(r[2] for r in runs)
            if baseline is None:
                baseline = wall
            floor = all_cpu / cores
            print(f"{n:>6} {wall:>8.2f} {wall / baseline:>9.2f} {1000 * cpu / n:>18.1f} {1000 * all_cpu / n:>14.1f} "
                  f"{wall / floor if floor > 0 else 0:>11.2f} {peak / 1024:>12.1f}")


if __name__ == "__main__":
    main()
