"""The surface check and the impl fixture that every package's tests use."""

from __future__ import annotations

import types

import pytest

from pytest_treadle import check_public_surface, stdlib_public_names

pytest_plugins = ["pytester"]


def _module(name: str, **attrs: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


def _sched_like(**extra: object) -> types.ModuleType:
    class scheduler:
        pass

    scheduler.__module__ = "treadle.sched"
    attrs: dict[str, object] = {"scheduler": scheduler, "Event": tuple}
    attrs.update(extra)
    mod = _module("treadle.sched", **attrs)
    mod.__all__ = sorted(k for k in attrs if not k.startswith("_"))  # type: ignore[attr-defined]
    return mod


def test_names_come_from_314() -> None:
    assert stdlib_public_names("sched") == {"Event", "scheduler"}
    assert "ShutDown" in stdlib_public_names("queue")
    # Parameters new since 3.10 are in the data as "function(parameter)": not names.
    assert "getoutput" in stdlib_public_names("subprocess")
    assert not any("(" in name for name in stdlib_public_names("subprocess"))


def test_a_clean_module_has_no_problems() -> None:
    assert check_public_surface(_sched_like(), "sched") == []


def test_a_missing_name_is_reported() -> None:
    mod = _sched_like()
    del mod.Event
    mod.__all__ = ["scheduler"]  # type: ignore[attr-defined]
    assert check_public_surface(mod, "sched") == [
        "Event: public in 3.14's sched, missing from treadle.sched"
    ]
    assert check_public_surface(mod, "sched", absent={"Event": "not yet"}) == []


def test_an_undeclared_extra_is_reported() -> None:
    mod = _sched_like(bonus=len)
    problems = check_public_surface(mod, "sched")
    assert problems == ["bonus: in __all__ but neither 3.14's nor a declared extra"]
    assert check_public_surface(mod, "sched", extras=["bonus"]) == []


def test_a_private_module_is_reported() -> None:
    mod = _sched_like()
    mod.scheduler.__module__ = "treadle.sched._scheduler"
    assert check_public_surface(mod, "sched") == [
        "scheduler: __module__ is 'treadle.sched._scheduler', not 'treadle.sched'"
    ]
    mod.scheduler.__module__ = "treadle.threading"  # a public sibling is fine
    assert check_public_surface(mod, "sched") == []


def test_a_native_object_needs_a_reason() -> None:
    import _thread

    mod = _sched_like(scheduler=_thread.get_ident)
    assert check_public_surface(mod, "sched") == [
        "scheduler: __module__ is '_thread', not 'treadle.sched'"
    ]
    assert check_public_surface(mod, "sched", native={"scheduler": "the C one"}) == []
    assert check_public_surface(mod, "sched", native={"nope": "x"}) == [
        "nope: listed as absent or native, but not a public 3.14 name",
        "scheduler: __module__ is '_thread', not 'treadle.sched'",
    ]


CONFTEST = """
from pytest_treadle import impl_fixture
impl = impl_fixture("json", "pathlib")
"""


@pytest.mark.timeout(60)
def test_impl_runs_both_and_xfails_the_stdlib_where_marked(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
import pytest

def test_both(impl):
    assert impl.__name__ in ("json", "pathlib")

@pytest.mark.stdlib_differs("json has no Path")
def test_differs(impl):
    assert hasattr(impl, "Path")

@pytest.mark.stdlib_since((99, 0), "not before 99")
def test_since(impl):
    assert hasattr(impl, "Path")

@pytest.mark.stdlib_since((3, 0), "long there")
def test_since_old(impl):
    assert impl.__name__
"""
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly", "-rx")
    result.assert_outcomes(passed=6, xfailed=2)
    result.stdout.fnmatch_lines(["*json has no Path*", "*before 99.0: not before 99*"])


@pytest.mark.timeout(60)
def test_a_stdlib_run_that_passes_despite_the_marker_fails(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
import pytest

@pytest.mark.stdlib_differs("claimed, but untrue")
def test_differs(impl):
    assert impl
"""
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
