"""pexpect baseline for bench/console/run.sh: the same writer, the same 10 patterns, on a pty."""
import re
import resource
import sys
import time

import pexpect

PATTERNS = [
    r"State: (?P<state>PROVISION_DONE)", r"Guru Meditation Error", r"Backtrace: 0x[0-9a-f]+",
    r"abort\(\) was called", r"Ready \(ping: (?P<ping>\d+)ms\)\.", r"Invalid auth token",
    r"Connection refused: (?P<why>.+)", r"OTA update finished", r"Configuration stored to flash",
    r"BENCH-DONE (?P<total>\d+)",
]


def main():
    bench, body = sys.argv[1], int(sys.argv[2])
    compiled = [re.compile(p.encode()) for p in PATTERNS]
    # Without searchwindowsize pexpect rescans its whole buffer on every read (quadratic); with one smaller
    # than a read it skips the head of big reads and can miss a match. Twice the read size sees every byte.
    child = pexpect.spawn(bench, ["writer", str(body)], maxread=65536, searchwindowsize=131072, timeout=600)
    start = time.monotonic()
    index = child.expect(compiled)
    elapsed = time.monotonic() - start
    received = len(child.before) + len(child.after)
    child.terminate(force=True)
    if index != 9:
        sys.exit(f"pexpect matched pattern {index}, expected 9")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"mode=pexpect bytes={received} seconds={elapsed:.3f} mb_per_s={received / 1e6 / elapsed:.1f} "
          f"peak_rss_kb={rss}")


main()
