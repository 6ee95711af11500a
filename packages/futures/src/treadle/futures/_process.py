"""ProcessPoolExecutor (``concurrent.futures.process``), written for treadle.

The executor checks its arguments, pickles each call in ``submit`` (so a call that does
not pickle is known in the caller's thread) and queues it for the pool's dispatcher
thread, which owns the worker processes: see ``_process_pool`` for how work reaches
them and ``_process_worker`` for what a worker runs.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

from treadle import threading as _threading
from treadle.thread_core.support import check_timeout

from . import _base, _process_pool, _process_worker
from ._base import Future, TimeoutError
from ._native import _cpu_count
from ._picklecheck import describe_unpicklable
from ._process_pool import (
    BrokenProcessPool,
    WorkerDiedError,
    _Options,
    _Pool,
    _pools,
    _Task,
)
from ._thread import _check_flag, _check_max_pending, _check_max_workers

__all__ = ["BrokenProcessPool", "ProcessPoolExecutor", "WorkerDiedError"]

_T = TypeVar("_T")
_P = ParamSpec("_P")

_monotonic = time.monotonic
# The operations of _force_shutdown (names CPython's tests read from the public module).
_TERMINATE = "terminate"
_KILL = "kill"
_dumps = pickle.dumps
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _KillableFuture(Future[_T]):
    """A future whose ``cancel()`` also stops a running call (``cancel_running=True``)."""

    _on_cancel_running: Callable[[Future[Any]], None] | None = None

    def cancel(self) -> bool:
        """Cancel the call; a running one is stopped (its worker killed and replaced)."""
        if super().cancel():
            return True
        hook = self._on_cancel_running
        lock = self._lock
        lock.acquire()
        try:
            if self._state != _base.RUNNING or hook is None:
                return self._state in (_base.CANCELLED, _base.CANCELLED_AND_NOTIFIED)
            self._state = _base.CANCELLED
            self._open()
        finally:
            lock.release()
        self._invoke_callbacks()
        hook(self)
        return True


class _CallQueue:
    """What programs written for the stdlib's pool read as ``executor._call_queue``.

    The stdlib's pool hands calls to its workers through a multiprocessing queue, whose
    ``join_thread()`` waits for the thread feeding it. Treadle's dispatcher thread does
    that feeding (and tells the workers to leave), so joining the queue joins it. It
    holds no reference to the executor.
    """

    __slots__ = ("_thread",)

    def __init__(self, thread: _threading.Thread | None) -> None:
        self._thread = thread

    def join_thread(self) -> None:
        """Wait until the dispatcher has handed out every call and stopped."""
        thread = self._thread
        if thread is not None and thread is not _threading.current_thread():
            thread.join()

    def cancel_join_thread(self) -> None:
        """Do nothing (the stdlib's queue would not wait for its feeder at exit)."""

    def close(self) -> None:
        """Do nothing: the pool closes its channels itself when it stops."""


def _resolve_context(mp_context: object, max_tasks: int | None) -> Any:
    """Return the context the workers come from: *mp_context*, or treadle's default."""
    if mp_context is None:
        from treadle import multiprocessing as mp  # noqa: PLC0415 - imported on first use

        return mp.get_context("spawn" if max_tasks is not None else None)
    method = getattr(mp_context, "get_start_method", None)
    if method is None or not callable(getattr(mp_context, "Process", None)):
        raise TypeError(
            f"mp_context must be a multiprocessing context, not {type(mp_context).__name__}"
        )
    # A treadle context, or a stdlib one used as it is: the workers are then the stdlib's
    # processes, so what the program made with that context (locks, queues, managers)
    # reaches them (in initargs, through inheritance) as it would with the stdlib's pool.
    return mp_context


def _check_positive(value: object, name: str, *, integer: bool) -> Any:
    if value is None:
        return None
    if integer and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"{name!r} must be an integer or None, not {type(value).__name__}")
    number = check_timeout(value, name, negative=False)
    if number is None or number <= 0:
        raise ValueError(f"{name!r} must be a positive number")
    return value if integer else number


class ProcessPoolExecutor(_base.Executor):
    """An executor that runs calls in a pool of at most *max_workers* processes.

    ``ProcessPoolExecutor(max_workers=None, mp_context=None, initializer=None,
    initargs=(), *, max_tasks_per_child=None)`` as in 3.14: the default size is the
    number of CPUs this process may use; *mp_context* is a treadle or stdlib
    ``multiprocessing`` context, whose processes the workers are (treadle's by default:
    ``spawn`` with *max_tasks_per_child*, else the default method); a failing
    *initializer*, or a worker that dies, breaks the pool (:exc:`BrokenProcessPool`,
    the cause chained); *max_tasks_per_child* replaces a
    worker after that many tasks (not with the ``fork`` method).

    Beyond the stdlib (keyword-only, off by default):

    - *survive_worker_death*: a worker that dies fails only the task it ran, with
      :exc:`WorkerDiedError` (a BrokenProcessPool with the pid, exit code, signal and
      whether the OOM killer is the likely cause); the worker is replaced.
    - *task_timeout*: a task running longer than that many seconds has its worker killed
      with its whole process tree (replaced) and fails with TimeoutError.
    - *cancel_running*: ``Future.cancel()`` of a running task kills and replaces its
      worker (tree included) and the future ends cancelled; asyncio's cancellation of
      ``wrap_future``/``run_in_executor`` goes through it.
    - *max_pending* / *submit_timeout*: as the thread pool's, a bound on the calls
      submitted and not yet started.
    - *check_pickle*: a call that does not pickle makes ``submit`` raise TypeError naming
      the part (``args[0].handler``) instead of failing its future.
    - *max_worker_memory*: a worker whose resident memory passes that many bytes after
      a task is replaced before its next one.
    - *shutdown_timeout*: ``shutdown(wait=True)`` waits at most that long for running
      tasks, then kills the workers' trees (those tasks fail with BrokenProcessPool); a
      KeyboardInterrupt while the caller waits in ``shutdown`` or leaves a ``with``
      block cancels the pending work, interrupts (SIGINT) the running tasks and kills
      what still runs after *shutdown_timeout*.

    With *survive_worker_death*, *task_timeout* or *cancel_running*, workers take one
    task at a time (so exactly the running task is affected), which costs throughput on
    very small tasks.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: Any = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        *,
        max_tasks_per_child: int | None = None,
        survive_worker_death: bool = False,
        task_timeout: float | None = None,
        cancel_running: bool = False,
        max_pending: int | None = None,
        submit_timeout: float | None = None,
        check_pickle: bool = False,
        max_worker_memory: int | None = None,
        shutdown_timeout: float | None = None,
    ) -> None:
        """Create the executor; workers start as work arrives."""
        max_workers = _cpu_count() or 1 if max_workers is None else _check_max_workers(max_workers)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if not isinstance(max_tasks_per_child, int) or isinstance(max_tasks_per_child, bool):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
        context = _resolve_context(mp_context, max_tasks_per_child)
        if max_tasks_per_child is not None and context.get_start_method() == "fork":
            raise ValueError(
                "max_tasks_per_child is incompatible with the 'fork' multiprocessing "
                "start method; supply a different mp_context."
            )
        options = _Options()
        options.max_workers = max_workers
        options.context = context
        options.initializer = initializer
        options.initargs = tuple(initargs)
        options.max_tasks = max_tasks_per_child
        options.survive = _check_flag(survive_worker_death, "survive_worker_death")
        options.task_timeout = _check_positive(task_timeout, "task_timeout", integer=False)
        options.cancel_running = _check_flag(cancel_running, "cancel_running")
        options.max_memory = _check_positive(max_worker_memory, "max_worker_memory", integer=True)
        options.shutdown_timeout = check_timeout(
            shutdown_timeout, "shutdown_timeout", negative=False
        )
        options.one_at_a_time = (
            options.survive or options.task_timeout is not None or options.cancel_running
        )
        max_pending = _check_max_pending(max_pending)
        submit_timeout = check_timeout(submit_timeout, "submit_timeout", negative=False)
        if submit_timeout is not None and max_pending is None:
            raise ValueError("'submit_timeout' needs 'max_pending' (a bound to wait for)")
        self._check_pickle = _check_flag(check_pickle, "check_pickle")
        self._submit_timeout = submit_timeout
        self._max_workers = max_workers
        self._mp_context = context
        self._max_tasks_per_child = max_tasks_per_child
        self._initializer = initializer
        self._initargs = options.initargs
        pool = self._pool = _Pool(options, max_pending)
        # Held by the pool (which the dispatcher thread keeps alive), not by self: a
        # weakref that dies with its referent never calls back.
        pool.owner = weakref.ref(self, lambda _: pool.abandon())
        self._future_type: type[Future[Any]] = _KillableFuture if options.cancel_running else Future

    # Internals that CPython's tests and some programs read.
    @property
    def _broken(self) -> str | bool:
        return self._pool.broken or False

    @property
    def _shutdown_thread(self) -> bool:
        return self._pool.shutdown

    @property
    def _processes(self) -> dict[int, Any]:
        pool = self._pool
        with pool.lock:
            workers = [*pool.workers.values(), *pool.adopted]
        return {worker.pid: worker.process for worker in workers}

    @property
    def _call_queue(self) -> _CallQueue:
        return _CallQueue(self._pool.thread)

    @property
    def _shutdown_lock(self) -> Any:
        return self._pool.lock

    @property
    def _force_shutting_down(self) -> bool:
        return self._pool.no_replacement == _process_pool._FORCED

    @_force_shutting_down.setter
    def _force_shutting_down(self, value: bool) -> None:
        # Set with ``_shutdown_lock`` held, as the stdlib's flag is.
        pool = self._pool
        if value:
            pool.no_replacement = _process_pool._FORCED
            pool.wake()
        elif pool.no_replacement == _process_pool._FORCED:
            pool.no_replacement = None

    @property
    def _executor_manager_thread(self) -> _threading.Thread | None:
        return self._pool.thread

    def _start(self) -> None:
        # Called with the pool's lock held, at the first submit.
        pool = self._pool
        pool.wakeup = _process_pool._ThreadWakeup()
        if pool.options.context.get_start_method() == "fork":
            # Fork every worker now, from this thread, before the dispatcher exists: a
            # fork while other threads run is what 3.12+ warns about.
            for _ in range(pool.options.max_workers):
                pool.start_worker()
        thread = _threading.Thread(
            target=pool.run, name="ProcessPoolExecutor-dispatcher", daemon=True
        )
        thread.start()
        pool.thread = thread
        _pools.add(pool)

    def _pickle_call(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return _dumps((fn, args, kwargs), _PROTOCOL)
        except Exception as exc:
            where = describe_unpicklable(
                [("fn", fn), ("args", args), ("kwargs", kwargs)],
                lambda obj: _dumps(obj, _PROTOCOL),
            )
            if self._check_pickle:
                raise TypeError(where or f"the call cannot be pickled: {exc}") from exc
            if where is not None and hasattr(exc, "add_note"):
                exc.add_note(where)
            return exc

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Schedule ``fn(*args, **kwargs)`` in a worker and return a Future for it.

        RuntimeError after ``shutdown()``; BrokenProcessPool once the pool is broken.
        A call that does not pickle fails its future with the pickling error (or, with
        *check_pickle*, makes this raise TypeError naming the part).
        """
        payload = self._pickle_call(fn, args, kwargs)
        pool = self._pool
        slots = pool.slots
        if slots is not None and not slots.acquire(timeout=self._submit_timeout):
            raise TimeoutError(
                f"no room for another task within submit_timeout={self._submit_timeout}"
            )
        future: Future[_T] = self._future_type()
        lock = pool.lock
        lock.acquire()
        try:
            if pool.broken or pool.shutdown or _process_pool.global_shutdown:
                if slots is not None:
                    slots.release()
                if pool.broken:
                    raise BrokenProcessPool(pool.broken)
                if pool.shutdown:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            # A call that did not pickle is queued all the same (the pool starts as for
            # any call, as the stdlib's does); the dispatcher fails it in its turn.
            if isinstance(future, _KillableFuture):
                future._on_cancel_running = pool.cancel_running
            pool.pending.append(_Task(pool.next_id(), future, payload))
            if pool.thread is None:
                self._start()
            if pool.wants_worker():
                pool.start_worker(adopt=True)
            pool.wake()
        finally:
            lock.release()
        return future

    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[_T]:
        """Like ``map(fn, *iterables)``, the calls run in the workers.

        *chunksize* calls travel together as one task (the results come back in input
        order all the same); *buffersize* and *timeout* as for every executor.
        """
        if _base._check_chunksize(chunksize) == 1:
            return super().map(fn, *iterables, timeout=timeout, buffersize=buffersize)
        return self._map_in_chunks(
            _process_worker.run_chunk,
            fn,
            iterables,
            chunksize,
            timeout=timeout,
            buffersize=buffersize,
        )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; *cancel_futures* cancels what has not started.

        With *wait*, return once the work is done and every worker is gone (with
        *shutdown_timeout*, at most that long after the running tasks are given up).
        """
        pool = self._pool
        with pool.lock:
            pool.shutdown = True
            thread = pool.thread
            taken = 0
            if cancel_futures:
                if thread is None:
                    taken = pool.cancel_pending()
                else:
                    # The dispatcher cancels, once it handed the calls it can to the
                    # workers (as the stdlib's pool runs what reached its call queue).
                    pool.cancel_asked = True
            pool.wake()
        if pool.slots is not None:
            pool.slots.release(taken + 1)
        if not wait or thread is None or thread is _threading.current_thread():
            return
        try:
            limit = pool.options.shutdown_timeout
            thread.join(limit)
            if thread.is_alive():
                with pool.lock:
                    pool.kill_now = True
                    pool.wake()
                thread.join()
        except KeyboardInterrupt:
            self._interrupt()
            thread.join()
            raise

    def _interrupt(self) -> None:
        """Ctrl-C: cancel the pending work, SIGINT the running tasks, kill them later."""
        pool = self._pool
        with pool.lock:
            pool.shutdown = True
            taken = pool.cancel_pending()
            grace = pool.options.shutdown_timeout
            pool.interrupt_at = _monotonic() + (grace if grace is not None else 1.0)
            pool.wake()
            workers = list(pool.workers.values())
        if pool.slots is not None:
            pool.slots.release(taken + 1)
        for worker in workers:
            if worker.inflight:
                try:
                    os.kill(worker.pid, signal.SIGINT)
                except OSError:
                    pass

    def __exit__(self, *exc: object) -> None:
        if (
            isinstance(exc[0], type)
            and issubclass(exc[0], KeyboardInterrupt)
            and self._pool.options.shutdown_timeout is not None
        ):
            self._interrupt()
        self.shutdown(wait=True)

    def _force_shutdown(self, operation: str) -> None:
        if operation not in (_TERMINATE, _KILL):
            raise ValueError(f"unknown operation {operation!r}: {_TERMINATE!r} or {_KILL!r}")
        with self._pool.lock:
            # No worker leaving now (max_tasks_per_child) may be replaced: a new one
            # would escape the terminate/kill.
            self._force_shutting_down = True
        processes = list(self._processes.values())
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            try:
                if process.is_alive():
                    getattr(process, operation)()
            except (ValueError, ProcessLookupError):
                pass  # closed, or gone already

    def terminate_workers(self) -> None:
        """Terminate (SIGTERM) every worker now and shut the pool down (3.14).

        The tasks they ran fail with BrokenProcessPool; the pending ones are cancelled.
        """
        self._force_shutdown(operation=_TERMINATE)

    def kill_workers(self) -> None:
        """Kill (SIGKILL) every worker now and shut the pool down (3.14)."""
        self._force_shutdown(operation=_KILL)


def _check_system_limits() -> None:
    """Raise NotImplementedError if this system cannot run a process pool.

    The pool needs what its workers are made of: ``select.poll`` (the dispatcher waits
    on it) and Unix socket pairs (one per worker).
    """
    import select  # noqa: PLC0415
    import socket  # noqa: PLC0415

    if not hasattr(select, "poll") or not hasattr(socket, "socketpair"):
        raise NotImplementedError("process pools need select.poll and socket.socketpair")
