"""The process pool's dispatcher: the state shared with the executor, and its thread.

How work reaches the workers: ``submit`` (in ``_process``) pickles the call at once and
appends a :class:`_Task` to the pool's ``pending`` deque. One dispatcher thread per pool
owns every worker: each worker has one duplex pipe, and the dispatcher knows which tasks
it sent down each one (``inflight``, in the order the worker runs them). It polls the
pipes, the workers' sentinels and a wake-up pipe, and hands pending tasks to workers in
batches (several tasks per write; the worker answers with several outcomes per write),
so a map of small calls costs a few system calls per batch rather than several per call.

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

import itertools
import os
import pickle
import select
import sys
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from treadle import threading as _threading

from . import _base, _process_worker
from ._base import LOGGER, Future, TimeoutError
from ._native import register_atexit

__all__ = ["BrokenProcessPool", "WorkerDiedError"]


def _stdlib_broken_process_pool() -> type[_base.BrokenExecutor]:
    """Return the stdlib's BrokenProcessPool, or a class of ours where it cannot be had.

    The stdlib's, so that code catching it keeps working. Where treadle stands in for
    ``concurrent.futures`` (CPython's tests, run against treadle), importing its
    ``process`` module reaches this package, half-initialised: then our own class.
    """
    try:
        from concurrent.futures.process import BrokenProcessPool as stdlib_class  # noqa: PLC0415
    except ImportError:
        pass
    else:
        if stdlib_class.__module__ == "concurrent.futures.process":
            return stdlib_class

    class BrokenProcessPool(_base.BrokenExecutor):
        """Raised when a worker of a process pool died or its initializer failed."""

    return BrokenProcessPool


if TYPE_CHECKING:
    from concurrent.futures.process import BrokenProcessPool
else:
    BrokenProcessPool = _stdlib_broken_process_pool()

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

_GARBAGE_COLLECTED = (
    "The ProcessPoolExecutor was garbage collected before this task ran and its worker "
    "left: no worker can be started to run it"
)
_FORCED = "The process pool was forcefully shut down (terminate_workers or kill_workers)"
_NO_START = "A worker process could not be started: the process pool is not usable anymore"

global_shutdown = False  # set at interpreter exit: no new work


def _local_cause(exc: BaseException) -> BaseException:
    """Return *exc*, raised in the dispatcher, as the cause to chain to a future's error.

    Its traceback is kept as text only: the frames (through ``f_back``, the whole
    dispatcher's) would keep the pool's workers and descriptors alive for as long as
    the future's error lives.
    """
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    exc.__traceback__ = None
    cause = _RemoteTraceback(f"\n'''\n{text}'''")
    cause.__cause__ = exc
    return cause


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


class _ThreadWakeup:
    """The dispatcher's wake-up pipe: ``wakeup()`` makes its poll return.

    Named as the stdlib's (``concurrent.futures.process._ThreadWakeup``, which some
    programs and CPython's tests subclass) and with its methods. The write end does not
    block: a full pipe already means "wake up", so a burst of wake-ups cannot stall the
    caller (the deadlock of gh-105829).
    """

    def __init__(self) -> None:
        self._closed = False
        self._reader, self._writer = os.pipe()
        os.set_blocking(self._reader, False)
        os.set_blocking(self._writer, False)

    def fileno(self) -> int:
        """Return the descriptor to poll: readable once ``wakeup()`` was called."""
        return self._reader

    def fds(self) -> list[int]:
        """Return both ends' descriptors (none once closed)."""
        return [] if self._closed else [self._reader, self._writer]

    def wakeup(self) -> None:
        """Make the dispatcher's poll return (a no-op once closed)."""
        if self._closed:
            return
        try:
            os.write(self._writer, b"!")
        except BlockingIOError:
            pass  # full: a wake-up is pending already

    def clear(self) -> None:
        """Drain the pending wake-ups (the dispatcher, once woken)."""
        if self._closed:
            return
        try:
            while os.read(self._reader, 512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Close both ends (idempotent)."""
        if not self._closed:
            self._closed = True
            os.close(self._writer)
            os.close(self._reader)


class _Task:
    """One submitted call: its future and the pickle of ``(fn, args, kwargs)``.

    *payload* is the error instead when the call did not pickle: the task fails with
    it when its turn comes.
    """

    __slots__ = ("future", "id", "payload", "started")

    def __init__(self, task_id: int, future: Future[Any], payload: bytes | BaseException) -> None:
        self.id = task_id
        self.future = future
        self.payload = payload
        self.started = False  # set_running_or_notify_cancel done (a task given back)


class _Worker:
    """A worker process as the dispatcher sees it."""

    __slots__ = (
        "batches",
        "conn",
        "inflight",
        "leaving",
        "pid",
        "process",
        "ready",
        "refused",
        "since",
    )

    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn
        self.pid: int = process.pid
        self.inflight: deque[_Task] = deque()
        self.batches: deque[list[int]] = deque()  # [tasks left, bytes] per batch sent
        self.ready = False  # its initializer ran
        self.leaving = False  # told to leave, or leaving by itself
        self.since = 0.0  # when its current task was sent (one-at-a-time mode)
        # A batch did not fit beside what it holds: send nothing until it next answers.
        self.refused = False


def _stdlib_authkey(ctx: Any) -> bytes | None:
    """Return the stdlib multiprocessing's authkey if a new worker would not inherit it.

    Manager proxies made by the stdlib's ``multiprocessing`` (``multiprocessing.Manager()``)
    travel in a call without their key and authenticate with the receiving process's
    stdlib ``current_process().authkey``. A stdlib worker inherits its parent's; a treadle
    worker inherits treadle's, so it is handed the stdlib's explicitly. A forked worker
    has it already (a copy of the parent's memory), and a program that never imported the
    stdlib's ``multiprocessing`` has no such proxies to pass.
    """
    stdlib = sys.modules.get("multiprocessing.process")
    if stdlib is None or ctx.get_start_method() == "fork":
        return None
    current = getattr(stdlib, "current_process", None)
    key = getattr(current(), "authkey", None) if callable(current) else None
    if not isinstance(key, bytes):
        return None
    from treadle.multiprocessing import process as treadle_process  # noqa: PLC0415

    if key == treadle_process.current_process().authkey:
        return None  # the same key (treadle stands in for multiprocessing): inherited
    return bytes(key)


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
        self.cancel_asked = False  # shutdown(cancel_futures=True), for the dispatcher
        # Why no worker may be started any more (None: they may): the executor was
        # garbage collected, or terminate_workers()/kill_workers() is under way.
        self.no_replacement: str | None = None
        self.sleeping = False
        self.closed = False
        self.thread: _threading.Thread | None = None
        self.adopted: list[_Worker] = []  # started by submit, not yet in ``workers``
        self.available = 0  # workers idle, as last counted by the dispatcher
        self.owner: Any = None  # a weakref to the executor, calling abandon()
        self.wakeup: _ThreadWakeup | None = None  # made with the dispatcher
        self.oom_seen = _oom_kills()
        self.next_id = itertools.count().__next__

    def wake(self) -> None:
        """Wake the dispatcher if it sleeps (call with ``lock`` held)."""
        if self.sleeping and not self.closed:
            self.sleeping = False
            assert self.wakeup is not None  # sleeping is set by the dispatcher only
            self.wakeup.wakeup()

    def abandon(self) -> None:
        """Finish the work queued, then stop the workers: the executor is gone."""
        with self.lock:
            self.shutdown = True
            # As 3.14's pool: the workers alive finish the work, but none is started
            # for a worker that leaves (max_tasks_per_child): its work fails instead.
            if self.no_replacement is None:
                self.no_replacement = _GARBAGE_COLLECTED
            self.wake()
        if self.slots is not None:
            self.slots.release()

    def cancel_pending(self) -> int:
        """Cancel every task not sent to a worker; return how many left the queue.

        Call with ``lock`` held; the caller releases that many ``slots``.
        """
        tasks = list(self.pending)
        self.pending.clear()
        for task in tasks:
            if task.started:  # given back by a worker that left: it cannot be cancelled
                self.pending.append(task)
                continue
            task.future.cancel()
            task.future.set_running_or_notify_cancel()
        return len(tasks)

    def cancel_running(self, future: Future[Any]) -> None:
        """Ask the dispatcher to stop the worker running *future* (cancel_running)."""
        with self.lock:
            self.cancels.append(future)
            self.wake()

    # ------------------------------------------------------------ dispatcher side

    def start_worker(self, adopt: bool = False) -> None:
        """Start one worker process (its readiness arrives on its pipe).

        The dispatcher adds it to ``workers``; ``submit`` (*adopt*, with ``lock`` held)
        lists it in ``adopted``, which the dispatcher takes in on its next round.
        """
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
                kwargs={
                    "stdlib_authkey": _stdlib_authkey(ctx),
                    "inherited": self._inherited(ctx, parent_end),
                },
                name="ProcessPoolExecutor-worker",
            )
            process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        _hook_exit()
        worker = _Worker(process, parent_end)
        if adopt:
            self.adopted.append(worker)
        else:
            self.workers[process.pid] = worker

    def _inherited(self, ctx: Any, parent_end: Any) -> list[int]:
        """Return the pool's descriptors a forked worker gets a copy of (to close).

        A forked worker holding the pool's end of its own pipe (or of another worker's)
        would never read end-of-file there when the pool's process dies (SIGKILL):
        it would wait for work for ever. Spawned workers inherit none of them.
        """
        if ctx.get_start_method() != "fork":
            return []
        fds = [parent_end.fileno()]
        fds.extend(worker.conn.fileno() for worker in [*self.workers.values(), *self.adopted])
        if self.wakeup is not None:
            fds.extend(self.wakeup.fds())
        return fds

    def wants_worker(self) -> bool:
        """Whether ``submit`` should start a worker now (call with ``lock`` held).

        As the stdlib's pool does: when the tasks waiting outnumber the workers idle,
        and the pool is not full. The dispatcher keeps ``available`` current.
        """
        total = len(self.workers) + len(self.adopted)
        return total < self.options.max_workers and len(self.pending) > self.available

    def _count_available(self) -> None:
        # Workers idle now (ready, with nothing to run). As in the stdlib's pool, a
        # worker still starting does not count: a call submitted meanwhile starts
        # another worker while the pool is not full, so a burst spreads over the pool.
        self.available = sum(
            1
            for worker in self.workers.values()
            if worker.ready and not worker.leaving and not worker.inflight
        )

    def run(self) -> None:
        """Serve as the dispatcher thread until shut down with nothing left, or broken."""
        try:
            self._serve()
        except BaseException as exc:
            LOGGER.critical("Exception in the process pool's dispatcher", exc_info=True)
            self._break("the process pool's dispatcher failed", _local_cause(exc))
        finally:
            self._stop_workers()
            with self.lock:
                self.closed = True
                if self.wakeup is not None:
                    self.wakeup.close()

    def _serve(self) -> None:
        poller = select.poll()
        polled: dict[int, tuple[int, _Worker]] = {}  # fd -> (kind, worker); 0 pipe, 1 ends
        wakeup = self.wakeup
        assert wakeup is not None  # made before the dispatcher starts
        wake_fd = wakeup.fileno()
        poller.register(wake_fd, select.POLLIN)
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
                if fd == wake_fd:
                    wakeup.clear()
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

    def _adopt(self) -> None:
        with self.lock:
            adopted = self.adopted
            self.adopted = []
            for worker in adopted:
                self.workers[worker.pid] = worker

    def _plan(self) -> float | None:
        """Act on what is due; return how long the poll may sleep (None: until woken).

        None is returned with the lock released only when the dispatcher is to sleep
        until woken (``sleeping`` set) or to leave.
        """
        self._adopt()
        self._handle_cancels()
        self._dispatch()
        if self.cancel_asked:
            with self.lock:
                self.cancel_asked = False
                taken = self.cancel_pending()
            if self.slots is not None and taken:
                self.slots.release(taken)
        now = _monotonic()
        sleep: float | None = self._handle_deadlines(now)
        with self.lock:
            self._count_available()
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
            if self.cancels or self.adopted:
                return 0.0
            if self.pending and self._could_dispatch(len(self.pending)):
                return 0.0
            if sleep is None and not self._finished():
                self.sleeping = True
            return sleep

    def _could_dispatch(self, count: int) -> bool:
        """Whether a worker could take work now, or one more could start for it."""
        workers = self.workers
        if any(self._room(worker, 0) for worker in workers.values()):
            return True
        if self.no_replacement is not None:
            return False
        starting = sum(1 for worker in workers.values() if not worker.ready)
        total = len(workers) + len(self.adopted)
        return total < self.options.max_workers and starting < count

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
        if worker.leaving or worker.refused:
            return False
        batches = worker.batches
        if not worker.ready:
            # A starting worker reads nothing before its initializer ran: one batch
            # that fits the pipe's buffer may wait there (so the first tasks start as
            # soon as it is ready, and count as running, as the stdlib's queued ones).
            return not self.options.one_at_a_time and not batches and size <= _SMALL_BATCH
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
                if self.no_replacement is not None:
                    self._strand_check()
                    return
                if self._could_dispatch(count):
                    try:
                        self.start_worker()
                    except Exception as exc:
                        self._start_failed(exc)
                        return
                    continue
                return
            # Spread a quarter of the queue over the pool (two batches per worker keep
            # the workers busy while outcomes travel back); the rest stays cancellable.
            size = 1
            if not options.one_at_a_time and not self.cancel_asked:
                size = min(_MAX_BATCH, max(1, -(-count // (4 * options.max_workers))))
            for worker in idle:
                batch = self._take(size, worker)
                if not batch:
                    return
                if not self._send(worker, batch):
                    return

    def _strand_check(self) -> None:
        """Fail the pending tasks if no worker is left to run them and none may start."""
        if self.adopted or any(not worker.leaving for worker in self.workers.values()):
            return  # a worker will take them
        with self.lock:
            tasks = list(self.pending)
            self.pending.clear()
            reason = self.no_replacement or _NO_START
        if self.slots is not None and tasks:
            self.slots.release(len(tasks))
        for task in tasks:
            self._settle(task, BrokenProcessPool(reason))

    def _start_failed(self, exc: Exception) -> None:
        """Handle a worker that could not start: break the pool if no worker is left."""
        if self.adopted or any(not worker.leaving for worker in self.workers.values()):
            LOGGER.warning("A process pool worker could not be started", exc_info=True)
            return  # the workers alive carry on with the work
        self._break(_NO_START, _local_cause(exc))

    def _take(self, size: int, worker: _Worker) -> list[_Task]:
        """Take up to *size* pending tasks that still want to run, for *worker*."""
        batch: list[_Task] = []
        unpickled: list[_Task] = []
        taken = 0
        with self.lock:
            pending = self.pending
            while pending and len(batch) < size:
                task = pending.popleft()
                taken += 1
                if task.started or task.future.set_running_or_notify_cancel():
                    task.started = True
                    (batch if isinstance(task.payload, bytes) else unpickled).append(task)
            if batch and not worker.inflight and self.available:
                # The worker is no longer idle: a submit made before the next count must
                # not take it for the one to run its call (it would start no worker).
                self.available -= 1
        if self.slots is not None and taken:
            self.slots.release(taken)
        for task in unpickled:
            assert isinstance(task.payload, BaseException)
            self._settle(task, task.payload)
        return batch

    def _send(self, worker: _Worker, batch: list[_Task]) -> bool:
        """Send *batch* to *worker*; False if it must wait for the worker to be idle."""
        message = _dumps([(task.id, task.payload) for task in batch], _PROTOCOL)
        if not self._room(worker, len(message)):
            # Too big to go beside the outstanding batch: back to the front of the queue.
            worker.refused = True
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
            worker.refused = False  # what it holds changed: a batch may fit again
            answered = []
            for task_id, how, payload in outcomes:
                task = worker.inflight.popleft()
                batches = worker.batches
                batches[0][0] -= 1
                if not batches[0][0]:
                    batches.popleft()
                if task.id != task_id:  # cannot happen unless the protocol is broken
                    raise RuntimeError("a worker answered for a task it was not given")
                answered.append((task, how, payload))
            if not worker.inflight:
                # Counted idle before its caller sees the outcome, so that the caller's
                # next submit does not start a worker it does not need.
                with self.lock:
                    self._count_available()
            for task, how, payload in answered:
                self._outcome(task, how, payload)
            del answered
            if worker.inflight:
                worker.since = _monotonic()
            if status is not None:
                self._status(worker, status)
                if self.broken:
                    return
            if not conn.poll(0):
                return

    def _outcome(self, task: _Task, how: int, payload: bytes) -> None:
        try:
            value = _loads(payload)
        except BaseException as exc:
            error = BrokenProcessPool("the result of the task could not be unpickled")
            error.__cause__ = _local_cause(exc)
            self._settle(task, error)
            return
        if how == _process_worker.UNPICKLE_FAILED:
            error = BrokenProcessPool("the task could not be unpickled in the worker")
            error.__cause__ = _RemoteTraceback(f"\n'''\n{value}'''")
            self._settle(task, error)
            return
        if how == _process_worker.RETURNED:
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
            # Break once it has exited, as the stdlib's pool (which sees the death):
            # what it flushes at exit (its logging into a queue) is out by then.
            worker.process.join(_LEAVE_SECONDS)
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
        # The process object is not closed: callers of ``_processes`` may still join
        # it (as with the stdlib's); its descriptors go with it (a Finalize).
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
        self._adopt()
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
        self._adopt()
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
        self.workers.clear()


_pools: weakref.WeakSet[_Pool] = weakref.WeakSet()
_exit_hooked = False


def _hook_exit() -> None:
    """Register :func:`_python_exit` once, after the first worker started.

    Exit hooks run last registered first, and multiprocessing registers its own (which
    joins every child, so waits for ever for workers nobody told to leave) when a
    process first starts: ours must come after it to run before it.
    """
    global _exit_hooked
    if not _exit_hooked:
        _exit_hooked = True
        register_atexit(_python_exit)


def _python_exit() -> None:
    """At exit: refuse new work, let the queued work finish, stop every pool."""
    global global_shutdown
    global_shutdown = True
    pools = list(_pools)
    for pool in pools:
        with pool.lock:
            pool.shutdown = True
            pool.wake()
    for pool in pools:
        thread = pool.thread
        if thread is not None:
            thread.join()
