"""Fixtures of the multiprocessing tests: the start method each test runs under.

A test (or a test class) that takes ``ctx`` runs once per start method, with the context
of that method; ``start_method`` alone gives its name. Tests that are about one method
only use ``treadle.multiprocessing.get_context("<method>")`` themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pytest_treadle import impl_fixture

# The targets of the children live in modules of this folder (_mp_targets.py...): a
# spawned or forkserver child gets the parent's sys.path, so this folder is put on it
# (--import-mode=importlib alone does not), and the child imports them by name.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# Targets defined in a test module itself (test_reduction.py) pickle under the name pytest
# gave the module, ``packages.multiprocessing.tests.<name>``, from the rootdir: the
# rootdir goes on the path too (last), or a spawned child cannot find them when pytest was
# not started with ``python -m`` from the rootdir.
ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.append(ROOT)

START_METHODS: tuple[str, ...] = ("forkserver", "spawn", "fork")

# CI's budget (2 cores, the suite on five Pythons): with TREADLE_TEST_SUBSET=1 the tests
# that run once per start method run with all three on the oldest and newest Python and
# with the default (forkserver) alone on 3.11-3.13. A plain run tests every method on every
# Python; the full runs are reported in the issues.
if os.environ.get("TREADLE_TEST_SUBSET") == "1" and (3, 10) < sys.version_info[:2] < (3, 14):
    START_METHODS = ("forkserver",)

# pytest-rerunfailures runs a socket-server thread in the test process whenever xdist is
# installed, so the fork start method always finds another thread and warns
# (DeprecationWarning, as 3.12+'s os.fork does); pytest turns warnings into errors. The
# warning itself is tested in fresh interpreters (test_process.py, TestForkWithThreads).
_FORK_WARNING = "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let the fork start method run in this threaded test process (see above)."""
    for item in items:
        if Path(str(item.fspath)).resolve().parent == Path(HERE):
            item.add_marker(pytest.mark.filterwarnings(_FORK_WARNING))


impl = impl_fixture("multiprocessing", "treadle.multiprocessing")


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    """The name of the start method the test runs under."""
    return str(request.param)


@pytest.fixture
def ctx(start_method: str) -> object:
    """The treadle context of :func:`start_method`."""
    from treadle import multiprocessing

    return multiprocessing.get_context(start_method)
