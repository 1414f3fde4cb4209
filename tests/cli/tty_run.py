"""Runs a command on a real pseudo-terminal (its stdout is a tty) and prints what it wrote, so tests can
see what a person at a terminal sees. Usage: tty_run.py COMMAND [ARGS...]; exits with its status."""
import os
import pty
import sys

chunks = []


def read(fd):
    data = os.read(fd, 65536)
    chunks.append(data)
    return data


status = pty.spawn(sys.argv[1:], read)
sys.stdout.buffer.write(b"".join(chunks))
sys.exit(os.waitstatus_to_exitcode(status))
