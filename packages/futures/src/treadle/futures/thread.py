"""``concurrent.futures.thread``: ThreadPoolExecutor and BrokenThreadPool."""

from __future__ import annotations

from ._thread import BrokenThreadPool, ThreadPoolExecutor

__all__ = ["BrokenThreadPool", "ThreadPoolExecutor"]
