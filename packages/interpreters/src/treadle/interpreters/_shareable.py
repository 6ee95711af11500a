"""Which objects may cross interpreters (3.14's ``is_shareable`` rules)."""

from __future__ import annotations

from . import _native
from ._errors import NotShareableError

__all__ = ["check_shareable", "is_shareable", "is_shareable_deep"]

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
