"""ContextVar: construction, get/set/reset, repr, hashing, typing, misuse."""

from __future__ import annotations

import copy
import functools
import gc
import pickle
import sys
import types
import weakref
from types import ModuleType
from typing import Any

import pytest


def in_new_context(func: Any) -> Any:
    """Run the test in an empty context of the module under test (``impl``).

    Tests then never see each other's values.
    """

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        return kwargs["impl"].Context().run(func, **kwargs)

    return wrapper


# --- construction ---------------------------------------------------------------------


def test_name_and_default(impl: ModuleType) -> None:
    var = impl.ContextVar("answer", default=42)
    assert var.name == "answer"
    assert var.get() == 42


def test_name_is_read_only(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    with pytest.raises(AttributeError):
        var.name = "other"
    with pytest.raises(AttributeError):
        var.anything = 1


def test_constructor_requires_one_positional_name(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="takes exactly 1 positional argument"):
        impl.ContextVar()
    with pytest.raises(TypeError, match="takes exactly 1 positional argument"):
        impl.ContextVar(name="v")
    with pytest.raises(TypeError, match="at most 1 positional argument"):
        impl.ContextVar("v", 1)
    with pytest.raises(TypeError, match="'dflt'"):
        impl.ContextVar("v", dflt=1)


@pytest.mark.stdlib_since((3, 13), "the message names the keyword this way from 3.13 on")
def test_unexpected_keyword_message(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'dflt'"):
        impl.ContextVar("v", dflt=1)


def test_name_must_be_a_str(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        impl.ContextVar(1)
    with pytest.raises(TypeError, match="name must be a str"):
        impl.ContextVar(b"v")


def test_name_must_be_hashable() -> None:
    # treadle only: before 3.14 the stdlib's C ContextVar frees memory it still uses when
    # the name's hash fails (python -X dev aborts; later tests fail at random).
    from treadle.contextvars import ContextVar

    class WeirdStr(str):
        def __eq__(self, other: object) -> bool:
            return False

        __hash__ = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="unhashable type"):
        ContextVar(WeirdStr("v"))


def test_str_subclass_name_is_accepted(impl: ModuleType) -> None:
    class Name(str):
        pass

    var = impl.ContextVar(Name("v"))
    assert var.name == "v"


def test_not_subclassable(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="not an acceptable base type"):

        class Sub(impl.ContextVar):  # type: ignore[misc,name-defined]
            pass


# --- get / set / reset ----------------------------------------------------------------


@in_new_context
def test_get_without_value_or_default_raises_lookup_error(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    with pytest.raises(LookupError) as info:
        var.get()
    assert info.value.args == (var,)
    assert "<ContextVar name='v'" in str(info.value)


@in_new_context
def test_get_default_argument_wins_over_variable_default(impl: ModuleType) -> None:
    var = impl.ContextVar("v", default=1)
    assert var.get(2) == 2
    assert var.get(None) is None
    var.set(3)
    assert var.get(2) == 3


@in_new_context
def test_get_with_none_default_value(impl: ModuleType) -> None:
    var = impl.ContextVar("v", default=None)
    assert var.get() is None


@in_new_context
def test_get_takes_at_most_one_argument(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    with pytest.raises(TypeError):
        var.get(1, 2)


@in_new_context
def test_set_get_reset_roundtrip(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    t0 = var.set("a")
    assert var.get() == "a"
    assert t0.var is var
    assert t0.old_value is impl.Token.MISSING
    t1 = var.set("b")
    assert t1.old_value == "a"
    assert var.get() == "b"
    var.reset(t1)
    assert var.get() == "a"
    var.reset(t0)
    with pytest.raises(LookupError):
        var.get()
    assert var not in impl.copy_context()


@in_new_context
def test_reset_restores_only_its_variable(impl: ModuleType) -> None:
    a = impl.ContextVar("a")
    b = impl.ContextVar("b")
    token = a.set(1)
    b.set(2)  # changes the map after the token was made
    a.set(3)
    a.reset(token)
    assert a.get(None) is None
    assert b.get() == 2
    assert dict(impl.copy_context().items()) == {b: 2}


@in_new_context
def test_reset_to_previous_value_after_other_changes(impl: ModuleType) -> None:
    a = impl.ContextVar("a")
    b = impl.ContextVar("b")
    a.set(1)
    token = a.set(2)
    b.set(5)
    a.reset(token)
    assert (a.get(), b.get()) == (1, 5)


@in_new_context
def test_reset_twice_raises_runtime_error(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    token = var.set(1)
    var.reset(token)
    var.set(2)
    with pytest.raises(RuntimeError, match="has already been used once"):
        var.reset(token)
    assert var.get() == 2


@in_new_context
def test_reset_with_another_variables_token_raises_value_error(impl: ModuleType) -> None:
    a = impl.ContextVar("a")
    b = impl.ContextVar("b")
    token = a.set(1)
    with pytest.raises(ValueError, match="created by a different ContextVar"):
        b.reset(token)
    assert a.get() == 1
    a.reset(token)  # still usable by its own variable


@in_new_context
def test_reset_in_another_context_raises_value_error(impl: ModuleType) -> None:
    var = impl.ContextVar("v", default=0)
    ctx = impl.Context()
    token = ctx.run(var.set, 1)
    with pytest.raises(ValueError, match="created in a different Context"):
        var.reset(token)
    with pytest.raises(ValueError, match="created in a different Context"):
        impl.copy_context().run(var.reset, token)
    assert ctx[var] == 1
    ctx.run(var.reset, token)  # and still usable in its own
    assert var not in ctx


@pytest.mark.stdlib_differs("the stdlib says 'expected an instance of Token, got 1'")
@in_new_context
def test_reset_rejects_non_tokens(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    with pytest.raises(
        TypeError,
        match=r"reset\(\) argument 'token' must be a treadle\.contextvars\.Token, not int$",
    ):
        var.reset(1)


def test_reset_with_a_stdlib_token_names_the_token_it_needs() -> None:
    import contextvars as std

    from treadle.contextvars import Context, ContextVar

    ours: ContextVar[int] = ContextVar("ours")
    theirs: std.ContextVar[int] = std.ContextVar("theirs")

    def body() -> None:
        token = theirs.set(1)
        with pytest.raises(
            TypeError,
            match=r"^ContextVar\.reset\(\) argument 'token' must be a "
            r"treadle\.contextvars\.Token, not the stdlib's contextvars\.Token$",
        ):
            ours.reset(token)  # type: ignore[arg-type]
        assert theirs.get() == 1  # nothing changed, and the stdlib token still works
        theirs.reset(token)

    Context().run(body)


@pytest.mark.skipif(
    sys.version_info < (3, 14),
    reason="before 3.14 the interpreter's ContextVar read cache, which treadle's variables "
    "use, can keep a stale value when dropping its cached value runs a finalizer that sets "
    "the same variable (fixed in 3.14)",
)
@in_new_context
def test_reset_with_reentrant_finalizer(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    var.set("original")

    class Reenter:
        def __del__(self) -> None:
            var.set("finalizer")

    token = var.set(Reenter())
    assert isinstance(var.get(), Reenter)  # a read must not keep the value alive either
    var.reset(token)
    gc.collect()
    assert var.get() == "finalizer"


@in_new_context
def test_reset_releases_the_value(impl: ModuleType) -> None:
    class Payload:
        pass

    var = impl.ContextVar("v")
    payload = Payload()
    ref = weakref.ref(payload)
    token = var.set(payload)
    assert var.get() is payload
    del payload
    var.reset(token)
    gc.collect()
    assert ref() is None


@in_new_context
def test_value_is_released_with_its_context(impl: ModuleType) -> None:
    class Payload:
        pass

    var = impl.ContextVar("v")
    ctx = impl.Context()
    payload = Payload()
    ref = weakref.ref(payload)
    ctx.run(var.set, payload)
    assert ctx.run(var.get) is payload
    del payload, ctx
    gc.collect()
    assert ref() is None


@in_new_context
def test_set_same_value_twice(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    t1 = var.set(1)
    t2 = var.set(1)
    assert t2.old_value == 1
    var.reset(t2)
    assert var.get() == 1
    var.reset(t1)
    assert var.get(None) is None


# --- repr, hashing, typing, pickling --------------------------------------------------


def test_repr(impl: ModuleType) -> None:
    var = impl.ContextVar("a")
    assert repr(var) == f"<ContextVar name='a' at 0x{id(var):x}>"
    var = impl.ContextVar("a", default=123)
    assert repr(var) == f"<ContextVar name='a' default=123 at 0x{id(var):x}>"


def test_repr_of_recursive_default(impl: ModuleType) -> None:
    lst: list[Any] = []
    var = impl.ContextVar("a", default=lst)
    lst.append(var)
    assert "..." in repr(var)
    assert "..." in repr(lst)


def test_hashable_by_identity(impl: ModuleType) -> None:
    a = impl.ContextVar("same")
    b = impl.ContextVar("same")
    assert a != b
    assert a == a  # noqa: PLR0124
    assert hash(a) == hash(a)
    assert hash(a) != hash("same")
    assert len({a, b}) == 2
    assert {a: 1}[a] == 1


def test_generic_alias(impl: ModuleType) -> None:
    alias: Any = impl.ContextVar[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is impl.ContextVar
    assert alias.__args__ == (int,)
    assert repr(alias) == f"{impl.ContextVar.__module__}.ContextVar[int]"


def test_not_picklable_or_copyable(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match=r"cannot pickle '[\w.]*ContextVar' object"):
            pickle.dumps(var, proto)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.copy(var)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.deepcopy(var)


def test_no_weak_references(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    with pytest.raises(TypeError):
        weakref.ref(var)


@in_new_context
def test_calling_init_again_changes_nothing(impl: ModuleType) -> None:
    var = impl.ContextVar("v", default=1)
    variables = [impl.ContextVar(f"v{i}") for i in range(40)]
    for i, other in enumerate(variables):
        other.set(i)
    var.set(5)
    var.__init__("other")
    assert var.name == "v"
    assert var.get() == 5
    assert impl.copy_context()[var] == 5
