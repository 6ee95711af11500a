"""One behavioural suite for every engine (see conftest's ``engine``)."""

from __future__ import annotations

import operator
import os
import queue
import signal
from types import SimpleNamespace

import pytest

from treadle import interpreters


def test_create_close_ids(engine: SimpleNamespace) -> None:
    first, second = engine.create(), engine.create()
    try:
        assert first.id != second.id
        assert first.whence == "_interpreters module"
        ids = [i.id for i in engine.mod.list_all()]
        assert first.id in ids
        assert second.id in ids
        assert engine.mod.get_main().id == 0
        assert engine.mod.get_main().whence == "runtime init"
        assert not first.is_running()
    finally:
        first.close()
        second.close()
    assert first.id not in [i.id for i in engine.mod.list_all()]
    with pytest.raises(engine.mod.InterpreterNotFoundError):
        first.close()
    with pytest.raises(engine.mod.InterpreterError):
        first.exec("pass")


def test_exec_prepare_main_fresh_main(engine: SimpleNamespace) -> None:
    interp, other = engine.create(), engine.create()
    try:
        interp.prepare_main({"a": 1}, b=(2, "x"), c=None)
        interp.exec("assert __name__ == '__main__'; total = a + b[0]")
        interp.exec("assert total == 3")
        other.exec("assert 'total' not in globals()")
        with pytest.raises(TypeError):
            interp.exec(1)
    finally:
        interp.close()
        other.close()


def test_exec_failure_excinfo(engine: SimpleNamespace) -> None:
    interp = engine.create()
    try:
        with pytest.raises(engine.mod.ExecutionFailed) as caught:
            interp.exec("raise KeyError('k')")
        info = caught.value.excinfo
        assert info.type.__name__ == "KeyError"
        assert info.type.__module__ == "builtins"
        assert info.msg == "'k'"
        assert info.formatted == "KeyError: 'k'"
        assert info.errdisplay.startswith("Traceback (most recent call last):")
        assert info.errdisplay.endswith("KeyError: 'k'")
        assert "Uncaught in the interpreter" in str(caught.value)
        interp.exec("x = 1")  # still usable
    finally:
        interp.close()


def test_call(engine: SimpleNamespace) -> None:
    interp = engine.create()
    try:
        assert interp.call(operator.mul, 6, 7) == 42
        assert interp.call(divmod, 7, b=2) if False else interp.call(divmod, 7, 2) == (3, 1)
        assert interp.call(int, "10", base=2) == 2
        with pytest.raises(engine.mod.ExecutionFailed) as caught:
            interp.call(operator.truediv, 1, 0)
        assert caught.value.excinfo.type.__name__ == "ZeroDivisionError"
    finally:
        interp.close()


def test_call_in_thread(engine: SimpleNamespace) -> None:
    interp = engine.create()
    results = engine.mod.create_queue()
    try:
        interp.prepare_main(results=results)
        thread = interp.call_in_thread(exec, "results.put(5)")
        thread.join()
        assert results.get(timeout=30) == 5
    finally:
        interp.close()


def test_not_shareable(engine: SimpleNamespace) -> None:
    interp = engine.create()
    try:
        for value in ([1], {}, object(), bytearray(b"x")):
            assert not engine.mod.is_shareable(value)
            with pytest.raises(engine.mod.NotShareableError):
                interp.prepare_main(value=value)
        assert issubclass(engine.mod.NotShareableError, TypeError)
        for value in (None, True, 1, 2**100, 1.5, "s", b"b", (1, "x"), memoryview(b"m")):
            assert engine.mod.is_shareable(value)
    finally:
        interp.close()


def test_queue_in_main(engine: SimpleNamespace) -> None:
    q = engine.mod.create_queue(2)
    assert q.maxsize == 2
    assert q.empty()
    assert not q.full()
    assert q.qsize() == 0
    with pytest.raises(engine.mod.QueueEmpty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    q.put(1)
    q.put_nowait("two")
    assert q.full()
    assert q.qsize() == 2
    with pytest.raises(engine.mod.QueueFull):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.01)
    assert (q.get(), q.get_nowait()) == (1, "two")
    items = [1, {"a": 2}]
    q.put(items)  # not shareable: sent as a pickle, received as a copy
    copy = q.get(timeout=30)
    assert copy == items
    assert copy is not items
    assert engine.mod.Queue(q.id) is q


def test_queue_between_interpreters(engine: SimpleNamespace) -> None:
    a, b = engine.create(), engine.create()
    q = engine.mod.create_queue()
    try:
        a.prepare_main(q=q)
        b.prepare_main(q=q)
        a.exec("q.put((1, 'one', None))")
        b.exec("item = q.get(timeout=30); q.put(item + (b'two',))")
        assert q.get(timeout=30) == (1, "one", None, b"two")
        a.exec("q.put(q)")
        assert q.get(timeout=30) is q
    finally:
        a.close()
        b.close()


def test_close_running_raises(engine: SimpleNamespace) -> None:
    interp = engine.create()
    gate, started = engine.mod.create_queue(), engine.mod.create_queue()
    interp.prepare_main(gate=gate, started=started)
    thread = interp.call_in_thread(exec, "started.put(1); gate.get(timeout=60)")
    try:
        started.get(timeout=60)
        assert interp.is_running()
        with pytest.raises(engine.mod.InterpreterError):
            interp.close()
        with pytest.raises(engine.mod.InterpreterError):
            interp.exec("pass")
    finally:
        gate.put(None)
        thread.join()
        interp.close()


@pytest.mark.timeout(60)
def test_killed_process_becomes_error() -> None:
    interp = interpreters.create(backend="process")
    handle = interp._handle
    assert handle is not None
    os.kill(handle.pid, signal.SIGKILL)
    with pytest.raises(interpreters.InterpreterError):
        interp.exec("pass")
    with pytest.raises(interpreters.InterpreterError):
        interp.call(abs, 1)
    interp.close()


def test_backend_argument_checked() -> None:
    with pytest.raises(ValueError, match="backend"):
        interpreters.create(backend="thread")
    assert interpreters.default_backend() in ("native", "process")
