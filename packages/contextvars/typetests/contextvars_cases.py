"""Type tests of treadle.contextvars: what a type checker infers, and what it must refuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import assert_type

from treadle import contextvars

# --- ContextVar ---------------------------------------------------------------------------

count: contextvars.ContextVar[int] = contextvars.ContextVar("count", default=0)
label: contextvars.ContextVar[str] = contextvars.ContextVar("label")
assert_type(count.name, str)
assert_type(count.get(), int)
assert_type(count.get(5), int)
assert_type(count.get(None), int | None)
assert_type(label.get("none"), str)
assert_type(label.get(b"none"), bytes | str)

token = count.set(1)
assert_type(token, contextvars.Token[int])
assert_type(token.var, contextvars.ContextVar[int])
assert_type(token.old_value, Any)
assert_type(contextvars.Token.MISSING, object)
assert_type(count.reset(token), None)
with count.set(2) as inner:
    assert_type(inner, contextvars.Token[int])

count.set("one")  # type: ignore[arg-type]
count.reset(label.set("x"))  # type: ignore[arg-type]
count.get(1, 2)  # type: ignore[call-overload]
contextvars.ContextVar(1)  # type: ignore[call-overload]
contextvars.ContextVar("v", dflt=1)  # type: ignore[call-overload]
token.var = count  # type: ignore[misc]
count.name = "other"  # type: ignore[misc]

# --- Context and copy_context ---------------------------------------------------------------


def work(step: int, *, note: str) -> float:
    """Stand for any function with positional and keyword-only parameters."""
    return step / 2


ctx = contextvars.copy_context()
assert_type(ctx, contextvars.Context)
assert_type(contextvars.Context(), contextvars.Context)
assert_type(ctx.run(work, 1, note="x"), float)
assert_type(ctx.run(count.get), int)
assert_type(ctx.run(label.set, "y"), contextvars.Token[str])
assert_type(ctx.copy(), contextvars.Context)
assert_type(ctx[count], int)
assert_type(ctx.get(count), int | None)
assert_type(ctx.get(count, 0), int)
assert_type(ctx.get(count, "none"), int | str)
assert_type(count in ctx, bool)
assert_type(len(ctx), int)
assert_type(list(ctx), list[contextvars.ContextVar[Any]])
mapping: Mapping[contextvars.ContextVar[Any], Any] = ctx

ctx.run(work, "1", note="x")  # type: ignore[arg-type]
ctx.run(work, 1)  # type: ignore[call-arg]
ctx.run(work, 1, note="x", extra=2)  # type: ignore[call-arg]
contextvars.Context(ctx)  # type: ignore[call-arg]
ctx[count] = 1  # type: ignore[index]
