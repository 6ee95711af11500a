"""Context and copy_context: the Mapping interface, run(), copies, misuse."""

from __future__ import annotations

import collections.abc
import copy
import functools
import pickle
import threading
import weakref
from types import ModuleType
from typing import Any

import pytest

SMALL_MAX = 16  # sizes below are multiples of an arbitrary "small" context

# --- construction ---------------------------------------------------------------------


def test_new_context_is_empty(impl: ModuleType) -> None:
    ctx = impl.Context()
    assert len(ctx) == 0
    assert list(ctx) == []
    assert impl.Context(**{}) == ctx


def test_constructor_takes_no_arguments(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="does not accept any arguments"):
        impl.Context(1)
    with pytest.raises(TypeError, match="does not accept any arguments"):
        impl.Context(a=1)


def test_not_subclassable(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="not an acceptable base type"):

        class Sub(impl.Context):  # type: ignore[misc,name-defined]
            pass


def test_copy_context_returns_a_context(impl: ModuleType) -> None:
    assert type(impl.copy_context()) is impl.Context
    assert impl.copy_context() is not impl.copy_context()


# --- the Mapping interface ------------------------------------------------------------


def test_mapping_interface(impl: ModuleType) -> None:
    a = impl.ContextVar("a")
    b = impl.ContextVar("b", default="x")
    c = impl.ContextVar("c")
    ctx = impl.Context()
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


def test_variable_default_is_not_a_value_in_the_context(impl: ModuleType) -> None:
    var = impl.ContextVar("v", default=42)
    ctx = impl.Context()
    assert var not in ctx
    assert ctx.get(var) is None
    with pytest.raises(KeyError):
        ctx[var]
    assert ctx.run(var.get) == 42


@pytest.mark.stdlib_since((3, 14), "Context is registered as a Mapping from 3.14 on")
def test_registered_as_mapping(impl: ModuleType) -> None:
    assert issubclass(impl.Context, collections.abc.Mapping)
    assert isinstance(impl.Context(), collections.abc.Mapping)
    ctx = impl.Context()
    for name in ("__contains__", "__eq__", "__getitem__", "__iter__", "__len__", "__ne__"):
        assert callable(getattr(ctx, name))
    for name in ("get", "items", "keys", "values"):
        assert callable(getattr(ctx, name))


@pytest.mark.parametrize("bad", [1, "v", None, object()])
def test_keys_must_be_context_variables(impl: ModuleType, bad: Any) -> None:
    ctx = impl.Context()
    with pytest.raises(TypeError, match="a ContextVar key was expected"):
        ctx[bad]
    with pytest.raises(TypeError, match="a ContextVar key was expected"):
        bad in ctx  # noqa: B015
    with pytest.raises(TypeError, match="a ContextVar key was expected"):
        ctx.get(bad)


def test_views_are_snapshots(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    other = impl.ContextVar("o")
    ctx = impl.Context()
    ctx.run(var.set, 1)
    keys, values, items = ctx.keys(), ctx.values(), ctx.items()
    ctx.run(other.set, 2)
    assert list(keys) == [var]
    assert list(values) == [1]
    assert list(items) == [(var, 1)]


def test_iterating_while_setting_is_safe(impl: ModuleType) -> None:
    variables = [impl.ContextVar(f"v{i}") for i in range(40)]
    extra = impl.ContextVar("extra")
    ctx = impl.Context()

    def body() -> list[Any]:
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


def test_equality(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    c1, c2 = impl.Context(), impl.Context()
    assert c1 == c2
    c1.run(var.set, [1])
    assert c1 != c2
    c2.run(var.set, [1])
    assert c1 == c2  # equal values, not identical ones
    assert c1 != {var: [1]}
    assert (c1 == 1) is False
    assert c1.__eq__(1) is NotImplemented


def test_equality_with_reentrant_eq_and_hash(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    c1, c2 = impl.Context(), impl.Context()

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


def test_unhashable(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(impl.Context())


def test_not_picklable_or_copyable_but_weak_referenceable(impl: ModuleType) -> None:
    ctx = impl.Context()
    with pytest.raises(TypeError, match=r"cannot pickle '[\w.]*Context' object"):
        pickle.dumps(ctx)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.copy(ctx)
    ref = weakref.ref(ctx)
    assert ref() is ctx


def test_repr(impl: ModuleType) -> None:
    ctx = impl.Context()
    assert repr(ctx) == f"<{type(ctx).__module__}.Context object at 0x{id(ctx):x}>"


# --- run() ----------------------------------------------------------------------------


def test_run_requires_a_callable(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        impl.Context().run()
    with pytest.raises(TypeError):
        impl.Context().run(1)


@pytest.mark.stdlib_differs("the stdlib says \"'int' object is not callable\"")
def test_run_names_its_argument(impl: ModuleType) -> None:
    with pytest.raises(
        TypeError, match=r"^Context\.run\(\) argument 'callable' must be callable, not int$"
    ):
        impl.Context().run(1)


def test_run_passes_arguments_and_returns_result(impl: ModuleType) -> None:
    def func(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, kwargs

    ctx = impl.Context()
    for f in (func, functools.partial(func)):
        assert ctx.run(f) == ((), {})
        assert ctx.run(f, 1, 2) == ((1, 2), {})
        assert ctx.run(f, 1, callable=3, self=4) == ((1,), {"callable": 3, "self": 4})


def test_run_propagates_exceptions_and_keeps_changes(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    ctx = impl.Context()

    def func() -> None:
        var.set("spam")
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        ctx.run(func)
    assert ctx[var] == "spam"
    assert var.get(None) is None


def test_run_propagates_unrelated_runtime_errors(impl: ModuleType) -> None:
    def func() -> None:
        raise RuntimeError("mine")

    with pytest.raises(RuntimeError, match=r"^mine$"):
        impl.Context().run(func)


def test_changes_stay_in_the_context(impl: ModuleType) -> None:
    var = impl.ContextVar("v", default=0)
    ctx = impl.Context()

    def func() -> int:
        assert var.get() == 0
        assert ctx.get(var) is None
        var.set(42)
        assert var.get() == 42
        assert ctx.get(var) == 42  # the live context, read while it runs
        value: int = var.get()
        return value

    assert ctx.run(func) == 42
    assert var.get() == 0
    assert ctx[var] == 42
    assert ctx.run(var.get) == 42


def test_nested_runs(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    ctx1, ctx2 = impl.Context(), impl.Context()

    def inner() -> None:
        assert var.get(None) is None
        var.set("inner")

    def outer() -> Any:
        var.set("outer")
        ctx2.run(inner)
        assert var.get() == "outer"
        current = impl.copy_context()
        assert len(current) == 1
        return current

    returned = ctx1.run(outer)
    assert returned == ctx1
    assert returned is not ctx1
    assert ctx2[var] == "inner"


def test_entering_an_entered_context_raises(impl: ModuleType) -> None:
    ctx = impl.Context()
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


def test_entering_a_context_entered_in_another_thread_raises(impl: ModuleType) -> None:
    ctx = impl.Context()
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


def test_context_entered_in_turn_by_two_threads(impl: ModuleType) -> None:
    var = impl.ContextVar("v")
    ctx = impl.Context()
    ctx.run(var.set, [])

    def worker(name: str) -> None:
        ctx.run(lambda: var.get().append(name))

    for name in ("t1", "t2"):
        thread = threading.Thread(target=worker, args=(name,))
        thread.start()
        thread.join()
    assert ctx[var] == ["t1", "t2"]


# --- copies ---------------------------------------------------------------------------


def test_copy_is_independent(impl: ModuleType) -> None:
    var = impl.ContextVar("c", default=42)
    ctx1 = impl.Context()

    def in_ctx1() -> None:
        var.set(10)
        ctx2 = ctx1.copy()
        assert type(ctx2) is impl.Context
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


def test_copy_context_of_a_mutable_value_shares_it(impl: ModuleType) -> None:
    var = impl.ContextVar("c")

    def body() -> None:
        var.set([])

        def inner() -> None:
            var.set([])
            var.get().append(42)
            assert var.get() == [42]

        impl.copy_context().run(inner)
        assert var.get() == []

    impl.Context().run(body)


# --- many variables ------------------------------------------------------------------


def test_many_variables(impl: ModuleType) -> None:
    n = SMALL_MAX * 40
    variables = [impl.ContextVar(f"v{i}") for i in range(n)]
    ctx = impl.Context()

    def body() -> None:
        tokens = [var.set(i) for i, var in enumerate(variables)]
        assert len(impl.copy_context()) == n
        assert all(var.get() == i for i, var in enumerate(variables))
        snapshot = impl.copy_context()
        for token in reversed(tokens[n // 2 :]):
            token.var.reset(token)
        assert len(impl.copy_context()) == n // 2
        assert len(snapshot) == n
        assert all(snapshot[var] == i for i, var in enumerate(variables))
        assert all(var.get(None) is None for var in variables[n // 2 :])
        for token in tokens[: n // 2]:  # out of order: every reset takes the slow path
            token.var.reset(token)
        assert len(impl.copy_context()) == 0

    ctx.run(body)
    assert len(ctx) == 0


def test_many_variables_mapping_and_equality(impl: ModuleType) -> None:
    n = SMALL_MAX * 3
    variables = [impl.ContextVar(f"v{i}") for i in range(n)]
    c1, c2 = impl.Context(), impl.Context()
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
    other = impl.ContextVar("other")
    assert other not in c1
    assert c1.get(other, "d") == "d"
