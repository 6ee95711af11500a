"""A thread lock and a thread-local that a child started with fork finds new.

Apart from :mod:`._util` because they need treadle.threading, which a spawned child
(which imports ``_util``) should not pay for.
"""

from __future__ import annotations

from typing import Any

from treadle import threading

from ._util import register_after_fork

__all__ = ["ForkAwareLocal", "ForkAwareThreadLock"]


class ForkAwareThreadLock:
    """A thread lock that a child started with fork finds unlocked and new."""

    def __init__(self) -> None:
        self._fresh_lock()
        register_after_fork(self, ForkAwareThreadLock._at_fork_reinit)

    def _fresh_lock(self) -> None:
        self._lock = threading.Lock()
        self.acquire = self._lock.acquire
        self.release = self._lock.release

    def _at_fork_reinit(self) -> None:
        self._fresh_lock()

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._lock.__exit__(*exc)


def _clear_local(obj: Any) -> None:
    obj.__dict__.clear()


class ForkAwareLocal(threading.local):
    """A thread-local whose attributes a child started with fork does not inherit."""

    def __init__(self) -> None:
        register_after_fork(self, _clear_local)

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return type(self), ()
