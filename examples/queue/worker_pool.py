"""A pool of worker threads fed through a bounded treadle Queue, stopped with shutdown()."""

from __future__ import annotations

from treadle import queue, threading


def main() -> None:
    tasks: queue.Queue[int] = queue.Queue(maxsize=8)  # put() waits while 8 are pending
    results: queue.SimpleQueue[tuple[str, int, int]] = queue.SimpleQueue()

    def worker() -> None:
        name = threading.current_thread().name
        while True:
            try:
                n = tasks.get()
            except queue.ShutDown:  # shut down and drained: time to go
                return
            results.put((name, n, n * n))
            tasks.task_done()

    workers = [threading.Thread(target=worker, name=f"worker-{i}") for i in range(3)]
    for w in workers:
        w.start()
    for n in range(20):
        tasks.put(n)
    tasks.join()  # every task taken and marked done
    tasks.shutdown()  # wakes the idle workers with ShutDown
    for w in workers:
        w.join()

    squares = sorted(results.get_nowait()[1:] for _ in range(results.qsize()))
    print("squares:", [sq for _, sq in squares])
    print("sum of squares:", sum(sq for _, sq in squares))
    assert squares == [(n, n * n) for n in range(20)]


if __name__ == "__main__":
    main()
