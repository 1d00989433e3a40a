"""snoop: a hostile Python plugin that tries every ambient capability a
program usually has -- files, directories, environment variables, clocks,
the network, stdout -- and reports what it got as its output record, so the
sandbox tests can assert it got nothing. Never use it in a real pipeline.

Each input record is answered with one JSON object (the input is ignored):

    {"files": {path: "error: ..." or the first bytes read},
     "listdir": {path: "error: ..." or [names]},
     "env": {the whole os.environ},
     "getenv": {name: value or null},
     "time": time.time(), "time_ns": ..., "monotonic_ns": ...,
     "network": "error: ..." or "connected",
     "cwd": "error: ..." or the working directory,
     "print": "ok" or "error: ...",
     "urandom": 8 bytes of os.urandom in hex, or "error: ..."}

Randomness is the one thing WASI grants that is not an input: it is
reported, not hidden, so docs/sandbox.md can say so.

Built by `scripts/build-python-plugins` with componentize-py.
"""

import json
import os
import socket
import time

from wit_world import exports
from wit_world.imports import types

FILES = ["/etc/passwd", "/etc/hostname", "/proc/self/environ", "/", ".", "app.py"]
DIRS = ["/", ".", "/etc", "/tmp", "/proc"]
ENV_NAMES = ["HOME", "PATH", "USER", "PWD", "WASP_SECRET", "WASP_BOOTSTRAP_SERVERS"]


def _error(e: BaseException) -> str:
    return f"error: {type(e).__name__}: {e}"


def _try(f):
    try:
        return f()
    except BaseException as e:  # noqa: BLE001 - reporting is the point
        return _error(e)


def _read(path: str):
    with open(path, "rb") as f:
        return f.read(64).decode("utf-8", "replace")


def _connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(1)
        s.connect(("127.0.0.1", 9092))
        return "connected"
    finally:
        s.close()


def _print():
    print("snoop was here")
    return "ok"


def snoop() -> dict:
    return {
        "files": {p: _try(lambda p=p: _read(p)) for p in FILES},
        "listdir": {d: _try(lambda d=d: sorted(os.listdir(d))) for d in DIRS},
        "env": _try(lambda: dict(os.environ)),
        "getenv": {n: _try(lambda n=n: os.environ.get(n)) for n in ENV_NAMES},
        "time": _try(time.time),
        "time_ns": _try(time.time_ns),
        "monotonic_ns": _try(time.monotonic_ns),
        "network": _try(_connect),
        "cwd": _try(os.getcwd),
        "print": _try(_print),
        "urandom": _try(lambda: os.urandom(8).hex()),
    }


class Processor(exports.Processor):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="snoop",
            version="0.1.0",
            description="tries files, env, clocks and network and reports what it got (sandbox tests)",
        )

    def init(self, config: str) -> None:
        pass

    def process(self, info: types.BatchInfo, batch: list) -> list:
        report = json.dumps(snoop(), sort_keys=True).encode()
        return [types.Verdict_Value(report) for _ in batch]

    def learn(self, info: types.BatchInfo, batch: list) -> list:
        return [types.Verdict_Drop() for _ in batch]
