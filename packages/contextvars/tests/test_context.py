"""Context and copy_context: the Mapping interface, run(), copies, misuse."""

from __future__ import annotations

import collections.abc
import copy
import functools
import pickle
import threading
import weakref
from typing import Any

import pytest

from treadle.contextvars import Context, ContextVar, copy_context

SMALL_MAX = 16  # sizes below are multiples of an arbitrary "small" context

# --- construction ---------------------------------------------------------------------


def test_new_context_is_empty() -> None:
    ctx = Context()
    assert len(ctx) == 0
    assert list(ctx) == []
    assert Context(**{}) == ctx


def test_constructor_takes_no_arguments() -> None:
    with pytest.raises(TypeError, match="does not accept any arguments"):
        Context(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="does not accept any arguments"):
        Context(a=1)  # type: ignore[call-arg]


def test_not_subclassable() -> None:
    with pytest.raises(TypeError, match="not an acceptable base type"):

        class Sub(Context):  # type: ignore[misc]
            pass


def test_copy_context_returns_a_context() -> None:
    assert type(copy_context()) is Context
    assert copy_context() is not copy_context()


# --- the Mapping interface ------------------------------------------------------------


def test_mapping_interface() -> None:
    a: ContextVar[int] = ContextVar("a")
    b: ContextVar[str] = ContextVar("b", default="x")
    c: ContextVar[int] = ContextVar("c")
    ctx = Context()
    ctx.run(a.set, 1)
    ctx.run(b.set, "two")
    assert ctx[a] == 1
    assert ctx[b] == "two"
    with pytest.raises(KeyError):
        ctx[c]
    assert a in ctx
    assert c not in ctx
    assert ctx.get(a) == 1
    assert ctx.get(c) is None
    assert ctx.get(c, 5) == 5
    assert len(ctx) == 2
    assert set(ctx) == {a, b}
    assert set(ctx.keys()) == {a, b}
    assert sorted(map(str, ctx.values())) == ["1", "two"]
    assert dict(ctx.items()) == {a: 1, b: "two"}
    assert len(ctx.keys()) == len(ctx.values()) == len(ctx.items()) == 2
    assert a in ctx.keys()  # noqa: SIM118  (the view's own __contains__)
    assert (a, 1) in ctx.items()
    assert "two" in ctx.values()
    assert dict(ctx) == {a: 1, b: "two"}


def test_variable_default_is_not_a_value_in_the_context() -> None:
    var: ContextVar[int] = ContextVar("v", default=42)
    ctx = Context()
    assert var not in ctx
    assert ctx.get(var) is None
    with pytest.raises(KeyError):
        ctx[var]
    assert ctx.run(var.get) == 42


def test_registered_as_mapping() -> None:
    assert issubclass(Context, collections.abc.Mapping)
    assert isinstance(Context(), collections.abc.Mapping)
    ctx = Context()
    for name in ("__contains__", "__eq__", "__getitem__", "__iter__", "__len__", "__ne__"):
        assert callable(getattr(ctx, name))
    for name in ("get", "items", "keys", "values"):
        assert callable(getattr(ctx, name))


@pytest.mark.parametrize("bad", [1, "v", None, object()])
def test_keys_must_be_context_variables(bad: Any) -> None:
    ctx = Context()
    with pytest.raises(TypeError, match="a ContextVar key was expected"):
        ctx[bad]
    with pytest.raises(TypeError, match="a ContextVar key was expected"):
        bad in ctx  # noqa: B015
    with pytest.raises(TypeError, match="a ContextVar key was expected"):
        ctx.get(bad)


def test_views_are_snapshots() -> None:
    var: ContextVar[int] = ContextVar("v")
    other: ContextVar[int] = ContextVar("o")
    ctx = Context()
    ctx.run(var.set, 1)
    keys, values, items = ctx.keys(), ctx.values(), ctx.items()
    ctx.run(other.set, 2)
    assert list(keys) == [var]
    assert list(values) == [1]
    assert list(items) == [(var, 1)]


def test_iterating_while_setting_is_safe() -> None:
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(40)]
    extra: ContextVar[int] = ContextVar("extra")
    ctx = Context()

    def body() -> list[ContextVar[int]]:
        for i, var in enumerate(variables):
            var.set(i)
        seen = []
        for var in ctx:
            seen.append(var)
            extra.set(len(seen))
        return seen

    seen = ctx.run(body)
    assert set(seen) == set(variables)
    assert len(ctx) == 41


def test_equality() -> None:
    var: ContextVar[Any] = ContextVar("v")
    c1, c2 = Context(), Context()
    assert c1 == c2
    c1.run(var.set, [1])
    assert c1 != c2
    c2.run(var.set, [1])
    assert c1 == c2  # equal values, not identical ones
    assert c1 != {var: [1]}
    assert (c1 == 1) is False
    assert c1.__eq__(1) is NotImplemented


def test_equality_with_reentrant_eq_and_hash() -> None:
    var: ContextVar[Any] = ContextVar("v")
    c1, c2 = Context(), Context()

    class Reentrant:
        def __eq__(self, other: object) -> bool:
            c1.run(var.set, object())
            return True

        def __hash__(self) -> int:
            c1.run(var.set, object())
            return 0

    c1.run(var.set, Reentrant())
    c2.run(var.set, object())
    assert c1 == c2  # the comparison went through Reentrant.__eq__
    assert not isinstance(c1[var], Reentrant)


def test_unhashable() -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(Context())


def test_not_picklable_or_copyable_but_weak_referenceable() -> None:
    ctx = Context()
    with pytest.raises(TypeError, match=r"cannot pickle 'treadle\.contextvars\.Context'"):
        pickle.dumps(ctx)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.copy(ctx)
    ref = weakref.ref(ctx)
    assert ref() is ctx


def test_repr() -> None:
    ctx = Context()
    assert repr(ctx) == f"<treadle.contextvars.Context object at 0x{id(ctx):x}>"


# --- run() ----------------------------------------------------------------------------


def test_run_requires_a_callable() -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        Context().run()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Context().run(1)  # type: ignore[arg-type]


def test_run_passes_arguments_and_returns_result() -> None:
    def func(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, kwargs

    ctx = Context()
    for f in (func, functools.partial(func)):
        assert ctx.run(f) == ((), {})
        assert ctx.run(f, 1, 2) == ((1, 2), {})
        assert ctx.run(f, 1, callable=3, self=4) == ((1,), {"callable": 3, "self": 4})


def test_run_propagates_exceptions_and_keeps_changes() -> None:
    var: ContextVar[str] = ContextVar("v")
    ctx = Context()

    def func() -> None:
        var.set("spam")
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        ctx.run(func)
    assert ctx[var] == "spam"
    assert var.get(None) is None


def test_run_propagates_unrelated_runtime_errors() -> None:
    def func() -> None:
        raise RuntimeError("mine")

    with pytest.raises(RuntimeError, match=r"^mine$"):
        Context().run(func)


def test_changes_stay_in_the_context() -> None:
    var: ContextVar[int] = ContextVar("v", default=0)
    ctx = Context()

    def func() -> int:
        assert var.get() == 0
        assert ctx.get(var) is None
        var.set(42)
        assert var.get() == 42
        assert ctx.get(var) == 42  # the live context, read while it runs
        return var.get()

    assert ctx.run(func) == 42
    assert var.get() == 0
    assert ctx[var] == 42
    assert ctx.run(var.get) == 42


def test_nested_runs() -> None:
    var: ContextVar[str] = ContextVar("v")
    ctx1, ctx2 = Context(), Context()

    def inner() -> None:
        assert var.get(None) is None
        var.set("inner")

    def outer() -> Context:
        var.set("outer")
        ctx2.run(inner)
        assert var.get() == "outer"
        current = copy_context()
        assert len(current) == 1
        return current

    returned = ctx1.run(outer)
    assert returned == ctx1
    assert returned is not ctx1
    assert ctx2[var] == "inner"


def test_entering_an_entered_context_raises() -> None:
    ctx = Context()
    calls = []

    def func() -> None:
        calls.append(1)
        with pytest.raises(RuntimeError, match="is already entered") as info:
            ctx.run(func)
        assert repr(ctx) in str(info.value)

    ctx.run(func)
    assert calls == [1]
    ctx.run(calls.append, 2)  # usable again once left
    assert calls == [1, 2]


def test_entering_a_context_entered_in_another_thread_raises() -> None:
    ctx = Context()
    entered = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        entered.set()
        release.wait(60)

    def worker() -> None:
        try:
            ctx.run(hold)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert entered.wait(60)
        with pytest.raises(RuntimeError, match="is already entered"):
            ctx.run(len, [])
    finally:
        release.set()
        thread.join()
    assert errors == []
    assert ctx.run(len, []) == 0


def test_context_entered_in_turn_by_two_threads() -> None:
    var: ContextVar[list[str]] = ContextVar("v")
    ctx = Context()
    ctx.run(var.set, [])

    def worker(name: str) -> None:
        ctx.run(lambda: var.get().append(name))

    for name in ("t1", "t2"):
        thread = threading.Thread(target=worker, args=(name,))
        thread.start()
        thread.join()
    assert ctx[var] == ["t1", "t2"]


# --- copies ---------------------------------------------------------------------------


def test_copy_is_independent() -> None:
    var: ContextVar[int] = ContextVar("c", default=42)
    ctx1 = Context()

    def in_ctx1() -> None:
        var.set(10)
        ctx2 = ctx1.copy()
        assert type(ctx2) is Context
        assert ctx2[var] == 10
        var.set(20)
        assert ctx1[var] == 20
        assert ctx2[var] == 10

        def in_ctx2() -> None:
            assert var.get() == 10
            var.set(30)

        ctx2.run(in_ctx2)
        assert ctx1[var] == 20
        assert ctx2[var] == 30

    ctx1.run(in_ctx1)


def test_copy_context_of_a_mutable_value_shares_it() -> None:
    var: ContextVar[list[int]] = ContextVar("c")

    def body() -> None:
        var.set([])

        def inner() -> None:
            var.set([])
            var.get().append(42)
            assert var.get() == [42]

        copy_context().run(inner)
        assert var.get() == []

    Context().run(body)


# --- many variables ------------------------------------------------------------------


def test_many_variables() -> None:
    n = SMALL_MAX * 40
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(n)]
    ctx = Context()

    def body() -> None:
        tokens = [var.set(i) for i, var in enumerate(variables)]
        assert len(copy_context()) == n
        assert all(var.get() == i for i, var in enumerate(variables))
        snapshot = copy_context()
        for token in reversed(tokens[n // 2 :]):
            token.var.reset(token)
        assert len(copy_context()) == n // 2
        assert len(snapshot) == n
        assert all(snapshot[var] == i for i, var in enumerate(variables))
        assert all(var.get(None) is None for var in variables[n // 2 :])
        for token in tokens[: n // 2]:  # out of order: every reset takes the slow path
            token.var.reset(token)
        assert len(copy_context()) == 0

    ctx.run(body)
    assert len(ctx) == 0


def test_many_variables_mapping_and_equality() -> None:
    n = SMALL_MAX * 3
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(n)]
    c1, c2 = Context(), Context()
    for i, var in enumerate(variables):
        c1.run(var.set, i)
    for i, var in reversed(list(enumerate(variables))):
        c2.run(var.set, i)
    assert c1 == c2
    assert dict(c1.items()) == {var: i for i, var in enumerate(variables)}
    assert sorted(c1.values()) == list(range(n))
    assert set(c1.keys()) == set(variables)
    c2.run(variables[0].set, -1)
    assert c1 != c2
    other: ContextVar[int] = ContextVar("other")
    assert other not in c1
    assert c1.get(other, "d") == "d"
