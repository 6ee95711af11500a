"""``concurrent.futures.interpreter``: InterpreterPoolExecutor (3.14), from ``[interpreters]``.

A ThreadPoolExecutor whose every worker thread owns an interpreter of
treadle-interpreters (``pip install 'treadle-futures[interpreters]'``): native
sub-interpreters on CPython 3.14, process-backed ones elsewhere. Tasks and the initializer
are sent into the worker's interpreter (shared, or pickled); a task's exception comes back
as itself when it can cross, else as the interpreter's ``ExecutionFailed``. Interpreters
stay warm between tasks: a process-backed one costs a Python start-up, once per worker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ._thread import BrokenThreadPool, ThreadPoolExecutor
from ._thread import WorkerContext as _ThreadWorkerContext

__all__ = ["BrokenInterpreterPool", "InterpreterPoolExecutor", "WorkerContext"]


def _interpreters() -> Any:
    try:
        return importlib.import_module("treadle.interpreters")
    except ImportError as exc:
        raise ImportError(
            "treadle.futures.InterpreterPoolExecutor needs treadle-interpreters: "
            "pip install 'treadle-futures[interpreters]'"
        ) from exc


class BrokenInterpreterPool(BrokenThreadPool):
    """Raised when a worker's interpreter failed to start or to initialize."""


def _run_and_report(
    results_id: int, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    # Runs inside the worker's interpreter: an exception goes out through the results
    # queue (pickled when it can be) before it is re-raised for ExecutionFailed. The
    # queue travels as its id, so that the runtime's queue types stay whoever's they are.
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        import pickle  # noqa: PLC0415 - runs in the other interpreter

        from treadle.interpreters import Queue  # noqa: PLC0415 - same

        results = Queue(results_id)

        try:
            payload: object = pickle.dumps(exc)
        except Exception:
            payload = None
        results.put(payload)
        raise


class WorkerContext(_ThreadWorkerContext):
    """A worker's interpreter, its results queue and the initializer to run in it."""

    @classmethod
    def prepare(
        cls,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        backend: str | None = None,
    ) -> tuple[Callable[[], WorkerContext], Callable[..., Any]]:
        """Return ``(create_context, resolve_task)``; scripts are refused (TypeError)."""

        def resolve_task(fn: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if isinstance(fn, str):
                raise TypeError("scripts not supported")
            return (fn, args, kwargs)

        initdata = None if initializer is None else resolve_task(initializer, initargs, {})

        def create_context() -> WorkerContext:
            return cls(initdata, backend)

        return create_context, resolve_task

    def __init__(self, initdata: Any, backend: str | None = None) -> None:
        """Keep the initializer task; the interpreter is made by :meth:`initialize`."""
        self.initdata = initdata
        self.backend = backend
        self.interp: Any = None
        self.results: Any = None

    def initialize(self) -> None:
        """Create the interpreter and run the initializer in it."""
        interpreters = _interpreters()
        self.interp = interpreters.create(backend=self.backend)
        try:
            self.results = interpreters.create_queue()
            if self.initdata is not None:
                self.run(self.initdata)
        except BaseException:
            self.finalize()
            raise

    def finalize(self) -> None:
        """Close the interpreter."""
        interp, self.interp, self.results = self.interp, None, None
        if interp is not None:
            interp.close()

    def run(self, task: Any) -> Any:
        """Run one ``(fn, args, kwargs)`` in the interpreter; return its result."""
        fn, args, kwargs = task
        interpreters = _interpreters()
        try:
            return self.interp.call(_run_and_report, self.results.id, fn, args, kwargs)
        except interpreters.ExecutionFailed as failed:
            try:
                payload = self.results.get_nowait()
            except interpreters.QueueEmpty:
                payload = None
            if payload is None:
                raise
            import pickle  # noqa: PLC0415 - only on failure

            try:
                exc = pickle.loads(payload)
            except Exception:
                raise failed from None
            raise exc from failed


class InterpreterPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose every worker runs its tasks in an interpreter of its own.

    ``InterpreterPoolExecutor(max_workers=None, thread_name_prefix='', initializer=None,
    initargs=())`` as in 3.14. Beyond the stdlib: *backend* (``"native"`` or
    ``"process"``) chooses the interpreters' engine (default: treadle.interpreters').
    """

    BROKEN = BrokenInterpreterPool

    @classmethod
    def prepare_context(
        cls,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        **ctxkwargs: Any,
    ) -> tuple[Callable[[], Any], Callable[..., Any]]:
        """Return the workers' ``(create_context, resolve_task)``."""
        backend = ctxkwargs.pop("backend", None)
        if ctxkwargs:
            names = ", ".join(sorted(ctxkwargs))
            raise TypeError(f"InterpreterPoolExecutor got unexpected keyword arguments: {names}")
        return WorkerContext.prepare(initializer, initargs, backend)

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        backend: str | None = None,
        max_pending: int | None = None,
        submit_timeout: float | None = None,
    ) -> None:
        """Create the pool; interpreters are created as workers start."""
        _interpreters()  # the missing extra is reported here, not in a worker
        if backend is not None and backend not in ("native", "process"):
            raise ValueError(f"backend must be 'native', 'process' or None, not {backend!r}")
        prefix = thread_name_prefix or f"InterpreterPoolExecutor-{self._counter()}"
        super().__init__(
            max_workers,
            prefix,
            initializer,
            initargs,
            max_pending=max_pending,
            submit_timeout=submit_timeout,
            backend=backend,
        )
