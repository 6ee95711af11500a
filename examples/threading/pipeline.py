"""A three-stage pipeline: producer, workers and a collector, with Barrier and Events."""

from __future__ import annotations

from treadle import threading

N_WORKERS = 3
jobs = list(range(12))
results: list[tuple[int, int]] = []
jobs_lock = threading.Lock()
results_cond = threading.Condition()
slots = threading.BoundedSemaphore(2)  # at most two workers compute at a time
ready = threading.Barrier(N_WORKERS, action=lambda: print("all workers ready"))


def worker() -> None:
    ready.wait()
    while True:
        with jobs_lock:
            if not jobs:
                return
            job = jobs.pop()
        with slots:
            value = job * job
        with results_cond:
            results.append((job, value))
            results_cond.notify()


workers = [threading.Thread(target=worker, name=f"worker-{i}") for i in range(N_WORKERS)]
for t in workers:
    t.start()
with results_cond:
    results_cond.wait_for(lambda: len(results) == 12, timeout=30)
for t in workers:
    t.join()
print("squares:", [v for _, v in sorted(results)])
print("threads left:", [t.name for t in threading.enumerate()])
