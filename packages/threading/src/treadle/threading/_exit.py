"""Interpreter exit: the calls registered for it, and waiting for non-daemon threads.

Outside the conformance tool, the interpreter runs the stdlib's exit step, which runs
the calls registered here (through ``runtime.at_thread_join``) and, from 3.13, joins
treadle's non-daemon threads with its own; before 3.13 thread-core joins them from a
call registered there. When this module stands in for ``threading``, the interpreter
calls :func:`shutdown` instead, which runs the stdlib's step and then joins the rest.
"""

from __future__ import annotations

import functools
import sys
import threading as _std
from collections.abc import Callable
from typing import Any

from treadle import thread_core
from treadle.thread_core import runtime

from . import _registry as registry
from ._threads import DummyThread, Thread

__all__ = ["register_atexit", "shutdown"]

_get_ident = thread_core.get_ident

shutting_down = False
"""Set once exit has begun: registering more exit calls is refused from then on."""
finished = False
"""Set once :func:`shutdown` has waited for every thread (it does nothing twice)."""


def register_atexit(func: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Call ``func(*args, **kwargs)`` at exit when non-daemon threads are joined.

    Calls run in reverse order of registration, before :mod:`atexit` handlers;
    RuntimeError once shutdown has begun (``treadle.futures`` stops its workers here).
    """
    if shutting_down:
        raise RuntimeError("can't register atexit after shutdown")
    runtime.at_thread_join(functools.partial(func, *args, **kwargs))


def _main_is_done() -> None:
    # Called in the main thread as exit begins: threads joining it may go on (and end).
    main = registry.main
    if main._ident == _get_ident():
        main._is_stopped = True
        main._handle._set_done()


def _still_running(me: int) -> list[Thread]:
    with registry.lock:
        threads = [*registry.active.values(), *registry.limbo]
    return [
        t
        for t in threads
        if not t._daemonic
        and t is not registry.main
        and t._ident != me
        and not isinstance(t, DummyThread)
        and t.is_alive()
    ]


def shutdown() -> None:
    """Wait for every non-daemon thread, after running the registered exit calls.

    The interpreter calls this at exit when this module stands in for ``threading``.
    """
    global shutting_down, finished
    if finished:
        return
    shutting_down = True
    _main_is_done()
    if sys.modules.get("threading") is not _std:
        # The stdlib's own step runs the at_thread_join calls and joins its threads
        # (and, from 3.13, every non-daemon thread handle, ours included).
        runtime.stdlib_shutdown()
    me = _get_ident()
    while pending := _still_running(me):
        for thread in pending:
            thread._handle.join()
    finished = True


try:
    runtime.at_thread_join(_main_is_done)
except RuntimeError:  # pragma: no cover - imported during interpreter shutdown
    pass
