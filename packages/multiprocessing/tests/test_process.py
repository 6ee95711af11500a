"""The Process API under each start method (the ``ctx`` fixture), and what it adds."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _mp_targets as targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from treadle import multiprocessing

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pipe(ctx: Any) -> Iterator[tuple[Any, Any]]:
    r, w = ctx.Pipe(duplex=False)
    yield r, w
    r.close()
    w.close()


def _wait_readable(fd: int, timeout: float = 30.0) -> bool:
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


def _started(ctx: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
    p = ctx.Process(target=target, args=args, **kwargs)
    p.start()
    return p


class TestLifecycle:
    def test_start_join_exitcode(self, ctx: Any) -> None:
        p = ctx.Process(target=targets.noop)
        assert (p.exitcode, p.pid, p.ident) == (None, None, None)
        assert not p.is_alive()
        p.start()
        assert isinstance(p.pid, int)
        assert p.pid == p.ident
        p.join()
        assert p.exitcode == 0
        assert not p.is_alive()
        assert p not in multiprocessing.active_children()
        p.close()

    @pytest.mark.parametrize(
        ("code", "expected"), [(None, 0), (0, 0), (3, 3), ("a message", 1), (True, 1)]
    )
    def test_sys_exit_codes(self, ctx: Any, code: object, expected: int) -> None:
        p = _started(ctx, targets.exit_with, code)
        p.join()
        assert p.exitcode == expected
        p.close()

    def test_exception_gives_1(self, ctx: Any) -> None:
        p = _started(ctx, targets.fail)
        p.join()
        assert p.exitcode == 1
        p.close()

    def test_kwargs_and_args(self, ctx: Any) -> None:
        p = ctx.Process(target=targets.check_kwargs, args=[1, 2], kwargs={"x": 3})
        p.start()
        p.join()
        assert p.exitcode == 0
        p.close()

    def test_kwargs_default_is_none(self) -> None:
        import inspect

        assert inspect.signature(multiprocessing.Process).parameters["kwargs"].default is None

    def test_subclass_run(self, start_method: str) -> None:
        p = targets.SUBCLASSES[start_method](7)
        assert p._start_method == start_method
        p.start()
        p.join()
        assert p.exitcode == 7
        p.close()

    def test_identity_in_child(self, ctx: Any) -> None:
        p = ctx.Process(target=targets.check_identity, name="the-child")
        key = bytes(multiprocessing.current_process().authkey)
        p._args = ("the-child", os.getpid(), key, False)
        p.start()
        p.join()
        assert p.exitcode == 0

    def test_daemon_identity(self, ctx: Any) -> None:
        key = bytes(multiprocessing.current_process().authkey)
        p = ctx.Process(
            target=targets.check_identity, args=("d", os.getpid(), key, True), name="d", daemon=True
        )
        assert p.daemon
        p.start()
        p.join()
        assert p.exitcode == 0

    def test_main_thread_native_id_is_the_childs(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        # A fork child's threading module keeps the parent's native id for its one thread
        # before 3.14, unless the start-up renews it.
        r, w = pipe
        p = _started(ctx, targets.send_thread_ids, w)
        recorded, actual = r.recv()
        p.join()
        assert recorded == actual
        assert recorded != threading.get_native_id()

    def test_sentinel_ready_after_exit(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.block_on, r)
        assert not _wait_readable(p.sentinel, 0)
        w.send_bytes(b"x")
        assert _wait_readable(p.sentinel)
        p.join()
        assert p.exitcode == 0

    def test_join_timeout(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.block_on, r)
        p.join(0)
        p.join(0.01)
        assert p.exitcode is None
        assert p.is_alive()
        assert p in multiprocessing.active_children()
        w.send_bytes(b"x")
        p.join()
        assert p.exitcode == 0

    def test_join_bad_timeout(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.block_on, r)
        with pytest.raises(TypeError, match="timeout"):
            p.join("soon")
        w.send_bytes(b"x")
        p.join()


class TestThreadsLeftRunning:
    def test_child_waits_for_its_non_daemon_threads(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.leave_thread_running, w)
        p.join()
        assert p.exitcode == 0
        assert r.poll(0)  # sent before the child ended
        assert r.recv() == "late"


class TestSignals:
    @pytest.mark.parametrize(
        ("method", "signum", "expected"),
        [("terminate", signal.SIGTERM, -signal.SIGTERM), ("kill", signal.SIGKILL, -signal.SIGKILL)],
    )
    def test_exitcode_is_negative_signal(
        self, ctx: Any, pipe: tuple[Any, Any], method: str, signum: int, expected: int
    ) -> None:
        r, w = pipe
        p = _started(ctx, targets.wait_for_signal, w)
        assert r.poll(30)
        getattr(p, method)()
        p.join()
        assert p.exitcode == expected
        assert f"exitcode=-{signal.Signals(signum).name}" in repr(p)

    def test_interrupt_raises_keyboardinterrupt(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.wait_for_signal, w)
        assert r.poll(30)
        p.interrupt()
        p.join()
        # KeyboardInterrupt in run() is reported like any exception.
        assert p.exitcode == 1


class TestMisuse:
    def test_start_twice(self, ctx: Any) -> None:
        p = _started(ctx, targets.noop)
        with pytest.raises(AssertionError, match="twice"):
            p.start()
        p.join()

    def test_join_unstarted(self, ctx: Any) -> None:
        p = ctx.Process(target=targets.noop)
        with pytest.raises(AssertionError, match="started"):
            p.join()
        assert multiprocessing.active_children() == []

    def test_join_self(self, ctx: Any) -> None:
        p = _started(ctx, targets.try_join_self)
        p.join()
        assert p.exitcode == 0

    def test_close_running(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.block_on, r)
        with pytest.raises(ValueError, match="still running"):
            p.close()
        w.send_bytes(b"x")
        p.join()
        p.close()
        p.close()  # twice is fine
        for action in (p.is_alive, p.join, p.terminate, p.kill, p.interrupt, p.start):
            with pytest.raises(ValueError, match="closed"):
                action()
        for attribute in ("exitcode", "pid", "sentinel"):
            with pytest.raises(ValueError, match="closed"):
                getattr(p, attribute)
        assert "closed" in repr(p)

    def test_sentinel_before_start(self, ctx: Any) -> None:
        with pytest.raises(ValueError, match="not started"):
            ctx.Process(target=targets.noop).sentinel  # noqa: B018

    def test_daemon_cannot_have_children(self, ctx: Any) -> None:
        p = ctx.Process(target=targets.start_grandchild, daemon=True)
        p.start()
        p.join()
        assert p.exitcode == 0

    def test_daemon_after_start(self, ctx: Any) -> None:
        p = _started(ctx, targets.noop)
        with pytest.raises(AssertionError):
            p.daemon = True
        p.join()

    def test_group_must_be_none(self) -> None:
        with pytest.raises(AssertionError, match="group"):
            multiprocessing.Process(group=object())  # type: ignore[arg-type]

    def test_name_must_be_str(self) -> None:
        p = multiprocessing.Process()
        with pytest.raises(TypeError, match="name"):
            p.name = 3  # type: ignore[assignment]


class TestRepr:
    def test_states(self, ctx: Any) -> None:
        p = ctx.Process(target=targets.noop, name="r")
        assert repr(p).startswith(f"<{type(p).__name__} name='r' parent={os.getpid()} initial")
        p.start()
        p.join()
        assert "stopped exitcode=0" in repr(p)
        assert repr(multiprocessing.current_process()) == (
            "<_MainProcess name='MainProcess' parent=None started>"
        )


class _Holder:
    def __init__(self, callback: Any) -> None:
        self.callback = callback


class TestPicklabilityChecked:
    """Beyond the stdlib: spawn and forkserver say which part cannot be pickled."""

    @pytest.mark.parametrize("method", ["spawn", "forkserver"])
    def test_path_of_culprit(self, method: str) -> None:
        ctx = multiprocessing.get_context(method)
        p = ctx.Process(target=targets.noop, args=(1, _Holder(lambda: 0)))
        with pytest.raises(Exception, match=r"args\[1\]\.callback: .*<lambda> is not picklable"):
            p.start()
        assert multiprocessing.active_children() == []
        assert p.pid is None

    def test_kwargs_and_target(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        lock = threading.Lock()
        p = ctx.Process(target=targets.noop, kwargs={"lock": lock})
        with pytest.raises(TypeError, match=r"kwargs\['lock'\]: <_thread.lock object>"):
            p.start()
        p = ctx.Process(target=lambda: None)
        with pytest.raises(Exception, match=r"target: .*<lambda> is not picklable"):
            p.start()

    def test_fork_needs_no_pickling(self) -> None:
        p = multiprocessing.get_context("fork").Process(target=lambda: None)
        p.start()
        p.join()
        assert p.exitcode == 0


class TestForkWithThreads:
    """Beyond the stdlib: the fork method warns on every Python, naming the threads.

    Run in fresh interpreters: the test process itself always has other threads.
    """

    SCRIPT = """
        import sys, warnings
        import _mp_targets
        from treadle import multiprocessing, threading
        if __name__ == "__main__":
            stop = threading.Event()
            if sys.argv[1] == "thread":
                t = threading.Thread(target=stop.wait, name="busy-worker")
                t.start()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                p = multiprocessing.get_context("fork").Process(target=_mp_targets.noop)
                p.start()
                p.join()
            stop.set()
            for w in caught:
                print(w.category.__name__, w.filename.endswith("main.py"), w.message)
            sys.exit(p.exitcode)
    """

    def test_warns_naming_threads(self, tmp_path: Path) -> None:
        done = _run_script(tmp_path, self.SCRIPT, "thread")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 1, lines  # 3.12+'s own os.fork warning is not added
        assert lines[0].startswith("DeprecationWarning True ")
        assert "'busy-worker'" in lines[0]

    def test_no_warning_without_threads(self, tmp_path: Path) -> None:
        done = _run_script(tmp_path, self.SCRIPT, "alone")
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""


def _pidfd_or_none(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class TestKillTree:
    """Beyond the stdlib: kill_tree() ends the process and every descendant."""

    @pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc's children")
    def test_kills_every_descendant(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.fork_tree, w, 3)
        got: list[object] = []
        pidfds: list[int] = []
        try:
            # Each level reports the pid of the child it forked; the deepest says "done"
            # (in any order: the levels run concurrently).
            while len(got) < 4:
                assert r.poll(30)
                got.append(r.recv())
            descendants = [x for x in got if isinstance(x, int)]
            assert len(descendants) == 3
            assert "done" in got
            pidfds = [fd for fd in map(_pidfd_or_none, descendants) if fd is not None]
            p.kill_tree()
            assert p.exitcode == -signal.SIGKILL
            for fd in pidfds:
                assert _wait_readable(fd)  # a pidfd is readable once its process ended
        finally:
            p.kill_tree()
            for fd in pidfds:
                os.close(fd)

    def test_after_exit_and_unstarted(self, ctx: Any) -> None:
        p = ctx.Process(target=targets.noop)
        with pytest.raises(ValueError, match="not started"):
            p.kill_tree()
        p.start()
        p.join()
        p.kill_tree()  # already ended: nothing to do
        assert p.exitcode == 0

    def test_does_not_change_process_group(self, ctx: Any, pipe: tuple[Any, Any]) -> None:
        r, w = pipe
        p = _started(ctx, targets.wait_for_signal, w)
        assert r.poll(30)
        assert os.getpgid(p.pid) == os.getpgid(0)
        p.kill_tree()
        assert p.exitcode == -signal.SIGKILL


def _run_script(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "main.py"
    here = str(Path(__file__).resolve().parent)
    script.write_text(f"import sys\nsys.path.insert(0, {here!r})\n" + textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestExit:
    @pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
    def test_non_daemon_children_joined_before_atexit(self, tmp_path: Path, method: str) -> None:
        done = _run_script(
            tmp_path,
            f"""
            import atexit
            import _mp_targets
            from treadle import multiprocessing
            if __name__ == "__main__":
                atexit.register(print, "parent-atexit", flush=True)
                ctx = multiprocessing.get_context({method!r})
                ctx.Process(target=_mp_targets.slow_report).start()
            """,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["child-done", "parent-atexit"]

    @pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
    def test_daemon_children_terminated(self, tmp_path: Path, method: str) -> None:
        done = _run_script(
            tmp_path,
            f"""
            import os
            import _mp_targets
            from treadle import multiprocessing
            if __name__ == "__main__":
                ctx = multiprocessing.get_context({method!r})
                r, w = ctx.Pipe(duplex=False)
                ctx.Process(target=_mp_targets.report_then_pause, args=(w,), daemon=True).start()
                print(r.recv(), flush=True)
            """,
        )
        assert done.returncode == 0, done.stderr
        pid = int(done.stdout.split()[0])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    def test_fork_child_runs_its_own_atexit_handlers(self, tmp_path: Path) -> None:
        done = _run_script(
            tmp_path,
            """
            import atexit, os
            import _mp_targets
            from treadle import multiprocessing
            if __name__ == "__main__":
                atexit.register(os.write, 1, b"parent-atexit\\n")
                p = multiprocessing.get_context("fork").Process(
                    target=_mp_targets.registers_atexit, args=(1,))
                p.start()
                p.join()
                os.write(1, b"joined\\n")
            """,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["child-atexit", "joined", "parent-atexit"]

    def test_exit_hook_leaves_treadle_threading_unloaded(self, tmp_path: Path) -> None:
        # The hook is registered with thread-core, which treadle.threading's own
        # registration uses: loading treadle.threading would add its at-fork reset of the
        # thread registry to every later fork child of a program that never uses it.
        done = _run_script(
            tmp_path,
            """
            import sys
            import _mp_targets
            from treadle import multiprocessing
            if __name__ == "__main__":
                ctx = multiprocessing.get_context("fork")
                p = ctx.Process(target=_mp_targets.noop)
                p.start()
                p.join()
                print("treadle.threading" in sys.modules, p.exitcode)
                ctx.Process(target=_mp_targets.slow_report).start()  # joined at exit
            """,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["False", "0", "child-done"]


class TestForkChildForks:
    def test_bare_fork_in_a_fork_child_drops_the_tracker(self, tmp_path: Path) -> None:
        # The fork Popen's child keeps the resource tracker's descriptor; a bare
        # os.fork() that child makes afterwards does not (3.14's rule), though the child
        # never left the block that let its own fork keep it.
        done = _run_script(
            tmp_path,
            """
            import os
            from treadle import multiprocessing
            from treadle.multiprocessing import resource_tracker

            def child(w):
                kept = resource_tracker._resource_tracker._fd is not None
                pid = os.fork()
                if pid == 0:
                    dropped = resource_tracker._resource_tracker._fd is None
                    os.write(w, f"{kept} {dropped}".encode())
                    os._exit(0)
                os.waitpid(pid, 0)

            if __name__ == "__main__":
                resource_tracker.ensure_running()
                r, w = os.pipe()
                p = multiprocessing.get_context("fork").Process(target=child, args=(w,))
                p.start()
                p.join()
                os.close(w)
                print(os.read(r, 64).decode(), p.exitcode)
            """,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["True", "True", "0"]


class TestModuleFunctions:
    def test_current_and_parent_in_main(self) -> None:
        me = multiprocessing.current_process()
        assert me.name == "MainProcess"
        assert me.pid == os.getpid()
        assert me.is_alive()
        assert multiprocessing.parent_process() is None
        assert isinstance(me.authkey, bytes)
        assert len(me.authkey) == 32

    def test_authkey_refuses_pickling(self) -> None:
        import pickle

        with pytest.raises(TypeError, match="security"):
            pickle.dumps(multiprocessing.current_process().authkey)

    def test_cpu_count(self) -> None:
        assert multiprocessing.cpu_count() == os.cpu_count()

    @pytest.mark.parametrize("how", ["-X", "env"])
    def test_cpu_count_override(self, how: str) -> None:
        env = dict(os.environ)
        args = [sys.executable]
        if how == "-X":
            args += ["-X", "cpu_count=3"]
        else:
            env["PYTHON_CPU_COUNT"] = "3"
        args += ["-c", "from treadle import multiprocessing as m; print(m.cpu_count())"]
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=True)
        assert out.stdout.strip() == "3"


class TestSameAsStdlib:
    """The same behaviour from the stdlib's multiprocessing and from treadle's (``impl``).

    With fork only: the stdlib's spawn and forkserver start its resource tracker, a
    process that outlives the test, which the leak check (rightly) reports.
    """

    @pytest.mark.parametrize("method", ["fork"])
    @pytest.mark.parametrize(("code", "expected"), [(None, 0), (4, 4), ("message", 1)])
    def test_exit_codes(self, impl: Any, method: str, code: object, expected: int) -> None:
        p = impl.get_context(method).Process(target=targets.exit_with, args=(code,))
        p.start()
        p.join()
        assert p.exitcode == expected
        assert "stopped" in repr(p)
        p.close()

    @pytest.mark.parametrize("method", ["fork"])
    def test_terminate_exit_code(self, impl: Any, method: str) -> None:
        ctx = impl.get_context(method)
        r, w = ctx.Pipe(duplex=False)
        with r, w:
            p = ctx.Process(target=targets.wait_for_signal, args=(w,))
            p.start()
            assert r.poll(30)
            p.terminate()
            p.join()
        assert p.exitcode == -signal.SIGTERM
        assert "exitcode=-SIGTERM" in repr(p)

    def test_misuse_errors(self, impl: Any) -> None:
        ctx = impl.get_context("fork")
        p = ctx.Process(target=targets.noop)
        with pytest.raises(AssertionError):
            p.join()
        with pytest.raises(ValueError, match="not started"):
            p.sentinel  # noqa: B018
        p.start()
        with pytest.raises(AssertionError):
            p.start()
        p.join()
        p.close()
        with pytest.raises(ValueError, match="closed"):
            p.is_alive()

    @pytest.mark.stdlib_since((3, 14), "forkserver became the default start method in 3.14")
    def test_default_start_method_is_forkserver(self, impl: Any) -> None:
        assert impl.get_all_start_methods()[0] == "forkserver"
