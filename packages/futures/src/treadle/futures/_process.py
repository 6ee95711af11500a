"""ProcessPoolExecutor (``concurrent.futures.process``), written for treadle.

How work reaches the workers: ``submit`` pickles the call at once (in the caller's
thread, so a call that does not pickle is known there) and appends a :class:`_Task` to
the pool's ``pending`` deque. One dispatcher thread per pool owns every worker: each
worker has one duplex pipe, and the dispatcher knows which tasks it sent down each one
(``inflight``, in the order the worker runs them). It polls the pipes, the workers'
sentinels and a wake-up pipe, and hands pending tasks to workers in batches (several
tasks per write; the worker answers with several outcomes per write), so a map of small
calls costs a few system calls per batch rather than several per call.

Because the dispatcher knows what each worker runs, the opt-ins are local decisions:
a dead worker fails only its own tasks (``survive_worker_death``), a task past
``task_timeout`` or a running task cancelled (``cancel_running``) kills only its
worker's tree, and a worker replaced for ``max_tasks_per_child`` or
``max_worker_memory`` gives back the tasks it had not started. With any of the first
three, a worker is given one task at a time, so that "the tasks it was running" is
exactly one.

Pipe discipline (no deadlock with big messages): the dispatcher writes a batch to a
worker only when the write cannot block: to an idle worker (which reads the whole
message before it writes anything), or, when the batch and the one outstanding are both
small, into the pipe beside that one.
"""

from __future__ import annotations

import concurrent.futures.process as _std_process
import itertools
import os
import pickle
import select
import signal
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

from treadle import threading as _threading
from treadle.thread_core.support import check_timeout

from . import _base, _process_worker
from ._base import LOGGER, Future, TimeoutError
from ._native import _cpu_count, register_atexit
from ._picklecheck import describe_unpicklable
from ._thread import _check_flag, _check_max_pending, _check_max_workers

__all__ = ["BrokenProcessPool", "ProcessPoolExecutor", "WorkerDiedError"]

_T = TypeVar("_T")
_P = ParamSpec("_P")

# The stdlib's class, so that code catching it (or BrokenExecutor) keeps working.
BrokenProcessPool = _std_process.BrokenProcessPool

_Lock = _threading.Lock
_monotonic = time.monotonic
_dumps = pickle.dumps
_loads = pickle.loads
_PROTOCOL = pickle.HIGHEST_PROTOCOL

# A batch may go into a pipe beside the one the worker is running only if both are this
# small (together they fit a pipe's 64 KiB buffer, so the write cannot block).
_SMALL_BATCH = 16 * 1024
_MAX_BATCH = 256
# How long a worker told to leave may take before its tree is killed.
_LEAVE_SECONDS = 5.0

_ABRUPT = (
    "A process in the process pool was terminated abruptly while the future was running or pending."
)
_INIT_FAILED = "A child process terminated abruptly, the process pool is not usable anymore"

_global_shutdown = False


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, as text (the ``__cause__``)."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


class WorkerDiedError(BrokenProcessPool):
    """A worker died while running this task (with ``survive_worker_death=True``).

    A :exc:`BrokenProcessPool`, so code written for the stdlib catches it, though the
    pool itself goes on. *pid* is the worker's, *exitcode* its exit status (``-N`` when
    signal N ended it), *signal* that signal number or None, and *oom_suspected* True
    when the kernel's OOM killer killed a process of this cgroup as the worker died of
    SIGKILL (from cgroup v2 ``memory.events``), None when that cannot be read.
    """

    def __init__(
        self, message: str, pid: int, exitcode: int | None, oom_suspected: bool | None
    ) -> None:
        super().__init__(message)
        self.pid = pid
        self.exitcode = exitcode
        self.signal = -exitcode if exitcode is not None and exitcode < 0 else None
        self.oom_suspected = oom_suspected


def _oom_kills() -> int | None:
    """Return the OOM kills counted in this process's cgroup (v2), or None if unreadable."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as groups:
            lines = groups.read().splitlines()
        path = next(line[3:] for line in lines if line.startswith("0::"))
        with open(f"/sys/fs/cgroup{path}/memory.events", encoding="ascii") as events:
            for line in events:
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
    except (OSError, StopIteration, ValueError):
        return None
    return None


class _Task:
    """One submitted call: its future and the pickle of ``(fn, args, kwargs)``."""

    __slots__ = ("future", "id", "payload", "started")

    def __init__(self, task_id: int, future: Future[Any], payload: bytes) -> None:
        self.id = task_id
        self.future = future
        self.payload = payload
        self.started = False  # set_running_or_notify_cancel done (a task given back)


class _Worker:
    """A worker process as the dispatcher sees it."""

    __slots__ = ("batches", "conn", "inflight", "leaving", "pid", "process", "ready", "since")

    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn
        self.pid: int = process.pid
        self.inflight: deque[_Task] = deque()
        self.batches: deque[list[int]] = deque()  # [tasks left, bytes] per batch sent
        self.ready = False  # its initializer ran
        self.leaving = False  # told to leave, or leaving by itself
        self.since = 0.0  # when its current task was sent (one-at-a-time mode)


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


class _Options:
    """The pool's settings, as the constructor checked them."""

    cancel_running: bool
    context: Any
    initargs: tuple[Any, ...]
    initializer: Callable[..., object] | None
    max_memory: int | None
    max_tasks: int | None
    max_workers: int
    one_at_a_time: bool
    shutdown_timeout: float | None
    survive: bool
    task_timeout: float | None


class _Pool:
    """The state shared by the executor and its dispatcher (never the executor itself)."""

    def __init__(self, options: _Options, max_pending: int | None) -> None:
        self.options = options
        self.lock = _Lock()
        self.pending: deque[_Task] = deque()
        self.cancels: deque[Future[Any]] = deque()
        self.slots = None if max_pending is None else _threading.Semaphore(max_pending)
        self.workers: dict[int, _Worker] = {}
        self.shutdown = False
        self.broken: str | None = None
        self.interrupt_at: float | None = None  # a Ctrl-C: kill the running work then
        self.kill_now = False
        self.sleeping = False
        self.closed = False
        self.thread: _threading.Thread | None = None
        self.wake_r = self.wake_w = -1  # the wake-up pipe, made with the dispatcher
        self.oom_seen = _oom_kills()
        self.next_id = itertools.count().__next__

    def wake(self) -> None:
        """Wake the dispatcher if it sleeps (call with ``lock`` held)."""
        if self.sleeping and not self.closed:
            self.sleeping = False
            os.write(self.wake_w, b"!")

    def abandon(self) -> None:
        """Finish the work queued, then stop the workers: the executor is gone."""
        with self.lock:
            self.shutdown = True
            self.wake()
        if self.slots is not None:
            self.slots.release()

    def cancel_running(self, future: Future[Any]) -> None:
        """Ask the dispatcher to stop the worker running *future* (cancel_running)."""
        with self.lock:
            self.cancels.append(future)
            self.wake()

    # ------------------------------------------------------------ dispatcher side

    def start_worker(self) -> None:
        """Start one worker process (its readiness arrives on its pipe)."""
        options = self.options
        ctx = options.context
        parent_end, child_end = ctx.Pipe(duplex=True)
        try:
            process = ctx.Process(
                target=_process_worker.serve,
                args=(
                    child_end,
                    options.initializer,
                    options.initargs,
                    options.max_tasks,
                    options.max_memory,
                ),
                name="ProcessPoolExecutor-worker",
            )
            process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.workers[process.pid] = _Worker(process, parent_end)

    def run(self) -> None:
        """Serve as the dispatcher thread until shut down with nothing left, or broken."""
        try:
            self._serve()
        except BaseException as exc:
            LOGGER.critical("Exception in the process pool's dispatcher", exc_info=True)
            self._break("the process pool's dispatcher failed", exc)
        finally:
            self._stop_workers()
            with self.lock:
                self.closed = True
                os.close(self.wake_r)
                os.close(self.wake_w)

    def _serve(self) -> None:
        poller = select.poll()
        polled: dict[int, tuple[int, _Worker]] = {}  # fd -> (kind, worker); 0 pipe, 1 ends
        poller.register(self.wake_r, select.POLLIN)
        while True:
            timeout = self._plan()
            if timeout is None and self._finished():
                return
            # Keep the poll set equal to the workers' descriptors (_plan may start some).
            wanted = {}
            for worker in self.workers.values():
                wanted[worker.conn.fileno()] = (0, worker)
                wanted[worker.process.sentinel] = (1, worker)
            for fd in polled.keys() - wanted.keys():
                poller.unregister(fd)
            for fd in wanted.keys() - polled.keys():
                poller.register(fd, select.POLLIN)
            polled = wanted
            for fd, _ in poller.poll(None if timeout is None else max(timeout, 0.0) * 1000):
                if fd == self.wake_r:
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                kind, worker = polled[fd]
                if worker.pid not in self.workers:
                    continue  # removed earlier in this round
                if kind == 0:
                    self._receive(worker)
                else:
                    self._ended(worker)
                if self.broken:
                    return

    def _finished(self) -> bool:
        # Called with nothing to wait for: the pool may leave once shut down and empty.
        return self.shutdown and not self.pending and not self._busy()

    def _busy(self) -> bool:
        return any(worker.inflight for worker in self.workers.values())

    def _plan(self) -> float | None:
        """Act on what is due; return how long the poll may sleep (None: until woken).

        None is returned with the lock released only when the dispatcher is to sleep
        until woken (``sleeping`` set) or to leave.
        """
        self._handle_cancels()
        self._dispatch()
        now = _monotonic()
        sleep: float | None = self._handle_deadlines(now)
        with self.lock:
            if self._finished():
                return None  # nothing runs: the dispatcher leaves
            if self.kill_now or (self.interrupt_at is not None and self.interrupt_at <= now):
                self.kill_now = False
                self.interrupt_at = None
                self._kill_running("the pool was shut down while the task ran")
                return 0.0
            if self.interrupt_at is not None:
                left = self.interrupt_at - now
                sleep = left if sleep is None else min(sleep, left)
            if self.cancels or (self.pending and self._could_dispatch(len(self.pending))):
                return 0.0
            if sleep is None and not self._finished():
                self.sleeping = True
            return sleep

    def _could_dispatch(self, count: int) -> bool:
        """Whether a worker could take work now, or one more could start for it."""
        workers = self.workers
        if any(self._room(worker, 0) for worker in workers.values()):
            return True
        starting = sum(1 for worker in workers.values() if not worker.ready)
        return len(workers) < self.options.max_workers and starting < count

    def _handle_cancels(self) -> None:
        while self.cancels:
            with self.lock:
                future = self.cancels.popleft()
            for worker in list(self.workers.values()):
                if any(task.future is future for task in worker.inflight):
                    self._kill(worker, None)
                    break
            future.set_running_or_notify_cancel()

    def _handle_deadlines(self, now: float) -> float | None:
        limit = self.options.task_timeout
        if limit is None:
            return None
        sleep: float | None = None
        for worker in list(self.workers.values()):
            if not worker.inflight:
                continue
            left = worker.since + limit - now
            if left > 0:
                sleep = left if sleep is None else min(sleep, left)
                continue
            task = worker.inflight[0]
            self._kill(worker, None)
            self._settle(
                task,
                TimeoutError(
                    f"the task ran longer than task_timeout={limit} seconds; its worker "
                    f"(pid {worker.pid}) and the processes it started were killed"
                ),
            )
        return sleep

    def _room(self, worker: _Worker, size: int) -> bool:
        """Whether a batch of *size* bytes can be written to *worker* now."""
        if not worker.ready or worker.leaving:
            return False
        batches = worker.batches
        if not batches:
            return True
        if self.options.one_at_a_time or len(batches) > 1:
            return False
        return size <= _SMALL_BATCH and batches[0][1] <= _SMALL_BATCH

    def _dispatch(self) -> None:
        options = self.options
        workers = self.workers
        while True:
            with self.lock:
                if not self.pending:
                    return
                count = len(self.pending)
            idle = [w for w in workers.values() if self._room(w, 0)]
            if not idle:
                if self._could_dispatch(count):
                    self.start_worker()
                    continue
                return
            # Spread the queue over the pool, two batches per worker, so that the
            # workers stay busy while their outcomes travel back.
            size = 1
            if not options.one_at_a_time:
                size = min(_MAX_BATCH, max(1, -(-count // (2 * options.max_workers))))
            for worker in idle:
                batch = self._take(size)
                if not batch:
                    return
                if not self._send(worker, batch):
                    return

    def _take(self, size: int) -> list[_Task]:
        """Take up to *size* pending tasks that still want to run."""
        batch: list[_Task] = []
        taken = 0
        with self.lock:
            pending = self.pending
            while pending and len(batch) < size:
                task = pending.popleft()
                taken += 1
                if task.started or task.future.set_running_or_notify_cancel():
                    task.started = True
                    batch.append(task)
        if self.slots is not None and taken:
            self.slots.release(taken)
        return batch

    def _send(self, worker: _Worker, batch: list[_Task]) -> bool:
        """Send *batch* to *worker*; False if it must wait for the worker to be idle."""
        message = _dumps([(task.id, task.payload) for task in batch], _PROTOCOL)
        if not self._room(worker, len(message)):
            # Too big to go beside the outstanding batch: back to the front of the queue.
            with self.lock:
                self.pending.extendleft(reversed(batch))
            return False
        worker.inflight.extend(batch)
        worker.batches.append([len(batch), len(message)])
        if len(worker.inflight) == len(batch):
            worker.since = _monotonic()
        try:
            worker.conn.send_bytes(message)
        except OSError:
            pass  # it died: its sentinel says so next
        return True

    def _receive(self, worker: _Worker) -> None:
        conn = worker.conn
        while True:
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                return  # it ended: the sentinel tells the rest
            outcomes, status = _loads(message)
            for task_id, ok, payload in outcomes:
                task = worker.inflight.popleft()
                batches = worker.batches
                batches[0][0] -= 1
                if not batches[0][0]:
                    batches.popleft()
                if task.id != task_id:  # cannot happen unless the protocol is broken
                    raise RuntimeError("a worker answered for a task it was not given")
                self._outcome(task, ok, payload)
            if worker.inflight:
                worker.since = _monotonic()
            if status is not None:
                self._status(worker, status)
                if self.broken:
                    return
            if not conn.poll(0):
                return

    def _outcome(self, task: _Task, ok: bool, payload: bytes) -> None:
        try:
            value = _loads(payload)
        except BaseException as exc:
            error = BrokenProcessPool("the result of the task could not be unpickled")
            error.__cause__ = exc
            self._settle(task, error)
            return
        if ok:
            future = task.future
            del task
            try:
                future.set_result(value)
            except _base.InvalidStateError:
                pass  # cancelled while it ran (cancel_running)
            return
        raised, text = value
        raised.__cause__ = _RemoteTraceback(f"\n'''\n{text}'''")
        self._settle(task, raised)

    def _settle(self, task: _Task, error: BaseException) -> None:
        future = task.future
        if not task.started and not future.set_running_or_notify_cancel():
            return
        try:
            future.set_exception(error)
        except _base.InvalidStateError:
            pass  # cancelled while it ran (cancel_running)

    def _status(self, worker: _Worker, status: tuple[str, Any]) -> None:
        kind, detail = status
        if kind == "ready":
            worker.ready = True
        elif kind == "init":
            self._break(_INIT_FAILED, _RemoteTraceback(f"\n'''\n{detail}'''"))
        elif kind == "exit":
            # Every task not answered goes back: those of its batch it did not start
            # (*detail*) and any batch still unread in its pipe.
            worker.leaving = True
            back = list(worker.inflight)
            worker.inflight.clear()
            worker.batches.clear()
            with self.lock:
                self.pending.extendleft(reversed(back))

    def _ended(self, worker: _Worker) -> None:
        """Read what an ended worker said last, then account for its end."""
        if worker.conn.poll(0):
            self._receive(worker)
        if self.broken or worker.pid not in self.workers:
            return
        process = worker.process
        process.join()
        code = process.exitcode
        self._forget(worker)
        process.close()
        if not worker.inflight and (worker.leaving or self.shutdown):
            return
        seen = self.oom_seen
        now_seen = _oom_kills()
        self.oom_seen = now_seen
        oom = None if seen is None or now_seen is None else (code == -9 and now_seen > seen)
        how = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        cause = _RemoteTraceback(
            f"the worker process {worker.pid} ended with {how}"
            + (" (the kernel's OOM killer is the likely cause)" if oom else "")
        )
        if not self.options.survive:
            self._break(_ABRUPT, cause, list(worker.inflight))
            return
        for task in worker.inflight:
            error = WorkerDiedError(
                f"the worker process {worker.pid} running this task died ({how})",
                worker.pid,
                code,
                oom,
            )
            error.__cause__ = cause
            self._settle(task, error)

    def _forget(self, worker: _Worker) -> None:
        self.workers.pop(worker.pid, None)
        worker.conn.close()

    def _kill(self, worker: _Worker, error: BaseException | None) -> None:
        """Kill *worker* and its tree; fail its tasks with *error* (None: leave them)."""
        self._forget(worker)
        process = worker.process
        try:
            process.kill_tree(_LEAVE_SECONDS)
        except (OSError, ValueError, AttributeError):
            process.kill()
            process.join(_LEAVE_SECONDS)
        if process.exitcode is not None:
            process.close()
        if error is not None:
            for task in worker.inflight:
                self._settle(task, error)

    def _kill_running(self, reason: str) -> None:
        for worker in list(self.workers.values()):
            if worker.inflight:
                self._kill(worker, BrokenProcessPool(reason))

    def _break(
        self, message: str, cause: BaseException | None, tasks: list[_Task] | None = None
    ) -> None:
        """Make the pool unusable: every task not finished fails with BrokenProcessPool.

        *tasks* are those of a worker already forgotten (the one that died).
        """
        tasks = [] if tasks is None else tasks
        with self.lock:
            self.broken = message
            tasks.extend(self.pending)
            self.pending.clear()
        if self.slots is not None:
            self.slots.release(len(tasks) + 1)
        for worker in list(self.workers.values()):
            tasks.extend(worker.inflight)
            worker.inflight.clear()
            self._kill(worker, None)
        for task in tasks:
            error = BrokenProcessPool(message)
            error.__cause__ = cause
            self._settle(task, error)

    def _stop_workers(self) -> None:
        """Ask every worker to leave, then make sure each one's tree is gone."""
        workers = list(self.workers.values())
        for worker in workers:
            try:
                worker.conn.send_bytes(b"")
            except OSError:
                pass
        deadline = _monotonic() + _LEAVE_SECONDS
        for worker in workers:
            worker.process.join(max(0.0, deadline - _monotonic()))
            if worker.process.exitcode is None:
                self._kill(worker, None)
            else:
                self._forget(worker)
                worker.process.close()
        self.workers.clear()


_pools: weakref.WeakSet[_Pool] = weakref.WeakSet()


def _python_exit() -> None:
    """At exit: refuse new work, let the queued work finish, stop every pool."""
    global _global_shutdown
    _global_shutdown = True
    pools = list(_pools)
    for pool in pools:
        with pool.lock:
            pool.shutdown = True
            pool.wake()
    for pool in pools:
        thread = pool.thread
        if thread is not None:
            thread.join()


register_atexit(_python_exit)


def _resolve_context(mp_context: object, max_tasks: int | None) -> Any:
    """Return the treadle context for *mp_context* (None, treadle's or a stdlib one)."""
    from treadle import multiprocessing as mp  # noqa: PLC0415 - imported on first use

    if mp_context is None:
        return mp.get_context("spawn" if max_tasks is not None else None)
    method = getattr(mp_context, "get_start_method", None)
    if method is None or not callable(getattr(mp_context, "Process", None)):
        raise TypeError(
            f"mp_context must be a multiprocessing context, not {type(mp_context).__name__}"
        )
    if type(mp_context).__module__.startswith("treadle."):
        return mp_context
    # A stdlib context: its start method, with treadle's machinery (children run treadle).
    return mp.get_context(method(allow_none=False))


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
    ``multiprocessing`` context (a stdlib one's start method is used, with treadle's
    machinery); a failing *initializer*, or a worker that dies, breaks the pool
    (:exc:`BrokenProcessPool`, the cause chained); *max_tasks_per_child* replaces a
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
        self._pool_ref = weakref.ref(self, lambda _: pool.abandon())
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
        return {pid: worker.process for pid, worker in list(self._pool.workers.items())}

    @property
    def _executor_manager_thread(self) -> _threading.Thread | None:
        return self._pool.thread

    def _start(self) -> None:
        # Called with the pool's lock held, at the first submit.
        pool = self._pool
        pool.wake_r, pool.wake_w = os.pipe()
        os.set_blocking(pool.wake_r, False)
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
            if pool.broken or pool.shutdown or _global_shutdown:
                if slots is not None:
                    slots.release()
                if pool.broken:
                    raise BrokenProcessPool(pool.broken)
                if pool.shutdown:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            if not isinstance(payload, bytes):
                if slots is not None:
                    slots.release()
                future.set_running_or_notify_cancel()
                future.set_exception(payload)
                return future
            if isinstance(future, _KillableFuture):
                future._on_cancel_running = pool.cancel_running
            pool.pending.append(_Task(pool.next_id(), future, payload))
            if pool.thread is None:
                self._start()
            else:
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
        if not isinstance(chunksize, int) or isinstance(chunksize, bool):
            raise TypeError(f"chunksize must be an integer, not {type(chunksize).__name__}")
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout, buffersize=buffersize)
        calls = zip(*iterables)  # noqa: B905 - map() stops at the shortest
        chunks = iter(lambda: list(itertools.islice(calls, chunksize)), [])
        results = super().map(
            _process_worker.run_chunk,
            itertools.repeat(fn),
            chunks,
            timeout=timeout,
            buffersize=buffersize,
        )
        return _flatten(results)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; *cancel_futures* cancels what has not started.

        With *wait*, return once the work is done and every worker is gone (with
        *shutdown_timeout*, at most that long after the running tasks are given up).
        """
        pool = self._pool
        with pool.lock:
            pool.shutdown = True
            taken = self._cancel_pending() if cancel_futures else 0
            pool.wake()
            thread = pool.thread
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

    def _cancel_pending(self) -> int:
        # Called with the pool's lock held: cancel every task not sent to a worker.
        pool = self._pool
        tasks = list(pool.pending)
        pool.pending.clear()
        for task in tasks:
            if task.started:  # given back by a worker that left: it cannot be cancelled
                pool.pending.append(task)
                continue
            task.future.cancel()
            task.future.set_running_or_notify_cancel()
        return len(tasks)

    def _interrupt(self) -> None:
        """Ctrl-C: cancel the pending work, SIGINT the running tasks, kill them later."""
        pool = self._pool
        with pool.lock:
            pool.shutdown = True
            taken = self._cancel_pending()
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

    def _force_shutdown(self, how: str) -> None:
        processes = list(self._processes.values())
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            try:
                if process.is_alive():
                    getattr(process, how)()
            except (ValueError, ProcessLookupError):
                pass  # closed, or gone already

    def terminate_workers(self) -> None:
        """Terminate (SIGTERM) every worker now and shut the pool down (3.14).

        The tasks they ran fail with BrokenProcessPool; the pending ones are cancelled.
        """
        self._force_shutdown("terminate")

    def kill_workers(self) -> None:
        """Kill (SIGKILL) every worker now and shut the pool down (3.14)."""
        self._force_shutdown("kill")


def _flatten(chunks: Iterator[list[_T]]) -> Iterator[_T]:
    """Yield the items of each chunk's results; stopping early stops *chunks* too."""
    try:
        for chunk in chunks:
            yield from chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
