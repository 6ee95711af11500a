"""Functions that pool workers run in the pool tests (imported by name in the workers)."""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Any

_state: dict[str, Any] = {}


def square(x: int) -> int:
    """Return x * x."""
    return x * x


def add(x: int, y: int) -> int:
    """Return x + y."""
    return x + y


def pid(_: object = None) -> int:
    """Return the worker's pid."""
    return os.getpid()


def fail_on(x: int, bad: int = 3) -> int:
    """Return x, or raise ValueError when x is *bad*."""
    if x == bad:
        raise ValueError(f"bad item {x}")
    return x


def unpicklable_result(_: object = None) -> Any:
    """Return something that cannot be pickled back."""
    return lambda: None


def remember(value: object) -> None:
    """The initializer: store *value* in the worker."""
    _state["value"] = value


def remembered(_: object = None) -> object:
    """Return what the initializer stored, with the worker's pid."""
    return (_state.get("value"), os.getpid())


def wait_for(fifo: str, value: object = None) -> object:
    """Block until a byte comes through the named pipe *fifo*; return *value*."""
    with open(fifo, "rb") as gate:
        gate.read(1)
    return value


def die(how: str) -> None:
    """End the worker abruptly: ``kill`` (SIGKILL), ``exit`` (os._exit(3)) or ``segv``."""
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "exit":
        os._exit(3)
    elif how == "segv":
        ctypes.string_at(0)


def maybe_die(x: int) -> int:
    """Return x, but die by os._exit(3) on 2."""
    if x == 2:
        os._exit(3)
    return x


def make_bytes(n: int) -> bytes:
    """Return n bytes (a large result)."""
    return b"x" * n
