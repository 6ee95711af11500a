"""ContextVar: construction, get/set/reset, repr, hashing, typing, misuse."""

from __future__ import annotations

import copy
import gc
import pickle
import sys
import types
import weakref
from typing import Any

import pytest

from treadle.contextvars import Context, ContextVar, Token, copy_context


def in_new_context(func: Any) -> Any:
    """Run the test in an empty treadle context, so tests never see each other's values."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return Context().run(func, *args, **kwargs)

    wrapper.__name__ = func.__name__
    return wrapper


# --- construction ---------------------------------------------------------------------


def test_name_and_default() -> None:
    var: ContextVar[int] = ContextVar("answer", default=42)
    assert var.name == "answer"
    assert var.get() == 42


def test_name_is_read_only() -> None:
    var: ContextVar[int] = ContextVar("v")
    with pytest.raises(AttributeError):
        var.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        var.anything = 1  # type: ignore[attr-defined]


def test_constructor_requires_one_positional_name() -> None:
    with pytest.raises(TypeError, match="takes exactly 1 positional argument"):
        ContextVar()  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="takes exactly 1 positional argument"):
        ContextVar(name="v")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="at most 1 positional argument"):
        ContextVar("v", 1)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="unexpected keyword argument 'dflt'"):
        ContextVar("v", dflt=1)  # type: ignore[call-overload]


def test_name_must_be_a_str() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        ContextVar(1)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="name must be a str"):
        ContextVar(b"v")  # type: ignore[call-overload]


def test_name_must_be_hashable() -> None:
    class WeirdStr(str):
        def __eq__(self, other: object) -> bool:
            return False

        __hash__ = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="unhashable type"):
        ContextVar(WeirdStr("v"))


def test_str_subclass_name_is_accepted() -> None:
    class Name(str):
        pass

    var: ContextVar[int] = ContextVar(Name("v"))
    assert var.name == "v"


def test_not_subclassable() -> None:
    with pytest.raises(TypeError, match="not an acceptable base type"):

        class Sub(ContextVar):  # type: ignore[misc,type-arg]
            pass


# --- get / set / reset ----------------------------------------------------------------


@in_new_context
def test_get_without_value_or_default_raises_lookup_error() -> None:
    var: ContextVar[int] = ContextVar("v")
    with pytest.raises(LookupError) as info:
        var.get()
    assert info.value.args == (var,)
    assert "<ContextVar name='v'" in str(info.value)


@in_new_context
def test_get_default_argument_wins_over_variable_default() -> None:
    var: ContextVar[int] = ContextVar("v", default=1)
    assert var.get(2) == 2
    assert var.get(None) is None
    var.set(3)
    assert var.get(2) == 3


@in_new_context
def test_get_with_none_default_value() -> None:
    var: ContextVar[int | None] = ContextVar("v", default=None)
    assert var.get() is None


@in_new_context
def test_get_takes_at_most_one_argument() -> None:
    var: ContextVar[int] = ContextVar("v")
    with pytest.raises(TypeError):
        var.get(1, 2)  # type: ignore[call-overload]


@in_new_context
def test_set_get_reset_roundtrip() -> None:
    var: ContextVar[str] = ContextVar("v")
    t0 = var.set("a")
    assert var.get() == "a"
    assert t0.var is var
    assert t0.old_value is Token.MISSING
    t1 = var.set("b")
    assert t1.old_value == "a"
    assert var.get() == "b"
    var.reset(t1)
    assert var.get() == "a"
    var.reset(t0)
    with pytest.raises(LookupError):
        var.get()
    assert var not in copy_context()


@in_new_context
def test_reset_restores_only_its_variable() -> None:
    a: ContextVar[int] = ContextVar("a")
    b: ContextVar[int] = ContextVar("b")
    token = a.set(1)
    b.set(2)  # changes the map after the token was made
    a.set(3)
    a.reset(token)
    assert a.get(None) is None
    assert b.get() == 2
    assert dict(copy_context().items()) == {b: 2}


@in_new_context
def test_reset_to_previous_value_after_other_changes() -> None:
    a: ContextVar[int] = ContextVar("a")
    b: ContextVar[int] = ContextVar("b")
    a.set(1)
    token = a.set(2)
    b.set(5)
    a.reset(token)
    assert (a.get(), b.get()) == (1, 5)


@in_new_context
def test_reset_twice_raises_runtime_error() -> None:
    var: ContextVar[int] = ContextVar("v")
    token = var.set(1)
    var.reset(token)
    var.set(2)
    with pytest.raises(RuntimeError, match="has already been used once"):
        var.reset(token)
    assert var.get() == 2


@in_new_context
def test_reset_with_another_variables_token_raises_value_error() -> None:
    a: ContextVar[int] = ContextVar("a")
    b: ContextVar[int] = ContextVar("b")
    token = a.set(1)
    with pytest.raises(ValueError, match="created by a different ContextVar"):
        b.reset(token)
    assert a.get() == 1
    a.reset(token)  # still usable by its own variable


@in_new_context
def test_reset_in_another_context_raises_value_error() -> None:
    var: ContextVar[int] = ContextVar("v", default=0)
    ctx = Context()
    token = ctx.run(var.set, 1)
    with pytest.raises(ValueError, match="created in a different Context"):
        var.reset(token)
    with pytest.raises(ValueError, match="created in a different Context"):
        copy_context().run(var.reset, token)
    assert ctx[var] == 1
    ctx.run(var.reset, token)  # and still usable in its own
    assert var not in ctx


@in_new_context
def test_reset_rejects_non_tokens() -> None:
    var: ContextVar[int] = ContextVar("v")
    with pytest.raises(TypeError, match="expected an instance of Token, got 1"):
        var.reset(1)  # type: ignore[arg-type]


@pytest.mark.skipif(
    sys.version_info < (3, 14),
    reason="before 3.14 the interpreter's ContextVar read cache, which treadle's variables "
    "use, can keep a stale value when dropping its cached value runs a finalizer that sets "
    "the same variable (fixed in 3.14)",
)
@in_new_context
def test_reset_with_reentrant_finalizer() -> None:
    var: ContextVar[Any] = ContextVar("v")
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
def test_reset_releases_the_value() -> None:
    class Payload:
        pass

    var: ContextVar[Payload] = ContextVar("v")
    payload = Payload()
    ref = weakref.ref(payload)
    token = var.set(payload)
    assert var.get() is payload
    del payload
    var.reset(token)
    gc.collect()
    assert ref() is None


@in_new_context
def test_value_is_released_with_its_context() -> None:
    class Payload:
        pass

    var: ContextVar[Payload] = ContextVar("v")
    ctx = Context()
    payload = Payload()
    ref = weakref.ref(payload)
    ctx.run(var.set, payload)
    assert ctx.run(var.get) is payload
    del payload, ctx
    gc.collect()
    assert ref() is None


@in_new_context
def test_set_same_value_twice() -> None:
    var: ContextVar[int] = ContextVar("v")
    t1 = var.set(1)
    t2 = var.set(1)
    assert t2.old_value == 1
    var.reset(t2)
    assert var.get() == 1
    var.reset(t1)
    assert var.get(None) is None


# --- repr, hashing, typing, pickling --------------------------------------------------


def test_repr() -> None:
    var: ContextVar[int] = ContextVar("a")
    assert repr(var) == f"<ContextVar name='a' at 0x{id(var):x}>"
    var = ContextVar("a", default=123)
    assert repr(var) == f"<ContextVar name='a' default=123 at 0x{id(var):x}>"


def test_repr_of_recursive_default() -> None:
    lst: list[Any] = []
    var: ContextVar[list[Any]] = ContextVar("a", default=lst)
    lst.append(var)
    assert "..." in repr(var)
    assert "..." in repr(lst)


def test_hashable_by_identity() -> None:
    a: ContextVar[int] = ContextVar("same")
    b: ContextVar[int] = ContextVar("same")
    assert a != b
    assert a == a  # noqa: PLR0124
    assert hash(a) == hash(a)
    assert hash(a) != hash("same")
    assert len({a, b}) == 2
    assert {a: 1}[a] == 1


def test_generic_alias() -> None:
    alias: Any = ContextVar[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is ContextVar
    assert alias.__args__ == (int,)
    assert repr(alias) == "treadle.contextvars.ContextVar[int]"


def test_public_module_names() -> None:
    assert ContextVar.__module__ == "treadle.contextvars"
    assert Token.__module__ == "treadle.contextvars"
    assert Context.__module__ == "treadle.contextvars"
    assert copy_context.__module__ == "treadle.contextvars"


def test_not_picklable_or_copyable() -> None:
    var: ContextVar[int] = ContextVar("v")
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match=r"cannot pickle 'treadle\.contextvars\.ContextVar'"):
            pickle.dumps(var, proto)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.copy(var)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.deepcopy(var)


def test_no_weak_references() -> None:
    var: ContextVar[int] = ContextVar("v")
    with pytest.raises(TypeError):
        weakref.ref(var)


@in_new_context
def test_calling_init_again_changes_nothing() -> None:
    var: ContextVar[int] = ContextVar("v", default=1)
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(40)]
    for i, other in enumerate(variables):
        other.set(i)
    var.set(5)
    var.__init__("other")  # type: ignore[call-arg,misc,unused-ignore]
    assert var.name == "v"
    assert var.get() == 5
    assert copy_context()[var] == 5
