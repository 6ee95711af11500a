"""DistributedExecutor against Dask's own ways to run the same map, on one cluster.

Imported by bench_futures.py when ``distributed`` is importable. In the harness's table,
the "stdlib" column is Dask's own API on the same LocalCluster (2 worker processes, one
thread each, on 127.0.0.1) and the "treadle" column is ``DistributedExecutor.map``; the
cases there are small (every round maps again). Run directly for the issue's figures, one
run each (``python benchmarks/_distributed_cases.py [--items N] [--memory M]``): ``map``
over N items (default 100,000) by ``DistributedExecutor``, ``Client.map`` + ``gather`` and
``Client.get_executor().map``, and ``map(buffersize=...)`` over M items (default 10
million, in chunks) with the client's resident memory sampled as the results arrive.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle.futures.distributed import DistributedExecutor

__all__ = ["CASES", "cluster_client", "main"]

Timed = Callable[[int], float]
_state: dict[str, Any] = {}


def _ident(x: int) -> int:
    return x


def cluster_client() -> Any:
    """The benchmarks' one cluster and client, started on first use, closed at exit."""
    client = _state.get("client")
    if client is None:
        import cloudpickle  # type: ignore[import-not-found,unused-ignore]
        import distributed  # type: ignore[import-not-found,unused-ignore]

        if __name__ != "__main__":  # the workers need not import this module
            cloudpickle.register_pickle_by_value(sys.modules[__name__])

        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
        client = distributed.Client(cluster, set_as_default=False)
        _state.update(cluster=cluster, client=client)
        atexit.register(_close)
    return client


def _close() -> None:
    _state.pop("client").close()
    _state.pop("cluster").close()


def _ours(chunksize: int = 1) -> Timed:
    def run(n: int) -> float:
        executor = DistributedExecutor(cluster_client())
        try:
            t0 = time.perf_counter()
            for _ in executor.map(_ident, range(n), chunksize=chunksize):
                pass
            return time.perf_counter() - t0
        finally:
            executor.shutdown()

    return run


def _client_map(n: int) -> float:
    client = cluster_client()
    t0 = time.perf_counter()
    client.gather(client.map(_ident, range(n), pure=False))
    return time.perf_counter() - t0


def _dask_executor(n: int) -> float:
    executor = cluster_client().get_executor(pure=False)
    t0 = time.perf_counter()
    for _ in executor.map(_ident, range(n)):
        pass
    return time.perf_counter() - t0


CASES: list[Case] = [
    Case(
        "cluster: map() of 1,000 items; 'stdlib' = Client.map+gather",
        _client_map,
        _ours(),
        n=1_000,
        target=0.8,
        note="both sides on one 2-process LocalCluster; Dask's per-task cost dominates",
    ),
    Case(
        "cluster: map() of 1,000 items; 'stdlib' = Client.get_executor().map",
        _dask_executor,
        _ours(),
        n=1_000,
        target=0.8,
    ),
]


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def memory_run(
    items: int, chunksize: int, buffersize: int, *, message_log: bool = True
) -> tuple[float, list[int]]:
    """Map over *items* with a bounded buffer; return seconds and RSS samples (bytes).

    On a cluster of its own whose scheduler runs in another process (a LocalCluster's
    runs in this one, and its task history would count as the client's memory). With
    *message_log* false, Dask's client does not keep its last 1,000 messages to the
    scheduler (``distributed.admin.low-level-log-length``): a bounded store that fills
    in the first part of the run, each task's pickled arguments among them.
    """
    import dask  # type: ignore[import-not-found,unused-ignore]
    import distributed  # type: ignore[import-not-found,unused-ignore]

    samples: list[int] = []
    every = max(1, items // 20)
    log_config = {} if message_log else {"distributed.admin.low-level-log-length": 0}
    with (
        dask.config.set(log_config),
        distributed.SubprocessCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=1,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
        DistributedExecutor(client) as executor,
    ):
        t0 = time.perf_counter()
        results = executor.map(_ident, range(items), chunksize=chunksize, buffersize=buffersize)
        for i, value in enumerate(results):
            if i % every == 0:
                samples.append(_rss())
            assert value == i
        elapsed = time.perf_counter() - t0
    samples.append(_rss())
    return elapsed, samples


def main() -> None:
    """Print the issue's figures: throughput of the three maps, memory of the long map."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--memory", type=int, default=10_000_000)
    parser.add_argument("--chunksize", type=int, default=2_000)
    parser.add_argument("--buffersize", type=int, default=8)
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument(
        "--no-message-log",
        action="store_true",
        help="turn off the client's log of its last 1,000 messages to the scheduler",
    )
    args = parser.parse_args()
    n = args.items
    for name, run in (
        ()
        if args.memory_only
        else (
            ("DistributedExecutor.map", _ours()),
            ("Client.map + gather", _client_map),
            ("Client.get_executor().map", _dask_executor),
            ("DistributedExecutor.map(chunksize=1000)", _ours(1000)),
        )
    ):
        seconds = run(n)
        print(f"{name}: {n:,} items in {seconds:.1f} s, {n / seconds:,.0f} items/s", flush=True)
    m = args.memory
    seconds, samples = memory_run(
        m, args.chunksize, args.buffersize, message_log=not args.no_message_log
    )
    mib = [s / 2**20 for s in samples]
    print(
        f"map(chunksize={args.chunksize}, buffersize={args.buffersize}) over {m:,} items: "
        f"{seconds:.1f} s; client RSS first {mib[0]:.1f} MiB, max {max(mib):.1f} MiB, "
        f"last {mib[-1]:.1f} MiB ({len(mib)} samples)",
        flush=True,
    )
    # Flat means no trend: the samples of the second half are no higher than the first's.
    half = len(mib) // 2
    print(
        "  RSS samples (MiB), every 5 % of the items: " + " ".join(f"{m:.0f}" for m in mib),
        f"\n  median of the first half {statistics.median(mib[1:half]):.1f} MiB, "
        f"of the second half {statistics.median(mib[half:]):.1f} MiB",
        flush=True,
    )


if __name__ == "__main__":
    main()
