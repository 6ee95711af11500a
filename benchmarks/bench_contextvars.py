"""treadle.contextvars against the interpreter's C ``contextvars``.

Targets (issue 3): ``get()``, ``set()`` + ``reset()`` and ``copy_context()`` within 3x of
the C implementation, and ``copy_context()`` constant in the number of variables set in
the context, shown at 10, 1,000 and 100,000 variables (each compared with the stdlib's
own ``copy_context`` at that size: both are O(1)).
"""

from __future__ import annotations

import contextvars as std
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import contextvars as ours

__all__ = ["CASES"]

Timed = Callable[[int], float]


def _get(var: Any, module: Any) -> Timed:
    def run(n: int) -> float:
        def body() -> float:
            var.set(1)
            get = var.get
            t0 = time.perf_counter()
            for _ in range(n):
                get()
            return time.perf_counter() - t0

        result: float = module.Context().run(body)
        return result

    return run


def _set_reset(var: Any, module: Any) -> Timed:
    def run(n: int) -> float:
        def body() -> float:
            var.set(0)
            set_, reset = var.set, var.reset
            t0 = time.perf_counter()
            for i in range(n):
                reset(set_(i))
            return time.perf_counter() - t0

        result: float = module.Context().run(body)
        return result

    return run


def _copy(module: Any, variables: list[Any]) -> Timed:
    # The context is filled once (set-up, outside the timing) and reused by every round.
    ctx = module.Context()

    def fill() -> None:
        for i, var in enumerate(variables):
            var.set(i)

    ctx.run(fill)
    assert len(ctx) == len(variables)

    def body(n: int) -> float:
        copy_context = module.copy_context
        t0 = time.perf_counter()
        for _ in range(n):
            copy_context()
        return time.perf_counter() - t0

    def run(n: int) -> float:
        result: float = ctx.run(body, n)
        return result

    return run


def _copy_case(size: int) -> Case:
    std_vars: list[Any] = [std.ContextVar(f"v{i}") for i in range(size)]
    our_vars: list[Any] = [ours.ContextVar(f"v{i}") for i in range(size)]
    return Case(
        f"copy_context() with {size:,} variables set",
        _copy(std, std_vars),
        _copy(ours, our_vars),
        n=200_000,
        target=1 / 3,
        note="O(1): same cost at every size",
    )


CASES: list[Case] = [
    Case(
        "ContextVar.get()",
        _get(std.ContextVar("g", default=0), std),
        _get(ours.ContextVar("g", default=0), ours),
        n=500_000,
        target=1 / 3,
    ),
    Case(
        "ContextVar.set() + reset()",
        _set_reset(std.ContextVar("s", default=0), std),
        _set_reset(ours.ContextVar("s", default=0), ours),
        n=200_000,
        target=1 / 3,
    ),
    Case(
        "copy_context()",
        _copy(std, []),
        _copy(ours, []),
        n=200_000,
        target=1 / 3,
    ),
    *(_copy_case(size) for size in (10, 1_000, 100_000)),
]
