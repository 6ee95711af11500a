"""treadle.multiprocessing.process: the process object and the process tree's state."""

from ._native import publish as _publish
from ._process import (
    AuthenticationString,
    BaseProcess,
    active_children,
    current_process,
    parent_process,
)

# CPython's tests reach these private names.
from ._process import ORIGINAL_DIR, _cleanup, _dangling  # noqa: F401

__all__ = [
    "AuthenticationString",
    "BaseProcess",
    "active_children",
    "current_process",
    "parent_process",
]

_publish(globals())
