"""Which objects may cross interpreters (3.14's ``is_shareable`` rules)."""

from __future__ import annotations

import builtins
import dis
import types
import weakref

from . import _native
from ._errors import NotShareableError

__all__ = ["check_shareable", "is_shareable", "is_shareable_deep", "is_stateless"]

_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME"})
_stateless_code: weakref.WeakKeyDictionary[types.CodeType, bool] = weakref.WeakKeyDictionary()

# What 3.14 shares by value (or, for memoryview, by buffer); a tuple counts whatever it
# holds, as 3.14's is_shareable() says, but its items must be shareable to be sent.
_SCALARS = (type(None), bool, int, float, str, bytes, memoryview)


def _queue_type() -> type:
    from ._queues import Queue  # noqa: PLC0415 - _queues imports this module

    return Queue


def is_shareable(obj: object) -> bool:
    """Return True if *obj* can be passed to another interpreter as it is."""
    if _native.AVAILABLE:
        return _native.interp.is_shareable(obj)
    return type(obj) in _SCALARS or type(obj) is tuple or isinstance(obj, _queue_type())


def is_shareable_deep(obj: object) -> bool:
    """Like :func:`is_shareable`, with the items of tuples checked too."""
    if type(obj) is tuple:
        return all(is_shareable_deep(item) for item in obj)
    return type(obj) in _SCALARS or isinstance(obj, _queue_type())


def check_shareable(obj: object) -> None:
    """Raise NotShareableError (3.14's message) unless *obj* can be sent as it is."""
    if not is_shareable_deep(obj):
        raise NotShareableError(f"{obj!r} does not support cross-interpreter data")


def is_stateless(func: object) -> bool:
    """Return True for a function 3.14 sends to another interpreter as its code.

    That is a plain function with no closure and no defaults, whose code (and nested
    code) reads no global other than a builtin: it behaves the same in the other
    interpreter's ``__main__``, whether or not its module can be imported there.
    """
    if type(func) is not types.FunctionType:
        return False
    if func.__closure__ or func.__defaults__ or func.__kwdefaults__:
        return False
    code = func.__code__
    found = _stateless_code.get(code)
    if found is None:
        found = _code_is_stateless(code)
        _stateless_code[code] = found
    return found


def _code_is_stateless(code: types.CodeType) -> bool:
    if code.co_freevars:
        return False
    for instruction in dis.get_instructions(code):
        if instruction.opname in _GLOBAL_OPS and not hasattr(builtins, str(instruction.argval)):
            return False
    return all(
        _code_is_stateless(const) for const in code.co_consts if isinstance(const, types.CodeType)
    )
