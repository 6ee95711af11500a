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


def __getattr__(name: str) -> object:
    # The stdlib's context module has `reduction`; its part-2 modules (heap, synchronize,
    # queues) import it from there. Loaded on first use: a spawned child imports this
    # module and must stay light. (Added by helper C.)
    if name == "reduction":
        from . import reduction  # noqa: PLC0415

        return reduction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
