"""treadle.interpreters offers 3.14's public names of concurrent.interpreters."""

from __future__ import annotations

import queue

import pytest

from treadle import interpreters
from treadle.interpreters import _native

NAMES = (
    "get_current",
    "get_main",
    "create",
    "list_all",
    "is_shareable",
    "Interpreter",
    "InterpreterError",
    "InterpreterNotFoundError",
    "ExecutionFailed",
    "NotShareableError",
    "create_queue",
    "Queue",
    "QueueEmpty",
    "QueueFull",
)


# With native sub-interpreters these are the runtime's own classes, as in the stdlib.
RUNTIME = {"InterpreterError", "InterpreterNotFoundError", "NotShareableError"}


def test_names() -> None:
    for name in NAMES:
        assert name in interpreters.__all__
        if name in RUNTIME and name in _native.RUNTIME_ERRORS:
            continue
        assert getattr(interpreters, name).__module__ == "treadle.interpreters"


def test_exception_tree() -> None:
    assert issubclass(interpreters.InterpreterNotFoundError, interpreters.InterpreterError)
    assert issubclass(interpreters.ExecutionFailed, interpreters.InterpreterError)
    assert issubclass(interpreters.NotShareableError, TypeError)
    assert issubclass(interpreters.QueueEmpty, queue.Empty)
    assert issubclass(interpreters.QueueFull, queue.Full)
    assert issubclass(interpreters.QueueEmpty, RuntimeError)


def test_default_backend_follows_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TREADLE_INTERPRETERS_BACKEND", raising=False)
    # Native where the runtime has sub-interpreters that can load treadle (3.14; 3.13
    # subject to the probe), process-backed elsewhere.
    expected = "native" if _native.AVAILABLE and _native.treadle_loads() else "process"
    assert interpreters.default_backend() == expected
