"""InterpreterPoolExecutor (the ``[interpreters]`` extra) on each engine treadle has here."""

from __future__ import annotations

import importlib.util
import operator

import pytest

interpreters = pytest.importorskip(
    "treadle.interpreters", reason="InterpreterPoolExecutor needs treadle-interpreters"
)

from treadle.futures.interpreter import (  # noqa: E402
    BrokenInterpreterPool,
    IncompatibleModuleError,
    InterpreterPoolExecutor,
    _import_module,
    check_modules,
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


# --- the opt-in module check (beyond the stdlib) -------------------------------------------

# Extension modules that use single-phase init, so that they refuse to load in a
# sub-interpreter but load in a process; the first one this Python has is used.
_SINGLE_PHASE = ("_testsinglephase", "_curses", "readline")


def _single_phase_module() -> str:
    for name in _SINGLE_PHASE:
        if importlib.util.find_spec(name) is not None:
            return name
    pytest.skip(f"none of {_SINGLE_PHASE} is built for this Python (needs one to test with)")


needs_native = pytest.mark.skipif(
    "native" not in BACKENDS,
    reason="the module check's fallback is from native sub-interpreters able to load treadle,"
    " which this Python lacks (3.10-3.12; 3.13 see _native.treadle_loads)",
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_modules_passes(backend: str) -> None:
    with InterpreterPoolExecutor(
        1, backend=backend, check_modules=("json", "xml.dom.minidom")
    ) as pool:
        assert pool.backend == backend
        assert pool.incompatible_modules == {}
        assert pool.submit(operator.add, 1, 2).result(timeout=60) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_modules_missing_module(backend: str) -> None:
    with pytest.raises(IncompatibleModuleError) as caught:
        InterpreterPoolExecutor(backend=backend, check_modules=["json", "no_such_module_x"])
    assert caught.value.name == "no_such_module_x"
    assert list(caught.value.reasons) == ["no_such_module_x"]
    assert "ModuleNotFoundError" in caught.value.reasons["no_such_module_x"]
    assert "module no_such_module_x cannot load in" in str(caught.value)
    assert isinstance(caught.value, ImportError)
    # A missing module is missing in a process too: the fallback does not hide it.
    with pytest.raises(IncompatibleModuleError) as caught:
        InterpreterPoolExecutor(
            backend=backend, check_modules=["no_such_module_x"], fallback="process"
        )
    assert caught.value.backend == "process"


@needs_native
def test_check_modules_single_phase_extension() -> None:
    name = _single_phase_module()
    with pytest.raises(IncompatibleModuleError) as caught:
        InterpreterPoolExecutor(backend="native", check_modules=(name,))
    assert caught.value.backend == "native"
    assert f"module {name} cannot load in a sub-interpreter" in str(caught.value)
    assert "does not support loading in subinterpreters" in caught.value.reasons[name]


@needs_native
def test_check_modules_fallback_to_processes() -> None:
    name = _single_phase_module()
    with InterpreterPoolExecutor(
        1, backend="native", check_modules=(name, "json"), fallback="process"
    ) as pool:
        assert pool.backend == "process"
        assert list(pool.incompatible_modules) == [name]
        # A task that imports the module runs in a process-backed worker.
        assert pool.submit(_import_module, name).result(timeout=60) is None


def test_check_modules_arguments_checked() -> None:
    with pytest.raises(ValueError, match="fallback"):
        InterpreterPoolExecutor(fallback="thread")
    with pytest.raises(ValueError, match="module names"):
        InterpreterPoolExecutor(check_modules=["os; import sys"])
    assert check_modules("json", backend="process") == {}
