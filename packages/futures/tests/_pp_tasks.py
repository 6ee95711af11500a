"""Tasks run by the process pool's tests: spawned workers import them by name."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

_state: dict[str, Any] = {}


def pid_of_worker(_: object = None) -> int:
    return os.getpid()


def add(a: int, b: int = 0) -> int:
    return a + b


def fail(message: str) -> int:
    raise ValueError(message)  # a line the traceback text must show


def init_record(value: str) -> None:
    _state["init"] = value


def init_read(_: object = None) -> object:
    return _state.get("init")


def put_pid(queue: Any) -> None:
    queue.put(os.getpid())


def init_fail() -> None:
    raise RuntimeError("initializer refuses")


def die(code: int = 0) -> None:
    os._exit(code)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def signal_fifo(path: str) -> None:
    """Tell the test the task runs: open the FIFO it reads (blocks until it does)."""
    with open(path, "wb") as fifo:
        fifo.write(b"!")


def wait_gate(fifo: str, gate: str, value: int) -> int:
    """Say it started (through *fifo*), wait until the test opens *gate*, return *value*."""
    signal_fifo(fifo)
    with open(gate, "rb") as end:
        end.read()
    return value


def block(fifo: str) -> None:
    """Say it started (through *fifo*), then wait for ever (until killed)."""
    signal_fifo(fifo)
    while True:
        signal.pause()


def block_with_grandchild(fifo: str) -> None:
    """Start a grandchild that hangs, write its pid to *fifo*, then hang too."""
    child = os.fork()
    if child == 0:
        while True:
            signal.pause()
    with open(fifo, "wb") as out:
        out.write(str(child).encode())
    while True:
        signal.pause()


def interruptible(fifo: str) -> str:
    """Say it started, then wait; a KeyboardInterrupt (SIGINT) ends it."""
    # The worker may have inherited SIGINT ignored (a forkserver started from a
    # background shell or an xdist worker): the default handler is what this presumes.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal_fifo(fifo)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return "interrupted"


def allocate(megabytes: int) -> int:
    """Allocate and keep *megabytes* in this worker (resident: the pages are touched)."""
    block = bytearray(megabytes * 1024 * 1024)
    for index in range(0, len(block), 4096):
        block[index] = 1
    _state.setdefault("kept", []).append(block)
    return os.getpid()


def allocate_past_limit(limit_mb: int) -> str:
    """Lower RLIMIT_AS to *limit_mb* more than now, then allocate past it."""
    import resource

    with open("/proc/self/statm", "rb") as statm:
        size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = size + limit_mb * 1024 * 1024
    old = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, old[1]))
    try:
        bytearray(limit)
    except MemoryError:
        return "MemoryError"
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)
    return "allocated"


def sleep_then(value: int, seconds: float) -> int:
    # Used where the test only needs a call that is still running when it looks; the
    # test never depends on how long it takes.
    time.sleep(seconds)
    return value


def returns_unpicklable() -> object:
    return lambda: None


class Holder:
    def __init__(self, handler: object) -> None:
        self.handler = handler
