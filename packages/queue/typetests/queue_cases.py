"""Type tests of treadle.queue: what a type checker infers, and what it must refuse."""

from __future__ import annotations

from typing_extensions import assert_type

from treadle import queue

q: queue.Queue[int] = queue.Queue()
assert_type(q.get(), int)
q.put("x")  # type: ignore[arg-type]
