"""`probe` (classifier, test guest): reports what the sandbox lets Python see.

Signals: `probe.time` (time.time()), `probe.monotonic` (time.monotonic_ns()), `probe.urandom`
(first byte of os.urandom(8)), `probe.env` (number of environment variables), `probe.file`
(1 when /etc/passwd could be read), `probe.dir` (number of entries in /), `probe.socket` (1
when a TCP connection to 127.0.0.1:80 succeeded). Used by tests/tests/polyglot.rs to check
that a Python plugin gets fixed clocks and randomness and nothing else.
"""

import os
import socket
import time

import wit_world
from wit_world.imports import types


def attempt(f):
    try:
        return float(f())
    except Exception:
        return 0.0


def read_file():
    with open("/etc/passwd") as f:
        f.read()
    return 1


def connect():
    with socket.create_connection(("127.0.0.1", 80), timeout=0.01):
        return 1


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        pass

    def classify(self, req):
        values = {
            "probe.time": attempt(time.time),
            "probe.monotonic": attempt(time.monotonic_ns),
            "probe.urandom": attempt(lambda: os.urandom(8)[0]),
            "probe.env": attempt(lambda: len(os.environ)),
            "probe.file": attempt(read_file),
            "probe.dir": attempt(lambda: len(os.listdir("/"))),
            "probe.socket": attempt(connect),
        }
        return [types.Signal(name=k, value=v, label=None) for k, v in values.items()]
