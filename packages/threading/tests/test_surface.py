"""treadle.threading offers the public names of 3.14's threading, each where it says."""

from __future__ import annotations

import sys
import threading as std

import pytest

from pytest_treadle import check_public_surface
from treadle import threading as tt


def test_public_surface() -> None:
    problems = check_public_surface(
        tt,
        "threading",
        native={
            "ExceptHookArgs": "the interpreter's record type: the stdlib's default excepthook "
            "(which treadle's hands exceptions to) accepts nothing else",
            "BrokenBarrierError": "the stdlib's class, so that code catching it works",
            "get_ident": "the interpreter's thread ident, exported as it is",
            "get_native_id": "the interpreter's OS thread id, exported as it is",
            "stack_size": "treadle.thread_core's, exported as the stdlib exports _thread's",
        },
    )
    assert problems == []


def test_lock_is_a_treadle_class_on_every_version() -> None:
    lock = tt.Lock()
    assert tt.Lock.__module__ == "treadle.threading"
    assert tt.Lock.__name__ == "Lock"
    assert isinstance(lock, tt.Lock)
    assert isinstance(std.Lock(), tt.Lock)  # the stdlib's lock is the interpreter's too
    assert not isinstance(tt.RLock(), tt.Lock)
    assert issubclass(type(lock), tt.Lock)
    assert type(lock) is type(std.Lock())  # works wherever the stdlib's lock does


def test_lock_takes_no_arguments_and_no_subclass() -> None:
    with pytest.raises(TypeError):
        tt.Lock(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="base type"):

        class Mine(tt.Lock):  # type: ignore[misc]
            pass


def test_private_names_programs_use() -> None:
    assert tt._PyRLock.__name__ == "_RLock"  # as the stdlib's is
    assert type(tt.main_thread()).__name__ == "_MainThread"
    assert tt._main_thread is tt.main_thread()
    assert tt.ThreadError is RuntimeError
    assert tt.__excepthook__ is tt.excepthook
    assert callable(tt._shutdown)
    assert callable(tt._register_atexit)
    assert sys.modules["treadle.threading"] is tt
