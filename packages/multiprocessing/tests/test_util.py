"""treadle.multiprocessing.util: finalizers, after-fork hooks, logging and helpers."""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from treadle.multiprocessing import _util, util

pytestmark = pytest.mark.timeout(60)

HERE = str(Path(__file__).resolve().parent)


class _Owner:
    pass


class TestFinalize:
    def test_runs_when_object_dies(self) -> None:
        calls: list[object] = []
        owner = _Owner()
        f = util.Finalize(owner, calls.append, args=("dead",))
        assert f.still_active()
        assert "callback=append" in repr(f)
        del owner
        gc.collect()
        assert calls == ["dead"]
        assert not f.still_active()
        assert repr(f).endswith("dead>")

    def test_call_once_and_cancel(self) -> None:
        calls: list[object] = []
        owner = _Owner()
        f = util.Finalize(owner, calls.append, args=(1,), exitpriority=0)
        assert f() is None
        assert calls == [1]
        assert f() is None
        assert calls == [1]
        g = util.Finalize(owner, calls.append, args=(2,))
        g.cancel()
        g.cancel()
        del owner
        gc.collect()
        assert calls == [1]

    def test_kwargs_and_result(self) -> None:
        owner = _Owner()
        f = util.Finalize(owner, dict, kwargs={"a": 1})
        assert f() == {"a": 1}

    def test_exit_order(self) -> None:
        calls: list[object] = []
        keep = [_Owner() for _ in range(4)]
        util.Finalize(keep[0], calls.append, args=("p10-a",), exitpriority=10)
        util.Finalize(keep[1], calls.append, args=("p10-b",), exitpriority=10)
        util.Finalize(keep[2], calls.append, args=("p0",), exitpriority=0)
        none = util.Finalize(keep[3], calls.append, args=("none",))
        _util._run_finalizers(0)
        # Highest priority first; within one priority the newest first; None never.
        assert calls == ["p10-b", "p10-a", "p0"]
        assert none.still_active()
        none.cancel()

    def test_bad_arguments(self) -> None:
        with pytest.raises(TypeError, match="Exitpriority"):
            util.Finalize(_Owner(), print, exitpriority="high")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="exitpriority cannot be None"):
            util.Finalize(None, print)


def test_register_after_fork_runs_in_fork_child(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            sys.path.insert(0, {HERE!r})
            from treadle import multiprocessing
            from treadle.multiprocessing import util

            class Thing:
                pass

            thing = Thing()
            def hook(obj):
                os.write(1, b"after-fork\\n")
            util.register_after_fork(thing, hook)
            local = util.ForkAwareLocal()
            local.value = 1
            def check():
                os.write(1, b"has-value\\n" if hasattr(local, "value") else b"cleared\\n")
            if __name__ == "__main__":
                p = multiprocessing.get_context("fork").Process(target=check)
                p.start()
                p.join()
                check()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["after-fork", "cleared", "has-value"]


def test_fork_aware_thread_lock() -> None:
    lock = util.ForkAwareThreadLock()
    with lock:
        assert not lock.acquire(False)
    assert lock.acquire()
    lock.release()
    lock._at_fork_reinit()
    assert lock.acquire(False)
    lock.release()


def test_fork_aware_local_pickles_empty() -> None:
    import pickle

    local = util.ForkAwareLocal()
    local.x = 1
    assert not hasattr(pickle.loads(pickle.dumps(local)), "x")


def test_logger() -> None:
    logger = util.get_logger()
    assert logger is util.get_logger()
    assert logger.name == "multiprocessing"
    assert logger.propagate is False
    before = list(logger.handlers)
    level = logger.level
    try:
        assert util.log_to_stderr(logging.INFO) is logger
        assert logger.level == logging.INFO
        assert len(logger.handlers) == len(before) + 1
    finally:
        for handler in logger.handlers[len(before) :]:
            logger.removeHandler(handler)
        logger.setLevel(level)
        _util._log_to_stderr = False


def test_log_helpers_are_quiet_without_logger() -> None:
    for log in (util.sub_debug, util.debug, util.info, util.sub_warning, util.warn):
        log("nothing %s", 1)
    assert (util.SUBDEBUG, util.SUBWARNING) == (5, 25)


def test_log_to_stderr_in_child(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import logging, sys
            sys.path.insert(0, {HERE!r})
            import _mp_targets
            from treadle import multiprocessing
            if __name__ == "__main__":
                multiprocessing.log_to_stderr(logging.INFO)
                p = multiprocessing.get_context("spawn").Process(target=_mp_targets.noop)
                p.start()
                p.join()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "[INFO/SpawnProcess-1] child process calling self.run()" in done.stderr
    assert "[INFO/MainProcess] process shutting down" in done.stderr


def test_is_exiting() -> None:
    assert util.is_exiting() is False


def test_get_temp_dir() -> None:
    path = util.get_temp_dir()
    assert os.path.isdir(path)
    assert os.path.basename(path).startswith("pymp-")
    assert util.get_temp_dir() == path


def test_abstract_namespace() -> None:
    assert util.is_abstract_socket_namespace("\0name")
    assert util.is_abstract_socket_namespace(b"\0name")
    assert not util.is_abstract_socket_namespace("/tmp/x")
    assert not util.is_abstract_socket_namespace(None)
    with pytest.raises(TypeError, match="unrecognized"):
        util.is_abstract_socket_namespace(3)  # type: ignore[arg-type]
    assert util.abstract_sockets_supported == sys.platform.startswith("linux")


def test_close_fds_helpers(tmp_path: Path) -> None:
    a, b = os.pipe()
    util.close_fds(a, b)
    for fd in (a, b):
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(fd)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\n"
            "from treadle.multiprocessing import util\n"
            "r, w = os.pipe()\n"
            "util.close_all_fds_except([0, 1, 2, w])\n"
            "os.fstat(w)\n"
            "try:\n    os.fstat(r)\nexcept OSError:\n    print('closed')\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.split() == ["closed"], done.stderr


def test_spawnv_passfds() -> None:
    r, w = os.pipe()
    try:
        pid = util.spawnv_passfds(
            sys.executable, [sys.executable, "-c", f"import os; os.write({w}, b'hi')"], [w]
        )
        os.close(w)
        w = -1
        assert os.read(r, 10) == b"hi"
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_spawnv_passfds_reports_exec_failure(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")
    with pytest.raises(FileNotFoundError):
        util.spawnv_passfds(missing, [missing], [])


def test_get_temp_dir_after_removal(monkeypatch: pytest.MonkeyPatch) -> None:
    from treadle import multiprocessing

    config = multiprocessing.current_process()._config
    monkeypatch.setitem(config, "tempdir", None)  # what removing it at exit leaves
    path = util.get_temp_dir()
    assert path is not None
    assert os.path.isdir(path)
