"""treadle.interpreters and InterpreterPoolExecutor against 3.14's concurrent.interpreters.

Targets (issue 17): native interpreters at least the stdlib's speed (ratio >= 1) for
create+close, a ``call`` round trip of a small function, a Queue put+get between two
interpreters and ``InterpreterPoolExecutor.map`` over 10,000 small tasks. The same four
with treadle's process-backed engine are reported beside them (no target: a child process
per interpreter costs a Python start-up and a pipe round trip per operation).

Needs CPython 3.14 (the stdlib side); elsewhere there are no cases.
"""

from __future__ import annotations

import importlib
import operator
import time
from typing import Any

from _harness import Case

from treadle import interpreters as ours
from treadle.futures.interpreter import InterpreterPoolExecutor as OurPool

__all__ = ["CASES"]

std: Any
StdPool: Any
try:
    std = importlib.import_module("concurrent.interpreters")
    StdPool = importlib.import_module("concurrent.futures").InterpreterPoolExecutor
except (ImportError, AttributeError):
    std = StdPool = None


_ECHO = """
while True:
    item = inbox.get()
    if item is None:
        break
    outbox.put(item)
"""


def _create_close(create: Any) -> Any:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            create().close()
        return time.perf_counter() - t0

    return run


def _call(create: Any) -> Any:
    def run(n: int) -> float:
        interp = create()
        try:
            call = interp.call
            call(operator.neg, 1)  # warm
            t0 = time.perf_counter()
            for i in range(n):
                call(operator.neg, i)
            return time.perf_counter() - t0
        finally:
            interp.close()

    return run


def _queue(module: Any, create: Any) -> Any:
    def run(n: int) -> float:
        if module is std:
            # One Queue type at a time rides the runtime's queues: importing treadle took
            # them from the stdlib's (treadle takes them back when it needs them).
            importlib.import_module("_interpqueues")._register_heap_types(
                std.Queue, std.QueueEmpty, std.QueueFull
            )
        interp = create()
        inbox, outbox = module.create_queue(), module.create_queue()
        try:
            interp.prepare_main(inbox=inbox, outbox=outbox)
            thread = interp.call_in_thread(exec, _ECHO)
            t0 = time.perf_counter()
            for i in range(n):
                inbox.put(i)
                outbox.get()
            elapsed = time.perf_counter() - t0
            inbox.put(None)
            thread.join()
            return elapsed
        finally:
            interp.close()

    return run


def _map(pool_type: Any, **kwargs: Any) -> Any:
    def run(n: int) -> float:
        with pool_type(2, **kwargs) as pool:
            list(pool.map(operator.neg, range(4)))  # start the workers
            t0 = time.perf_counter()
            for _ in pool.map(operator.neg, range(n)):
                pass
            return time.perf_counter() - t0

    return run


def _native(**kw: Any) -> Any:
    return ours.create(backend="native", **kw)


def _process(**kw: Any) -> Any:
    return ours.create(backend="process", **kw)


CASES: list[Case] = []
if std is not None and ours.default_backend() == "native":
    PROCESS = "process-backed engine, beside the stdlib's native one (no target)"
    CASES = [
        Case("create() + close()", _create_close(std.create), _create_close(_native), n=20),
        Case("call() round trip", _call(std.create), _call(_native), n=2_000),
        Case(
            "Queue put+get via an interpreter",
            _queue(std, std.create),
            _queue(ours, _native),
            n=500,
        ),
        Case(
            "InterpreterPoolExecutor.map, 10,000 tasks",
            _map(StdPool),
            _map(OurPool, backend="native"),
            n=10_000,
        ),
        Case(
            "create() + close() [process]",
            _create_close(std.create),
            _create_close(_process),
            n=5,
            target=0.0,
            note=PROCESS,
        ),
        Case(
            "call() round trip [process]",
            _call(std.create),
            _call(_process),
            n=2_000,
            target=0.0,
            note=PROCESS,
        ),
        Case(
            "Queue put+get via an interpreter [process]",
            _queue(std, std.create),
            _queue(ours, _process),
            n=200,
            target=0.0,
            note=PROCESS,
        ),
        Case(
            "InterpreterPoolExecutor.map, 10,000 tasks [process]",
            _map(StdPool),
            _map(OurPool, backend="process"),
            n=10_000,
            target=0.0,
            note=PROCESS,
        ),
    ]
