"""The public names of treadle.futures and its submodules against 3.14's concurrent.futures."""

from __future__ import annotations

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

PROCESS_LAZY = (
    "loaded on first use from treadle-multiprocessing (the [process] extra): not in "
    "__all__, so a star import does not load it"
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
        absent={"ProcessPoolExecutor": PROCESS_LAZY, "InterpreterPoolExecutor": LAZY},
        native=STDLIB_EXCEPTIONS,
    )
    assert problems == []


def test_thread_surface() -> None:
    problems = check_public_surface(
        thread,
        "concurrent.futures.thread",
        native={"BrokenThreadPool": "the stdlib's class, so that code catching it works"},
    )
    assert problems == []


def test_process_and_interpreter_surface() -> None:
    assert (
        check_public_surface(
            process,
            "concurrent.futures.process",
            extras=["WorkerDiedError"],
            native={"BrokenProcessPool": "the stdlib's class, so that code catching it works"},
        )
        == []
    )
    assert (
        check_public_surface(
            interpreter,
            "concurrent.futures.interpreter",
            extras=["IncompatibleModuleError", "check_modules"],
        )
        == []
    )


def test_exported_names_report_the_public_module() -> None:
    for name in ("Executor", "Future", "ThreadPoolExecutor", "as_completed", "wait"):
        assert getattr(futures, name).__module__ == "treadle.futures"
    assert repr(futures.Future()).startswith("<Future at")
