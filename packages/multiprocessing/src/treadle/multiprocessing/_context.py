"""Contexts: the module API bound to one start method, and the default context.

3.14's default start method on every Python: ``forkserver`` on Linux and the other POSIX
systems except macOS, where it is ``spawn`` (``spawn`` too when there is no writable
temporary directory for the forkserver's socket).
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import os
import sys

from . import _errors, _native
from . import _process as process

# Annotations only: importing typing would cost every spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


ProcessError = _errors.ProcessError
BufferTooShort = _errors.BufferTooShort
TimeoutError = _errors.TimeoutError
AuthenticationError = _errors.AuthenticationError


class BaseContext:
    """The multiprocessing API with the start method of this context."""

    _name: str | None = None
    Process: type[process.BaseProcess]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A context is named after the start method its Process class carries (None for
        # the default context, whose method is chosen later).
        cls._name = cls.Process._start_method

    ProcessError = _errors.ProcessError
    BufferTooShort = _errors.BufferTooShort
    TimeoutError = _errors.TimeoutError
    AuthenticationError = _errors.AuthenticationError

    current_process = staticmethod(process.current_process)
    parent_process = staticmethod(process.parent_process)
    active_children = staticmethod(process.active_children)

    def cpu_count(self) -> int:
        """Return the number of CPUs of the system (``-X cpu_count`` honoured)."""
        count = _native.cpu_count()
        if count is None:
            raise NotImplementedError("cannot determine number of cpus")
        return count

    def Pipe(self, duplex: bool = True) -> tuple[Any, Any]:
        """Return the two ends ``(conn1, conn2)`` of a new pipe (see ``connection.Pipe``)."""
        from ._connection import Pipe

        return Pipe(duplex)

    def freeze_support(self) -> None:
        """In a frozen executable started as a spawn child, run the child and exit.

        A no-op otherwise (and on every unfrozen POSIX program). Does not fix the
        start method (3.14.4).
        """
        frozen = bool(getattr(sys, "frozen", False))
        if frozen and self.get_start_method(allow_none=True) not in ("fork", "forkserver"):
            from . import _spawn

            _spawn.freeze_support()

    def get_logger(self) -> Any:
        """Return the package's logger (see ``util.get_logger``)."""
        from ._util import get_logger

        return get_logger()

    def log_to_stderr(self, level: int | str | None = None) -> Any:
        """Log the package's records to stderr (see ``util.log_to_stderr``)."""
        from ._util import log_to_stderr

        return log_to_stderr(level)

    def allow_connection_pickling(self) -> None:
        """Make connections and sockets picklable between processes (always so here)."""
        from . import _connection  # noqa: F401 - importing registers the reducers

    def set_executable(
        self, executable: str | bytes | os.PathLike[str] | os.PathLike[bytes]
    ) -> None:
        """Use *executable* instead of ``sys.executable`` to start spawn children."""
        from ._spawn import set_executable

        set_executable(executable)

    def set_forkserver_preload(self, module_names: Sequence[str]) -> None:
        """Name the modules the forkserver imports before it forks children."""
        from ._forkserver import set_preload

        set_preload(list(module_names))

    def get_context(self, method: str | None = None) -> BaseContext:
        """Return the context of *method* (this context when None)."""
        found = self if method is None else _find_context(method)
        found._check_available()
        return found

    def get_start_method(self, allow_none: bool = False) -> str | None:
        """Return the name of this context's start method."""
        return self._name

    def set_start_method(self, method: str | None, force: bool = False) -> None:
        """Concrete contexts cannot change: ValueError."""
        raise ValueError("cannot set start method of concrete context")

    @property
    def reducer(self) -> Any:
        """The module that reduces objects sent to other processes (``reduction``)."""
        found = _reducer[0]
        if found is None:
            from . import reduction

            found = _reducer[0] = reduction
        return found

    @reducer.setter
    def reducer(self, reduction: Any) -> None:
        _reducer[0] = reduction

    def _check_available(self) -> None:
        pass

    # Parts 2 and 3: each object is bound to this context's start method (the ctx= it
    # gets), so that one made in a fork context refuses to go to a spawned child.

    def Lock(self) -> Any:
        """Return a non-recursive lock shared between processes."""
        from ._synchronize import Lock

        return Lock(ctx=self.get_context())

    def RLock(self) -> Any:
        """Return a recursive lock shared between processes."""
        from ._synchronize import RLock

        return RLock(ctx=self.get_context())

    def Condition(self, lock: Any = None) -> Any:
        """Return a condition variable shared between processes (over *lock*, or an RLock)."""
        from ._synchronize import Condition

        return Condition(lock, ctx=self.get_context())

    def Semaphore(self, value: int = 1) -> Any:
        """Return a semaphore shared between processes."""
        from ._synchronize import Semaphore

        return Semaphore(value, ctx=self.get_context())

    def BoundedSemaphore(self, value: int = 1) -> Any:
        """Return a semaphore that refuses to be released above *value*."""
        from ._synchronize import (
            BoundedSemaphore,
        )

        return BoundedSemaphore(value, ctx=self.get_context())

    def Event(self) -> Any:
        """Return an event shared between processes."""
        from ._synchronize import Event

        return Event(ctx=self.get_context())

    def Barrier(self, parties: int, action: Any = None, timeout: float | None = None) -> Any:
        """Return a barrier for *parties* processes."""
        from ._synchronize import Barrier

        return Barrier(parties, action, timeout, ctx=self.get_context())

    def Queue(self, maxsize: int = 0) -> Any:
        """Return a queue shared between processes (at most *maxsize* items when > 0)."""
        from ._queues import Queue

        return Queue(maxsize, ctx=self.get_context())

    def JoinableQueue(self, maxsize: int = 0) -> Any:
        """Return a queue with ``task_done()`` and ``join()``."""
        from ._queues import JoinableQueue

        return JoinableQueue(maxsize, ctx=self.get_context())

    def SimpleQueue(self) -> Any:
        """Return an unbounded queue with only put, get, empty and close."""
        from ._queues import SimpleQueue

        return SimpleQueue(ctx=self.get_context())

    def RawValue(self, typecode_or_type: Any, *args: Any) -> Any:
        """Return a ctypes object in shared memory, without a lock."""
        from ._sharedctypes import RawValue

        return RawValue(typecode_or_type, *args)

    def RawArray(self, typecode_or_type: Any, size_or_initializer: Any) -> Any:
        """Return a ctypes array in shared memory, without a lock."""
        from ._sharedctypes import RawArray

        return RawArray(typecode_or_type, size_or_initializer)

    def Value(self, typecode_or_type: Any, *args: Any, lock: Any = True) -> Any:
        """Return a ctypes object in shared memory, synchronised by *lock*."""
        from ._sharedctypes import Value

        return Value(typecode_or_type, *args, lock=lock, ctx=self.get_context())

    def Array(self, typecode_or_type: Any, size_or_initializer: Any, *, lock: Any = True) -> Any:
        """Return a ctypes array in shared memory, synchronised by *lock*."""
        from ._sharedctypes import Array

        return Array(typecode_or_type, size_or_initializer, lock=lock, ctx=self.get_context())

    def Manager(self) -> Any:
        """Start and return a ``SyncManager`` (a server process sharing Python objects)."""
        from ._managers_sync import SyncManager

        manager = SyncManager(ctx=self.get_context())
        manager.start()
        return manager

    def Pool(
        self,
        processes: int | None = None,
        initializer: Any = None,
        initargs: Sequence[Any] = (),
        maxtasksperchild: int | None = None,
    ) -> Any:
        """Return a process pool whose workers this context starts."""
        from ._pool import Pool

        return Pool(processes, initializer, initargs, maxtasksperchild, context=self.get_context())


_reducer: list[Any] = [None]


def _find_context(method: object) -> BaseContext:
    named = _concrete_contexts.get(method) if isinstance(method, str) else None
    if named is None:
        raise ValueError(f"cannot find context for {method!r}")
    return named


class Process(process.BaseProcess):
    """A process started with the default context's start method."""

    _start_method = None

    @staticmethod
    def _Popen(process_obj: process.BaseProcess) -> Any:
        return _default_context.get_context().Process._Popen(process_obj)

    @staticmethod
    def _after_fork() -> None:
        _default_context.get_context().Process._after_fork()


class ForkProcess(process.BaseProcess):
    """A process started with ``os.fork()``."""

    _start_method = "fork"

    @staticmethod
    def _Popen(process_obj: process.BaseProcess) -> Any:
        from ._popen_fork import Popen

        return Popen(process_obj)


class SpawnProcess(process.BaseProcess):
    """A process started as a new interpreter."""

    _start_method = "spawn"

    @staticmethod
    def _Popen(process_obj: process.BaseProcess) -> Any:
        from ._popen_spawn import Popen

        return Popen(process_obj)

    @staticmethod
    def _after_fork() -> None:
        # A new interpreter: no state was inherited, nothing to reset.
        pass


class ForkServerProcess(process.BaseProcess):
    """A process forked by the forkserver."""

    _start_method = "forkserver"

    @staticmethod
    def _Popen(process_obj: process.BaseProcess) -> Any:
        from ._popen_forkserver import Popen

        return Popen(process_obj)


class ForkContext(BaseContext):
    """The API with the ``fork`` start method."""

    Process = ForkProcess


class SpawnContext(BaseContext):
    """The API with the ``spawn`` start method."""

    Process = SpawnProcess


class ForkServerContext(BaseContext):
    """The API with the ``forkserver`` start method."""

    Process = ForkServerProcess

    def _check_available(self) -> None:
        import socket

        if not (hasattr(socket, "SCM_RIGHTS") and hasattr(socket, "send_fds")):
            raise ValueError("forkserver start method not available")


# By start method, in the order get_all_start_methods() lists those after the default.
_concrete_contexts: dict[str, BaseContext] = {
    str(context._name): context for context in (ForkContext(), SpawnContext(), ForkServerContext())
}


def _writable_temp_dir() -> bool:
    import tempfile

    try:
        with tempfile.TemporaryFile():
            return True
    except OSError:
        return False


def _platform_default() -> BaseContext:
    # 3.14 on every Python: forkserver wherever descriptors can be passed, except on
    # macOS (fork is unsafe there after system frameworks started threads).
    if _native.PLATFORM not in {"darwin", "win32"} and _writable_temp_dir():
        return _concrete_contexts["forkserver"]
    return _concrete_contexts["spawn"]


class DefaultContext(BaseContext):
    """The module-level API: its start method is chosen once, on first use."""

    Process = Process

    def __init__(self, context: BaseContext | None = None) -> None:
        self._platform_context = context
        self._actual_context: BaseContext | None = None

    @property
    def _default_context(self) -> BaseContext:
        # Resolved when first needed (it may create a temporary file).
        if self._platform_context is None:
            self._platform_context = _platform_default()
        return self._platform_context

    def get_context(self, method: str | None = None) -> BaseContext:
        """Return the context of *method*; with None, the default (fixing it)."""
        if method is not None:
            return super().get_context(method)
        if self._actual_context is None:
            self._actual_context = self._default_context
        return self._actual_context

    def set_start_method(self, method: str | None, force: bool = False) -> None:
        """Choose the start method; RuntimeError if already chosen, unless *force*."""
        chosen = self._actual_context
        if chosen is not None and not force:
            raise RuntimeError("context has already been set")
        # force with None forgets the choice; anything else picks (None: the default).
        forget = force and method is None
        self._actual_context = None if forget else self.get_context(method)

    def get_start_method(self, allow_none: bool = False) -> str | None:
        """Return the start method's name (choosing the default unless *allow_none*)."""
        if self._actual_context is None:
            if allow_none:
                return None
            self._actual_context = self._default_context
        return self._actual_context._name

    def get_all_start_methods(self) -> list[str]:
        """Return the supported start methods, the default first."""
        first = self._default_context._name
        assert first is not None
        return [first, *(name for name in _concrete_contexts if name != first)]


_default_context = DefaultContext()


def _force_start_method(method: str) -> None:
    _default_context._actual_context = _concrete_contexts[method]


# The Popen pickling a process object for a new child, per thread. The thread-local is
# made on first use: every spawned child imports this module, and most never prepare a
# child of their own. It is the stdlib's threading.local, not treadle.threading's, for
# the same reason (treadle.threading costs a child about 30 ms of imports). setdefault
# is atomic: two threads making it at once end up sharing the first one stored.
_holder: dict[str, Any] = {}


def _tls() -> Any:
    found = _holder.get("tls")
    if found is None:
        import threading

        found = _holder.setdefault("tls", threading.local())
    return found


def get_spawning_popen() -> Any:
    """Return the Popen this thread is preparing a child for, or None."""
    if "tls" not in _holder:
        return None
    return getattr(_tls(), "spawning_popen", None)


def set_spawning_popen(popen: Any) -> None:
    """Mark (or, with None, unmark) this thread as preparing a child for *popen*."""
    _tls().spawning_popen = popen


def assert_spawning(obj: object) -> None:
    """RuntimeError unless a child is being prepared (*obj* may only be inherited)."""
    if get_spawning_popen() is None:
        raise RuntimeError(
            f"{type(obj).__name__} objects should only be shared between processes"
            " through inheritance"
        )
