"""Calls the cluster tests send to Dask workers, importable there by name.

test_distributed.py puts this folder on ``sys.path`` before it starts its cluster, so the
worker processes (spawned, with the parent's path) import this module as the tests do.
"""

from __future__ import annotations

import os
import time
from typing import Any

from treadle import contextvars

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def add(a: int, b: int) -> int:
    return a + b


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise ValueError(message)


def pid() -> int:
    return os.getpid()


def read_request_id() -> str:
    return request_id.get()


def wait_for(event_name: str, started_name: str | None = None) -> str:
    """Set the Dask Event *started_name*, then wait (at most 60 s) for *event_name*."""
    import distributed  # type: ignore[import-not-found,unused-ignore]

    if started_name is not None:
        distributed.Event(started_name).set()
    distributed.Event(event_name).wait(60)
    return event_name


def spin(seconds: float) -> float:
    # A call that outlives a task_timeout; a bounded busy wait, never a blocking sleep
    # the test waits on.
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)
    return seconds


def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs
