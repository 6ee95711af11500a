"""The one place where treadle.contextvars touches the interpreter.

The interpreter keeps a current context per thread: asyncio copies it for every task and
callback, ``asyncio.to_thread`` and ``loop.run_in_executor``'s callers copy it into worker
threads, and the stdlib's ``Context.run`` switches it. treadle keeps *all* of its state
in that context, as the value of a single interpreter context variable (``STATE``): an
immutable map from treadle variables to their values. Whatever the interpreter does to
its context (copy it, switch it, give a new thread an empty one) therefore happens to
treadle's variables too, at the cost of one interpreter variable.

The names come from ``_contextvars``, not ``contextvars``, so that this package keeps
working when something has put ``treadle.contextvars`` in ``sys.modules['contextvars']``
(as the conformance runs do). The module is the same on every supported version
(3.10-3.14): nothing here depends on the Python version.
"""

from __future__ import annotations

from _contextvars import Context as NativeContext
from _contextvars import ContextVar as NativeContextVar
from _contextvars import Token as NativeToken
from _contextvars import copy_context as native_copy_context
from typing import Any

__all__ = [
    "EMPTY",
    "NATIVE_MISSING",
    "STATE",
    "NativeContext",
    "NativeToken",
    "native_copy_context",
    "state_get",
    "state_reset",
    "state_set",
]

EMPTY: dict[Any, Any] = {}

# treadle's whole state in the current interpreter context. The default (an empty map)
# is what a new thread, a fresh ``Context()`` and an interpreter context that never saw
# treadle all start with. The value is never mutated, only replaced.
STATE: NativeContextVar[Any] = NativeContextVar("treadle.contextvars.state", default=EMPTY)

# Bound methods, looked up once: these are on every hot path.
state_get = STATE.get
state_set = STATE.set
state_reset = STATE.reset

NATIVE_MISSING: object = NativeToken.MISSING
