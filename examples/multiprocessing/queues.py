"""Workers take jobs from a JoinableQueue and put results on a Queue; then shut it down.

Two worker processes share one ``JoinableQueue`` of jobs: each job is marked done with
``task_done()``, so ``join()`` in the parent returns once every job is handled. Then
``shutdown()`` (beyond the stdlib: 3.13's ``queue.Queue.shutdown`` across processes)
ends the workers: their blocked ``get()`` raises ``treadle.queue.ShutDown``.
"""

from __future__ import annotations

from typing import Any

from treadle import multiprocessing
from treadle.queue import ShutDown


def worker(jobs: Any, results: Any) -> None:
    """Square each job until the job queue is shut down."""
    name = multiprocessing.current_process().name
    while True:
        try:
            n = jobs.get()
        except ShutDown:
            results.put((name, "saw the shutdown"))
            return
        results.put((name, n, n * n))
        jobs.task_done()


if __name__ == "__main__":
    jobs = multiprocessing.JoinableQueue(maxsize=4)  # put() waits while 4 are queued
    results = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=worker, args=(jobs, results), name=f"worker-{i}")
        for i in range(2)
    ]
    for w in workers:
        w.start()
    for n in range(8):
        jobs.put(n)
    jobs.join()  # every job has been marked done
    squares = sorted(results.get()[1:] for _ in range(8))
    print("squares:", squares)
    jobs.shutdown()  # wakes both workers, blocked in get()
    for _ in workers:
        print(*results.get())
    for w in workers:
        w.join()
    print("exit codes:", [w.exitcode for w in workers])
    try:
        jobs.put(99)
    except ShutDown:
        print("put after shutdown raises ShutDown")
