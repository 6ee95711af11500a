"""Connection cases of treadle.multiprocessing against the stdlib's multiprocessing.connection.

Appended to ``CASES`` by ``bench_multiprocessing.py``. Issue 13 targets: at least the
stdlib's speed for each.

* ``Pipe round trip``: a small object sent to a child process over a duplex ``Pipe`` and
  echoed back (two processes: the child is forked with ``os.fork`` before the clock
  starts and runs the same module's connection as the parent).
* ``Pipe 1 MiB messages``: the parent sends 1 MiB messages with ``send_bytes`` to a
  forked child that reads each with ``recv_bytes``; the clock stops at the child's
  acknowledgement of the last one.
* ``Listener/Client connect+auth``: ``Client(address, authkey=...)`` to an ``AF_UNIX``
  ``Listener`` whose ``accept`` runs in a thread of the same process, with the HMAC
  handshake both ways, then close.
"""

from __future__ import annotations

import multiprocessing.connection as std_connection
import os
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from _harness import Case

from treadle.multiprocessing import connection as tr_connection

_SMALL = ("task", 42, {"key": [1.5, None]})
_MIB = b"\x5a" * (1 << 20)


def _fork_child(body: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # the child: run, then leave without the parent's exit machinery
        code = 0
        try:
            body()
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def _reap(pid: int) -> None:
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _round_trip(module: ModuleType) -> Callable[[int], float]:
    def timed(n: int) -> float:
        parent, child = module.Pipe()

        def echo() -> None:
            parent.close()
            while (obj := child.recv()) is not None:
                child.send(obj)

        pid = _fork_child(echo)
        child.close()
        send, recv = parent.send, parent.recv
        t0 = time.perf_counter()
        for _ in range(n):
            send(_SMALL)
            recv()
        elapsed = time.perf_counter() - t0
        send(None)
        parent.close()
        _reap(pid)
        return elapsed

    return timed


def _throughput(module: ModuleType) -> Callable[[int], float]:
    def timed(n: int) -> float:
        parent, child = module.Pipe()

        def sink() -> None:
            parent.close()
            for _ in range(n):
                assert len(child.recv_bytes()) == len(_MIB)
            child.send_bytes(b"done")

        pid = _fork_child(sink)
        child.close()
        t0 = time.perf_counter()
        for _ in range(n):
            parent.send_bytes(_MIB)
        assert parent.recv_bytes() == b"done"
        elapsed = time.perf_counter() - t0
        parent.close()
        _reap(pid)
        return elapsed

    return timed


def _connect(module: ModuleType) -> Callable[[int], float]:
    def timed(n: int) -> float:
        key = os.urandom(32)
        listener: Any = module.Listener(family="AF_UNIX", authkey=key)

        def serve() -> None:
            for _ in range(n):
                listener.accept().close()

        thread = threading.Thread(target=serve)
        thread.start()
        client, address = module.Client, listener.address
        t0 = time.perf_counter()
        for _ in range(n):
            client(address, authkey=key).close()
        elapsed = time.perf_counter() - t0
        thread.join()
        listener.close()
        return elapsed

    return timed


CASES = [
    Case(
        "Pipe round trip (small object, 2 processes)",
        _round_trip(std_connection),
        _round_trip(tr_connection),
        n=5000,
    ),
    Case(
        "Pipe 1 MiB messages (send_bytes to a child)",
        _throughput(std_connection),
        _throughput(tr_connection),
        n=200,
    ),
    Case(
        "Listener/Client connect+auth (AF_UNIX)",
        _connect(std_connection),
        _connect(tr_connection),
        n=300,
    ),
]
