"""InterpreterPoolExecutor (the ``[interpreters]`` extra) on each engine treadle has here."""

from __future__ import annotations

import operator

import pytest

interpreters = pytest.importorskip(
    "treadle.interpreters", reason="InterpreterPoolExecutor needs treadle-interpreters"
)

from treadle.futures.interpreter import (  # noqa: E402
    BrokenInterpreterPool,
    InterpreterPoolExecutor,
)

BACKENDS = ["process"] + (["native"] if interpreters.default_backend() == "native" else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_submit_and_errors(backend: str) -> None:
    with InterpreterPoolExecutor(2, backend=backend) as pool:
        assert list(pool.map(operator.mul, range(20), range(20))) == [i * i for i in range(20)]
        future = pool.submit(operator.truediv, 1, 0)
        with pytest.raises(ZeroDivisionError):
            future.result(timeout=60)
        with pytest.raises(TypeError, match="scripts"):
            pool.submit("x = 1")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_failing_initializer_breaks_pool(backend: str) -> None:
    pool = InterpreterPoolExecutor(
        1, initializer=operator.truediv, initargs=(1, 0), backend=backend
    )
    with pool, pytest.raises(BrokenInterpreterPool):
        pool.submit(abs, -1).result(timeout=60)


def test_bad_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        InterpreterPoolExecutor(backend="threads")
