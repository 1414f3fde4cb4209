#!/usr/bin/python3
"""pyserial's RFC 2217 server side (serial.rfc2217.PortManager) over a loop:// port, for the interop test.

Usage: rfc2217_loop_server.py PORT
Listens on 127.0.0.1:PORT and serves one connection. Each change the client makes to the port is printed
on stdout as it is applied, one line each, with the monotonic time in seconds: "ready T", "baud 115200 T",
"dtr 1 T", "rts 0 T", "purge T"; at the end "closed dtr D rts R T" with the lines' final state. Data the
client writes loops back to it (loop://).
"""
import socket
import sys
import threading
import time

import serial.rfc2217
from serial.urlhandler import protocol_loop


def say(text):
    print(f"{text} {time.monotonic():.6f}", flush=True)


class RecordedLoop(protocol_loop.Serial):
    """loop:// keeps DTR, RTS and the baud rate as attributes; this one also reports each change."""

    def _update_dtr_state(self):
        say(f"dtr {int(self._dtr_state)}")

    def _update_rts_state(self):
        say(f"rts {int(self._rts_state)}")

    def _reconfigure_port(self):
        super()._reconfigure_port()
        say(f"baud {self._baudrate}")

    def reset_input_buffer(self):
        super().reset_input_buffer()
        say("purge")


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1])))
    listener.listen(1)
    port = RecordedLoop("loop://", timeout=0.05)
    say("ready")

    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lock = threading.Lock()

    class Writer:
        def write(self, data):
            with lock:
                connection.sendall(data)

    writer = Writer()
    manager = serial.rfc2217.PortManager(port, writer)
    alive = True

    def serial_to_socket():
        while alive:
            data = port.read(port.in_waiting or 1)
            if data:
                try:
                    writer.write(b"".join(manager.escape(data)))
                except OSError:
                    return

    threading.Thread(target=serial_to_socket, daemon=True).start()
    while True:
        try:
            data = connection.recv(4096)
        except OSError:
            break
        if not data:
            break
        port.write(b"".join(manager.filter(data)))
    alive = False
    say(f"closed dtr {int(port.dtr)} rts {int(port.rts)}")


if __name__ == "__main__":
    main()
