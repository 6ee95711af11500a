"""treadle.multiprocessing against the stdlib's multiprocessing, per start method.

Issue 13 targets: ``Process`` start+join with ``spawn`` at least 1.5x the stdlib's
speed (the stdlib spends about 49 ms where ``python -I -S -c pass`` takes 10 ms: most
of it is the child importing multiprocessing); ``fork`` and ``forkserver`` at least the
stdlib's. Each side starts a process, waits for it to end, and repeats. The target is a
builtin (``os.getpid``), pickled by reference, so the child imports nothing for it. The
loop runs in a small driver script (see ``_DRIVER``), so that a spawned child, which
re-runs its parent's main script as ``__mp_main__``, re-runs that script and not
``benchmarks/run.py`` with its imports. A warm-up process starts each side's forkserver
and resource tracker before the clock starts. The connection cases come from
``_mp_connection_cases.py`` and those of parts 2 and 3 from ``_mp_*_cases.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

from _harness import Case
from _mp_connection_cases import CASES as _CONNECTION
from _mp_manager_cases import CASES as _MANAGER
from _mp_pool_cases import CASES as _POOL
from _mp_queue_cases import CASES as _QUEUE
from _mp_shm_cases import CASES as _SHM
from _mp_sync_cases import CASES as _SYNC

# The start+join loop runs in a small driver program of its own, one per round and side,
# which reports the time it measured itself. A spawned child re-runs its parent's main
# script as __mp_main__: under benchmarks/run.py that would add run.py's imports
# (argparse, json, pathlib, dataclasses, statistics) to every child of both sides and
# hide the cost being compared. The driver's main imports only what it needs.
_DRIVER = """\
import os, sys, time

if __name__ == "__main__":
    name, method, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if name == "stdlib":
        import multiprocessing as mp
    else:
        from treadle import multiprocessing as mp
    ctx = mp.get_context(method)
    warm = ctx.Process(target=os.getpid)  # starts the forkserver / resource tracker
    warm.start()
    warm.join()
    t0 = time.perf_counter()
    for _ in range(n):
        p = ctx.Process(target=os.getpid)
        p.start()
        p.join()
        if p.exitcode != 0:
            sys.exit(f"child exited with {p.exitcode}")
    print(time.perf_counter() - t0)
"""

_DRIVER_DIR = tempfile.mkdtemp(prefix="treadle-bench-mp-")
_DRIVER_PATH = os.path.join(_DRIVER_DIR, "driver.py")
with open(_DRIVER_PATH, "w") as _out:
    _out.write(_DRIVER)
atexit.register(shutil.rmtree, _DRIVER_DIR, ignore_errors=True)


def _start_join(side: str, method: str) -> Callable[[int], float]:
    def timed(n: int) -> float:
        done = subprocess.run(
            [sys.executable, _DRIVER_PATH, side, method, str(n)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{side} {method} driver failed: {done.stderr[-2000:]}")
        return float(done.stdout.split()[-1])

    return timed


_TARGETS = {"spawn": 1.5, "forkserver": 1.0, "fork": 1.0}
_COUNTS = {"spawn": 10, "forkserver": 20, "fork": 40}

CASES = [
    Case(
        f"Process start+join ({method})",
        _start_join("stdlib", method),
        _start_join("treadle", method),
        n=_COUNTS[method],
        target=_TARGETS[method],
        note="issue 13",
        min_n=_COUNTS[method],
    )
    for method in ("spawn", "forkserver", "fork")
]

# Each part's cases live in a file of their own.
CASES += [*_CONNECTION, *_SYNC, *_QUEUE, *_SHM, *_POOL, *_MANAGER]
