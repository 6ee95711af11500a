"""One behavioural suite for every engine (see conftest's ``engine``)."""

from __future__ import annotations

import contextlib
import importlib
import json
import operator
import os
import queue
import signal
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from treadle import interpreters
from treadle.interpreters import _native


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
        with pytest.raises(engine.mod.InterpreterError):
            interp.call(abs, -1)
    finally:
        gate.put(None)
        thread.join()
        assert interp.call(abs, -1) == 1  # usable again once the other call ended
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


# --- broader behaviour, same on every engine -----------------------------------------------


def _queues_module(engine: SimpleNamespace) -> Any:
    """The engine's queue module (where UNBOUND and friends live)."""
    return importlib.import_module(engine.mod.__name__ + "._queues")


@contextlib.contextmanager
def _closing(interp: Any) -> Iterator[Any]:
    """Close *interp* at the end, also when the test fails (no process left behind)."""
    try:
        yield interp
    finally:
        interp.close()


def _xfail_process_items_on_native_queues(engine: SimpleNamespace) -> None:
    if engine.name == "process" and _native.AVAILABLE:
        pytest.xfail(
            "where the runtime has native queues (3.13, 3.14) every queue lives there, and "
            "the main interpreter puts a process-backed interpreter's items for it: they are "
            "bound to the main interpreter, so closing the process-backed one does not "
            "unbind them (UNBOUND/UNBOUND_ERROR/UNBOUND_REMOVE need the owner's id, which "
            "the runtime's put() does not take)"
        )


def _script_function() -> None:
    # Run by exec(): its globals are the interpreter's __main__, not this module's.
    total = 40 + 2  # noqa: F841 - a local, left behind on purpose
    globals()["from_function"] = __name__


def _function_with_args(a: int) -> None:
    del a


def test_prepare_main_rules(engine: SimpleNamespace) -> None:
    interp = engine.create()
    q = engine.mod.create_queue()
    try:
        interp.prepare_main({"a": 1, "b": "x"}, b="y", q=q)  # keywords win over the mapping
        interp.exec("q.put((a, b))")
        assert q.get(timeout=30) == (1, "y")
        interp.prepare_main(a=2)  # rebinding replaces the global
        interp.exec("q.put(a)")
        assert q.get(timeout=30) == 2
        with pytest.raises(TypeError):
            interp.prepare_main({1: "not a name"})
        # A refused value leaves nothing half-bound behind in that call's keys.
        with pytest.raises(engine.mod.NotShareableError):
            interp.prepare_main(c=[1])
        interp.exec("q.put('c' in globals())")
        assert q.get(timeout=30) is False
    finally:
        interp.close()


def test_exec_function_code(engine: SimpleNamespace) -> None:
    interp = engine.create()
    q = engine.mod.create_queue()
    try:
        interp.prepare_main(q=q)
        interp.exec(_script_function)
        interp.exec("q.put((from_function, 'total' in globals()))")
        assert q.get(timeout=30) == ("__main__", False)
        interp.exec(_script_function.__code__)  # a code object runs the same way
        with pytest.raises(ValueError, match="arg"):
            interp.exec(_function_with_args)
    finally:
        interp.close()


class _Custom(Exception):
    """An exception class the other interpreter knows by name only."""


def test_call_results_and_failures(engine: SimpleNamespace) -> None:
    interp = engine.create()
    try:
        # Shareable results come back as they are, others as a copy (pickled).
        assert interp.call(str.upper, "abc") == "ABC"
        assert interp.call(tuple, "ab") == ("a", "b")
        assert interp.call(dict, a=1, b=[2]) == {"a": 1, "b": [2]}
        assert interp.call(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]
        assert interp.call(int) == 0
        with pytest.raises(engine.mod.ExecutionFailed) as caught:
            interp.call(int, "not a number")
        info = caught.value.excinfo
        assert info.type.__name__ == "ValueError"
        assert info.type.__module__ == "builtins"
        assert "not a number" in info.msg
        assert info.formatted.startswith("ValueError: ")
        assert isinstance(caught.value, engine.mod.InterpreterError)
        assert interp.call(abs, -3) == 3  # a failed call leaves the interpreter usable
    finally:
        interp.close()


def test_queue_passed_by_call(engine: SimpleNamespace) -> None:
    interp = engine.create()
    q = engine.mod.create_queue()
    try:
        # A queue crosses as an argument and is the same queue on the other side.
        interp.call(_put_twice, q, "item")
        assert (q.get(timeout=30), q.get(timeout=30)) == ("item", "item")
    finally:
        interp.close()


def _put_twice(q: Any, item: object) -> None:
    q.put(item)
    q.put(item)


def test_queue_full_in_interpreter(engine: SimpleNamespace) -> None:
    interp = engine.create()
    q = engine.mod.create_queue(1)
    try:
        interp.prepare_main(q=q)
        interp.exec("q.put_nowait(1)")
        assert q.full()
        with pytest.raises(engine.mod.ExecutionFailed) as caught:
            interp.exec("q.put_nowait(2)")
        assert caught.value.excinfo.type.__name__ == "QueueFull"
        interp.exec(
            "import queue\ntry:\n    q.put(2, timeout=0.01)\nexcept queue.Full:\n    full = True\n"
        )
        assert q.get_nowait() == 1
        assert q.empty()
    finally:
        interp.close()


@pytest.mark.parametrize("marker", ["UNBOUND", "UNBOUND_ERROR", "UNBOUND_REMOVE"])
def test_unbounditems(engine: SimpleNamespace, marker: str) -> None:
    _xfail_process_items_on_native_queues(engine)
    queues = _queues_module(engine)
    unbound = getattr(queues, marker)
    q = engine.mod.create_queue(unbounditems=unbound)
    assert q.unbounditems is unbound
    with _closing(engine.create()) as interp:
        interp.prepare_main(q=q)
        interp.exec("q.put('from the interpreter')")
        q.put("from main")
    # closed: its item is now unbound; main's stays
    if marker == "UNBOUND_REMOVE":
        assert q.qsize() == 1
    elif marker == "UNBOUND":
        assert q.get(timeout=30) is queues.UNBOUND
    else:
        with pytest.raises(queues.ItemInterpreterDestroyed):
            q.get(timeout=30)
    assert q.get(timeout=30) == "from main"
    assert q.empty()


def test_put_unbounditems_argument(engine: SimpleNamespace) -> None:
    _xfail_process_items_on_native_queues(engine)
    queues = _queues_module(engine)
    q = engine.mod.create_queue()  # default UNBOUND ...
    with _closing(engine.create()) as interp:
        # ... overridden for this item (the markers are not shareable: each side imports them)
        interp.prepare_main(q=q)
        interp.exec(
            f"from {queues.__name__} import UNBOUND_REMOVE\nq.put(1, unbounditems=UNBOUND_REMOVE)"
        )
    assert q.empty()
    with pytest.raises(NotImplementedError):
        engine.mod.create_queue(unbounditems="bogus")


def test_current_main_whence_inside(engine: SimpleNamespace) -> None:
    interp = engine.create()
    q = engine.mod.create_queue()
    try:
        interp.prepare_main(q=q, mod=engine.mod.__name__)
        interp.exec(
            "import importlib\n"
            "m = importlib.import_module(mod)\n"
            "cur, main = m.get_current(), m.get_main()\n"
            "q.put((cur.id, cur.whence, main.id, main.whence, cur.is_running()))\n"
        )
        assert q.get(timeout=30) == (interp.id, "_interpreters module", 0, "runtime init", True)
        main = engine.mod.get_main()
        assert engine.mod.get_current() is main
        assert engine.mod.list_all()[0] is main
        assert engine.mod.Interpreter(interp.id) is interp
        with pytest.raises(engine.mod.InterpreterError):
            main.close()  # the current interpreter cannot be closed
    finally:
        interp.close()
    with pytest.raises(engine.mod.InterpreterNotFoundError):
        engine.mod.Interpreter(interp.id)


def test_isolated_modules(engine: SimpleNamespace) -> None:
    a, b = engine.create(), engine.create()
    try:
        a.exec("import json; json.marker = 'a'")
        b.exec("import json; assert not hasattr(json, 'marker')")
        a.exec("import json; assert json.marker == 'a'")
        assert not hasattr(json, "marker")  # the main interpreter's own copy
    finally:
        a.close()
        b.close()


_LEFT_OPEN = """
import sys
from treadle import interpreters
interp = interpreters.create(backend="process")
interp.exec("x = 1")
print(interp._handle.pid, flush=True)
"""


@pytest.mark.timeout(120)
def test_process_interpreter_left_open_ends_at_exit() -> None:
    # A process-backed interpreter nobody closed ends with the program, not after it.
    done = subprocess.run(
        [sys.executable, "-c", _LEFT_OPEN],
        capture_output=True,
        text=True,
        timeout=100,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
