"""Fixtures of the multiprocessing tests: the start method each test runs under.

A test (or a test class) that takes ``ctx`` runs once per start method, with the context
of that method; ``start_method`` alone gives its name. Tests that are about one method
only use ``treadle.multiprocessing.get_context("<method>")`` themselves.
"""

from __future__ import annotations

import pytest
from pytest_treadle import impl_fixture

START_METHODS = ("forkserver", "spawn", "fork")

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
