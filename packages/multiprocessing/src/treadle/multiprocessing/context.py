"""treadle.multiprocessing.context: contexts and the process classes of each start method.

Kept free of heavy imports: every spawned child imports this module to unpickle its
process object.
"""

from ._context import (  # noqa: F401
    AuthenticationError,
    BaseContext,
    BufferTooShort,
    DefaultContext,
    ForkContext,
    ForkProcess,
    ForkServerContext,
    ForkServerProcess,
    Process,
    ProcessError,
    SpawnContext,
    SpawnProcess,
    TimeoutError,
    _concrete_contexts,
    _default_context,
    _force_start_method,
    assert_spawning,
    get_spawning_popen,
    set_spawning_popen,
)
from ._native import publish as _publish

__all__ = [
    "AuthenticationError",
    "BaseContext",
    "BufferTooShort",
    "DefaultContext",
    "ForkContext",
    "ForkProcess",
    "ForkServerContext",
    "ForkServerProcess",
    "Process",
    "ProcessError",
    "SpawnContext",
    "SpawnProcess",
    "TimeoutError",
    "assert_spawning",
    "get_spawning_popen",
    "set_spawning_popen",
]

_publish(globals())
