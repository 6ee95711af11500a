"""Contexts and start methods: 3.14's default (forkserver on Linux) on every Python.

The global start method is process state: the tests that choose it run in a fresh
interpreter.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import _mp_targets as targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from treadle import multiprocessing

pytestmark = pytest.mark.timeout(60)

HERE = str(Path(__file__).resolve().parent)


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys\nsys.path.insert(0, {HERE!r})\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_all_start_methods_default_first() -> None:
    methods = multiprocessing.get_all_start_methods()
    assert sorted(methods) == ["fork", "forkserver", "spawn"]
    if sys.platform == "linux":
        assert methods[0] == "forkserver"


def test_default_in_a_fresh_interpreter() -> None:
    done = _python(
        """
        from treadle import multiprocessing as mp
        print(mp.get_start_method(allow_none=True))
        print(mp.get_start_method())
        print(mp.get_start_method(allow_none=True))
        print(mp.get_context().get_start_method())
        """
    )
    assert done.returncode == 0, done.stderr
    expected = "forkserver" if sys.platform == "linux" else "spawn"
    assert done.stdout.split() == ["None", expected, expected, expected]


def test_set_start_method_rules() -> None:
    done = _python(
        """
        from treadle import multiprocessing as mp
        mp.set_start_method("spawn")
        assert mp.get_start_method() == "spawn"
        try:
            mp.set_start_method("fork")
        except RuntimeError as exc:
            print("again:", exc)
        mp.set_start_method("fork", force=True)
        print(mp.get_start_method())
        mp.set_start_method(None, force=True)
        print(mp.get_start_method(allow_none=True))
        try:
            mp.set_start_method("nope", force=True)
        except ValueError as exc:
            print("bad:", exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "again: context has already been set",
        "fork",
        "None",
        "bad: cannot find context for 'nope'",
    ]


def test_spawn_context_does_not_fix_global_method() -> None:
    # 3.14.3: starting a process from a concrete context leaves the default unchosen.
    done = _python(
        """
        import _mp_targets
        from treadle import multiprocessing as mp
        if __name__ == "__main__":
            for method in ("spawn", "fork"):
                p = mp.get_context(method).Process(target=_mp_targets.noop)
                p.start()
                p.join()
            print(mp.get_start_method(allow_none=True))
            mp.set_start_method("spawn")
            print(mp.get_start_method())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "spawn"]


def test_child_knows_its_start_method() -> None:
    done = _python(
        """
        import _mp_targets
        from treadle import multiprocessing as mp
        if __name__ == "__main__":
            mp.set_start_method("spawn")
            p = mp.Process(target=_mp_targets.exit_with_start_method)
            p.start()
            p.join()
            print(p.exitcode)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_concrete_context(method: str) -> None:
    ctx = multiprocessing.get_context(method)
    assert ctx.get_start_method() == method
    assert ctx.get_context() is ctx
    assert ctx.get_context(method) is ctx
    assert ctx.Process._start_method == method
    with pytest.raises(ValueError, match="concrete context"):
        ctx.set_start_method("spawn")
    assert ctx.Process(target=targets.noop)._start_method == method


def test_bad_method_name() -> None:
    with pytest.raises(ValueError, match="cannot find context for 'threads'"):
        multiprocessing.get_context("threads")
    with pytest.raises(ValueError, match="cannot find context"):
        multiprocessing.get_context(3)  # type: ignore[arg-type]


def test_context_exposes_the_api() -> None:
    ctx: Any = multiprocessing.get_context("spawn")
    for name in (
        "Process", "Pipe", "current_process", "parent_process", "active_children",
        "cpu_count", "freeze_support", "get_logger", "log_to_stderr", "set_executable",
        "set_forkserver_preload", "get_context", "get_start_method", "set_start_method",
        "allow_connection_pickling", "reducer", "ProcessError", "BufferTooShort",
        "TimeoutError", "AuthenticationError",
    ):  # fmt: skip
        assert hasattr(ctx, name), name
    assert ctx.AuthenticationError is multiprocessing.AuthenticationError
    assert issubclass(ctx.BufferTooShort, ctx.ProcessError)
    assert ctx.current_process() is multiprocessing.current_process()


def test_reducer_is_the_reduction_module() -> None:
    from treadle.multiprocessing import reduction

    assert multiprocessing.reducer is reduction
    ctx: Any = multiprocessing.get_context("fork")
    assert ctx.reducer is reduction


def test_pipe_through_context() -> None:
    a, b = multiprocessing.get_context("spawn").Pipe()
    with a, b:
        a.send([1, 2])
        assert b.recv() == [1, 2]


def test_set_executable_takes_path_like(tmp_path: Path) -> None:
    from treadle.multiprocessing import spawn

    before = spawn.get_executable()
    try:
        multiprocessing.set_executable(pathlib.Path(sys.executable))
        assert spawn.get_executable() == sys.executable
        multiprocessing.set_executable(os.fsencode(sys.executable))
        assert spawn.get_executable() == sys.executable
        with pytest.raises(TypeError, match="executable"):
            multiprocessing.set_executable(3)  # type: ignore[arg-type]
    finally:
        spawn.set_executable(before)


def test_spawn_uses_set_executable(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\ntouch "{marker}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    done = _python(
        f"""
        import _mp_targets
        from treadle import multiprocessing as mp
        if __name__ == "__main__":
            mp.set_executable({str(wrapper)!r})
            p = mp.get_context("spawn").Process(target=_mp_targets.noop)
            p.start()
            p.join()
            print(p.exitcode)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"]
    assert marker.exists()


def test_freeze_support_is_a_noop_unfrozen() -> None:
    assert not getattr(sys, "frozen", False)
    multiprocessing.freeze_support()
    done = _python(
        """
        from treadle import multiprocessing as mp
        mp.freeze_support()
        print(mp.get_start_method(allow_none=True))
        """
    )
    assert done.stdout.split() == ["None"]


def test_set_forkserver_preload_validates() -> None:
    with pytest.raises(TypeError):
        multiprocessing.set_forkserver_preload([3])  # type: ignore[list-item]


def test_cpu_count_is_positive() -> None:
    ctx: Any = multiprocessing.get_context("spawn")
    assert ctx.cpu_count() >= 1


def test_allow_connection_pickling() -> None:
    multiprocessing.allow_connection_pickling()


def test_spawning_popen_is_per_thread() -> None:
    from treadle.multiprocessing import context

    assert context.get_spawning_popen() is None
    with pytest.raises(RuntimeError, match="through inheritance"):
        context.assert_spawning(object())
    marker = object()
    context.set_spawning_popen(marker)
    try:
        assert context.get_spawning_popen() is marker
        context.assert_spawning(object())
        seen: list[object] = []
        from treadle import threading

        t = threading.Thread(target=lambda: seen.append(context.get_spawning_popen()))
        t.start()
        t.join()
        assert seen == [None]
    finally:
        context.set_spawning_popen(None)
