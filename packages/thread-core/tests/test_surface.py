"""The public names of treadle.thread_core against 3.14's _thread."""

from __future__ import annotations

import _thread

from pytest_treadle import check_public_surface
from treadle import thread_core

# treadle's additions to _thread's public names.
EXTRAS = [
    "PythonFinalizationError",  # what thread_core raises during finalization (built in 3.13+)
    "local",  # _thread has it only as the private _local
    "runtime",  # how treadle.threading shares the process with the stdlib's threading
    "support",  # the timeout rule and waiting primitives the other treadle packages use
]

# The interpreter's own objects, exported unchanged on every version.
ALWAYS_NATIVE = {
    "LockType": "the interpreter's lock: the primitive Python code cannot write",
    "allocate_lock": "makes the interpreter's lock, which stdlib code accepts as its own",
    "allocate": "the same function as allocate_lock",
    "get_ident": "the interpreter's thread identifier, the one the stdlib uses",
    "get_native_id": "the OS thread id, only the interpreter can ask for it",
}

# Exported unchanged where the interpreter already behaves as 3.14 does; before that
# thread_core has its own (which must report treadle.thread_core).
NATIVE_FROM_SOME_VERSION = {
    "lock": "3.13+: the interpreter's lock type, callable since 3.13",
    "RLock": "3.14: the interpreter's re-entrant lock, with locked()",
    "daemon_threads_allowed": "3.12+: only the interpreter knows its own setting",
    "set_name": "3.14: the interpreter names the OS thread itself",
}


def _native_here() -> dict[str, str]:
    native = dict(ALWAYS_NATIVE)
    for name, why in NATIVE_FROM_SOME_VERSION.items():
        ours = getattr(thread_core, name, None)
        if ours is not None and ours is getattr(_thread, name, None):
            native[name] = why
    return native


def test_thread_core_surface() -> None:
    problems = check_public_surface(thread_core, "_thread", extras=EXTRAS, native=_native_here())
    assert problems == []


def test_stand_ins_report_the_public_module() -> None:
    # Where thread_core has its own object for a 3.14 name, it says where it lives.
    for name in NATIVE_FROM_SOME_VERSION:
        obj = getattr(thread_core, name, None)
        if obj is not None and obj is not getattr(_thread, name, None):
            assert obj.__module__ == "treadle.thread_core", name
    assert thread_core.local.__module__ == "treadle.thread_core"
