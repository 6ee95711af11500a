"""Side-by-side timing of treadle and the stdlib, in one process run.

A benchmark module ``benchmarks/bench_<leaf>.py`` (``<leaf>`` as in ``treadle.<leaf>``)
defines ``CASES``, a list of :class:`Case`. Each side of a case is a function that runs
the operation ``n`` times and returns the seconds it took, measured by itself with
:func:`time.perf_counter`, so that set-up (starting threads, filling a queue) stays out
of the figure. Rounds alternate between the two sides so that both see the same machine
load; the figure kept for each side is the median over the rounds.

The ratio reported is ``stdlib time / treadle time``: above 1, treadle is faster.
``target`` is the ratio a case must reach ("within 1.1x of the stdlib" is ``1 / 1.1``;
"at least 4x faster" is ``4.0``).
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Case", "Result", "measure"]

Timed = Callable[[int], float]


@dataclass(frozen=True)
class Case:
    """One operation timed on both sides."""

    name: str
    stdlib: Timed
    treadle: Timed
    n: int
    target: float = 1.0
    note: str = ""
    #: The fewest operations a round times, whatever --scale says: a case whose operation
    #: is a whole process start is noise at two per round.
    min_n: int = 1


@dataclass(frozen=True)
class Result:
    """Medians of one case, in seconds per operation."""

    name: str
    stdlib: float
    treadle: float
    target: float
    note: str

    @property
    def ratio(self) -> float:
        """Stdlib time over treadle time: above 1, treadle is faster."""
        return self.stdlib / self.treadle if self.treadle > 0 else float("inf")

    @property
    def met(self) -> bool:
        """Whether the ratio reaches the target."""
        return self.ratio >= self.target


def measure(case: Case, rounds: int = 7, scale: float = 1.0) -> Result:
    """Time *case* for *rounds* alternating rounds, after one warm-up round each."""
    n = max(case.min_n, int(case.n * scale))
    case.stdlib(max(1, n // 10))
    case.treadle(max(1, n // 10))
    std: list[float] = []
    ours: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(rounds):
            # Alternate which side goes first, so neither always runs on a warmer cache.
            if i % 2:
                ours.append(case.treadle(n) / n)
                std.append(case.stdlib(n) / n)
            else:
                std.append(case.stdlib(n) / n)
                ours.append(case.treadle(n) / n)
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return Result(
        case.name, statistics.median(std), statistics.median(ours), case.target, case.note
    )
