"""``concurrent.futures.interpreter``: InterpreterPoolExecutor, from ``[interpreters]``.

The interpreter pool is built on treadle-interpreters (``pip install
'treadle-futures[interpreters]'``) and is not part of this release: creating an
:class:`InterpreterPoolExecutor` raises ImportError naming the extra.
"""

from __future__ import annotations

from ._base import BrokenExecutor, Executor
from ._lazy import missing

__all__ = ["BrokenInterpreterPool", "InterpreterPoolExecutor"]


class BrokenInterpreterPool(BrokenExecutor):
    """Raised when an interpreter pool's worker fails to start."""


class InterpreterPoolExecutor(Executor):
    """Stand-in for the interpreter pool: needs ``treadle-futures[interpreters]``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Raise ImportError naming the ``[interpreters]`` extra."""
        raise missing("InterpreterPoolExecutor", "interpreters", "treadle-interpreters")
