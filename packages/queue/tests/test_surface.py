"""treadle.queue offers the public names of 3.14's queue, each where it says."""

from __future__ import annotations

import queue as std

from pytest_treadle import check_public_surface
from treadle import queue as tq


def test_public_surface() -> None:
    assert check_public_surface(tq, "queue") == []


def test_exceptions_derive_from_the_stdlib_ones() -> None:
    # logging.handlers.QueueListener and other stdlib code catch queue.Empty.
    assert issubclass(tq.Empty, std.Empty)
    assert issubclass(tq.Full, std.Full)
    assert issubclass(tq.ShutDown, Exception)
    std_shutdown = getattr(std, "ShutDown", None)  # 3.13 on
    if std_shutdown is not None:
        assert issubclass(tq.ShutDown, std_shutdown)


def test_reprs_show_the_public_module() -> None:
    assert repr(tq.Queue).startswith("<class 'treadle.queue.Queue'")
    assert repr(tq.SimpleQueue()).startswith("<treadle.queue.SimpleQueue object")
    assert tq._PySimpleQueue is tq.SimpleQueue  # the stdlib's private alias, which tests use
