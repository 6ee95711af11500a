"""Thread-local data."""

from __future__ import annotations

import _thread
import gc
import pickle
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from treadle import thread_core

# The conftest fixture: runs a function in a new thread and returns its result.
InThread = Callable[[Callable[[], Any]], Any]


class _Box:
    pass


def test_each_thread_sees_its_own_attributes(in_thread: InThread) -> None:
    data = thread_core.local()
    data.x = 1

    def other() -> tuple[bool, int]:
        missing = not hasattr(data, "x")
        data.x = 2
        return missing, data.x

    assert in_thread(other) == (True, 2)
    assert data.x == 1
    assert data.__dict__ == {"x": 1}


def test_subclass_init_runs_once_per_thread_with_arguments(in_thread: InThread) -> None:
    calls: list[tuple[int, Any]] = []

    class Counter(thread_core.local):
        def __init__(self, start: int, *, step: int = 1) -> None:
            calls.append((threading.get_ident(), start))
            self.value = start
            self.step = step

        def bump(self) -> int:
            self.value += self.step
            return self.value

    c = Counter(10, step=5)
    assert c.bump() == 15
    assert in_thread(c.bump) == 15
    assert c.value == 15
    assert len(calls) == 2
    assert calls[0][0] != calls[1][0]


def test_arguments_without_init_are_refused() -> None:
    with pytest.raises(TypeError, match="Initialization arguments are not supported"):
        thread_core.local(1)  # type: ignore[call-arg]


def test_descriptors_and_class_attributes(in_thread: InThread) -> None:
    class Sub(thread_core.local):
        default = "class"

        @property
        def shout(self) -> str:
            return str(self.default).upper()

    s = Sub()
    assert s.default == "class"
    s.default = "mine"
    assert s.shout == "MINE"
    assert in_thread(lambda: s.shout) == "CLASS"
    with pytest.raises(AttributeError):
        s.shout = "x"  # type: ignore[misc]
    del s.default
    assert s.default == "class"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = s.nothing
    with pytest.raises(AttributeError):
        del s.nothing


def test_dict_is_read_only() -> None:
    data = thread_core.local()
    with pytest.raises(AttributeError, match="read-only"):
        data.__dict__ = {}


def test_values_die_with_their_thread(in_thread: InThread) -> None:
    data = thread_core.local()
    stored: list[weakref.ref[_Box]] = []

    def store() -> None:
        box = _Box()
        data.box = box
        stored.append(weakref.ref(box))

    in_thread(store)
    # The thread was joined: its state is gone, and with it its dictionary.
    gc.collect()
    assert stored[0]() is None


def test_values_die_with_the_local() -> None:
    data = thread_core.local()
    box = _Box()
    data.box = box
    ref = weakref.ref(box)
    del box
    data.me = data  # a cycle through the thread's dict
    del data
    gc.collect()
    assert ref() is None


def test_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(thread_core.local())


def test_underscore_local_alias() -> None:
    assert thread_core._local is thread_core.local


def test_slots_are_shared_by_all_threads(in_thread: InThread) -> None:
    class Slotted(thread_core.local):
        __slots__ = ("shared",)

    s = Slotted()
    s.shared = "everyone"
    s.mine = "main"
    assert in_thread(lambda: (s.shared, hasattr(s, "mine"))) == ("everyone", False)
    assert s.__dict__ == {"mine": "main"}


def test_is_the_interpreters_thread_local_storage() -> None:
    # Built on the interpreter's type: code that checks for it accepts treadle's.
    assert isinstance(thread_core.local(), _thread._local)
    assert thread_core.local.__module__ == "treadle.thread_core"
