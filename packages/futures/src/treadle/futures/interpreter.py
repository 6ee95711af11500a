"""``concurrent.futures.interpreter``: InterpreterPoolExecutor (3.14), from ``[interpreters]``.

A ThreadPoolExecutor whose every worker thread owns an interpreter of
treadle-interpreters (``pip install 'treadle-futures[interpreters]'``): native
sub-interpreters on CPython 3.14, process-backed ones elsewhere. Tasks and the initializer
are sent into the worker's interpreter (shared, or pickled); a task's exception comes back
as itself when it can cross, else as the interpreter's ``ExecutionFailed``. Interpreters
stay warm between tasks: a process-backed one costs a Python start-up, once per worker.

Beyond the stdlib, ``check_modules=`` imports the modules the tasks need in a fresh
interpreter before any work is queued, and reports one that cannot load in a
sub-interpreter (a single-phase-init extension such as numpy) as
:class:`IncompatibleModuleError`; ``fallback="process"`` runs such a pool on process-backed
interpreters instead.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._thread import BrokenThreadPool, ThreadPoolExecutor
from ._thread import WorkerContext as _ThreadWorkerContext

__all__ = [
    "BrokenInterpreterPool",
    "IncompatibleModuleError",
    "InterpreterPoolExecutor",
    "WorkerContext",
    "check_modules",
]

_FALLBACKS = (None, "process")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


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


class IncompatibleModuleError(ImportError):
    """Modules a pool's tasks need cannot be imported in its interpreters.

    ``reasons`` maps each module that failed to the error its import raised there
    (``"ImportError: module _curses does not support loading in subinterpreters"``);
    ``backend`` is the engine that was tried; ``name`` is the first module that failed.
    """

    def __init__(self, reasons: Mapping[str, str], backend: str) -> None:
        """Say which modules failed, why, and in which engine."""
        self.reasons = dict(reasons)
        self.backend = backend
        where = "a sub-interpreter" if backend == "native" else "a process-backed interpreter"
        lines = [f"module {name} cannot load in {where} ({why})" for name, why in reasons.items()]
        super().__init__("; ".join(lines), name=next(iter(self.reasons), None))


def _import_module(name: str) -> None:
    # Runs inside the interpreter under test; returns nothing, so nothing has to cross back.
    importlib.import_module(name)


def check_modules(names: Iterable[str], *, backend: str | None = None) -> dict[str, str]:
    """Import *names* in one fresh interpreter of *backend*; return the failures.

    The result maps each module whose import raised to ``"<ExceptionType>: <message>"``
    (empty when every module loads). The interpreter is closed before returning. Module
    names are checked (dotted identifiers) before anything runs: ValueError otherwise.
    """
    wanted = _module_names(names)
    interpreters = _interpreters()
    failures: dict[str, str] = {}
    if not wanted:
        return failures
    interp = interpreters.create(backend=backend)
    try:
        for name in wanted:
            try:
                interp.call(_import_module, name)
            except interpreters.ExecutionFailed as failed:
                info = failed.excinfo
                failures[name] = f"{info.type.__name__}: {info.msg}"
    finally:
        interp.close()
    return failures


def _module_names(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):  # one name given bare: a common slip, and unambiguous
        names = (names,)
    wanted = tuple(names)
    for name in wanted:
        if not isinstance(name, str) or not _MODULE_NAME.match(name):
            raise ValueError(f"check_modules wants module names, got {name!r}")
    return wanted


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
        check_modules: Iterable[str] = (),
        fallback: str | None = None,
        max_pending: int | None = None,
        submit_timeout: float | None = None,
    ) -> None:
        """Create the pool (running the module check first, if asked for).

        Interpreters are created as workers start.
        """
        interpreters = _interpreters()  # the missing extra is reported here, not in a worker
        if backend is not None and backend not in ("native", "process"):
            raise ValueError(f"backend must be 'native', 'process' or None, not {backend!r}")
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be 'process' or None, not {fallback!r}")
        wanted = _module_names(check_modules)
        chosen = interpreters.default_backend() if backend is None else backend
        self.incompatible_modules: dict[str, str] = {}
        if wanted:
            chosen = self._check(wanted, chosen, fallback)
        self.backend: str = chosen
        prefix = thread_name_prefix or f"InterpreterPoolExecutor-{self._counter()}"
        super().__init__(
            max_workers,
            prefix,
            initializer,
            initargs,
            max_pending=max_pending,
            submit_timeout=submit_timeout,
            backend=chosen,
        )

    def _check(self, wanted: tuple[str, ...], backend: str, fallback: str | None) -> str:
        """Run the module check; return the engine the workers will use."""
        failures = check_modules(wanted, backend=backend)
        if not failures:
            return backend
        if backend == "native":
            self.incompatible_modules = failures
        if fallback != "process" or backend == "process":
            raise IncompatibleModuleError(failures, backend)
        # Only the modules that failed natively need a second look in a process.
        still = check_modules(tuple(failures), backend="process")
        if still:
            raise IncompatibleModuleError(still, "process")
        return "process"
