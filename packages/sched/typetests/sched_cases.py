"""Type tests of treadle.sched: what a type checker infers, and what it must refuse."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from typing_extensions import assert_type

from treadle import sched


def tick(label: str, *, count: int = 1) -> None:
    """Stand for any action."""
    pass


s = sched.scheduler()
assert_type(s, sched.scheduler)
assert_type(sched.scheduler(time.time, time.sleep), sched.scheduler)
assert_type(s.timefunc, Callable[[], float])
assert_type(s.delayfunc, Callable[[float], object])

event = s.enter(1.5, 0, tick, ("a",), {"count": 2})
assert_type(event, sched.Event)
assert_type(s.enterabs(time.monotonic() + 1, 1, tick, ("b",)), sched.Event)
assert_type(s.enter(0, 1, print), sched.Event)
assert_type(event.time, float)
assert_type(event.priority, Any)
assert_type(event.sequence, int)
assert_type(event.argument, tuple[Any, ...])
assert_type(event.kwargs, dict[str, Any])
assert_type(s.cancel(event), None)
assert_type(s.empty(), bool)
assert_type(s.queue, list[sched.Event])
assert_type(s.run(), float | None)
assert_type(s.run(blocking=False), float | None)

s.enter("soon", 0, tick)  # type: ignore[arg-type]
s.enter(1, 0, tick, "a")  # type: ignore[arg-type]
s.enter(1, 0, tick, ("a",), {1: 2})  # type: ignore[dict-item]
s.enterabs(1, 0, 42)  # type: ignore[arg-type]
s.cancel("event")  # type: ignore[arg-type]
sched.scheduler(42)  # type: ignore[arg-type]
sched.scheduler(time.monotonic, 42)  # type: ignore[arg-type]
s.queue = []  # type: ignore[misc]
