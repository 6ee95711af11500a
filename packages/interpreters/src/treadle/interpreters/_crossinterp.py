"""Markers for items whose interpreter was closed, shared by cross-interpreter containers.

3.14's ``concurrent.interpreters._crossinterp`` names: ``UNBOUND``, ``UNBOUND_ERROR``,
``UNBOUND_REMOVE``, the numbers the runtime uses for them, ``UnboundItem.singleton()``
for a container's own ``UNBOUND`` marker, and the two conversions.
"""

from __future__ import annotations

from typing import Any

from ._errors import UnboundItemError as ItemInterpreterDestroyed
from ._queues import _OPS as _UNBOUND_CONSTANT_TO_FLAG
from ._queues import UNBOUND, UNBOUND_ERROR, UNBOUND_REMOVE

__all__ = [
    "UNBOUND",
    "UNBOUND_ERROR",
    "UNBOUND_REMOVE",
    "ItemInterpreterDestroyed",
    "UnboundItem",
    "resolve_unbound",
    "serialize_unbound",
]

_UNBOUND_FLAG_TO_CONSTANT: dict[int, Any] = {
    flag: marker for marker, flag in _UNBOUND_CONSTANT_TO_FLAG.items()
}


class UnboundItem:
    """Base of the ``UNBOUND`` marker each container makes with :meth:`singleton`."""

    __slots__ = ()
    _where = "treadle.interpreters._crossinterp.UNBOUND"

    @classmethod
    def singleton(cls, kind: str, module: str, name: str = "UNBOUND") -> UnboundItem:
        """Return the one marker of a *kind* of container, named ``module.name``."""
        marker_type = type(
            f"Unbound{kind.capitalize()}Item",
            (cls,),
            {"__slots__": (), "_where": f"{module}.{name}"},
        )
        return object.__new__(marker_type)

    def __new__(cls) -> UnboundItem:
        """Refuse: the markers are singletons."""
        raise TypeError(f"use {cls._where}")

    def __repr__(self) -> str:
        return self._where


def serialize_unbound(unbound: object) -> tuple[int]:
    """Return ``(flag,)``, the runtime's number for the marker *unbound*."""
    try:
        return (_UNBOUND_CONSTANT_TO_FLAG[unbound],)  # type: ignore[index]
    except (KeyError, TypeError):
        raise NotImplementedError(f"unsupported unbound replacement op {unbound!r}") from None


def resolve_unbound(flag: int, exctype_destroyed: type[BaseException]) -> object:
    """Return the marker for *flag*; raise *exctype_destroyed* for ``UNBOUND_ERROR``."""
    marker = _UNBOUND_FLAG_TO_CONSTANT.get(flag)
    if marker is UNBOUND:
        return UNBOUND
    if marker is UNBOUND_ERROR:
        raise exctype_destroyed("item's original interpreter destroyed")
    raise NotImplementedError(f"unsupported unbound replacement op {flag!r}")
