"""The resource tracker: removes the semaphores and segments that dead processes left.

One tracker process serves a whole process tree; :func:`ensure_running` starts it (or
finds the one this process inherited), :func:`register` and :func:`unregister` tell it
which named resources exist. When every process of the tree has exited, it removes what
is still registered and warns about it on standard error.
"""

from __future__ import annotations

from . import _native
from ._tracker import CLEANUP as _CLEANUP_FUNCS  # noqa: F401 - CPython's tests read it
from ._tracker import (
    ReentrantCallError,
    ResourceTracker,
    ensure_running,
    getfd,
    main,
    register,
    unregister,
)
from ._tracker import tracker as _resource_tracker  # noqa: F401 - CPython's tests use it

__all__ = [
    "ReentrantCallError",
    "ResourceTracker",
    "ensure_running",
    "getfd",
    "main",
    "register",
    "unregister",
]

_native.publish(globals())
