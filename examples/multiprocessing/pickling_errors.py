"""See *what* cannot be pickled when a spawn child is started (beyond the stdlib).

With ``spawn`` and ``forkserver`` the process object is pickled for the child. The
stdlib reports only the pickling error; treadle checks before any process exists and
names the path of the culprit inside target, args and kwargs.
"""

from __future__ import annotations

import os
import threading

from treadle import multiprocessing


class Job:
    """A job whose callback was given as a lambda."""

    def __init__(self) -> None:
        self.callback = lambda: None


if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    for args, kwargs in [((1, Job()), {}), ((), {"lock": threading.Lock()})]:
        p = ctx.Process(target=os.getpid, args=args, kwargs=kwargs)
        try:
            p.start()
        except Exception as exc:
            print(f"{type(exc).__name__}: {exc}")
        print("children started:", len(multiprocessing.active_children()))
