"""The one place where treadle.contextvars touches the interpreter.

The interpreter keeps a current context per thread: asyncio copies it for every task and
callback, ``asyncio.to_thread`` and ``loop.run_in_executor``'s callers copy it into worker
threads, and the stdlib's ``Context.run`` switches it. Each treadle variable keeps its
values there, in an interpreter variable of its own, so whatever the interpreter does to
its context (copy it, switch it, give a new thread an empty one) happens to treadle's
variables too, and the interpreter's persistent map makes copying O(1) and setting
O(log n).

The names come from ``_contextvars``, not ``contextvars``, so that this package keeps
working when something has put ``treadle.contextvars`` in ``sys.modules['contextvars']``
(as the conformance runs do). The module is the same on every supported version
(3.10-3.14): nothing here depends on the Python version.

:func:`publish` is the package's own copy of the rule every treadle package follows
(``treadle.thread_core.support.publish``), written out here because this package depends
on nothing.
"""

from __future__ import annotations

from _contextvars import Context as NativeContext
from _contextvars import ContextVar as NativeContextVar
from _contextvars import Token as NativeToken
from _contextvars import copy_context as native_copy_context
from collections.abc import MutableMapping
from types import FunctionType

__all__ = [
    "NATIVE_MISSING",
    "NativeContext",
    "NativeContextVar",
    "NativeToken",
    "native_copy_context",
    "publish",
]


def _native_missing() -> object:
    """Return the runtime's "no value before" marker (``Token.MISSING``).

    3.13's sub-interpreters lack the class attribute (a runtime bug), so there it is read
    from a token: the one a first ``set()`` returns holds the marker as its old value.
    """
    found = getattr(NativeToken, "MISSING", None)
    if found is not None:
        return found
    probe: NativeContextVar[None] = NativeContextVar("_treadle_probe")
    token = probe.set(None)
    probe.reset(token)
    return token.old_value


NATIVE_MISSING: object = _native_missing()


def publish(namespace: MutableMapping[str, object]) -> None:
    """Give each class and function of the package's ``__all__`` the package as module.

    Called last in ``__init__`` with ``globals()``; names from elsewhere keep theirs.
    """
    package = str(namespace["__name__"])
    for name in namespace["__all__"]:  # type: ignore[attr-defined]
        obj = namespace[name]
        if isinstance(obj, (type, FunctionType)) and obj.__module__.startswith(package + "."):
            obj.__module__ = package
