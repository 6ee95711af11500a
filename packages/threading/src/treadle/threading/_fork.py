"""After ``os.fork()``: make the registry consistent in the child, whoever forked.

Only the forking thread lives on in the child. It becomes the child's main thread (a
foreign thread's dummy object turns into a ``MainThread``, as 3.13 does), every other
Thread is marked stopped, the registry's lock is replaced, and the primitives that
vanished threads were blocked on are reset (``_sync.reinit_after_fork``).
"""

from __future__ import annotations

from treadle import thread_core
from treadle.thread_core import runtime

from . import _exit, _sync
from . import _registry as registry
from ._threads import DummyThread, MainThread, Thread, _death_watch, _FlagHandle

__all__ = ["after_fork"]


def _stop(thread: Thread) -> None:
    thread._is_stopped = True
    if isinstance(thread._handle, _FlagHandle):
        thread._handle._set_done()
    # A started thread's handle: thread-core marks it done in the child.


def _become_main(thread: Thread | None, ident: int) -> Thread:
    if isinstance(thread, DummyThread):
        _death_watch.marker = None  # its thread no longer ends before the process
        thread.__class__ = MainThread  # type: ignore[assignment]
        thread._name = "MainThread"
        thread._daemonic = False
        thread._is_stopped = False
        thread._handle = _FlagHandle(ident)
    elif thread is None:
        thread = MainThread(ident)
    thread._ident = ident
    thread._native_id = thread_core.get_native_id()
    thread._started_flag = True
    thread._boot_lock = None
    return thread


def after_fork() -> None:
    """Make the registry consistent in a forked child: only the caller lives on."""
    registry.lock = thread_core.allocate_lock()
    me = thread_core.get_ident()
    forker = registry.active.get(me)
    for thread in [*registry.active.values(), *registry.limbo]:
        if thread is not forker:
            _stop(thread)
    main = _become_main(forker, me)
    registry.limbo.clear()
    registry.active.clear()
    registry.active[me] = main
    registry.main = main
    _exit.finished = False
    _sync.reinit_after_fork()


runtime.after_fork_in_child(after_fork)
