"""Process and thread pools: ``Pool``, ``ThreadPool`` and their results.

Design (treadle's own, not the stdlib's three handler threads and shared queues):

* Each process worker owns one duplex connection to the parent. One *dispatcher* thread
  in the parent owns every parent end: it sends each worker batches of tasks, reads the
  results, and watches every worker's sentinel, all through one ``poll`` set. The parent
  ends are non-blocking and the dispatcher frames messages itself, so it never blocks
  on one worker while another is waiting, and one read takes in many results at once.
* Because the dispatcher knows which tasks each worker holds, a worker that dies
  (a signal, ``os._exit``, a crash) fails only the task it was running, with an error
  naming its pid and its exit code or signal; the tasks queued behind it go to other
  workers and a new worker takes its place.
* The batch a worker gets is sized from the measured time per task (a few milliseconds
  of work per message), so a map of tiny tasks costs a few syscalls per hundred items,
  while long tasks still go out one at a time and balance across the workers.
* ``ThreadPool`` runs the same tasks on threads that take them from one queue.

Beyond the stdlib: the worker-death fix above; ``imap``/``imap_unordered`` take
*buffersize* (3.15) to bound how far the input is read ahead; results still pending
when the pool is terminated fail (the stdlib leaves them waiting for ever).
"""

# ruff: noqa: PLC0415 - imports inside functions keep a spawned child's start-up cheap

from __future__ import annotations

import abc
import collections
import itertools
import os
import select
import struct
import sys
import time
import types
import warnings

from . import _reduction
from ._errors import ProcessError, TimeoutError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from typing import Any

    from ._connection import Connection


# Kinds of task: one call, a chunk of map(), a chunk of starmap().
_APPLY, _MAP, _STAR = 0, 1, 2

#: The states of a pool (its ``_state``), under the stdlib's names.
RUN, CLOSE, TERMINATE = "RUN", "CLOSE", "TERMINATE"
_RUN, _CLOSE, _TERMINATE = RUN, CLOSE, TERMINATE

_HEADER = struct.Struct("!i")
_LONG_HEADER = struct.Struct("!Q")

# A batch aims at about this much work (seconds) and holds at most _MAX_BATCH tasks;
# each worker holds at most _DEPTH batches, so it never waits for its next one.
_BATCH_SECONDS = 0.004
_MAX_BATCH = 512
_DEPTH = 2
# A worker sends the results it has at least this often while running a long batch.
_FLUSH_SECONDS = 0.02


class WorkerLostError(ProcessError):
    """A pool worker died (killed, crashed, ``os._exit``) while running the task.

    ``pid`` and ``exitcode`` (negative: the signal number) are those of the worker.
    """

    def __init__(self, message: str, pid: int | None = None, exitcode: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.pid, self.exitcode))


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in a worker (its ``__cause__``)."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


class MaybeEncodingError(Exception):
    """A worker's result (or exception) could not be pickled to send it back."""

    def __init__(self, exc: object, value: object) -> None:
        self.exc = repr(exc)
        self.value = repr(value)
        super().__init__(self.exc, self.value)

    def __str__(self) -> str:
        return f"Error sending result: '{self.value}'. Reason: '{self.exc}'"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self}>"


def _with_remote_traceback(exc: BaseException, tb: str) -> BaseException:
    exc.__cause__ = RemoteTraceback(f'\n"""\n{tb}"""')
    return exc


def rebuild_exc(exc: BaseException, tb: str) -> BaseException:
    """Return *exc* with the worker's formatted traceback *tb* as its ``__cause__``."""
    return _with_remote_traceback(exc, tb)


class ExceptionWithTraceback:
    """An exception that unpickles as itself, caused by a :class:`RemoteTraceback`.

    ``ExceptionWithTraceback(exc, tb)`` with *tb* a traceback object (or None): what a
    worker sends back so the parent sees where the error was raised.
    """

    def __init__(self, exc: BaseException, tb: types.TracebackType | None) -> None:
        import traceback

        self.exc = exc
        self.tb = "".join(traceback.format_exception(type(exc), exc, tb))

    def __reduce__(self) -> tuple[Any, ...]:
        return rebuild_exc, (self.exc, self.tb)


def mapstar(args: tuple[Callable[[Any], Any], Iterable[Any]]) -> list[Any]:
    """Return ``list(map(func, items))`` for ``args == (func, items)``."""
    func, items = args
    return [func(item) for item in items]


def starmapstar(args: tuple[Callable[..., Any], Iterable[Iterable[Any]]]) -> list[Any]:
    """Return ``[func(*each) for each in items]`` for ``args == (func, items)``."""
    func, items = args
    return [func(*each) for each in items]


def worker(  # noqa: PLR0917 - the stdlib's signature
    inqueue: Any,
    outqueue: Any,
    initializer: Callable[..., object] | None = None,
    initargs: Iterable[Any] = (),
    maxtasks: int | None = None,
    wrap_exception: bool = False,
) -> None:
    """Run tasks from a queue: a worker loop for pools built on queues.

    Each task from ``inqueue.get()`` is ``(job, index, func, args, kwds)`` and its
    outcome goes to ``outqueue.put((job, index, (ok, value)))``; None (or the end of
    the queue) stops the loop, as do *maxtasks* tasks. With *wrap_exception*, errors
    travel as :class:`ExceptionWithTraceback`.
    """
    if maxtasks is not None and (not isinstance(maxtasks, int) or maxtasks < 1):
        raise AssertionError(f"Maxtasks {maxtasks!r} is not valid")
    if initializer is not None:
        initializer(*initargs)
    done = 0
    while maxtasks is None or done < maxtasks:
        try:
            task = inqueue.get()
        except (EOFError, OSError):
            return
        if task is None:
            return
        job, index, func, args, kwds = task
        try:
            outcome: tuple[bool, Any] = (True, func(*args, **kwds))
        except Exception as exc:
            error: Any = ExceptionWithTraceback(exc, exc.__traceback__) if wrap_exception else exc
            outcome = (False, error)
        try:
            outqueue.put((job, index, outcome))
        except Exception as exc:
            shown = outcome[1]
            outqueue.put((job, index, (False, MaybeEncodingError(exc, shown))))
        done += 1


# ---------------------------------------------------------------------------------------
# Running tasks (in a worker process or a pool thread).


def _run_task(kind: int, func: Callable[..., Any], args: Any, kwds: Any) -> Any:
    if kind == _APPLY:
        return func(*args, **kwds)
    if kind == _MAP:
        return [func(item) for item in args]
    return [func(*item) for item in args]


def _run_catching(task: tuple[Any, ...]) -> tuple[int, int, bool, Any]:
    job_id, index, kind, func, args, kwds = task
    try:
        return (job_id, index, True, _run_task(kind, func, args, kwds))
    except Exception as exc:
        import traceback

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        exc.__traceback__ = None  # the frames need not (and often cannot) travel
        return (job_id, index, False, (exc, text))


def _encodable(result: tuple[int, int, bool, Any]) -> tuple[int, int, bool, Any]:
    """Return *result*, or an error result if its value cannot be pickled."""
    try:
        _reduction.ForkingPickler.dumps(result)
    except Exception as exc:
        job_id, index, ok, value = result
        shown = value if ok else value[0]
        return (job_id, index, False, (MaybeEncodingError(exc, shown), ""))
    return result


def _worker_main(
    conn: Connection,
    initializer: Callable[..., object] | None,
    initargs: Sequence[Any],
    maxtasks: int | None,
    inherited: tuple[int, ...] = (),
) -> None:
    """Run the batches of tasks the parent sends (the loop of a worker process)."""
    # A fork child holds copies of the parent's ends of the other workers' connections:
    # closed, so that each worker sees the end of its connection when the parent goes.
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    if initializer is not None:
        try:
            initializer(*initargs)
        except Exception as exc:
            # Tell the parent why (it fails the task this worker was given with it), then
            # die as the stdlib's worker does, the traceback printed.
            import traceback

            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            conn.send(("initfailed", _encodable((0, 0, False, (exc, text)))[3]))
            raise
    left = maxtasks
    clock = time.perf_counter
    loads = _reduction.ForkingPickler.loads
    while left is None or left > 0:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            batch = loads(data)
        except Exception as exc:  # e.g. a function the child cannot import
            import traceback

            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            exc.__traceback__ = None
            conn.send(("unloadable", _encodable((0, 0, False, (exc, text)))[3]))
            continue
        if batch is None:
            return
        results: list[tuple[int, int, bool, Any]] = []
        started = last = clock()
        for task in batch:
            results.append(_run_catching(task))
            if left is not None:
                left -= 1
            now = clock()
            if now - last >= _FLUSH_SECONDS and len(results) < len(batch):
                _send_results(conn, now - started, results)
                results = []
                started = last = now
        _send_results(conn, clock() - started, results)


def _send_results(conn: Connection, spent: float, results: list[Any]) -> None:
    if not results:
        return
    try:
        conn.send((spent, results))
    except Exception:
        # One of the values does not pickle: find it, send the rest as they are.
        conn.send((spent, [_encodable(result) for result in results]))


# ---------------------------------------------------------------------------------------
# Results.


class ApplyResult:
    """The result of ``apply_async``: ``get``, ``wait``, ``ready``, ``successful``."""

    __class_getitem__: Any = classmethod(types.GenericAlias)

    def __init__(
        self,
        pool: Any,
        callback: Callable[[Any], object] | None,
        error_callback: Callable[[BaseException], object] | None,
    ) -> None:
        from treadle.threading import Event

        self._pool = pool  # keeps the pool alive while the result is pending
        self._event = Event()
        self._callback = callback
        self._error_callback = error_callback
        self._success = False
        self._value: Any = None
        self._job = next(_job_counter)

    def ready(self) -> bool:
        """Return whether the call has completed."""
        return self._event.is_set()

    def successful(self) -> bool:
        """Return whether the call completed without raising; ValueError if not ready."""
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._success

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the result is available or *timeout* seconds pass."""
        self._event.wait(timeout)

    def get(self, timeout: float | None = None) -> Any:
        """Return the result when it arrives; raise the call's exception if it raised.

        Raises :exc:`multiprocessing.TimeoutError` if *timeout* seconds pass first.
        """
        if not self._event.wait(timeout):
            raise TimeoutError
        if self._success:
            return self._value
        raise self._value

    # Called by the pool (one task: index 0).
    def _deliver(self, index: int, ok: bool, value: Any) -> None:
        self._finish(ok, value)

    def _finish(self, ok: bool, value: Any) -> None:
        if self._event.is_set():
            return
        self._success, self._value = ok, value
        callback = self._callback if ok else self._error_callback
        if callback is not None:
            _call_back(callback, value)
        self._pool = None
        self._event.set()

    def _abort(self, error: BaseException) -> None:
        self._finish(False, error)


#: The stdlib's other name of :class:`ApplyResult`.
AsyncResult = ApplyResult


def _call_back(callback: Callable[[Any], object], value: Any) -> None:
    # A failing callback must not stop the pool: report it as a thread's error would be.
    try:
        callback(value)
    except Exception:
        import traceback

        sys.stderr.write("Exception in a pool callback:\n")
        traceback.print_exc()


class MapResult(ApplyResult):
    """The result of ``map_async``/``starmap_async``: a list once every chunk is back."""

    def __init__(
        self,
        pool: Any,
        chunks: int,
        length: int,
        chunksize: int,
        *,
        callback: Callable[[Any], object] | None,
        error_callback: Callable[[BaseException], object] | None,
    ) -> None:
        super().__init__(pool, callback, error_callback)
        self._items: list[Any] = [None] * length
        self._chunksize = chunksize
        self._left = chunks
        self._error: BaseException | None = None
        from treadle.threading import Lock

        self._lock = Lock()
        if chunks == 0:
            self._finish(True, [])

    def _deliver(self, index: int, ok: bool, value: Any) -> None:
        with self._lock:
            if ok:
                start = index * self._chunksize
                self._items[start : start + len(value)] = value
            elif self._error is None:
                self._error = value
            self._left -= 1
            done = self._left == 0
        if done:
            if self._error is None:
                self._finish(True, self._items)
            else:
                self._items = []
                self._finish(False, self._error)

    def _abort(self, error: BaseException) -> None:
        self._items = []
        self._finish(False, self._error or error)


class IMapIterator:
    """The iterator ``imap`` returns: results in input order; ``next(timeout)``."""

    _ordered = True

    def __init__(self, pool: Any, chunksize: int) -> None:
        from treadle.threading import Condition

        self._pool = pool
        self._cond = Condition()
        self._chunksize = chunksize
        self._job = next(_job_counter)
        self._got: dict[int, tuple[bool, Any]] = {}
        # (ok, value, ends_chunk): the last item of a chunk gives back read-ahead room.
        self._ready: collections.deque[tuple[bool, Any, bool]] = collections.deque()
        self._next_index = 0  # the next chunk to yield (ordered)
        self._taken = 0  # chunks yielded so far
        self._total: int | None = None  # chunks, once the input is exhausted
        self._input_error: BaseException | None = None
        self._room: Any = None  # a semaphore bounding read-ahead (buffersize)
        self._aborted = False

    def __iter__(self) -> IMapIterator:
        return self

    def next(self, timeout: float | None = None) -> Any:
        """Return the next result; wait up to *timeout* seconds (TimeoutError after)."""
        with self._cond:
            while True:
                if self._ready:
                    ok, value, ends_chunk = self._ready.popleft()
                    if ends_chunk and self._room is not None:
                        self._room.release()
                    break
                if self._total is not None and self._taken >= self._total:
                    self._pool = None
                    if self._input_error is not None:
                        error, self._input_error = self._input_error, None
                        raise error
                    raise StopIteration
                if not self._cond.wait(timeout):
                    raise TimeoutError
        if not ok:
            raise value
        return value

    __next__ = next

    def _deliver(self, index: int, ok: bool, value: Any) -> None:
        with self._cond:
            if self._ordered:
                self._got[index] = (ok, value)
                while self._next_index in self._got:
                    self._push(*self._got.pop(self._next_index))
                    self._next_index += 1
            else:
                self._push(ok, value)
            self._cond.notify()

    def _push(self, ok: bool, value: Any) -> None:
        # Under the condition: one chunk's items go out as single results.
        self._taken += 1
        if not ok:
            self._ready.append((False, value, True))
        elif self._chunksize == 1:
            self._ready.append((True, value[0], True))
        elif value:
            last = len(value) - 1
            self._ready.extend((True, item, i == last) for i, item in enumerate(value))

    def _total_done(self) -> bool:
        # The pool forgets an imap job once every chunk it will have was delivered.
        return self._total is not None and self._taken + len(self._got) >= self._total

    def _set_total(self, chunks: int, error: BaseException | None = None) -> None:
        with self._cond:
            if self._aborted:
                return  # the pool was terminated: the end is already set
            self._total = chunks
            self._input_error = error
            self._cond.notify_all()

    def _abort(self, error: BaseException) -> None:
        with self._cond:
            if self._total is not None and self._taken >= self._total:
                return
            self._aborted = True
            self._ready.append((False, error, True))
            self._total = self._taken
            self._got.clear()
            self._cond.notify_all()


class IMapUnorderedIterator(IMapIterator):
    """The iterator ``imap_unordered`` returns: results in completion order."""

    _ordered = False


_job_counter = itertools.count()
_worker_counter = itertools.count(1)


# ---------------------------------------------------------------------------------------
# The pool's front end, shared by Pool and ThreadPool.


def _check_positive(name: str, value: object, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1")


def _chunks(iterable: Iterable[Any], size: int) -> Iterator[tuple[Any, ...]]:
    it = iter(iterable)
    while chunk := tuple(itertools.islice(it, size)):
        yield chunk


class Pool:
    """A pool of worker processes that run the tasks given to it.

    *processes* defaults to the CPUs this process may use. Each worker runs
    ``initializer(*initargs)`` first, and is replaced by a fresh one after
    *maxtasksperchild* tasks. *context* gives the start method of the workers. Used as
    a context manager, the pool is terminated on exit.

    A worker that dies while running a task fails that task's result with
    :exc:`WorkerLostError` (naming its pid and exit code or signal) and is replaced.
    """

    # The stdlib's class attribute: whether a worker's error travels with its traceback
    # (as the __cause__ RemoteTraceback); a ThreadPool's errors are the objects themselves.
    _wrap_exception = True

    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
        context: Any = None,
    ) -> None:
        from . import _native

        self._state = _RUN  # first: __del__ reads it even when __init__ fails
        self._core: Any = None
        if processes is None:
            processes = _native.process_cpu_count() or 1
        if not isinstance(processes, int) or isinstance(processes, bool):
            raise TypeError(f"processes must be an int, not {type(processes).__name__}")
        if processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if maxtasksperchild is not None and (
            not isinstance(maxtasksperchild, int)
            or isinstance(maxtasksperchild, bool)
            or maxtasksperchild <= 0
        ):
            raise ValueError("maxtasksperchild must be a positive int or None")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._processes = processes
        self._core = self._make_core(
            processes, initializer, tuple(initargs), maxtasksperchild, context
        )
        from ._util import Finalize

        self._finalizer = Finalize(self, self._core.terminate, exitpriority=15)

    def _make_core(
        self,
        processes: int,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        maxtasks: int | None,
        context: Any,
    ) -> Any:
        if context is None:
            from ._context import _default_context

            context = _default_context.get_context()
        self._ctx = context
        return _ProcessCore(context, processes, initializer, initargs, maxtasks)

    @staticmethod
    def Process(ctx: Any, *args: Any, **kwds: Any) -> Any:
        """Return an (unstarted) worker process of context *ctx*."""
        return ctx.Process(*args, **kwds)

    def __repr__(self) -> str:
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        return f"<{name} state={self._state} pool_size={self._processes}>"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # warnings.warn bound at definition: at interpreter exit module globals may be gone.
        if getattr(self, "_state", None) == _RUN and getattr(self, "_finalizer", None):
            message = f"unclosed running multiprocessing pool {self!r}"
            _warn(message, ResourceWarning, stacklevel=1, source=self)

    def __reduce__(self) -> Any:
        raise NotImplementedError("pool objects cannot be passed between processes or pickled")

    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.terminate()

    # State -----------------------------------------------------------------------

    @property
    def _pool(self) -> list[Any]:
        """The worker processes (threads, in a ThreadPool) the pool has now."""
        return self._core.workers()  # type: ignore[no-any-return]

    def _repopulate_pool(self) -> None:
        """Start workers until the pool has its size again (it also does so by itself)."""
        self._core.repopulate()

    def _check_running(self) -> None:
        if self._state != _RUN:
            raise ValueError("Pool not running")

    def close(self) -> None:
        """Accept no more tasks; the workers exit once the queued ones are done."""
        if self._state == _RUN:
            self._state = _CLOSE
            self._core.close()

    def terminate(self) -> None:
        """Stop the workers now; results still pending fail."""
        self._state = _TERMINATE
        self._finalizer()

    def join(self) -> None:
        """Wait for the workers to exit (after :meth:`close` or :meth:`terminate`)."""
        if self._state == _RUN:
            raise ValueError("Pool is still running")
        self._core.join()

    # Submitting ------------------------------------------------------------------

    def apply_async(
        self,
        func: Callable[..., Any],
        args: Iterable[Any] = (),
        kwds: Mapping[str, Any] | None = None,
        callback: Callable[[Any], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
    ) -> ApplyResult:
        """Call ``func(*args, **kwds)`` in a worker; return its :class:`AsyncResult`."""
        self._check_running()
        result = ApplyResult(self, callback, error_callback)
        self._core.submit(result, [(result._job, 0, _APPLY, func, tuple(args), dict(kwds or {}))])
        return result

    def apply(
        self,
        func: Callable[..., Any],
        args: Iterable[Any] = (),
        kwds: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call ``func(*args, **kwds)`` in a worker and return its result."""
        return self.apply_async(func, args, kwds).get()

    def _map_async(
        self,
        kind: int,
        func: Callable[..., Any],
        iterable: Iterable[Any],
        chunksize: int | None,
        *,
        callback: Callable[[Any], object] | None,
        error_callback: Callable[[BaseException], object] | None,
    ) -> MapResult:
        self._check_running()
        _check_positive("chunksize", chunksize)
        items = iterable if hasattr(iterable, "__len__") else list(iterable)
        length = len(items)  # type: ignore[arg-type]
        if chunksize is None:
            # About four chunks per worker: few messages, yet balanced.
            chunksize, extra = divmod(length, len(self._core) * 4)
            chunksize += bool(extra)
            chunksize = max(chunksize, 1)
        chunks = list(_chunks(items, chunksize))
        result = MapResult(
            self, len(chunks), length, chunksize, callback=callback, error_callback=error_callback
        )
        if chunks:
            job = result._job
            self._core.submit(result, [(job, i, kind, func, c, None) for i, c in enumerate(chunks)])
        return result

    def map_async(
        self,
        func: Callable[[Any], Any],
        iterable: Iterable[Any],
        chunksize: int | None = None,
        callback: Callable[[Any], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
    ) -> MapResult:
        """Start ``map(func, iterable)`` in the workers; return its :class:`AsyncResult`."""
        return self._map_async(
            _MAP, func, iterable, chunksize, callback=callback, error_callback=error_callback
        )

    def map(
        self, func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int | None = None
    ) -> list[Any]:
        """Return ``list(map(func, iterable))``, computed by the workers in chunks."""
        result = self._map_async(
            _MAP, func, iterable, chunksize, callback=None, error_callback=None
        )
        values: list[Any] = result.get()
        return values

    def starmap_async(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
        callback: Callable[[Any], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
    ) -> MapResult:
        """Like :meth:`map_async`, calling ``func(*args)`` for each *args* of *iterable*."""
        return self._map_async(
            _STAR, func, iterable, chunksize, callback=callback, error_callback=error_callback
        )

    def starmap(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
    ) -> list[Any]:
        """Return ``[func(*args) for args in iterable]``, computed by the workers."""
        result = self._map_async(
            _STAR, func, iterable, chunksize, callback=None, error_callback=None
        )
        values: list[Any] = result.get()
        return values

    def _imap(
        self,
        cls: type[IMapIterator],
        func: Callable[[Any], Any],
        iterable: Iterable[Any],
        chunksize: int,
        buffersize: int | None,
    ) -> IMapIterator:
        self._check_running()
        _check_positive("chunksize", chunksize, allow_none=False)
        _check_positive("buffersize", buffersize)
        result = cls(self, chunksize)
        if buffersize is not None:
            from treadle.threading import Semaphore

            result._room = Semaphore(buffersize)
        source = iter(iterable)
        self._core.feed(result, _MAP, func, source, chunksize)
        return result

    def imap(
        self,
        func: Callable[[Any], Any],
        iterable: Iterable[Any],
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> IMapIterator:
        """Return an iterator of ``func(item)`` for each item, in input order (a lazy map).

        The input is read in a background thread; *buffersize* (beyond the stdlib before
        3.15) bounds how many chunks are read ahead of the results taken. With a
        *buffersize*, :meth:`close` stops the reading: the iterator ends after the results
        of the chunks already read, and :meth:`join` does not wait for the rest.
        """
        return self._imap(IMapIterator, func, iterable, chunksize, buffersize)

    def imap_unordered(
        self,
        func: Callable[[Any], Any],
        iterable: Iterable[Any],
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> IMapIterator:
        """Like :meth:`imap`, but results come in the order they complete."""
        return self._imap(IMapUnorderedIterator, func, iterable, chunksize, buffersize)


class ThreadPool(Pool):
    """A :class:`Pool` whose workers are threads: nothing is pickled."""

    _wrap_exception = False

    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
    ) -> None:
        super().__init__(processes, initializer, initargs)

    def _make_core(
        self,
        processes: int,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        maxtasks: int | None,
        context: Any,
    ) -> Any:
        self._ctx = None
        return _ThreadCore(processes, initializer, initargs, maxtasks)

    @staticmethod
    def Process(ctx: Any, *args: Any, **kwds: Any) -> Any:
        """Return an (unstarted) worker thread (a ``multiprocessing.dummy.Process``)."""
        return _dummy_process_class()(*args, **kwds)


# ---------------------------------------------------------------------------------------
# The machinery behind the front end: what both cores share.


class _CoreBase(abc.ABC):
    def __init__(self, size: int) -> None:
        from treadle.threading import Lock

        self._size = size
        self._jobs: dict[int, Any] = {}
        self._lock = Lock()
        self._feeders: set[Any] = set()
        self._closing = False
        self._terminated = False

    def __len__(self) -> int:
        return self._size

    @abc.abstractmethod
    def _enqueue(self, tasks: list[tuple[Any, ...]]) -> None:
        """Queue *tasks* for the workers."""

    def submit(self, job: Any, tasks: list[tuple[Any, ...]]) -> None:
        self._jobs[job._job] = job
        self._enqueue(tasks)

    def feed(
        self, job: IMapIterator, kind: int, func: Any, source: Iterator[Any], chunksize: int
    ) -> None:
        """Read *source* in a thread of its own, queueing its chunks as tasks."""
        from treadle.threading import Thread

        self._jobs[job._job] = job
        thread = Thread(
            target=self._feed,
            args=(job, kind, func, source, chunksize),
            daemon=True,
            name="pool-feeder",
        )
        with self._lock:
            self._feeders.add(thread)
        thread.start()

    def _feed(
        self, job: IMapIterator, kind: int, func: Any, source: Iterator[Any], chunksize: int
    ) -> None:
        count = 0
        error: BaseException | None = None
        room = job._room
        try:
            while not self._stopping(room):
                if room is not None:
                    room.acquire()
                    if self._stopping(room):
                        break
                chunk = tuple(itertools.islice(source, chunksize))
                if not chunk:
                    if room is not None:
                        room.release()
                    break
                self._enqueue([(job._job, count, kind, func, chunk, None)])
                count += 1
        except Exception as exc:
            error = exc
        finally:
            job._set_total(count, error)
            if job._total_done():
                self._jobs.pop(job._job, None)
            import treadle.threading as _threading

            with self._lock:
                self._feeders.discard(_threading.current_thread())
                last = not self._feeders
            if last:
                self._feeders_done()

    def _stopping(self, room: Any) -> bool:
        # A bounded feeder (buffersize) stops reading its input at close() too, as
        # CPython's does since gh-155477: the rest of an input nobody consumes would
        # otherwise keep join() waiting for ever. The tasks it queued still run and the
        # iterator ends after their results. An unbounded feeder reads all of its input
        # after close(), as the stdlib's imap does.
        return self._terminated or (room is not None and self._closing)

    def _feeders_done(self) -> None:  # noqa: B027 - only some cores need the hook
        """Finish closing, if need be, once the last feeder thread ended."""

    def _deliver(self, job_id: int, index: int, ok: bool, value: Any, wrap: bool) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if not ok and wrap:
            exc, text = value
            value = _with_remote_traceback(exc, text) if text else exc
        job._deliver(index, ok, value)
        if job._event.is_set() if isinstance(job, ApplyResult) else job._total_done():
            self._jobs.pop(job_id, None)

    def _abort_all(self, error: BaseException) -> None:
        for job in list(self._jobs.values()):
            job._abort(error)
        self._jobs.clear()

    def _release_feeders(self) -> None:
        # Feeders blocked on buffersize wait for room that will not come: let them out
        # (they see the pool closed or terminated and stop).
        for job in list(self._jobs.values()):
            if isinstance(job, IMapIterator) and job._room is not None:
                job._room.release()

    def _join_feeders(self) -> None:
        with self._lock:
            feeders = list(self._feeders)
        for thread in feeders:
            thread.join()


class _ThreadCore(_CoreBase):
    """Threads taking tasks from one queue (``ThreadPool``)."""

    def __init__(
        self,
        size: int,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        maxtasks: int | None,
    ) -> None:
        from treadle.queue import SimpleQueue

        super().__init__(size)
        self._queue: Any = SimpleQueue()
        self._initializer = initializer
        self._initargs = initargs
        self._maxtasks = maxtasks
        self._threads: set[Any] = set()
        self._stopped = False
        for _ in range(size):
            self._start_thread()

    def _start_thread(self) -> None:
        from treadle.threading import Thread

        thread = Thread(target=self._work, daemon=True, name="pool-worker")
        self._threads.add(thread)
        thread.start()

    def _enqueue(self, tasks: list[tuple[Any, ...]]) -> None:
        put = self._queue.put
        for task in tasks:
            put(task)

    def _work(self) -> None:
        if self._initializer is not None:
            try:
                self._initializer(*self._initargs)
            except Exception as exc:
                self._fail_tasks(exc)
                return
        left = self._maxtasks
        get = self._queue.get
        while left is None or left > 0:
            task = get()
            if task is None:
                return
            if self._terminated:
                continue
            job_id, index, ok, value = _run_catching(task)
            if not ok:
                value = value[0]
            self._deliver(job_id, index, ok, value, False)
            del task, value  # a task's arguments and result must not outlive it
            if left is not None:
                left -= 1
        # Retiring after maxtasks: a fresh thread takes this one's place.
        import treadle.threading as _threading

        with self._lock:
            self._threads.discard(_threading.current_thread())
            if not self._terminated:
                self._start_thread()

    def _fail_tasks(self, error: Exception) -> None:
        """Fail each task this thread takes with its initializer's *error*, until told to stop.

        The thread cannot run tasks, yet must not leave them waiting for ever.
        """
        import treadle.threading as _threading

        _threading.excepthook(
            _threading.ExceptHookArgs(
                (type(error), error, error.__traceback__, _threading.current_thread())
            )
        )
        while (task := self._queue.get()) is not None:
            self._deliver(task[0], task[1], False, error, False)
            del task

    def workers(self) -> list[Any]:
        with self._lock:
            return list(self._threads)

    def repopulate(self) -> None:
        with self._lock:
            while len(self._threads) < self._size and not self._stopped:
                self._start_thread()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            idle = not self._feeders
        if idle:
            self._stop_threads()
        else:
            self._release_feeders()

    def _feeders_done(self) -> None:
        if self._closing:
            self._stop_threads()

    def _stop_threads(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for _ in range(self._size):
            self._queue.put(None)

    def terminate(self) -> None:
        self._terminated = True
        self._closing = True
        self._release_feeders()
        self._join_feeders()
        self._stop_threads()
        self.join()
        self._abort_all(ValueError("Pool terminated before the task completed"))

    def join(self) -> None:
        self._join_feeders()
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return
            for thread in threads:
                thread.join()
                with self._lock:
                    self._threads.discard(thread)


class _Worker:
    """The parent's view of one worker process."""

    __slots__ = (
        "batches", "eof", "fd", "inbuf", "init_error", "left", "mask", "outbuf", "pid",
        "process", "sentinel", "served",
    )  # fmt: skip

    def __init__(self, process: Any, fd: int, left: int | None) -> None:
        self.process = process
        self.pid: int = process.pid
        self.sentinel: int = process.sentinel
        self.fd = fd
        self.inbuf = bytearray()
        # What is still to be written, as a view: a long message goes out in many writes,
        # and slicing a view copies nothing.
        self.outbuf: memoryview | bytes = b""
        self.batches: collections.deque[list[tuple[Any, ...]]] = collections.deque()
        self.left = left  # tasks it may still be given (maxtasksperchild)
        self.eof = False
        self.mask = select.POLLIN
        self.init_error: tuple[BaseException, str] | None = None
        self.served = False  # it sent results back at least once


class _ProcessCore(_CoreBase):
    """Worker processes, each on its own connection, served by one dispatcher thread."""

    def __init__(
        self,
        ctx: Any,
        size: int,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        maxtasks: int | None,
    ) -> None:
        super().__init__(size)
        self._ctx = ctx
        self._initializer = initializer
        self._initargs = initargs
        self._maxtasks = maxtasks
        self._pending: collections.deque[tuple[Any, ...]] = collections.deque()
        self._solo: set[tuple[int, int]] = set()  # tasks to send alone (see _unloadable)
        self._by_fd: dict[int, _Worker] = {}
        self._by_sentinel: dict[int, _Worker] = {}
        self._poller = select.poll()
        self._task_time = 0.0  # measured seconds per task (0: not known yet)
        self._sleeping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, select.POLLIN)
        self._dispatcher: Any = None
        self._stop_requested = False
        self._parent_fds: set[int] = set()
        self._retry_at = 0.0  # when to try again to start a worker (see _reap, _top_up)
        self._early_deaths = 0
        started: list[tuple[Any, Any]] = []
        try:
            for _ in range(size):
                started.append(self._start_process())
        except BaseException:
            # Nothing started may outlive the failed constructor.
            for process, _end in started:
                process.terminate()
            for process, end in started:
                process.join()
                end.close()
            self._close_wake()
            raise
        for process, end in started:
            self._register(process, end)
        from treadle.threading import Thread

        self._dispatcher = Thread(target=self._dispatch, daemon=True, name="pool-dispatcher")
        self._dispatcher.start()

    # Workers ---------------------------------------------------------------------

    def _add_worker(self) -> None:
        self._register(*self._start_process())

    def _start_process(self) -> tuple[Any, Connection]:
        from ._connection import Pipe

        parent_end, child_end = Pipe()
        self._parent_fds.add(parent_end.fileno())
        inherited: tuple[int, ...] = ()
        if self._ctx.get_start_method() == "fork":
            inherited = (self._wake_r, self._wake_w, *self._parent_fds)
        try:
            process = self._ctx.Process(
                target=_worker_main,
                args=(child_end, self._initializer, self._initargs, self._maxtasks, inherited),
                name=f"PoolWorker-{next(_worker_counter)}",
                daemon=True,
            )
            process.start()
        except BaseException:
            self._parent_fds.discard(parent_end.fileno())
            parent_end.close()
            raise
        finally:
            child_end.close()
        return process, parent_end

    def _register(self, process: Any, parent_end: Connection) -> None:
        fd = parent_end.fileno()
        parent_end._detach()  # the core owns the descriptor from here
        os.set_blocking(fd, False)
        worker = _Worker(process, fd, self._maxtasks)
        self._by_fd[fd] = worker
        self._by_sentinel[worker.sentinel] = worker
        self._poller.register(fd, select.POLLIN)
        self._poller.register(worker.sentinel, select.POLLIN)

    def _forget_worker(self, worker: _Worker) -> None:
        if not worker.eof:
            self._poller.unregister(worker.fd)
        self._poller.unregister(worker.sentinel)
        del self._by_fd[worker.fd]
        del self._by_sentinel[worker.sentinel]
        self._parent_fds.discard(worker.fd)
        os.close(worker.fd)

    def _kill_all(self) -> None:
        workers = list(self._by_fd.values())
        for worker in workers:
            if worker.process.exitcode is None:
                worker.process.terminate()
        for worker in workers:
            worker.process.join(5)
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
            self._forget_worker(worker)
            worker.process.close()

    # Requests from other threads ---------------------------------------------------

    def _wake(self) -> None:
        # Under the lock: once the dispatcher has ended, the pipe is closed (and its
        # descriptor numbers may already belong to someone else).
        with self._lock:
            if self._wake_w < 0:
                return
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:
                pass  # already woken: the pipe is full of wake-ups

    def _enqueue(self, tasks: list[tuple[Any, ...]]) -> None:
        self._pending.extend(tasks)
        if self._sleeping:
            self._wake()

    def workers(self) -> list[Any]:
        return [worker.process for worker in list(self._by_fd.values())]

    def repopulate(self) -> None:
        self._wake()  # the dispatcher tops the pool up on every turn

    def close(self) -> None:
        self._closing = True
        self._release_feeders()
        self._wake()

    def terminate(self) -> None:
        from treadle import threading as _threading

        self._terminated = True
        self._closing = True
        dispatcher = self._dispatcher
        if dispatcher is None:
            return
        self._stop_requested = True
        self._wake()
        self._release_feeders()
        if dispatcher is not _threading.current_thread():
            dispatcher.join()
            self._join_feeders()

    def join(self) -> None:
        self._join_feeders()
        if self._dispatcher is not None:
            self._dispatcher.join()

    def _feeders_done(self) -> None:
        self._wake()  # the dispatcher may now find the closed pool idle

    def _close_wake(self) -> None:
        with self._lock:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1

    # The dispatcher thread -----------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            self._serve()
        finally:
            self._kill_all()
            self._poller.unregister(self._wake_r)
            self._close_wake()
            self._abort_all(ValueError("Pool terminated before the task completed"))

    def _serve(self) -> None:
        poll = self._poller.poll
        while not self._stop_requested:
            if len(self._by_fd) < self._size:
                self._top_up()
            self._assign()
            if self._closing and self._idle() and self._retire_all():
                return
            self._sleeping = True
            if self._pending and self._has_room():
                self._sleeping = False
                continue
            wait = None
            if self._retry_at and len(self._by_fd) < self._size:
                wait = max(0.0, self._retry_at - time.monotonic()) * 1000.0
            events = poll(wait)
            self._sleeping = False
            if wait is not None:
                self._top_up()
            for fd, mask in events:
                if fd == self._wake_r:
                    # One read takes them all (anything left just wakes the next poll).
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                worker = self._by_fd.get(fd)
                if worker is not None:
                    if mask & select.POLLOUT and worker.outbuf:
                        self._write(worker)
                    if mask & (select.POLLIN | select.POLLHUP | select.POLLERR):
                        self._read(worker)
                    continue
                worker = self._by_sentinel.get(fd)
                if worker is not None:
                    self._reap(worker)

    def _top_up(self) -> None:
        """Start workers until the pool has its size again (not once it is closed and idle)."""
        while len(self._by_fd) < self._size and not self._terminated:
            if self._closing and self._idle():
                return
            if time.monotonic() < self._retry_at:
                return
            try:
                self._add_worker()
            except Exception:
                # Out of processes or descriptors, say: the tasks wait, and the dispatcher
                # tries again in a second (its poll wakes up for it).
                self._retry_at = time.monotonic() + 1.0
                import traceback

                traceback.print_exc()
                return

    def _idle(self) -> bool:
        if self._pending or self._feeders:
            return False
        return all(not w.batches for w in self._by_fd.values())

    def _retire_all(self) -> bool:
        """Tell every worker to exit; True once they all have."""
        for worker in self._by_fd.values():
            if worker.left != -1 and not worker.eof:
                worker.left = -1  # marks "told to exit"
                self._send(worker, None)
        return not self._by_fd

    @staticmethod
    def _can_take(worker: _Worker, depth: int = _DEPTH - 1) -> bool:
        # -1: told to exit; 0: has all the tasks maxtasksperchild allows it.
        return (
            len(worker.batches) <= depth
            and worker.left not in {0, -1}
            and not worker.eof
            and not worker.outbuf
        )

    def _has_room(self) -> bool:
        return any(self._can_take(w) for w in self._by_fd.values())

    def _batch_size(self) -> int:
        per_worker = -(-len(self._pending) // max(len(self._by_fd), 1))
        wanted = 1 if self._task_time <= 0.0 else int(_BATCH_SECONDS / self._task_time)
        return max(1, min(wanted, per_worker, _MAX_BATCH))

    def _assign(self) -> None:
        pending = self._pending
        if not pending:
            return
        size = self._batch_size()
        for depth in range(_DEPTH):
            for worker in list(self._by_fd.values()):
                if not pending:
                    return
                if not self._can_take(worker, depth):
                    continue
                take = size if worker.left is None else min(size, worker.left)
                batch: list[tuple[Any, ...]] = []
                while pending and len(batch) < take:
                    task = pending.popleft()
                    if (task[0], task[1]) in self._solo:
                        if batch:
                            pending.appendleft(task)
                            break
                        self._solo.discard((task[0], task[1]))
                        batch.append(task)
                        break
                    batch.append(task)
                if not self._send_batch(worker, batch):
                    continue
                if worker.left is not None:
                    worker.left -= len(batch)

    def _send_batch(self, worker: _Worker, batch: list[tuple[Any, ...]]) -> bool:
        try:
            self._send(worker, batch)
        except Exception as exc:
            # Something in the batch does not pickle: fail just those tasks.
            good: list[tuple[Any, ...]] = []
            for task in batch:
                try:
                    _reduction.ForkingPickler.dumps(task)
                except Exception as error:
                    self._deliver(task[0], task[1], False, (error, ""), True)
                else:
                    good.append(task)
            del exc
            if not good:
                return False
            batch[:] = good
            self._send(worker, batch)
        worker.batches.append(batch)
        return True

    def _send(self, worker: _Worker, obj: object) -> None:
        framed = _reduction._framed_dumps(obj)
        size = framed.nbytes - 4
        if size > 0x7FFFFFFF:
            data: memoryview | bytes = _HEADER.pack(-1) + _LONG_HEADER.pack(size) + framed[4:]
        else:
            _HEADER.pack_into(framed, 0, size)
            data = framed
        if worker.outbuf:
            worker.outbuf = bytes(worker.outbuf) + data
            return
        worker.outbuf = data
        self._write(worker)

    def _write(self, worker: _Worker) -> None:
        data = worker.outbuf
        try:
            sent = os.write(worker.fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            # The worker is gone: its sentinel reports it.
            worker.outbuf = b""
            return
        worker.outbuf = memoryview(data)[sent:] if sent < len(data) else b""
        if worker.eof:
            return
        # Ask for POLLOUT only while part of a message waits to be written.
        mask = select.POLLIN | select.POLLOUT if worker.outbuf else select.POLLIN
        if mask != worker.mask:
            worker.mask = mask
            self._poller.modify(worker.fd, mask)

    def _read(self, worker: _Worker) -> None:
        buf = worker.inbuf
        while True:
            try:
                chunk = os.read(worker.fd, 1 << 20)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                worker.eof = True
                self._poller.unregister(worker.fd)
                break
            buf += chunk
            if len(chunk) < (1 << 20):
                break
        self._parse(worker)

    def _parse(self, worker: _Worker) -> None:
        buf = worker.inbuf
        start = 0
        end = len(buf)
        loads = _reduction.ForkingPickler.loads
        view = memoryview(buf)
        try:
            while end - start >= 4:
                size = _HEADER.unpack_from(buf, start)[0]
                head = 4
                if size == -1:
                    if end - start < 12:
                        break
                    size = _LONG_HEADER.unpack_from(buf, start + 4)[0]
                    head = 12
                if end - start - head < size:
                    break
                message = loads(view[start + head : start + head + size])
                start += head + size
                self._handle(worker, message)
        finally:
            view.release()
            if start:
                del buf[:start]

    def _handle(self, worker: _Worker, message: Any) -> None:
        tag, body = message
        if tag == "unloadable":
            self._unloadable(worker, body)
            return
        if tag == "initfailed":
            worker.init_error = body
            return
        worker.served = True
        spent, results = message
        if results:
            per_task = spent / len(results)
            # A moving average: the batch size follows the tasks' time.
            self._task_time = (
                per_task if self._task_time <= 0.0 else 0.7 * self._task_time + 0.3 * per_task
            )
        batches = worker.batches
        deliver = self._deliver
        for job_id, index, ok, value in results:
            batch = batches[0]
            del batch[0]
            if not batch:
                batches.popleft()
            deliver(job_id, index, ok, value, True)

    def _unloadable(self, worker: _Worker, error: Any) -> None:
        # The worker could not unpickle its oldest batch: a batch of one fails; a longer
        # one goes back to the queue, each task to be sent alone to find the culprit.
        batch = worker.batches.popleft()
        if worker.left is not None and worker.left >= 0:
            worker.left += len(batch)
        if len(batch) == 1:
            task = batch[0]
            self._deliver(task[0], task[1], False, error, True)
            return
        for task in batch:
            self._solo.add((task[0], task[1]))
        self._pending.extendleft(reversed(batch))

    def _reap(self, worker: _Worker) -> None:
        """Take in a dead worker's last results, then fail its task and replace it."""
        if not worker.eof:
            self._read(worker)
            while not worker.eof:
                if not self._fd_ready(worker.fd, 1.0):
                    break
                self._read(worker)
        worker.process.join()
        code = worker.process.exitcode
        self._forget_worker(worker)
        worker.process.close()
        lost = [task for batch in worker.batches for task in batch]
        if lost:
            first = lost[0]
            error = worker.init_error or (self._lost_error(worker.pid, code), "")
            self._deliver(first[0], first[1], False, error, True)
            self._pending.extendleft(reversed(lost[1:]))
        # Workers that keep dying before doing anything (a failing initializer, say) are
        # replaced ever more slowly, up to once a second, rather than in a tight loop.
        if worker.served or code == 0:
            self._early_deaths = 0
        else:
            self._early_deaths += 1
            delay = min(1.0, 0.01 * 2 ** min(self._early_deaths, 10))
            self._retry_at = time.monotonic() + delay
        self._top_up()

    @staticmethod
    def _fd_ready(fd: int, timeout: float) -> bool:
        poller = select.poll()  # not select(): descriptors past 1024 are common here
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(timeout * 1000.0))

    @staticmethod
    def _lost_error(pid: int, code: int | None) -> WorkerLostError:
        if code is not None and code < 0:
            import signal

            try:
                how = f"killed by signal {-code} ({signal.Signals(-code).name})"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return WorkerLostError(
            f"pool worker process {pid} {how} while running this task", pid, code
        )


# ---------------------------------------------------------------------------------------
# The thread-backed twins of multiprocessing.dummy (its public modules import these).


_DUMMY_CLASS: list[Any] = []


def _dummy_process_class() -> Any:
    if _DUMMY_CLASS:
        return _DUMMY_CLASS[0]
    import weakref

    import treadle.threading as _threading

    children: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()

    class DummyProcess(_threading.Thread):
        """A thread that looks like a process (``multiprocessing.dummy.Process``)."""

        def __init__(
            self,
            group: None = None,
            target: Callable[..., object] | None = None,
            name: str | None = None,
            args: Iterable[Any] = (),
            kwargs: Mapping[str, Any] | None = None,
        ) -> None:
            super().__init__(group, target, name, tuple(args), dict(kwargs or {}))
            self._pid = None
            self._start_called = False
            self._parent = _threading.current_thread()

        def start(self) -> None:
            """Start the thread; only the thread that made it may."""
            if self._parent is not _threading.current_thread():
                raise AssertionError("can only start a process object created by current process")
            self._start_called = True
            children.setdefault(self._parent, weakref.WeakSet()).add(self)
            super().start()

        @property
        def exitcode(self) -> int | None:
            """0 once the thread has run and ended, else None."""
            return 0 if self._start_called and not self.is_alive() else None

    DummyProcess.__module__ = "treadle.multiprocessing.dummy"
    DummyProcess.__qualname__ = "DummyProcess"
    DummyProcess._dummy_children = children  # type: ignore[attr-defined]
    _DUMMY_CLASS.append(DummyProcess)
    return DummyProcess


def __getattr__(name: str) -> Any:
    # DummyProcess subclasses treadle.threading.Thread: made on first use, so that a
    # worker process importing this module does not import treadle.threading.
    if name == "DummyProcess":
        return _dummy_process_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dummy_active_children() -> list[Any]:
    """Return the live threads that the calling thread started as processes."""
    import treadle.threading as _threading

    children = _dummy_process_class()._dummy_children
    mine = children.get(_threading.current_thread())
    if not mine:
        return []
    alive = [child for child in mine if child.is_alive()]
    for child in list(mine):
        if not child.is_alive():
            mine.discard(child)
    return alive


class Namespace:
    """An object whose attributes are the keyword arguments it was made with."""

    def __init__(self, /, **kwds: Any) -> None:
        self.__dict__.update(kwds)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"{type(self).__name__}({shown})"


class Value:
    """A plain holder of ``value`` (the threads' version of a shared ``Value``)."""

    def __init__(self, typecode: Any, value: Any, lock: Any = True) -> None:
        self._typecode = typecode
        self._value = value

    @property
    def value(self) -> Any:
        """The value held."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__}({self._typecode!r}, {self._value!r})>"


def Array(typecode: str, sequence: Iterable[Any], lock: Any = True) -> Any:
    """Return ``array.array(typecode, sequence)`` (threads share it as it is)."""
    import array

    return array.array(typecode, sequence)


class DummyConnection:
    """One end of a connection between threads: objects go through two queues."""

    def __init__(self, inbox: Any, outbox: Any) -> None:
        self._in = inbox
        self._out = outbox

    def send(self, obj: object) -> None:
        """Send *obj* to the other end (as it is: nothing is pickled)."""
        self._out.put(obj)

    send_bytes = send

    def recv(self) -> Any:
        """Return the next object the other end sent, waiting for it."""
        return self._in.get()

    recv_bytes = recv

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Return whether an object is waiting; wait up to *timeout* (None: for ever)."""
        inbox = self._in
        with inbox.not_empty:
            if inbox._qsize() > 0:
                return True
            if timeout is not None and timeout <= 0.0:
                return False
            inbox.not_empty.wait(timeout)
            return bool(inbox._qsize() > 0)

    def close(self) -> None:
        """Do nothing: as in 3.14, both ends stay usable (threads share this object).

        A thread often gets the very end its creator closes right after starting it.
        """

    def __enter__(self) -> DummyConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def DummyPipe(duplex: bool = True) -> tuple[DummyConnection, DummyConnection]:
    """Return two connected ends (both ends send and receive, whatever *duplex*)."""
    from treadle.queue import Queue

    first: Any = Queue()
    second: Any = Queue()
    return DummyConnection(first, second), DummyConnection(second, first)


class DummyListener:
    """Accepts connections from :func:`DummyClient`; its ``address`` is its queue."""

    def __init__(self, address: Any = None, family: str | None = None, backlog: int = 1) -> None:
        from treadle.queue import Queue

        if family not in {None, "dummy"}:
            raise ValueError(f"Family {family} is not recognized.")
        self._backlog: Any = Queue(backlog)

    def accept(self) -> DummyConnection:
        """Wait for a client and return the connection to it."""
        if self._backlog is None:
            raise OSError("listener is closed")
        inbox, outbox = self._backlog.get()
        return DummyConnection(inbox, outbox)

    def close(self) -> None:
        """Stop accepting connections."""
        self._backlog = None

    @property
    def address(self) -> Any:
        """What :func:`DummyClient` connects to (the listener's queue)."""
        return self._backlog

    def __enter__(self) -> DummyListener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def DummyClient(address: Any) -> DummyConnection:
    """Connect to the :class:`DummyListener` whose ``address`` is *address*."""
    from treadle.queue import Queue

    if address is None or not hasattr(address, "put"):
        raise TypeError(f"address must be a dummy Listener's address, not {address!r}")
    to_server: Any = Queue()
    from_server: Any = Queue()
    address.put((to_server, from_server))
    return DummyConnection(from_server, to_server)


# The public path in reprs and pickles, even when only this module was imported (the
# context's Pool() imports it alone).
_obj: Any
for _obj in (
    ApplyResult, ExceptionWithTraceback, IMapIterator, IMapUnorderedIterator, MapResult,
    MaybeEncodingError, Pool, RemoteTraceback, ThreadPool, WorkerLostError, mapstar,
    rebuild_exc, starmapstar, worker,
):  # fmt: skip
    _obj.__module__ = "treadle.multiprocessing.pool"
_name: str
for _name, _obj in (
    ("Client", DummyClient), ("Connection", DummyConnection), ("Listener", DummyListener),
    ("Pipe", DummyPipe),
):  # fmt: skip
    _obj.__module__ = "treadle.multiprocessing.dummy.connection"
    _obj.__name__ = _obj.__qualname__ = _name
for _obj in (Array, Namespace, Value, dummy_active_children):
    _obj.__module__ = "treadle.multiprocessing.dummy"
del _name, _obj
