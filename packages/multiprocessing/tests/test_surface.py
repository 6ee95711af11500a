"""treadle.multiprocessing offers 3.14's public names, and says where they live."""

from __future__ import annotations

import inspect

from pytest_treadle import check_public_surface
from treadle import multiprocessing
from treadle.multiprocessing import context, process, util


def test_package_surface() -> None:
    assert check_public_surface(multiprocessing, "multiprocessing") == []


def test_context_surface() -> None:
    assert check_public_surface(context, "multiprocessing.context") == []


def test_process_surface() -> None:
    assert check_public_surface(process, "multiprocessing.process") == []


def test_util_surface() -> None:
    assert check_public_surface(util, "multiprocessing.util") == []


def test_interrupt_and_kill_tree() -> None:
    assert callable(multiprocessing.Process.interrupt)  # 3.14
    assert callable(multiprocessing.Process.kill_tree)  # beyond the stdlib
    assert inspect.signature(multiprocessing.Process).parameters["kwargs"].default is None


def test_public_module_names() -> None:
    assert multiprocessing.Process.__module__ == "treadle.multiprocessing.context"
    assert multiprocessing.ProcessError.__module__ == "treadle.multiprocessing.context"
    assert process.BaseProcess.__module__ == "treadle.multiprocessing.process"
    assert util.Finalize.__module__ == "treadle.multiprocessing.util"
