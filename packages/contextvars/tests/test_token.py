"""Token: attributes, MISSING, the 3.14 context manager, repr, misuse."""

from __future__ import annotations

import copy
import pickle
import types
from types import ModuleType
from typing import Any

import pytest


def test_attributes(impl: ModuleType) -> None:
    var = impl.ContextVar("v", default=0)

    def body() -> None:
        token = var.set(1)
        assert token.var is var
        assert token.old_value is impl.Token.MISSING
        assert token.MISSING is impl.Token.MISSING
        token2 = var.set(2)
        assert token2.old_value == 1
        var.reset(token2)
        assert token2.old_value == 1  # still readable after use
        with pytest.raises(AttributeError):
            token.var = var
        with pytest.raises(AttributeError):
            token.old_value = 3

    impl.Context().run(body)


def test_missing_repr_and_identity(impl: ModuleType) -> None:
    assert repr(impl.Token.MISSING) == "<Token.MISSING>"
    with pytest.raises(TypeError, match=r"cannot pickle 'Token\.MISSING' object"):
        pickle.dumps(impl.Token.MISSING)


def test_tokens_only_come_from_set(impl: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="Tokens can only be created by ContextVars"):
        impl.Token()
    with pytest.raises(TypeError, match="not an acceptable base type"):

        class Sub(impl.Token):  # type: ignore[misc,name-defined]
            pass


def test_repr(impl: ModuleType) -> None:
    var = impl.ContextVar("a")

    def body() -> None:
        token = var.set(1)
        assert repr(token) == f"<Token var={var!r} at 0x{id(token):x}>"
        var.reset(token)
        assert repr(token) == f"<Token used var={var!r} at 0x{id(token):x}>"

    impl.Context().run(body)


def test_unhashable_and_unpicklable(impl: ModuleType) -> None:
    var = impl.ContextVar("a")
    token = impl.Context().run(var.set, 1)
    with pytest.raises(TypeError, match="unhashable"):
        hash(token)
    with pytest.raises(TypeError, match=r"cannot pickle '[\w.]*Token' object"):
        pickle.dumps(token)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.copy(token)


def test_generic_alias(impl: ModuleType) -> None:
    alias: Any = impl.Token[str]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is impl.Token


# --- the context manager (3.14 behaviour, on every version) ---------------------------

TOKEN_CM = pytest.mark.stdlib_since((3, 14), "a Token is a context manager from 3.14 on")


@TOKEN_CM
def test_context_manager_with_default(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=42)

    def body() -> None:
        with var.set(36) as token:
            assert isinstance(token, impl.Token)
            assert var.get() == 36
        assert var.get() == 42
        assert " used " in repr(token)

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_without_default(impl: ModuleType) -> None:
    var = impl.ContextVar("c")

    def body() -> None:
        with var.set(36):
            assert var.get() == 36
        with pytest.raises(LookupError, match="<ContextVar name='c'"):
            var.get()

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_resets_on_exception(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=42)

    def body() -> None:
        with pytest.raises(ValueError, match="boom"), var.set(36):
            raise ValueError("boom")
        assert var.get() == 42

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_does_not_swallow_exceptions(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=0)

    def body() -> None:
        tok = var.set(5)
        tok.__exit__(KeyError, KeyError("k"), None)  # returns None: nothing is swallowed
        assert var.get() == 0

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_reentered_raises(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=42)

    def body() -> None:
        token = var.set(36)
        with (
            pytest.raises(RuntimeError, match=r"<Token .+ has already been used once"),
            token,
            token,
        ):
            pytest.fail("the second __enter__ must not be reached")  # pragma: no cover
        assert var.get() == 42

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_with_later_sets(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=42)

    def body() -> None:
        with var.set(36):
            var.set(24)
            var.set(12)
            assert var.get() == 12
        assert var.get() == 42

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_after_explicit_reset_raises(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=42)

    def body() -> None:
        with (  # noqa: PT012  (the explicit reset inside is what makes __exit__ fail)
            pytest.raises(RuntimeError, match="has already been used once"),
            var.set(36) as token,
        ):
            var.reset(token)
            assert var.get() == 42
        assert var.get() == 42

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_nested_with_explicit_reset_of_another_token(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=42)

    def body() -> None:
        with var.set(36):
            token = var.set(24)
            var.reset(token)
            assert var.get() == 36
        assert var.get() == 42

    impl.Context().run(body)


@TOKEN_CM
def test_context_manager_exit_in_another_context_raises(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=0)
    token = impl.Context().run(var.set, 1)
    with pytest.raises(ValueError, match="different Context"):
        impl.Context().run(token.__exit__, None, None, None)
