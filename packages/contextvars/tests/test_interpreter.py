"""treadle variables inside the interpreter's context: stdlib contexts, asyncio, threads."""

from __future__ import annotations

import asyncio
import contextvars as std
import decimal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from treadle.contextvars import Context, ContextVar, copy_context

request_id: ContextVar[str] = ContextVar("request_id", default="none")
std_var: std.ContextVar[str] = std.ContextVar("std_var", default="none")


def in_new_context(func: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return Context().run(func, *args, **kwargs)

    wrapper.__name__ = func.__name__
    return wrapper


# --- the stdlib's contexts ------------------------------------------------------------


@in_new_context
def test_stdlib_copy_context_run_isolates_treadle_variables() -> None:
    request_id.set("outer")

    def inner() -> str:
        seen = request_id.get()
        request_id.set("inner")
        return seen

    assert std.copy_context().run(inner) == "outer"
    assert request_id.get() == "outer"


@in_new_context
def test_stdlib_empty_context_has_no_treadle_values() -> None:
    request_id.set("outer")
    assert std.Context().run(request_id.get) == "none"


@in_new_context
def test_treadle_run_inside_stdlib_run() -> None:
    ctx = Context()
    ctx.run(request_id.set, "mine")

    def inner() -> str:
        return ctx.run(request_id.get)

    assert std.copy_context().run(inner) == "mine"
    assert std.Context().run(inner) == "mine"


@in_new_context
def test_treadle_context_switches_the_whole_interpreter_context() -> None:
    # As with the stdlib's own Context: a fresh context has no stdlib values either,
    # and stdlib variables set inside a run stay in that context.
    std_var.set("outer")
    assert Context().run(std_var.get) == "none"
    assert copy_context().run(std_var.get) == "outer"
    ctx = copy_context()
    ctx.run(std_var.set, "inner")
    assert std_var.get() == "outer"
    assert ctx.run(std_var.get) == "inner"


@in_new_context
def test_decimal_context_is_isolated_like_the_stdlib() -> None:
    decimal.setcontext(decimal.Context(prec=10))

    def inner() -> int:
        decimal.setcontext(decimal.Context(prec=5))
        return decimal.getcontext().prec

    assert copy_context().run(inner) == 5
    assert decimal.getcontext().prec == 10


# --- asyncio --------------------------------------------------------------------------


def test_tasks_see_their_creation_context_and_isolate_sets() -> None:
    async def child(name: str, started: asyncio.Event, go: asyncio.Event) -> tuple[str, str]:
        seen = request_id.get()
        request_id.set(name)
        started.set()
        await go.wait()
        return seen, request_id.get()

    async def main() -> None:
        request_id.set("parent")
        go = asyncio.Event()
        s1, s2 = asyncio.Event(), asyncio.Event()
        t1 = asyncio.create_task(child("one", s1, go))
        request_id.set("parent-later")
        t2 = asyncio.create_task(child("two", s2, go))
        await s1.wait()
        await s2.wait()
        assert request_id.get() == "parent-later"
        go.set()
        assert await t1 == ("parent", "one")
        assert await t2 == ("parent-later", "two")
        assert request_id.get() == "parent-later"

    asyncio.run(main())
    assert request_id.get() == "none"


def test_gather_isolates_coroutines() -> None:
    async def worker(i: int) -> str:
        request_id.set(f"w{i}")
        await asyncio.sleep(0)
        return request_id.get()

    async def main() -> list[str]:
        request_id.set("main")
        results = await asyncio.gather(*(worker(i) for i in range(5)))
        assert request_id.get() == "main"
        return list(results)

    assert asyncio.run(main()) == [f"w{i}" for i in range(5)]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task(context=) is new in 3.11")
def test_task_context_argument() -> None:
    async def main() -> None:
        stdctx = std.copy_context()
        stdctx.run(request_id.set, "given")
        task = asyncio.create_task(_read_and_set(), context=stdctx)  # type: ignore[call-arg,unused-ignore]
        assert await task == "given"
        assert stdctx.run(request_id.get) == "changed"
        assert request_id.get() == "none"

    asyncio.run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task(context=) is new in 3.11")
def test_task_with_treadle_context() -> None:
    # Beyond the stdlib: a task steps through loop.call_soon(..., context=), which only
    # calls context.run(), so a treadle Context can be given to create_task as well.
    async def main() -> None:
        ctx = Context()
        ctx.run(request_id.set, "given")
        task = asyncio.create_task(_read_and_set(), context=ctx)  # type: ignore[call-arg,arg-type,unused-ignore]
        assert await task == "given"
        assert ctx[request_id] == "changed"
        assert request_id.get() == "none"

    asyncio.run(main())


async def _read_and_set() -> str:
    await asyncio.sleep(0)
    seen = request_id.get()
    request_id.set("changed")
    return seen


def test_call_soon_copies_the_current_context() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def callback() -> None:
            seen = request_id.get()
            request_id.set("callback")
            done.set_result(seen)

        request_id.set("scheduled")
        loop.call_soon(callback)
        request_id.set("after")
        assert await done == "scheduled"
        assert request_id.get() == "after"

    Context().run(asyncio.run, main())


def test_call_soon_with_stdlib_context() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        stdctx = std.Context()
        stdctx.run(request_id.set, "in-given")

        def callback() -> None:
            done.set_result(request_id.get())
            request_id.set("changed")

        loop.call_soon(callback, context=stdctx)
        assert await done == "in-given"
        assert stdctx.run(request_id.get) == "changed"
        assert request_id.get() == "none"

    asyncio.run(main())


def test_call_soon_with_treadle_context() -> None:
    # Beyond the stdlib: asyncio's handles only call context.run(), so a treadle
    # Context works there too.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        ctx = Context()
        ctx.run(request_id.set, "in-given")

        def callback() -> None:
            done.set_result(request_id.get())
            request_id.set("changed")

        loop.call_soon(callback, context=ctx)  # type: ignore[arg-type]
        assert await done == "in-given"
        assert ctx[request_id] == "changed"
        assert request_id.get() == "none"

    asyncio.run(main())


def test_to_thread_carries_the_context_and_isolates_sets() -> None:
    def in_thread() -> tuple[str, str]:
        seen = request_id.get()
        request_id.set("thread")
        return seen, threading.current_thread().name

    async def main() -> None:
        request_id.set("caller")
        seen, name = await asyncio.to_thread(in_thread)
        assert seen == "caller"
        assert name != threading.current_thread().name
        assert request_id.get() == "caller"

    asyncio.run(main())


def test_run_in_executor_does_not_carry_the_context() -> None:
    # Documented stdlib behaviour that stays: run_in_executor does not copy the context.
    async def main() -> None:
        request_id.set("caller")
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            assert await loop.run_in_executor(pool, request_id.get) == "none"

    asyncio.run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in 3.11")
def test_task_group() -> None:
    async def child(i: int) -> str:
        seen = request_id.get()
        request_id.set(f"child{i}")
        await asyncio.sleep(0)
        return f"{seen}->{request_id.get()}"

    async def main() -> list[str]:
        request_id.set("group")
        async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined,unused-ignore]
            tasks = [tg.create_task(child(i)) for i in range(3)]
        assert request_id.get() == "group"
        return [t.result() for t in tasks]

    assert asyncio.run(main()) == [f"group->child{i}" for i in range(3)]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Task.get_context() is new in 3.12")
def test_task_get_context_is_the_interpreters() -> None:
    async def main() -> None:
        request_id.set("task")
        task = asyncio.current_task()
        assert task is not None
        stdctx = task.get_context()  # type: ignore[attr-defined,unused-ignore]
        assert std.Context().run(stdctx.copy().run, request_id.get) == "task"

    asyncio.run(main())


# --- threads --------------------------------------------------------------------------


def _in_thread(func: Any, *args: Any) -> Any:
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(func(*args))
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


@pytest.mark.skipif(
    getattr(sys.flags, "thread_inherit_context", 0) == 1,
    reason="threads inherit the caller's context under -X thread_inherit_context",
)
@in_new_context
def test_new_thread_starts_with_an_empty_context() -> None:
    request_id.set("main")

    def body() -> tuple[str, int]:
        return request_id.get(), len(copy_context())

    assert _in_thread(body) == ("none", 0)


@in_new_context
def test_threads_do_not_see_each_others_sets() -> None:
    barrier = threading.Barrier(4)

    def body(i: int) -> list[int]:
        seen = []
        for step in range(3):
            request_id.set(f"{i}-{step}")
            barrier.wait(60)
            seen.append(request_id.get() == f"{i}-{step}")
            barrier.wait(60)
        return [int(s) for s in seen]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(body, range(4)))
    assert results == [[1, 1, 1]] * 4
    assert request_id.get() == "none"


@in_new_context
def test_context_run_in_a_thread() -> None:
    request_id.set("main")
    ctx = copy_context()
    assert _in_thread(ctx.run, request_id.get) == "main"
    _in_thread(ctx.run, request_id.set, "thread")
    assert ctx[request_id] == "thread"
    assert request_id.get() == "main"


@pytest.mark.skipif(sys.version_info < (3, 14), reason="threading.Thread(context=) is 3.14")
@in_new_context
def test_stdlib_thread_with_treadle_context() -> None:
    ctx = Context()
    ctx.run(request_id.set, "given")
    seen: list[str] = []

    def body() -> None:
        seen.append(request_id.get())
        request_id.set("changed")

    # threading only calls context.run(), so a treadle Context works there too.
    thread = threading.Thread(target=body, context=ctx)  # type: ignore[call-arg,arg-type,unused-ignore]
    thread.start()
    thread.join()
    assert seen == ["given"]
    assert ctx[request_id] == "changed"
