"""The markers for items whose interpreter was closed (3.14's ``_crossinterp`` names).

Queues accept these as ``unbounditems``; ``_UNBOUND_CONSTANT_TO_FLAG`` gives the numbers
the runtime uses for them.
"""

from __future__ import annotations

from ._errors import ItemInterpreterDestroyed
from ._queues import _OPS as _UNBOUND_CONSTANT_TO_FLAG
from ._queues import UNBOUND, UNBOUND_ERROR, UNBOUND_REMOVE

__all__ = [
    "UNBOUND",
    "UNBOUND_ERROR",
    "UNBOUND_REMOVE",
    "ItemInterpreterDestroyed",
]

_UNBOUND_FLAG_TO_CONSTANT = {flag: marker for marker, flag in _UNBOUND_CONSTANT_TO_FLAG.items()}
_ = _UNBOUND_FLAG_TO_CONSTANT
