"""How close can plain Python get to the C operations two targets compare with?

    python benchmarks/floors.py [--rounds 7]

Two issue targets compare treadle with a C implementation: ``SimpleQueue`` put+get
within 2x of ``_queue.SimpleQueue`` (issue 5) and ``copy_context()`` within 3x of
``_contextvars`` (issue 3). treadle is plain Python above the interpreter's primitives
(DESIGN.md, "Layers"), so each of those operations costs at least one Python function
call. This script times, beside the C operation, the least any Python version of it can
do: the same signature and the same C work inside, nothing else (no wake-up of a waiting
getter, no check of the arguments). When even that stand-in misses the ratio, no plain
Python implementation can reach it on this interpreter and machine.

The stand-ins are not implementations: a getter parked on an empty stand-in queue would
never be woken.
"""

from __future__ import annotations

import argparse
import contextvars
import platform
import queue
import sys
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Case, measure
from bench_contextvars import _copy  # the same loops as the cases there
from bench_queue import _put_get


def _least_python_queue() -> SimpleNamespace:
    items: deque[Any] = deque()
    append, popleft = items.append, items.popleft
    parked: list[Any] = []

    def put(item: Any, block: bool = True, timeout: float | None = None) -> None:
        append(item)
        if parked:  # a real put must look for a parked getter; this one only looks
            pass

    def get(block: bool = True, timeout: float | None = None) -> Any:
        return popleft()

    return SimpleNamespace(put=put, get=get)


class _Wrapper:
    __slots__ = ("native",)
    native: Any


def _least_python_copy() -> Any:
    ctx = _Wrapper()
    ctx.native = contextvars.copy_context()
    return ctx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    cases = [
        Case(
            "SimpleQueue put+get: C vs least Python",
            _put_get(queue.SimpleQueue),
            _put_get(_least_python_queue),
            n=200_000,
            target=1 / 2,
        ),
        Case(
            "copy_context(): C vs least Python",
            _copy(contextvars, []),
            _copy(
                SimpleNamespace(Context=contextvars.Context, copy_context=_least_python_copy), []
            ),
            n=200_000,
            target=1 / 3,
        ),
    ]
    py = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"{py}, {args.rounds} rounds, medians; ratio = C time / least-Python time")
    for case in cases:
        r = measure(case, rounds=args.rounds)
        verdict = "reachable" if r.met else "out of reach of plain Python"
        print(f"{r.name:<42} ratio {r.ratio:.2f}, target {r.target:.2f}: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
