"""The public names of treadle.futures and its submodules against 3.14's concurrent.futures."""

from __future__ import annotations

import pytest

from pytest_treadle import check_public_surface
from treadle import futures
from treadle.futures import interpreter, process, thread

# The stdlib's own exception classes, exported as they are: asyncio turns the stdlib's
# CancelledError and InvalidStateError into its own by identity (wrap_future,
# run_in_executor), and code catches BrokenExecutor/BrokenThreadPool by these classes.
STDLIB_EXCEPTIONS = {
    "CancelledError": "the stdlib's class: asyncio converts it to its own by identity",
    "InvalidStateError": "the stdlib's class: asyncio converts it to its own by identity",
    "BrokenExecutor": "the stdlib's class, so that code catching it catches treadle's",
}

NOT_BUILT = (
    "a stand-in until its distribution is released: the name resolves on first use "
    "(importing treadle.futures imports no multiprocessing), creating one raises "
    "ImportError naming the extra, so it is not in __all__ (a star import would load it)"
)

LAZY = (
    "loaded on first use from treadle-interpreters (the [interpreters] extra), as 3.14 "
    "loads it lazily: not in __all__, so a star import does not load it"
)


def test_futures_surface() -> None:
    problems = check_public_surface(
        futures,
        "concurrent.futures",
        extras=[],
        absent={"ProcessPoolExecutor": NOT_BUILT, "InterpreterPoolExecutor": LAZY},
        native=STDLIB_EXCEPTIONS,
    )
    assert problems == []


@pytest.mark.parametrize("name", ["ProcessPoolExecutor"])
def test_not_built_executors_resolve_and_refuse(name: str) -> None:
    cls = getattr(futures, name)
    assert name in dir(futures)
    assert name not in futures.__all__
    assert issubclass(cls, futures.Executor)
    with pytest.raises(ImportError, match=r"treadle-futures\[(process|interpreters)\]"):
        cls()


def test_thread_surface() -> None:
    problems = check_public_surface(
        thread,
        "concurrent.futures.thread",
        native={"BrokenThreadPool": "the stdlib's class, so that code catching it works"},
    )
    assert problems == []


def test_process_and_interpreter_surface() -> None:
    assert check_public_surface(process, "concurrent.futures.process") == []
    assert (
        check_public_surface(
            interpreter,
            "concurrent.futures.interpreter",
        )
        == []
    )


def test_exported_names_report_the_public_module() -> None:
    for name in ("Executor", "Future", "ThreadPoolExecutor", "as_completed", "wait"):
        assert getattr(futures, name).__module__ == "treadle.futures"
    assert repr(futures.Future()).startswith("<Future at")
