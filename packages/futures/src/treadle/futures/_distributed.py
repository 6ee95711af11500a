"""DistributedExecutor: treadle's Executor contract on a Dask ``distributed`` cluster.

The cluster does the scheduling; this module only translates. ``submit`` hands the call to
``Client.submit`` (``pure=False``: every call runs, as with any executor) and returns a
treadle :class:`Future` at once. One bridge thread per executor takes the finished Dask
futures in batches (``distributed.as_completed(...).batches()``), fetches the results of a
batch with one ``Client.gather`` and settles the treadle futures. Nothing else waits, so
``wait``, ``as_completed``, ``asyncio.wrap_future`` and the stdlib's
``concurrent.futures.wait`` see ordinary futures.

Running or not: the client does not hear when a task starts on a worker, so a treadle
future stays pending until its outcome arrives. ``cancel()`` asks the cluster: a task a
worker is executing (or one already done) counts as running and is not cancelled; any
other, including one the scheduler has assigned to a busy worker that has not started it,
is cancelled on the cluster.

``distributed`` is imported when an executor is made, never by ``import treadle.futures``.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from time import monotonic as _monotonic
from typing import Any, ParamSpec, TypeVar

from treadle import contextvars as _contextvars
from treadle import threading as _threading
from treadle.thread_core.support import check_timeout

from . import _base
from ._base import BrokenExecutor, Future, TimeoutError
from ._picklecheck import describe_unpicklable
from ._thread import _check_flag, _check_max_pending  # the executors' shared checks

__all__ = ["BrokenCluster", "DistributedExecutor"]

_T = TypeVar("_T")
_P = ParamSpec("_P")

# map() without a buffer sends its calls in graphs of this many tasks.
_MAP_BATCH = 5000

# How long the scheduler's answer about which tasks started serves cancel() calls.
_STATES_FRESH = 0.05

# Task states in which the call started: "executing" is a worker's (see started()), the
# others the scheduler's for a finished task.
_STARTED_STATES = frozenset({"executing", "memory", "erred", "forgotten"})

# A worker's own task states for a call it has begun (or finished) running.
_WORKER_STARTED = frozenset({"executing", "long-running", "memory", "error"})


class BrokenCluster(BrokenExecutor):
    """The cluster lost a call: the scheduler went away, or the client was closed."""


def _distributed() -> Any:
    try:
        import distributed  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "treadle.futures.DistributedExecutor needs Dask's 'distributed': "
            "pip install 'treadle-futures[distributed]'"
        ) from exc
    return distributed


# --------------------------------------------------------------- on the worker side
# These run in the worker processes, which import treadle.futures to unpickle them.


def _run_call(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    context: list[tuple[str, str, object]] | None,
    task_timeout: float | None,
) -> Any:
    """Run ``fn(*args, **kwargs)`` in a fresh context holding *context*'s values.

    With *task_timeout*, the call runs in a thread of its own and TimeoutError is raised
    when it has not returned in time: the worker's slot is free again, though Python
    cannot stop the call, which runs on to its end in that (daemon) thread.
    """
    ctx = None
    if context:
        ctx = _contextvars.Context()
        ctx.run(_set_vars, context)
    if task_timeout is None:
        return fn(*args, **kwargs) if ctx is None else ctx.run(fn, *args, **kwargs)
    outcome: list[Any] = []
    finished = _threading.Event()

    def target() -> None:
        try:
            value = fn(*args, **kwargs) if ctx is None else ctx.run(fn, *args, **kwargs)
            outcome.append((True, value))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            finished.set()

    runner = _threading.Thread(target=target, name="treadle-task", daemon=True)
    runner.start()
    if not finished.wait(task_timeout):
        raise TimeoutError(
            f"the call did not finish within task_timeout={task_timeout} seconds "
            "(it runs on in a daemon thread of the worker: Python cannot stop it)"
        )
    ok, value = outcome[0]
    if ok:
        return value
    raise value


def _set_vars(context: list[tuple[str, str, object]]) -> None:
    import importlib  # noqa: PLC0415 - only on a worker with propagated variables

    for module, name, value in context:
        getattr(importlib.import_module(module), name).set(value)


def _apply_all(fn: Callable[..., Any], chunk: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``fn(*args)`` for each argument tuple of *chunk*: a map's chunk in one task."""
    return [fn(*args) for args in chunk]


def _task_states(keys: list[str], dask_scheduler: Any = None) -> list[str | None]:
    """On the scheduler: the state of each task of *keys* (None: unknown)."""
    tasks = dask_scheduler.tasks
    states: list[str | None] = []
    for key in keys:
        task = tasks.get(key)
        states.append(None if task is None else task.state)
    return states


def _executing(keys: list[str], dask_worker: Any = None) -> list[str]:
    """On a worker: the tasks of *keys* that it runs or ran (not merely holds)."""
    tasks = dask_worker.state.tasks
    return [key for key in keys if getattr(tasks.get(key), "state", None) in _WORKER_STARTED]


# ----------------------------------------------------------- context variables
# A variable is found on the worker by the module global that holds it; the submitter
# finds that global once per variable, by looking through the loaded modules. Every module
# that did ``from home import var`` holds it too: a module a worker can import by the same
# name is preferred (a test module that pytest's importlib mode named after its folder,
# ``tests.test_x``, cannot be imported there; the module it took the variable from can).

_homes: dict[int, tuple[object, tuple[str, str] | None]] = {}


def _importable_by_name(module_name: str, module: object) -> bool:
    """Whether a process with this ``sys.path`` finds *module* again by *module_name*."""
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if not isinstance(origin, str) or not os.path.isabs(origin):
        return True  # built-in, frozen or namespace: nothing to check against
    stem = os.path.splitext(origin)[0]
    if os.path.basename(stem) == "__init__":
        stem = os.path.dirname(stem)
    tail = os.path.join(*module_name.split("."))
    return any(
        os.path.normcase(os.path.join(os.path.abspath(entry or os.curdir), tail))
        == os.path.normcase(stem)
        for entry in sys.path
        if isinstance(entry, str)
    )


def _home_of(var: object) -> tuple[str, str] | None:
    known = _homes.get(id(var))
    if known is not None and known[0] is var:
        return known[1]
    home: tuple[str, str] | None = None
    for module_name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or module_name == "__main__":
            continue
        attr = next((a for a, value in list(namespace.items()) if value is var), None)
        if attr is None:
            continue
        if _importable_by_name(module_name, module):
            home = (module_name, attr)
            break
        home = home or (module_name, attr)  # the fallback: a worker may still manage
    _homes[id(var)] = (var, home)  # keeps the variable: module globals live anyway
    return home


def _context_payload() -> list[tuple[str, str, object]]:
    payload = []
    for var, value in _contextvars.copy_context().items():
        home = _home_of(var)
        if home is not None:
            payload.append((home[0], home[1], value))
    return payload


# ---------------------------------------------------------------------- futures


class _ClusterFuture(Future[_T]):
    """A treadle Future whose ``cancel()`` reaches the cluster."""

    def __init__(self, bridge: _Bridge) -> None:
        super().__init__()
        self._bridge = bridge
        self._key: str | None = None

    def cancel(self) -> bool:
        """Cancel the call unless a worker has it; return whether it is cancelled."""
        key = self._key
        if key is None or self._state != _base.PENDING:
            return super().cancel()
        started = self._bridge.started([key])
        if started[0]:
            self._mark_running()
            return self.cancelled()
        if not super().cancel():
            return False
        self._bridge.cancel_on_cluster([key])
        return True

    def _begin(self) -> bool:
        """Mark the call running (if ``cancel()`` has not already); False if cancelled."""
        with self._lock:
            state = self._state
            if state == _base.PENDING:
                self._state = _base.RUNNING
                return True
            if state == _base.RUNNING:
                return True
            if state != _base.CANCELLED:
                return False  # already notified, or finished
        return self.set_running_or_notify_cancel()

    def _mark_running(self) -> None:
        """Mark the call running: a worker has it, so it can no longer be cancelled."""
        with self._lock:
            if self._state == _base.PENDING:
                self._state = _base.RUNNING


class _Bridge:
    """Settles the treadle futures of one executor as their Dask futures finish."""

    def __init__(self, distributed: Any, client: Any, max_pending: int | None) -> None:
        self.distributed = distributed
        self.client = client
        self.cond = _threading.Condition(_threading.Lock())
        # key -> (dask future, treadle future); the dask future keeps the task alive.
        self.tracked: dict[str, tuple[Any, _ClusterFuture[Any]]] = {}
        self.closing = False
        self.slots = None if max_pending is None else _threading.Semaphore(max_pending)
        self.states: dict[str, str | None] = {}  # see started()
        self.states_at = float("-inf")
        self.to_cancel: list[Any] = []  # see cancel_on_cluster()
        self.pending = distributed.as_completed([], loop=client.loop, with_results=False)
        self.thread = _threading.Thread(
            target=self.run, name="DistributedExecutor-bridge", daemon=True
        )
        self.thread.start()

    def track(self, dask_future: Any, future: _ClusterFuture[Any]) -> None:
        with self.cond:
            self.tracked[dask_future.key] = (dask_future, future)
            self.pending.add(dask_future)
            if len(self.tracked) == 1:
                self.cond.notify()

    def track_many(self, pairs: list[tuple[Any, _ClusterFuture[Any]]]) -> None:
        with self.cond:
            was_empty = not self.tracked
            for dask_future, future in pairs:
                self.tracked[dask_future.key] = (dask_future, future)
            self.pending.update([dask_future for dask_future, _ in pairs])
            if was_empty and self.tracked:
                self.cond.notify()

    def run(self) -> None:
        cond = self.cond
        while True:
            with cond:
                while not self.tracked and not self.closing:
                    cond.wait()
                if not self.tracked:
                    return
            for batch in self.pending.batches():
                self.settle(batch)

    def settle(self, batch: list[Any]) -> None:
        with self.cond:
            found = [self.tracked.pop(f.key, None) for f in batch]
        records = [r for r in found if r is not None]
        if self.slots is not None and records:
            self.slots.release(len(records))
        finished = [r for r in records if r[0].status == "finished"]
        values: list[Any] | None = None
        if finished:
            try:
                values = self.client.gather([r[0] for r in finished], errors="raise")
            except Exception:
                values = None  # settled one by one below, each with its own outcome
        if values is not None:
            for (_, future), value in zip(finished, values, strict=True):
                if future._begin():
                    future.set_result(value)
            done = {id(r) for r in finished}
            records = [r for r in records if id(r) not in done]
        for dask_future, future in records:
            self.settle_one(dask_future, future)

    def settle_one(self, dask_future: Any, future: _ClusterFuture[Any]) -> None:
        if not future._begin():
            return  # cancelled (waiters notified now), or settled already
        status = dask_future.status
        try:
            if status == "finished":
                value = dask_future.result()
                outcome: tuple[bool, Any] = (True, value)
            elif status == "error":
                outcome = (False, dask_future.exception())
            else:
                outcome = (False, BrokenCluster(f"the cluster lost the call ({status})"))
        except BaseException as exc:
            if type(exc).__name__ == "CancelledError" or isinstance(exc, OSError):
                exc = BrokenCluster(f"the cluster lost the call: {exc!r}")
            outcome = (False, exc)
        if outcome[0]:
            future.set_result(outcome[1])
        else:
            future.set_exception(outcome[1])

    def started(self, keys: list[str]) -> list[bool]:
        """Whether a worker has (or had) each task of *keys*, as the scheduler says.

        One question to the scheduler answers a burst of ``cancel()`` calls (a ``map``
        dropped early cancels all its pending calls): it asks about every call still
        pending, and the answers serve for ``_STATES_FRESH`` seconds.
        """
        now = _monotonic()
        ask: list[str] = []
        with self.cond:
            cached = self.states
            known: dict[str, str | None] | None = cached
            if now - self.states_at > _STATES_FRESH or any(k not in cached for k in keys):
                known = None
                ask = list({*keys, *(k for k, r in self.tracked.items() if not r[1].done())})
        if known is None:
            try:
                answers = self.client.run_on_scheduler(_task_states, ask)
            except Exception:
                # The scheduler cannot say: the tasks may still be cancelled on the client.
                return [False] * len(keys)
            known = dict(zip(ask, answers, strict=True))
            self._split_processing(known)
            with self.cond:
                self.states, self.states_at = known, _monotonic()
        return [known.get(key) in _STARTED_STATES for key in keys]

    def _split_processing(self, known: dict[str, str | None]) -> None:
        """Tell executing tasks from those a worker only holds, in *known* (in place).

        The scheduler says ``processing`` as soon as it assigns a task to a worker, which
        may still be busy with another: only the workers know whether it started.
        """
        held = [key for key, state in known.items() if state == "processing"]
        if not held:
            return
        try:
            answers = self.client.run(_executing, held)
            running = {key for keys in answers.values() for key in keys}
        except Exception:
            running = set(held)  # the workers cannot say: count them as started
        for key in held:
            known[key] = "executing" if key in running else "assigned"

    def cancel_on_cluster(self, keys: list[str]) -> None:
        """Ask the scheduler to drop the tasks of *keys*, without waiting for it.

        The requests of a burst of ``cancel()`` calls go as one message, sent from the
        client's event loop.
        """
        with self.cond:
            dask_futures = [self.tracked[k][0] for k in keys if k in self.tracked]
            if not dask_futures:
                return
            first = not self.to_cancel
            self.to_cancel.extend(dask_futures)
        if first:
            try:
                self.client.loop.add_callback(self.flush_cancels)
            except Exception:  # the client's loop is closed: nothing left to cancel there
                pass

    async def flush_cancels(self) -> None:
        """On the client's event loop: send the cancel requests gathered so far."""
        with self.cond:
            batch, self.to_cancel = self.to_cancel, []
        try:
            await self.client._cancel(batch)
        except Exception:  # the scheduler is gone: nothing left to cancel there
            pass

    def unsettled(self) -> list[_ClusterFuture[Any]]:
        with self.cond:
            return [future for _, future in self.tracked.values()]

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify()
        if self.slots is not None:
            self.slots.release()


# --------------------------------------------------------------------- the executor


class DistributedExecutor(_base.Executor):
    """An executor that runs calls on a Dask ``distributed`` cluster.

    ``DistributedExecutor(client)`` uses an existing ``distributed.Client`` (which stays
    open after ``shutdown()``); ``DistributedExecutor("tcp://host:8786")`` connects to a
    scheduler and closes its own client on ``shutdown()``; :meth:`local` starts a
    ``LocalCluster`` on the loopback interface. Calls, arguments and results travel by
    pickle (cloudpickle for functions), so the workers need the modules they name.

    Beyond the stdlib (keyword-only, off by default), with the thread pool's names:
    *max_pending* bounds the calls submitted and not finished (the client cannot see
    when a call starts): ``submit`` blocks until one finishes, or raises TimeoutError
    after *submit_timeout* seconds; *propagate_context* sets, around each call on the
    worker, the submitter's context variables that live in a module global (values
    that do not pickle make ``submit`` raise TypeError naming them); *task_timeout*
    fails a call with TimeoutError once it has run that many seconds on its worker.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        max_pending: int | None = None,
        submit_timeout: float | None = None,
        propagate_context: bool = False,
        task_timeout: float | None = None,
    ) -> None:
        """Use *client* (a ``distributed.Client``) or connect to *client* (an address)."""
        max_pending = _check_max_pending(max_pending)
        submit_timeout = check_timeout(submit_timeout, "submit_timeout", negative=False)
        if submit_timeout is not None and max_pending is None:
            raise ValueError("'submit_timeout' needs 'max_pending' (a bound to wait for)")
        self._propagate_context = _check_flag(propagate_context, "propagate_context")
        self._task_timeout = check_timeout(task_timeout, "task_timeout", negative=False)
        if self._task_timeout is not None and self._task_timeout <= 0:
            raise ValueError("'task_timeout' must be a positive number of seconds")
        self._submit_timeout = submit_timeout
        distributed = _distributed()
        self._owned: list[Any] = []  # closed by shutdown(), last made first
        if client is None:
            raise TypeError(
                "DistributedExecutor needs a distributed.Client or a scheduler address "
                "('client'); DistributedExecutor.local() starts a local cluster"
            )
        if isinstance(client, str):
            client = distributed.Client(client, set_as_default=False)
            self._owned.append(client)
        elif not isinstance(client, distributed.Client):
            raise TypeError(
                "'client' must be a distributed.Client or a scheduler address, "
                f"not {type(client).__name__}"
            )
        self._client = client
        self._shutdown = False
        self._shutdown_lock = _threading.Lock()
        self._bridge = _Bridge(distributed, client, max_pending)
        bridge = self._bridge
        self._finalizer = weakref.finalize(self, bridge.close)

    @classmethod
    def local(
        cls,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        *,
        max_pending: int | None = None,
        submit_timeout: float | None = None,
        propagate_context: bool = False,
        task_timeout: float | None = None,
        **cluster_kwargs: Any,
    ) -> DistributedExecutor:
        """Start a ``LocalCluster`` of worker processes on 127.0.0.1 and return its executor.

        ``shutdown()`` stops the cluster. The scheduler's HTTP server (the dashboard,
        if bokeh is installed) listens on a free loopback port unless *cluster_kwargs*
        give a ``dashboard_address``; other *cluster_kwargs* go to ``LocalCluster``.
        """
        distributed = _distributed()
        cluster_kwargs.setdefault("host", "127.0.0.1")
        # The scheduler's HTTP server listens even without a dashboard: a free port.
        cluster_kwargs.setdefault("dashboard_address", "127.0.0.1:0")
        cluster_kwargs.setdefault("processes", True)
        # Saturation 1.0: a worker is handed no more queued tasks than it has threads
        # (Dask's default, 1.1, may give it one more), so more of the work stays on the
        # scheduler, free for any worker that frees up.
        import dask  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 - distributed's

        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=threads_per_worker, **cluster_kwargs
            )
        try:
            client = distributed.Client(cluster, set_as_default=False)
            try:
                executor = cls(
                    client,
                    max_pending=max_pending,
                    submit_timeout=submit_timeout,
                    propagate_context=propagate_context,
                    task_timeout=task_timeout,
                )
            except BaseException:
                client.close()
                raise
        except BaseException:
            cluster.close()
            raise
        executor._owned += [cluster, client]
        return executor

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` the calls go through."""
        return self._client

    def _wrap(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        context = _context_payload() if self._propagate_context else None
        if context is None and self._task_timeout is None:
            return fn, args, kwargs, None
        return _run_call, (fn, args, kwargs, context, self._task_timeout), {}, context

    def _send(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        parts: Callable[[], Iterable[tuple[str, object]]],
    ) -> Future[Any]:
        bridge = self._bridge
        slots = bridge.slots
        if slots is not None and not slots.acquire(timeout=self._submit_timeout):
            raise TimeoutError(
                f"no room for another task within submit_timeout={self._submit_timeout}"
            )
        try:
            with self._shutdown_lock:
                if self._shutdown:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                future: _ClusterFuture[Any] = _ClusterFuture(bridge)
                try:
                    dask_future = self._client.submit(target, *args, pure=False, **kwargs)
                except Exception as exc:
                    culprit = _explain(exc, parts())
                    if culprit is None:
                        raise
                    raise TypeError(f"cannot send the call to the cluster: {culprit}") from exc
                future._key = dask_future.key
                bridge.track(dask_future, future)
        except BaseException:
            if slots is not None:
                slots.release()
            raise
        return future

    def _send_many(self, fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Future[Any]]:
        """Send a batch of ``map``'s calls as one graph (``Client.map``)."""
        if not calls:
            return []
        context = _context_payload() if self._propagate_context else None
        count = len(calls)
        if context is None and self._task_timeout is None:
            target: Callable[..., Any] = fn
            columns: list[Any] = [list(column) for column in zip(*calls, strict=True)]
        else:
            target = _run_call
            columns = [[fn] * count, calls, [{}] * count, [context] * count]
            columns.append([self._task_timeout] * count)
        bridge = self._bridge
        with self._shutdown_lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            try:
                dask_futures = self._client.map(target, *columns, pure=False)
            except Exception:
                # Something does not pickle: one by one, so that submit names it.
                dask_futures = None
            if dask_futures is not None:
                pairs = []
                for dask_future in dask_futures:
                    future: _ClusterFuture[Any] = _ClusterFuture(bridge)
                    future._key = dask_future.key
                    pairs.append((dask_future, future))
                bridge.track_many(pairs)
                return [future for _, future in pairs]
        return [self.submit(fn, *args) for args in calls]

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Send ``fn(*args, **kwargs)`` to the cluster and return a Future for its result.

        TypeError naming the part that does not pickle (``args[0]``, ``kwargs['x']``, a
        context variable); RuntimeError after ``shutdown()``.
        """
        if not callable(fn):
            raise TypeError(f"'fn' must be callable, not {type(fn).__name__}")
        target, sent_args, sent_kwargs, context = self._wrap(fn, args, kwargs)

        def parts() -> Iterator[tuple[str, object]]:
            yield "fn", fn
            yield "args", args
            yield "kwargs", kwargs
            for module, name, value in context or ():
                yield f"context variable {module}.{name}", value

        # Keyword names Client.submit reserves (key, workers, pure...) travel wrapped.
        if sent_kwargs and target is fn:
            target, sent_args, sent_kwargs = _run_call, (fn, args, kwargs, None, None), {}
        return self._send(target, sent_args, sent_kwargs, parts)

    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[_T]:
        """Like ``map(fn, *iterables)``, the calls run on the cluster.

        As the thread pool's ``map``; *chunksize* > 1 sends that many calls per task
        (and *buffersize* then counts tasks, as in the process pool).
        """
        if _base._check_chunksize(chunksize) == 1:
            if buffersize is not None or self._bridge.slots is not None:
                return super().map(fn, *iterables, timeout=timeout, buffersize=buffersize)
            deadline = _base._deadline(timeout)
            every = list(zip(*iterables))  # noqa: B905 - stops at the shortest, as map() does
            window: deque[Future[Any]] = deque()
            try:
                for start in range(0, len(every), _MAP_BATCH):
                    window += self._send_many(fn, every[start : start + _MAP_BATCH])
            except BaseException:
                for future in window:
                    future.cancel()
                raise
            return _base._in_order(window, deadline, None)
        return self._map_in_chunks(
            _apply_all, fn, iterables, chunksize, timeout=timeout, buffersize=buffersize
        )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting calls; *cancel_futures* cancels those no worker has yet.

        With *wait*, return once every call submitted has an outcome. A client or
        cluster this executor made is closed then; a client given to it stays open.
        """
        with self._shutdown_lock:
            already = self._shutdown
            self._shutdown = True
        bridge = self._bridge
        if cancel_futures:
            unsettled = [f for f in bridge.unsettled() if f._key is not None]
            if unsettled:
                started = bridge.started([f._key for f in unsettled])  # type: ignore[misc]
                dropped = []
                for future, has_started in zip(unsettled, started, strict=True):
                    if has_started:
                        future._mark_running()
                    elif _base.Future.cancel(future):
                        dropped.append(future._key)
                bridge.cancel_on_cluster(dropped)  # type: ignore[arg-type]
        if already and not wait:
            return
        if wait:
            _base.wait(bridge.unsettled())
            bridge.close()
            bridge.thread.join()
            self._close_owned()
        else:
            bridge.close()
            if self._owned:
                # The owned client and cluster close once the calls are settled.
                _threading.Thread(
                    target=self._close_when_settled, name="DistributedExecutor-close"
                ).start()

    def _close_when_settled(self) -> None:
        self._bridge.thread.join()
        self._close_owned()

    def _close_owned(self) -> None:
        owned, self._owned = self._owned, []
        for resource in reversed(owned):
            try:
                resource.close()
            except Exception:
                _base.LOGGER.exception("closing %r", resource)


def _explain(exc: BaseException, parts: Iterable[tuple[str, object]]) -> str | None:
    """Name the part that does not pickle, if *exc* is a failure to serialize."""
    text = str(exc)
    if not isinstance(exc, (TypeError, AttributeError)) and "pickl" not in text.lower():
        return None
    try:
        # distributed's own dependency, as it pickles functions.
        import cloudpickle  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415

        dumps: Callable[[Any], object] = cloudpickle.dumps
    except ImportError:
        import pickle  # noqa: PLC0415

        dumps = pickle.dumps
    return describe_unpicklable(parts, dumps)
