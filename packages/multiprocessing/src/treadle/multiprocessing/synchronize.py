"""treadle.multiprocessing.synchronize: locks and friends shared between processes.

``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Condition``, ``Event`` and
``Barrier`` with 3.14's behaviour (``locked()``, the reprs, the fork-context check), each
taking the keyword-only ``ctx`` that the context's methods (``get_context().Lock()``...)
pass for you. ``SemLock`` is their common base.
"""

from ._native import publish as _publish
from ._synchronize import (  # noqa: F401 - the stdlib's module-level names
    RECURSIVE_MUTEX,
    SEM_VALUE_MAX,
    SEMAPHORE,
    Barrier,
    BoundedSemaphore,
    Condition,
    Event,
    Lock,
    RLock,
    Semaphore,
    SemLock,
)

# The stdlib's __all__ lacks Barrier and SemLock; both are public classes here.
__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Lock",
    "RLock",
    "SemLock",
    "Semaphore",
]

_publish(globals())
