"""The resource tracker: one process per tree that removes what dead processes left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.multiprocessing import resource_tracker
from treadle.multiprocessing._tracker import MESSAGE_MAX, ResourceTracker

HERE = str(Path(__file__).parent)
SHM = Path("/dev/shm")


@pytest.fixture
def tracker() -> Iterator[ResourceTracker]:
    """A tracker of its own (the module's one may serve the rest of the session)."""
    mine = ResourceTracker()
    yield mine
    mine._stop()


def _run(code: str) -> subprocess.CompletedProcess[str]:
    # The output is complete only when every holder of its pipes (the tracker too) exits.
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_ensure_running_reuses_the_tracker(tracker: ResourceTracker) -> None:
    tracker.ensure_running()
    pid, fd = tracker._pid, tracker._fd
    assert pid is not None
    assert fd is not None
    tracker.ensure_running()
    assert (tracker._pid, tracker._fd) == (pid, fd)
    assert tracker.getfd() == fd
    assert tracker._check_alive()


def test_clean_exit_and_leak_exit_codes(tracker: ResourceTracker) -> None:
    tracker.register("kept", "dummy")
    tracker.register("gone", "dummy")
    tracker.unregister("gone", "dummy")
    assert [tracker._exitcode] == [None]  # (a list: mypy would narrow the attribute)
    tracker._stop()
    assert tracker._exitcode == 1  # 'kept' was left
    assert tracker._pid is None
    assert not tracker._check_alive()
    tracker.register("gone", "dummy")
    tracker.unregister("gone", "dummy")
    tracker._stop()
    assert tracker._exitcode == 0


def test_bad_input_is_reported_and_survived(
    tracker: ResourceTracker, capfd: pytest.CaptureFixture[str]
) -> None:
    tracker.ensure_running()
    fd = tracker._fd
    assert fd is not None
    os.write(fd, b"garbage\n")
    os.write(fd, b"+no-such-type:x\n")
    os.write(fd, b"-noop:never-registered\n")
    os.write(fd, b"+noop:" + b"x" * (2 * MESSAGE_MAX) + b"\n")
    assert tracker._check_alive()
    tracker._stop()
    assert tracker._exitcode == 3
    err = capfd.readouterr().err
    assert "malformed message b'garbage\\n'" in err
    assert "unknown resource type 'no-such-type'" in err
    assert "noop 'never-registered' was never registered" in err
    assert f"longer than {MESSAGE_MAX} bytes" in err


def test_leftovers_are_reported(
    tracker: ResourceTracker, capfd: pytest.CaptureFixture[str]
) -> None:
    tracker.register("/left:with colon", "noop")
    tracker.register("/quiet", "dummy")
    tracker._stop()
    assert tracker._exitcode == 1
    err = capfd.readouterr().err
    assert "UserWarning: resource_tracker: There appear to be 1 leaked noop objects" in err
    assert "'/left:with colon'" in err
    assert "dummy" not in err


@pytest.mark.parametrize(
    ("name", "rtype", "error"),
    [
        ("a" * (MESSAGE_MAX - len("shared_memory")), "shared_memory", ValueError),
        ("two\nlines", "noop", ValueError),
        ("nul\0", "noop", ValueError),
        ("x", "no:colon", ValueError),
        ("x", "", ValueError),
        (b"x", "noop", TypeError),
        ("x", None, TypeError),
    ],
)
def test_bad_arguments(tracker: ResourceTracker, name: object, rtype: object, error: type) -> None:
    with pytest.raises(error, match=r"name|rtype"):
        tracker.register(name, rtype)  # type: ignore[arg-type]
    with pytest.raises(error, match=r"name|rtype"):
        tracker.unregister(name, rtype)  # type: ignore[arg-type]
    assert tracker._fd is None  # nothing was started for a refused message


def test_a_dead_tracker_is_restarted_with_a_warning(tracker: ResourceTracker) -> None:
    tracker.ensure_running()
    pid = tracker._pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # dead for sure (the tracker is our child)
    with pytest.warns(UserWarning, match="resource_tracker: process died unexpectedly"):
        tracker.register("x", "dummy")
    assert tracker._pid not in (None, pid)
    assert tracker._check_alive()
    tracker.unregister("x", "dummy")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_tracker_ignores_interrupt_and_terminate(tracker: ResourceTracker, signum: int) -> None:
    tracker.register("x", "dummy")
    assert tracker._pid is not None
    os.kill(tracker._pid, signum)
    tracker.unregister("x", "dummy")
    tracker._stop()
    assert tracker._exitcode == 0  # it read every message, then ended on end of file


def test_the_callers_signal_mask_is_kept(tracker: ResourceTracker) -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    tracker.ensure_running()
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before


def test_public_module_names_what_cpythons_tests_reach() -> None:
    assert isinstance(resource_tracker._resource_tracker, resource_tracker.ResourceTracker)
    # 'dummy' is taken by the tracker but not listed: 3.10-3.12's tests try every listed
    # type but 'noop' with real resources.
    assert set(resource_tracker._CLEANUP_FUNCS) == {"noop", "semaphore", "shared_memory"}
    assert resource_tracker.ResourceTracker.__module__ == "treadle.multiprocessing.resource_tracker"


def _named_semaphore(name: str) -> str:
    return f"""
        import _multiprocessing
        sem = _multiprocessing.SemLock(1, 1, 1, {name!r}, False)
        """


def _segment(name: str) -> str:
    return f"""
        import _posixshmem
        os.close(_posixshmem.shm_open({name!r}, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        """


@pytest.mark.parametrize(
    ("rtype", "make", "path"),
    [
        ("semaphore", _named_semaphore, "sem.{}"),
        ("shared_memory", _segment, "{}"),
        ("noop", lambda name: "", None),
    ],
)
def test_resources_of_a_killed_process_are_removed_and_reported(
    rtype: str, make: object, path: str | None
) -> None:
    tag = f"treadle-rt-{uuid.uuid4().hex[:12]}"
    names = [f"/{tag}-1", f"/{tag}-2"]
    creation = "".join(textwrap.dedent(make(name)) for name in names)  # type: ignore[operator]
    code = f"""
        import os, signal
        from treadle.multiprocessing import resource_tracker
        {textwrap.indent(creation, "        ").strip()}
        for name in {names!r}:
            resource_tracker.register(name, {rtype!r})
        print(resource_tracker._resource_tracker._pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    try:
        done = _run(code)
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert done.stdout.strip().isdigit()
        assert f"resource_tracker: There appear to be 2 leaked {rtype} objects" in done.stderr
        for name in names:
            assert repr(name) in done.stderr
            if path is not None:
                assert not (SHM / path.format(name[1:])).exists()
    finally:
        if path is not None:
            for name in names:
                (SHM / path.format(name[1:])).unlink(missing_ok=True)


def test_a_failed_removal_is_reported() -> None:
    name = f"/treadle-rt-{uuid.uuid4().hex[:12]}-absent"
    code = f"""
        import os, signal
        from treadle.multiprocessing import resource_tracker
        resource_tracker.register({name!r}, "shared_memory")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    done = _run(code)
    assert f"resource_tracker: {name!r}: [Errno" in done.stderr


def test_a_raw_fork_child_lets_go_of_the_tracker() -> None:
    code = """
        import os
        from treadle.multiprocessing import resource_tracker
        tracker = resource_tracker._resource_tracker
        tracker.ensure_running()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, b"closed" if tracker._fd is None else b"kept")
            os._exit(0)
        os.close(w)
        print(os.read(r, 10).decode())
        os.waitpid(pid, 0)
        tracker._stop(wait_timeout=30.0)
        print(tracker._waitpid_timed_out, tracker._exitcode)
        """
    done = _run(code)
    assert done.stdout.split() == ["closed", "False", "0"], done.stderr


def test_a_second_process_tree_gets_its_own_tracker() -> None:
    code = """
        from treadle.multiprocessing import resource_tracker
        resource_tracker.ensure_running()
        print(resource_tracker._resource_tracker._pid)
        """
    first, second = _run(code), _run(code)
    assert first.stdout.strip() != second.stdout.strip()


def test_children_of_each_start_method_share_the_tracker(start_method: str) -> None:
    code = f"""
        import sys
        sys.path.insert(0, {HERE!r})
        import _fs_targets
        from treadle import multiprocessing
        from treadle.multiprocessing import resource_tracker

        if __name__ == "__main__":
            ctx = multiprocessing.get_context({start_method!r})
            resource_tracker.ensure_running()
            r, w = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_fs_targets.report_tracker, args=(w,))
            p.start()
            print(*r.recv())
            p.join()
            print(p.exitcode)
        """
    done = _run(code)
    assert done.stdout.split() == ["True", "True", "True", "True", "0"], done.stderr
    assert "resource_tracker" not in done.stderr
