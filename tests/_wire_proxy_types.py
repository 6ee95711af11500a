"""A proxy type of the user's own, for the managers' wire tests.

Both ends import it by this module's name: treadle's test process (and the manager
servers it forks) and a stdlib peer (which puts this folder on its path). Each end's
class derives from the ``BaseProxy`` of the multiprocessing its managers are: treadle's
where treadle's is imported, the stdlib's in a peer.
"""

from __future__ import annotations

import sys
from typing import Any

if "treadle.multiprocessing" in sys.modules:
    from treadle.multiprocessing.managers import BaseProxy
else:  # a stdlib peer
    from multiprocessing.managers import BaseProxy  # type: ignore[assignment]


class TallyProxy(BaseProxy):
    """A proxy of a ``collections.Counter`` with two methods of its own."""

    _exposed_ = ("update", "most_common")

    def update(self, items: Any) -> None:
        """Count *items* (the referent's ``update``)."""
        self._callmethod("update", (items,))

    def most_common(self, n: int) -> list[tuple[Any, int]]:
        """The *n* most common items and their counts."""
        result: list[tuple[Any, int]] = self._callmethod("most_common", (n,))
        return result
