"""treadle.multiprocessing.process: the process object and the process tree's state."""

from ._native import publish as _publish

# CPython's tests reach these private names.
from ._process import (  # noqa: F401
    ORIGINAL_DIR,
    AuthenticationString,
    BaseProcess,
    _cleanup,
    _dangling,
    active_children,
    current_process,
    parent_process,
)

__all__ = [
    "AuthenticationString",
    "BaseProcess",
    "active_children",
    "current_process",
    "parent_process",
]

_publish(globals())
