"""Stress treadle.multiprocessing.Queue: four processes on one Queue(maxsize=8), one killed.

Each run starts two producers (each puts ``--items`` numbered items) and two consumers
(each reports every item it takes on a pipe of its own), then SIGKILLs one of the four,
chosen at random, once the consumers have taken a random number of items. A run passes
when it ends (no hang), no item arrived twice, nothing arrived that was never put, and no
child process or descriptor is left. Items put but never delivered are counted as lost
(the killed process may have held them); for a killed producer, only the gaps before
its last delivered item count (the rest may never have been put).

    python tools/stress/mp_queue_kill.py --runs 200

Exit status 0 when every run passed. The test suite runs a few runs of it
(packages/multiprocessing/tests/test_queues.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import random
import signal
import sys
import time
from typing import Any

from treadle import multiprocessing
from treadle.multiprocessing import connection

PRODUCERS = 2
CONSUMERS = 2
MAXSIZE = 8
# A run that has not ended after this many seconds is a hang.
HANG_AFTER = 60.0


def produce(q: Any, index: int, count: int) -> None:
    """Put *count* items ``(index, number)``; the feeder flushes them at exit."""
    for number in range(count):
        q.put((index, number))


def consume(q: Any, report: Any) -> None:
    """Take items until None, reporting each one on *report*."""
    while (item := q.get()) is not None:
        report.send(item)
    report.close()


@dataclasses.dataclass
class RunResult:
    """What one run saw."""

    victim: str
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    strangers: int = 0
    hang: bool = False
    leaked: list[str] = dataclasses.field(default_factory=list)
    failed_children: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run passed."""
        bad = self.duplicates or self.strangers or self.leaked or self.failed_children
        return not (self.hang or bad)


def _open_fds() -> set[int]:
    return (
        {int(name) for name in os.listdir("/proc/self/fd")}
        if os.path.isdir("/proc/self/fd")
        else set()
    )


def one_run(rng: random.Random, items: int, method: str = "fork") -> RunResult:
    """Do one run; return what it saw."""
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue(MAXSIZE)
    producers = [ctx.Process(target=produce, args=(q, i, items)) for i in range(PRODUCERS)]
    reports = []
    consumers = []
    for _ in range(CONSUMERS):
        reader, writer = ctx.Pipe(duplex=False)
        consumers.append(ctx.Process(target=consume, args=(q, writer)))
        reports.append((reader, writer))
    everyone = producers + consumers
    for process in everyone:
        process.start()
    for _, writer in reports:
        writer.close()
    victim = rng.choice(everyone)
    kill_after = rng.randrange(0, items)
    result = RunResult(victim="producer" if victim in producers else "consumer")
    seen: set[tuple[int, int]] = set()
    readers = {reader: consumer for (reader, _), consumer in zip(reports, consumers, strict=True)}
    killed = stopped = False
    deadline = time.monotonic() + HANG_AFTER

    def take(item: Any) -> None:
        if item in seen:
            result.duplicates += 1
        elif not (isinstance(item, tuple) and 0 <= item[0] < PRODUCERS and 0 <= item[1] < items):
            result.strangers += 1
        seen.add(item)

    while readers:
        left = deadline - time.monotonic()
        if left <= 0:
            result.hang = True
            break
        producers_done = all(p.exitcode is not None for p in producers)
        if not killed and (len(seen) >= kill_after or producers_done):
            try:
                os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
            except ProcessLookupError:  # it had already ended (and been reaped)
                result.victim += " (already ended)"
            victim.join()
            killed = True
            continue
        if killed and producers_done and not stopped:
            for consumer in consumers:
                if consumer is not victim:
                    q.put(None)
            stopped = True
        waiting = list(readers) + [p.sentinel for p in producers if p.exitcode is None]
        for ready in connection.wait(waiting, timeout=min(left, 1.0)):
            if ready not in readers:
                continue  # a producer ended: the loop looks at exit codes
            try:
                take(ready.recv())
            except (EOFError, OSError):  # the consumer is gone (a partial last report too)
                ready.close()
                del readers[ready]
        for p in producers:
            if p.exitcode is None and not p.is_alive():
                p.join()
    if result.hang:
        for process in everyone:
            if process.is_alive():
                process.kill()
    for process in everyone:
        process.join(HANG_AFTER)
        if process.exitcode is None:
            result.hang = True
            process.kill()
            process.join()
        elif process is not victim and process.exitcode != 0:
            result.failed_children.append(f"{process.name}: exit code {process.exitcode}")
    for reader, _ in reports:
        reader.close()
    q.close()
    q.join_thread()
    del q
    result.delivered = len(seen)
    # Lost: an item put and not delivered. For a killed producer, the items after the
    # last one delivered may never have been put: only the gaps before it count.
    expected: set[tuple[int, int]] = set()
    for index, producer in enumerate(producers):
        numbers = [n for i, n in seen if i == index]
        last = (max(numbers) + 1 if numbers else 0) if producer is victim else items
        expected.update((index, n) for n in range(last))
    result.lost = len(expected - seen)
    alive = [process.name for process in everyone if process.is_alive()]
    if alive:
        result.leaked.append(f"children: {alive}")
    return result


def run_many(
    runs: int, items: int, seed: int, method: str = "fork", out: Any = None
) -> list[RunResult]:
    """Do *runs* runs; print a line per run to *out* (if given); return the results."""
    rng = random.Random(seed)
    results = []
    for number in range(runs):
        fds_before = _open_fds()
        result = one_run(rng, items, method)
        gc.collect()  # the run's queue and connections, in reference cycles or not
        extra = _open_fds() - fds_before
        if extra:
            result.leaked.append(f"descriptors: {sorted(extra)}")
        results.append(result)
        if out is not None:
            verdict = "ok" if result.ok else "FAILED"
            print(
                f"run {number + 1:3}: {verdict} killed a {result.victim}; delivered"
                f" {result.delivered}, lost {result.lost}, duplicates {result.duplicates},"
                f" strangers {result.strangers}, hang {result.hang}"
                + (f", leaked {result.leaked}" if result.leaked else "")
                + (f", {result.failed_children}" if result.failed_children else ""),
                file=out,
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the stress test from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--items", type=int, default=300, help="items per producer")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--method", default="fork", help="start method (fork is fastest)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}", flush=True)
    results = run_many(args.runs, args.items, seed, args.method, out=sys.stdout)
    passed = sum(result.ok for result in results)
    lost = sum(result.lost for result in results)
    print(f"{passed}/{len(results)} runs passed; {lost} items lost in total")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
