"""treadle.multiprocessing.sharedctypes: ctypes objects in shared memory, with locks."""

from __future__ import annotations

import ctypes
import gc
import threading
from collections.abc import Iterator
from typing import Any

import _shm_targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from pytest_treadle import check_public_surface
from treadle import multiprocessing
from treadle.multiprocessing import heap, sharedctypes
from treadle.multiprocessing.reduction import ForkingPickler
from treadle.multiprocessing.sharedctypes import (
    Array,
    RawArray,
    RawValue,
    Synchronized,
    SynchronizedArray,
    SynchronizedString,
    Value,
    copy,
    synchronized,
)


@pytest.fixture(autouse=True)
def fresh_heap() -> Iterator[heap.Heap]:
    """A heap of the test's own that gives back every arena (and its descriptor) when
    the test's objects are gone."""
    saved = heap.BufferWrapper._heap
    mine = heap.BufferWrapper._heap = heap.Heap()
    mine._DISCARD_FREE_SPACE_LARGER_THAN = 0
    try:
        yield mine
    finally:
        gc.collect()
        heap.BufferWrapper._heap = saved
    assert mine._arenas == []


def test_values_of_every_type_code() -> None:
    cases = [
        ("i", 4343, 24234),
        ("d", 3.625, -4.25),
        ("h", -232, 234),
        ("q", 2**33, 2**34),
        ("c", b"x", b"y"),
        ("u", "a", "b"),
        ("B", 255, 0),
        ("f", 0.5, 1.5),
        (ctypes.c_ulonglong, 2**63, 1),
    ]
    for code, first, second in cases:
        raw = RawValue(code, first)
        assert raw.value == first
        raw.value = second
        assert raw.value == second
        wrapped = Value(code, first, lock=threading.RLock())
        assert isinstance(wrapped, Synchronized)
        assert wrapped.value == first
        wrapped.value = second
        assert wrapped.get_obj().value == second
    # Without initial value: zero, even in a block that held something before.
    for _ in range(3):
        scratch = RawValue("q", -1)
        del scratch
        assert RawValue("q").value == 0


def test_locks_of_value_and_array() -> None:
    value = Value("i", 5)
    lock = value.get_lock()
    assert type(lock).__name__ == "RLock"
    assert value.acquire()
    assert value.acquire()  # recursive
    value.release()
    value.release()
    with value:
        value.value += 1
    assert value.value == 6
    assert type(Value("i", 5, lock=None).get_lock()).__name__ == "RLock"
    mine = multiprocessing.get_context().Lock()
    assert Value("i", 5, lock=mine).get_lock() is mine
    raw = Value("i", 5, lock=False)
    assert not hasattr(raw, "get_lock")
    assert not hasattr(raw, "get_obj")
    assert isinstance(raw, ctypes.c_int)
    with pytest.raises(AttributeError, match="acquire"):
        Value("i", 5, lock="navalue")
    arr = Array("i", range(4), lock=mine)
    assert arr.get_lock() is mine
    assert not hasattr(Array("i", range(4), lock=False), "get_lock")
    with pytest.raises(AttributeError, match="acquire"):
        Array("i", range(4), lock="notalock")
    assert not hasattr(RawArray("i", 3), "get_obj")


def test_arrays_slices_and_strings() -> None:
    arr = Array("i", range(10), lock=threading.RLock())
    assert isinstance(arr, SynchronizedArray)
    assert len(arr) == 10
    assert arr[:] == list(range(10))
    assert arr[2:5] == [2, 3, 4]
    assert arr[-1] == 9
    assert arr[::3] == [0, 3, 6, 9]
    arr[2:4] = [20, 30]
    arr[0] = -1
    assert arr[:] == [-1, 1, 20, 30, 4, 5, 6, 7, 8, 9]
    with pytest.raises(IndexError):
        arr[10]
    assert RawArray("d", 4)[:] == [0.0] * 4
    assert Array("i", 0, lock=False)[:] == []
    text = Array("c", 10, lock=threading.RLock())
    assert isinstance(text, SynchronizedString)
    text.value = b"hello"
    assert text.value == b"hello"
    assert text.raw == b"hello" + b"\0" * 5
    text.raw = b"0123456789"
    assert text.value == b"0123456789"
    assert text[1:3] == b"12"
    assert RawArray("c", b"abc").value == b"abc"
    assert repr(Value("i", 3, lock=threading.RLock())).startswith(
        "<Synchronized wrapper for c_int(3)"
    )


def test_structures_copy_and_synchronized() -> None:
    point = Value(_shm_targets.Point, 3, 0.5, lock=threading.RLock())
    assert type(point).__name__ == "SynchronizedPoint"
    assert (point.x, point.y) == (3, 0.5)
    point.x = 10
    assert point.get_obj().x == 10
    raw = RawValue(_shm_targets.Point, 2, 5.0)
    duplicate = copy(raw)
    raw.x = 0
    assert (duplicate.x, duplicate.y) == (2, 5.0)
    assert copy(RawArray("i", [1, 2, 3]))[:] == [1, 2, 3]
    wrapped = synchronized(RawValue("d", 1.5), threading.RLock())
    assert isinstance(wrapped, Synchronized)
    with pytest.raises(TypeError, match="already synchronized"):
        synchronized(wrapped)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="typecode_or_type"):
        RawValue("x")
    with pytest.raises(TypeError, match="typecode_or_type"):
        Value("zz", 1, lock=False)
    with pytest.raises(TypeError, match="typecode_or_type"):
        RawArray(int, 3)
    with pytest.raises(ValueError, match="size_or_initializer"):
        RawArray("i", -1)
    with pytest.raises(TypeError, match="size_or_initializer"):
        RawArray("i", 2.5)
    with pytest.raises(TypeError):
        RawValue("i", "not a number")


def test_objects_travel_only_to_children_being_started() -> None:
    value = RawValue("i", 1)
    with pytest.raises(RuntimeError, match="inheritance"):
        ForkingPickler.dumps(value)
    wrapped = Value("i", 1, lock=multiprocessing.get_context().Lock())
    with pytest.raises(RuntimeError, match="inheritance"):
        ForkingPickler.dumps(wrapped)
    with pytest.raises(RuntimeError, match="inheritance"):
        ForkingPickler.dumps(RawArray("i", 2))


def test_children_read_and_write_shared_objects(ctx: Any) -> None:
    value = ctx.Value("i", 7)
    array = ctx.Array("d", [0.0, 1.0, 2.0, 3.0])
    text = ctx.Array("c", 10)
    text.value = b"hello"
    point = ctx.Value(_shm_targets.Point, 3, 0.5)
    raws = (ctx.RawValue("i", 11), ctx.RawArray("i", [1, 2, 3]))
    child = ctx.Process(target=_shm_targets.work_on_shared, args=(value, array, text, point, raws))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert value.value == 8
    assert array[:] == [0.0, 10.0, 20.0, 6.0]
    assert text.value == b"howdy!"
    assert (point.x, point.y) == (30, 1.5)
    assert raws[0].value == 12
    assert raws[1][:] == [100, 2, 3]


def test_increments_under_the_lock_add_up() -> None:
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    children = [
        ctx.Process(target=_shm_targets.add_under_lock, args=(counter, 2000)) for _ in range(2)
    ]
    for child in children:
        child.start()
    _shm_targets.add_under_lock(counter, 2000)
    for child in children:
        child.join()
    assert [child.exitcode for child in children] == [0, 0]
    assert counter.value == 6000


def test_public_module() -> None:
    assert check_public_surface(sharedctypes, "multiprocessing.sharedctypes") == []
    assert vars(sharedctypes)["typecode_to_type"]["d"] is ctypes.c_double
    assert sharedctypes.RawValue.__module__ == "treadle.multiprocessing.sharedctypes"
    assert sharedctypes.SynchronizedString.__module__ == "treadle.multiprocessing.sharedctypes"
