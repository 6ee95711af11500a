"""ThreadPoolExecutor (``concurrent.futures.thread``), written for treadle.

How work reaches the workers: ``submit`` appends ``(future, fn, args, kwargs, context)``
to a deque shared with the workers. A worker takes items from it until it is empty; then,
under the pool's lock, it lists a lock of its own (its gate) in ``idle`` and parks on it
through ``wait_gate`` (after its last task it is listed before the outcome is published,
so the caller's next submit finds it). ``idle`` is a stack: the worker parked last, the
warmest, is woken first. It is not a thread_core WaiterList, whose park makes a gate per
wait and takes the pool's lock back on waking: on this path, run once per task when the
pool keeps up, that cost 15-20% of a submit().result() round trip.
``submit`` (under the same lock) wakes an idle worker if there is one, or starts a new
thread while fewer than ``max_workers`` exist: idle threads are reused before new ones
start. Workers hold the pool's shared state, never the executor, so that an executor
nobody references lets its idle workers go.

At interpreter exit (treadle.threading's exit hook, before ``atexit`` handlers) new work
is refused, the work already queued finishes, and the workers are joined.
"""

from __future__ import annotations

import concurrent.futures.thread as _std_thread
import itertools
import os
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from treadle import contextvars as _contextvars
from treadle import threading as _threading
from treadle.thread_core.support import check_timeout, wait_gate

from . import _base
from ._base import LOGGER, Future, TimeoutError
from ._native import default_max_workers, register_atexit

__all__ = ["BrokenThreadPool", "ThreadPoolExecutor", "WorkerContext"]

_T = TypeVar("_T")
_P = ParamSpec("_P")

# The stdlib's class, so that code catching it (or BrokenExecutor) keeps working.
BrokenThreadPool = _std_thread.BrokenThreadPool

_Lock = _threading.Lock
_global_shutdown = False


class WorkerContext:
    """What one worker of a pool owns, built by ``ThreadPoolExecutor.prepare_context``.

    3.14's hook for executors built on the thread pool: ``prepare(initializer,
    initargs)`` returns ``(create_context, resolve_task)``; each worker calls
    ``create_context()`` once, then ``initialize()``, ``run(task)`` per task (a task being
    what ``resolve_task(fn, args, kwargs)`` made of a submitted call) and ``finalize()``
    when it leaves. The thread pool's own context calls the initializer and the task.
    """

    @classmethod
    def prepare(
        cls, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
    ) -> tuple[Callable[[], WorkerContext], Callable[..., Any]]:
        """Return ``(create_context, resolve_task)`` for a pool's workers."""
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")

        def create_context() -> WorkerContext:
            return cls(initializer, initargs)

        def resolve_task(
            fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            return (fn, args, kwargs)

        return create_context, resolve_task

    def __init__(
        self, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
    ) -> None:
        """Keep the initializer, called by :meth:`initialize`."""
        self.initializer = initializer
        self.initargs = initargs

    def initialize(self) -> None:
        """Run the initializer, if any (a failure breaks the pool)."""
        if self.initializer is not None:
            self.initializer(*self.initargs)

    def finalize(self) -> None:
        """Release what the worker held (nothing, for threads)."""

    def run(self, task: Any) -> Any:
        """Run one task as ``resolve_task`` made it; return its result."""
        fn, args, kwargs = task
        return fn(*args, **kwargs)


_pools: weakref.WeakSet[_Pool] = weakref.WeakSet()


class _Pool:
    """The state a pool's workers share with its executor (never the executor itself)."""

    __slots__ = (
        "__weakref__",
        "broken",
        "broken_type",
        "idle",
        "lock",
        "max_workers",
        "shutdown",
        "slots",
        "threads",
        "work",
    )

    def __init__(self, max_workers: int, max_pending: int | None) -> None:
        self.work: deque[tuple[Any, ...]] = deque()
        self.idle: list[Any] = []  # the gates of the parked workers, last parked on top
        self.lock = _Lock()
        self.threads: set[_threading.Thread] = set()
        self.shutdown = False
        self.broken: str | bool = False
        self.max_workers = max_workers
        self.slots = None if max_pending is None else _threading.Semaphore(max_pending)
        self.broken_type: type[BaseException] = BrokenThreadPool

    def wake_idle(self) -> None:
        """Wake every parked worker (call with ``lock`` held)."""
        idle = self.idle
        self.idle = []
        for gate in idle:
            gate.release()

    def abandon(self) -> None:
        """Let the workers finish the queue and leave: the executor is gone."""
        with self.lock:
            self.shutdown = True
            self.wake_idle()
        if self.slots is not None:
            self.slots.release()

    def drain(self) -> list[tuple[Any, ...]]:
        """Take every queued item (call with ``lock`` held)."""
        items = list(self.work)
        self.work.clear()
        if self.slots is not None and items:
            self.slots.release(len(items))
        return items


def _context_worker(pool: _Pool, create_context: Callable[[], Any]) -> None:
    """Serve the pool as a worker that owns a WorkerContext (3.14's prepare_context hook)."""
    try:
        context = create_context()
        context.initialize()
    except BaseException:
        LOGGER.critical("Exception in initializer:", exc_info=True)
        _initializer_failed(pool)
        return
    try:
        _worker(pool, None, (), context.run)
    finally:
        context.finalize()


def _worker(
    pool: _Pool,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
    run_task: Callable[[Any], Any] | None = None,
) -> None:
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException:
            LOGGER.critical("Exception in initializer:", exc_info=True)
            _initializer_failed(pool)
            return
    work = pool.work
    popleft = work.popleft
    slots = pool.slots
    lock = pool.lock
    gate = _Lock()  # this worker's own, held except while a submit hands it work
    gate.acquire()
    while True:
        if not work:
            lock.acquire()  # not ``with``: see Future's helpers
            try:
                parked = not work
                if parked:
                    if pool.shutdown or pool.broken or _global_shutdown:
                        # Wake the parked siblings so that they see the same and leave.
                        pool.wake_idle()
                        return
                    pool.idle.append(gate)
            finally:
                lock.release()
            if parked:
                wait_gate(gate, None)
            continue
        try:
            future, fn, args, kwargs, ctx = popleft()
        except IndexError:  # a sibling took the last item since ``if not work``
            continue
        if slots is not None:
            slots.release()
        if not future.set_running_or_notify_cancel():
            del future, fn, args, kwargs, ctx
            continue
        error: BaseException | None = None
        result = None
        try:
            if run_task is not None:  # fn is the task resolve_task made
                result = run_task(fn) if ctx is None else ctx.run(run_task, fn)
            elif ctx is None:
                result = fn(*args, **kwargs)
            else:
                result = ctx.run(fn, *args, **kwargs)
        except BaseException as exc:
            error = exc
        del fn, args, kwargs, ctx
        parked = False
        if not work and future._done_callbacks is None:
            # Nothing queued: list this thread as idle before the caller can see the
            # outcome, so that a submit made right after it wakes this thread rather than
            # starting another. Not when done-callbacks will run here: work handed to
            # this thread would wait for them (for ever, if one of them waits for it).
            lock.acquire()
            try:
                parked = not (work or pool.shutdown or pool.broken or _global_shutdown)
                if parked:
                    pool.idle.append(gate)
            finally:
                lock.release()
        try:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        except BaseException:
            # The call set its own future, or a callback raised a BaseException: keep
            # serving, since this thread may already have been handed more work.
            LOGGER.critical("Exception in worker", exc_info=True)
        del future, result, error
        if parked:
            wait_gate(gate, None)


def _initializer_failed(pool: _Pool) -> None:
    with pool.lock:
        pool.broken = "A thread initializer failed, the thread pool is not usable anymore"
        items = pool.drain()
        pool.wake_idle()
    for item in items:
        future = item[0]
        if future.set_running_or_notify_cancel():
            future.set_exception(pool.broken_type(pool.broken))


def _python_exit() -> None:
    """At exit: refuse new work, let queued work finish, join every worker."""
    global _global_shutdown
    _global_shutdown = True
    pools = list(_pools)
    for pool in pools:
        with pool.lock:
            pool.wake_idle()
    for pool in pools:
        for thread in list(pool.threads):
            thread.join()


def _after_fork_in_child() -> None:
    # Only the forking thread survives: the pools' workers are gone and their locks may
    # have been held by a thread that no longer exists.
    for pool in list(_pools):
        pool.lock = _Lock()
        pool.idle = []
        pool.threads = set()


register_atexit(_python_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _check_max_workers(value: object) -> int:
    # A stdlib argument: the stdlib's ValueError message, which CPython's tests match.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"max_workers must be an integer or None, not {type(value).__name__}")
    if value <= 0:
        raise ValueError("max_workers must be greater than 0")
    return value


# treadle's own keywords, checked in the constructor as check_timeout checks a timeout:
# the documented type, or a TypeError/ValueError whose message names the argument.


def _check_max_pending(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"'max_pending' must be an integer or None, not {type(value).__name__}")
    if value <= 0:
        raise ValueError("'max_pending' must be a positive integer")
    return value


def _check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name!r} must be True or False, not {type(value).__name__}")
    return value


class ThreadPoolExecutor(_base.Executor, _std_thread.ThreadPoolExecutor):
    """An executor that runs calls in a pool of at most *max_workers* threads.

    ``ThreadPoolExecutor(max_workers=None, thread_name_prefix='', initializer=None,
    initargs=())`` as in 3.14: the default size is ``min(32, cpu count + 4)`` (the CPUs
    this process may use), idle threads are reused before new ones start, and a failing
    *initializer* breaks the pool (:exc:`BrokenThreadPool`).

    Beyond the stdlib (keyword-only, off by default): *propagate_context* runs each call in
    a copy of the submitter's context (treadle's and the stdlib's context variables);
    *max_pending* bounds the submitted-but-unstarted calls: ``submit`` blocks until there
    is room, or raises TimeoutError after *submit_timeout* seconds.
    """

    BROKEN: type[BrokenThreadPool] = BrokenThreadPool
    _counter = itertools.count().__next__

    @classmethod
    def prepare_context(
        cls,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        **ctxkwargs: Any,
    ) -> tuple[Callable[[], Any], Callable[..., Any]]:
        """Return ``(create_context, resolve_task)`` for the workers (3.14's hook).

        Subclasses (the interpreter pool) return their own; *ctxkwargs* are the
        constructor's extra keywords.
        """
        if ctxkwargs:
            names = ", ".join(sorted(ctxkwargs))
            raise TypeError(f"ThreadPoolExecutor got unexpected keyword arguments: {names}")
        return WorkerContext.prepare(initializer, initargs)

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        propagate_context: bool = False,
        max_pending: int | None = None,
        submit_timeout: float | None = None,
        **ctxkwargs: Any,
    ) -> None:
        """Create the executor; no thread starts before the first ``submit``.

        *ctxkwargs* go to :meth:`prepare_context` (3.14).
        """
        if max_workers is None:
            max_workers = default_max_workers()
        else:
            max_workers = _check_max_workers(max_workers)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if not isinstance(thread_name_prefix, str):
            raise TypeError(
                f"thread_name_prefix must be a str, not {type(thread_name_prefix).__name__}"
            )
        initargs = tuple(initargs)
        propagate = _check_flag(propagate_context, "propagate_context")
        max_pending = _check_max_pending(max_pending)
        submit_timeout = check_timeout(submit_timeout, "submit_timeout", negative=False)
        if submit_timeout is not None and max_pending is None:
            raise ValueError("'submit_timeout' needs 'max_pending' (a bound to wait for)")
        self._max_workers = max_workers
        self._thread_name_prefix = thread_name_prefix or f"ThreadPoolExecutor-{self._counter()}"
        self._initializer = initializer  # type: ignore[assignment,unused-ignore]  # typeshed differs by version
        self._initargs = initargs
        self._propagate_context = propagate
        self._submit_timeout = submit_timeout
        # 3.14's hook: used when a subclass provides its own contexts (or keywords for
        # them); the thread pool's own workers keep their direct path.
        self._create_context: Callable[[], Any] | None = None
        self._resolve_task: Callable[..., Any] | None = None
        if ctxkwargs or type(self).prepare_context.__func__ is not _own_prepare_context:  # type: ignore[attr-defined]
            self._create_context, self._resolve_task = type(self).prepare_context(
                initializer, initargs, **ctxkwargs
            )
        pool = self._pool = _Pool(max_workers, max_pending)
        pool.broken_type = self.BROKEN
        self._pool_ref = weakref.ref(self, lambda _: pool.abandon())

    # Internals that CPython's tests and some programs read.
    @property  # read from the shared pool state
    def _threads(self) -> set[_threading.Thread]:  # type: ignore[override]
        return self._pool.threads

    @property  # read from the shared pool state
    def _broken(self) -> str | bool:  # type: ignore[override]
        return self._pool.broken

    @property  # read from the shared pool state
    def _shutdown(self) -> bool:  # type: ignore[override]
        return self._pool.shutdown

    def _start_worker(self) -> None:
        # Called with the pool's lock held.
        pool = self._pool
        if self._create_context is not None:
            target: Callable[..., None] = _context_worker
            args: tuple[Any, ...] = (pool, self._create_context)
        else:
            target = _worker
            args = (pool, self._initializer, self._initargs)
        thread = _threading.Thread(
            name=f"{self._thread_name_prefix}_{len(pool.threads)}",
            target=target,
            args=args,
            daemon=False,
        )
        thread.start()
        pool.threads.add(thread)
        _pools.add(pool)

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Schedule ``fn(*args, **kwargs)`` and return a Future for its result.

        RuntimeError after ``shutdown()`` or once the interpreter is exiting;
        BrokenThreadPool once an initializer failed.
        """
        pool = self._pool
        slots = pool.slots
        task = None if self._resolve_task is None else self._resolve_task(fn, args, kwargs)
        if slots is not None and not slots.acquire(timeout=self._submit_timeout):
            raise TimeoutError(
                f"no room for another task within submit_timeout={self._submit_timeout}"
            )
        future: Future[_T] = Future()
        ctx = _contextvars.copy_context() if self._propagate_context else None
        lock = pool.lock
        lock.acquire()  # not ``with``: see Future's helpers
        try:
            if pool.broken or pool.shutdown or _global_shutdown:
                if slots is not None:
                    slots.release()  # hand the wake-up on to the next blocked submitter
                if pool.broken:
                    raise self.BROKEN(pool.broken)
                if pool.shutdown:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            if task is not None:
                pool.work.append((future, task, None, None, ctx))
            else:
                pool.work.append((future, fn, args, kwargs, ctx))
            idle = pool.idle
            if idle:
                idle.pop().release()  # the worker parked last
            elif len(pool.threads) < pool.max_workers:
                self._start_worker()
        finally:
            lock.release()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; *cancel_futures* cancels what has not started.

        With *wait*, return once every worker has finished (the queued work done).
        """
        pool = self._pool
        with pool.lock:
            pool.shutdown = True
            items = pool.drain() if cancel_futures else []
            pool.wake_idle()
            threads = list(pool.threads)
        if pool.slots is not None:
            pool.slots.release()
        for item in items:
            future = item[0]
            future.cancel()
            future.set_running_or_notify_cancel()
        del items
        if wait:
            current = _threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()


_own_prepare_context = ThreadPoolExecutor.prepare_context.__func__  # type: ignore[attr-defined]
