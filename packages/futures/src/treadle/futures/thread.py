"""``concurrent.futures.thread``: ThreadPoolExecutor and BrokenThreadPool."""

from __future__ import annotations

from ._thread import BrokenThreadPool, ThreadPoolExecutor, WorkerContext

__all__ = ["BrokenThreadPool", "ThreadPoolExecutor", "WorkerContext"]

WorkerContext.__module__ = __name__
