"""The resource tracker: removes the semaphores and segments that dead processes left.

One tracker process serves a whole process tree; :func:`ensure_running` starts it (or
finds the one this process inherited), :func:`register` and :func:`unregister` tell it
which named resources exist. When every process of the tree has exited, it removes what
is still registered and warns about it on standard error.
"""

from __future__ import annotations

from . import _native, _tracker
from ._tracker import CLEANUP as _CLEANUP
from ._tracker import (
    ReentrantCallError,
    ResourceTracker,
    ensure_running,
    getfd,
    main,
    register,
    unregister,
)

# CPython's tests use this: this process's end of the tracker.
_resource_tracker = _tracker.tracker

# CPython's tests read this: the resource types, each with the function that removes a
# leftover. The tracker also takes 'dummy' (3.13+'s tests register it), left out here:
# the tests of 3.10-3.12 try every listed type but 'noop' with real resources.
_CLEANUP_FUNCS = {rtype: remove for rtype, remove in _CLEANUP.items() if rtype != "dummy"}

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
