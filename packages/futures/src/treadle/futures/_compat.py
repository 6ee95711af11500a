"""What differs between the Python versions treadle.futures runs on, in one place."""

from __future__ import annotations

import os

__all__ = ["default_max_workers"]


def _cpu_count() -> int | None:
    # 3.13 added os.process_cpu_count() (the CPUs this process may run on), which the
    # 3.13+ ThreadPoolExecutor sizes itself by; before 3.13 the affinity mask gives it.
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        count: int | None = counter()
        return count
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0))
        except OSError:
            pass
    return os.cpu_count()


def default_max_workers() -> int:
    """``min(32, (process cpu count or 1) + 4)``: the 3.13+ default pool size."""
    return min(32, (_cpu_count() or 1) + 4)
