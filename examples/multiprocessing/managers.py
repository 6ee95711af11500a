"""Share a dict, a list and a lock between processes through a manager.

Run: ``python examples/multiprocessing/managers.py``. Three workers record their
results in a shared dict, log to a shared list and count under a shared lock; then a
proxy travels through a manager queue to a worker, and a failure in the server comes
back as the exception it raised.
"""

from __future__ import annotations

from typing import Any

from treadle import multiprocessing


def work(n: int, results: Any, log: Any, lock: Any) -> None:
    """Square *n* into *results*, note it in *log*, count it under *lock*."""
    results[n] = n * n
    log.append(f"worker {n} done")
    with lock:
        results["count"] = results.get("count", 0) + 1


def from_queue(inbox: Any) -> None:
    """Take a proxy out of the queue and write through it."""
    shared = inbox.get()
    shared["via queue"] = True


def main() -> None:
    """Start a manager, run the workers, print what they shared."""
    with multiprocessing.Manager() as manager:
        results, log, lock = manager.dict(), manager.list(), manager.Lock()
        workers = [
            multiprocessing.Process(target=work, args=(n, results, log, lock)) for n in range(3)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        print("results:", dict(sorted(results.items(), key=str)))
        print("log:", sorted(log))

        inbox = manager.Queue()
        inbox.put(results)
        reader = multiprocessing.Process(target=from_queue, args=(inbox,))
        reader.start()
        reader.join()
        print("set through a proxy from a queue:", results["via queue"])

        try:
            results["missing"]
        except KeyError as exc:
            print("the server's KeyError:", exc)


if __name__ == "__main__":
    main()
