"""Fixtures shared by thread-core's tests."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

import pytest

WAIT = 30.0  # a deadlock guard, far above any real wait

InThread = Callable[[Callable[[], Any]], Any]
ForkAnswer = Callable[[Callable[[], bytes]], bytes]


def _in_thread(fn: Callable[[], Any]) -> Any:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join(WAIT)
    assert not t.is_alive()
    return out[0]


def _fork_answer(child: Callable[[], bytes]) -> bytes:
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # 3.12+ warns that forking a process with threads may deadlock the child.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write_fd, child())
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        return os.read(read_fd, 64)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)


@pytest.fixture
def in_thread() -> InThread:
    """Run a function in a new stdlib thread, wait for it, and return its result."""
    return _in_thread


@pytest.fixture
def fork_answer() -> ForkAnswer:
    """Fork; run a function in the child and return the bytes it returned there."""
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    return _fork_answer
