"""Fault injection for treadle.futures.ProcessPoolExecutor (issue 16), ``--rounds`` rounds.

One pool with ``survive_worker_death=True`` and ``task_timeout`` serves every round.
Each round submits ``--tasks`` calls drawn at random from: a task that SIGKILLs its own
worker, one that lowers RLIMIT_AS and allocates past it, one that starts a grandchild
and hangs (the timeout kills the tree), one that raises, and a plain one. A round passes
when every future ends with what its kind documents (WorkerDiedError, MemoryError
reported as a result, TimeoutError, the task's ValueError, the result) and the pool
still answers. At the end the pool is shut down and no worker, grandchild or
descriptor of the run may be left.

    python tools/stress/process_pool_faults.py --rounds 1000

Exit status 0 when every round passed. The test suite runs a small version of it
(packages/futures/tests/test_process_pool.py, test_fault_injection_small).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import select
import signal
import sys
import tempfile
import time
from typing import Any

from treadle import multiprocessing
from treadle.futures import TimeoutError as FuturesTimeout
from treadle.futures import process

# A round that has not ended after this many seconds is a hang.
HANG_AFTER = 60.0


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def allocate_past_limit() -> str:
    with open("/proc/self/statm", "rb") as statm:
        size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    old = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + (64 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, old[1]))
    try:
        bytearray(limit)
    except MemoryError:
        return "MemoryError"
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)
    return "allocated"


def hang_with_grandchild(folder: str) -> None:
    child = os.fork()
    if child == 0:
        while True:
            signal.pause()
    with open(os.path.join(folder, str(child)), "wb"):
        pass
    while True:
        signal.pause()


def raise_value_error(round_no: int) -> None:
    raise ValueError(round_no)


def plain(value: int) -> int:
    return value * 2


KINDS = ("kill", "memory", "hang", "raise", "plain")


def check(kind: str, future: Any, round_no: int) -> str | None:
    """Return what is wrong with *future*'s outcome for its *kind*, or None."""
    error = future.exception(timeout=HANG_AFTER)
    if kind == "kill":
        ok = isinstance(error, process.WorkerDiedError) and error.signal == signal.SIGKILL
    elif kind == "memory":
        ok = error is None and future.result() == "MemoryError"
    elif kind == "hang":
        ok = isinstance(error, FuturesTimeout)
    elif kind == "raise":
        ok = isinstance(error, ValueError) and error.args == (round_no,)
    else:
        ok = error is None and future.result() == round_no * 2
    return None if ok else f"{kind}: {error!r}"


def gone(pid: int) -> bool:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], 10.0)[0])
    finally:
        os.close(pidfd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=4, help="calls per round")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--method", default="forkserver", choices=["forkserver", "spawn", "fork"])
    parser.add_argument("--timeout", type=float, default=0.3, help="task_timeout, seconds")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    context = multiprocessing.get_context(args.method)
    # A first pool starts what lives on after it (the forkserver and its descriptors).
    with process.ProcessPoolExecutor(1, mp_context=context) as warm:
        warm.submit(plain, 1).result()
    fds_before = set(os.listdir("/proc/self/fd"))
    failures: list[str] = []
    counts = dict.fromkeys(KINDS, 0)
    workers_seen: set[int] = set()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        with process.ProcessPoolExecutor(
            args.workers,
            mp_context=context,
            survive_worker_death=True,
            task_timeout=args.timeout,
        ) as ex:
            for round_no in range(args.rounds):
                kinds = [rng.choice(KINDS) for _ in range(args.tasks)]
                submitted = []
                for kind in kinds:
                    counts[kind] += 1
                    future: Any
                    if kind == "kill":
                        future = ex.submit(kill_self)
                    elif kind == "memory":
                        future = ex.submit(allocate_past_limit)
                    elif kind == "hang":
                        future = ex.submit(hang_with_grandchild, folder)
                    elif kind == "raise":
                        future = ex.submit(raise_value_error, round_no)
                    else:
                        future = ex.submit(plain, round_no)
                    submitted.append((kind, future))
                for kind, future in submitted:
                    problem = check(kind, future, round_no)
                    if problem is not None:
                        failures.append(f"round {round_no}: {problem}")
                workers_seen.update(ex._processes)
                if ex.submit(plain, round_no).result(timeout=HANG_AFTER) != round_no * 2:
                    failures.append(f"round {round_no}: the pool stopped answering")
        grandchildren = [int(name) for name in os.listdir(folder)]
    left = [pid for pid in [*workers_seen, *grandchildren] if not gone(pid)]
    if left:
        failures.append(f"processes left after shutdown: {left}")
    if multiprocessing.active_children():
        failures.append(f"children left: {multiprocessing.active_children()}")
    leaked = set(os.listdir("/proc/self/fd")) - fds_before
    leaked = {fd for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
    if leaked:
        failures.append(f"descriptors left: {sorted(leaked)}")
    elapsed = time.monotonic() - started
    print(
        f"{args.rounds} rounds, {sum(counts.values())} faulty or plain calls {counts}, "
        f"{len(workers_seen)} workers, {len(grandchildren)} grandchildren, {elapsed:.1f} s"
    )
    for failure in failures[:20]:
        print("FAIL", failure)
    print("PASS" if not failures else f"{len(failures)} failures")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
