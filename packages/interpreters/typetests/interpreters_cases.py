"""Type tests of treadle.interpreters: the shapes 3.14's concurrent.interpreters has."""

from __future__ import annotations

from types import SimpleNamespace

from typing_extensions import assert_type

from treadle import interpreters
from treadle import threading as _threading


def double(x: int) -> int:
    """Return twice *x*."""
    return x * 2


interp = interpreters.create()
assert_type(interp, interpreters.Interpreter)
assert_type(interp.id, int)
assert_type(interp.whence, str)
assert_type(interp.is_running(), bool)
assert_type(interp.call(double, 2), int)
assert_type(interp.call(str, 5), str)
assert_type(interp.call_in_thread(print, "x"), _threading.Thread)
assert_type(interp.exec("x = 1"), None)
assert_type(interp.prepare_main({"a": 1}, b=2), None)
assert_type(interpreters.list_all(), list[interpreters.Interpreter])
assert_type(interpreters.get_main(), interpreters.Interpreter)
assert_type(interpreters.get_current(), interpreters.Interpreter)
assert_type(interpreters.is_shareable(1), bool)

queue = interpreters.create_queue(5)
assert_type(queue, interpreters.Queue)
assert_type(queue.get(timeout=1.0), object)
assert_type(queue.put(1, timeout=0.5), None)
assert_type(queue.qsize(), int)
assert_type(queue.maxsize, int)

try:
    interp.close()
except interpreters.ExecutionFailed as failed:
    assert_type(failed.excinfo, SimpleNamespace)
