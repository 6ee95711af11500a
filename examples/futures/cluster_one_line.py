"""One program, three places to run it: threads, processes, a Dask cluster; one line differs.

``word_lengths`` is written against the Executor API only. What runs it is chosen by the
one line in each entry of ``EXECUTORS``: a thread pool, a process pool, or a local Dask
cluster (``treadle-futures[distributed]``; skipped, and said so, without it). For a real
cluster, start ``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786`` on
each worker machine (with treadle-futures and this program's modules installed there),
then use ``DistributedExecutor("tcp://HOST:8786")``.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
from collections.abc import Callable

from treadle import futures
from treadle.futures.distributed import DistributedExecutor  # imports Dask on first use only

TEXT = ["one", "program", "runs", "on", "threads", "processes", "or", "a", "dask", "cluster"]


def length(word: str) -> int:
    return len(word)


def word_lengths(executor: concurrent.futures.Executor) -> dict[str, int]:
    """The program: any Executor, treadle's or the stdlib's, runs it unchanged."""
    with executor:
        lengths = executor.map(length, TEXT, timeout=60)
        first = executor.submit(length, TEXT[0])
        done, _ = futures.wait([first], timeout=60)
        assert first in done
        return dict(zip(TEXT, lengths, strict=True))


def _cluster() -> concurrent.futures.Executor:
    return DistributedExecutor.local(n_workers=2)  # the line for a cluster


EXECUTORS: dict[str, Callable[[], concurrent.futures.Executor]] = {
    "threads": lambda: futures.ThreadPoolExecutor(4),  # the line for threads
    # The stdlib's process pool until treadle's arrives (issue 16, the [process] extra).
    "processes": lambda: concurrent.futures.ProcessPoolExecutor(2),  # the line for processes
    "cluster": _cluster,
}


def main() -> None:
    results = {}
    for name, make in EXECUTORS.items():
        if name == "cluster" and importlib.util.find_spec("distributed") is None:
            print("cluster: skipped, Dask's distributed is not installed here")
            continue
        results[name] = word_lengths(make())
        print(f"{name}: {sum(results[name].values())} letters in {len(TEXT)} words")
    assert all(r == results["threads"] for r in results.values())


if __name__ == "__main__":
    main()
