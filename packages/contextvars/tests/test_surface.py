"""treadle.contextvars offers the public names of 3.14's contextvars, each where it says."""

from __future__ import annotations

from pytest_treadle import check_public_surface
from treadle import contextvars as tc


def test_public_surface() -> None:
    assert check_public_surface(tc, "contextvars") == []


def test_public_module_names() -> None:
    for obj in (tc.ContextVar, tc.Token, tc.Context, tc.copy_context):
        assert obj.__module__ == "treadle.contextvars"
    assert repr(tc.ContextVar[int]) == "treadle.contextvars.ContextVar[int]"
