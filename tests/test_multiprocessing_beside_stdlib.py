"""treadle.multiprocessing beside the stdlib's multiprocessing, in one parent.

Issue 13's "Beside the stdlib": a treadle Process and a stdlib one run in the same
parent; each side's ``active_children()`` and exit-time joining see its own children
only; the stdlib's forkserver and resource tracker keep working after treadle's started.
Every scenario is a script run in a new interpreter (the children must import their
targets from a real file, and the exit-time behaviour only shows when a process ends).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_TARGETS = """
import os

def wait_for_go(conn):
    conn.recv()

def wait_forever(conn):
    conn.send(os.getpid())
    conn.recv()

def say(conn, text):
    conn.send(text)
"""


def _run_script(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "beside_targets.py").write_text(_TARGETS)
    script = tmp_path / "main.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=tmp_path,
    )


def test_each_side_sees_only_its_own_children(tmp_path: Path) -> None:
    done = _run_script(
        tmp_path,
        """
        import multiprocessing as std
        from treadle import multiprocessing as tm
        import beside_targets as t

        if __name__ == "__main__":
            tr, tw = tm.Pipe()
            sr, sw = std.Pipe()
            tp = tm.Process(target=t.wait_forever, args=(tw,))
            sp = std.Process(target=t.wait_forever, args=(sw,))
            tp.start()
            sp.start()
            assert tr.recv() == tp.pid and sr.recv() == sp.pid
            print(tm.active_children() == [tp], std.active_children() == [sp])
            print(tm.get_start_method(), type(tp).__module__, type(sp).__module__)
            tr.send("go")
            sr.send("go")
            tp.join()
            sp.join()
            print(tp.exitcode, sp.exitcode, tm.active_children(), std.active_children())
        """,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "True True"
    assert lines[1].split()[0] == "forkserver"
    assert lines[1].split()[1].startswith("treadle.multiprocessing")
    assert lines[1].split()[2].startswith("multiprocessing")
    assert lines[2] == "0 0 [] []"


@pytest.mark.parametrize("method", ["forkserver", "spawn", "fork"])
def test_each_side_joins_its_children_at_exit(tmp_path: Path, method: str) -> None:
    done = _run_script(
        tmp_path,
        f"""
        import multiprocessing as std
        from treadle import multiprocessing as tm
        import beside_targets as t

        if __name__ == "__main__":
            for ctx in (tm.get_context({method!r}), std.get_context({method!r})):
                mine, theirs = ctx.Pipe()
                child = ctx.Process(target=t.wait_for_go, args=(theirs,))
                child.start()
                daemon_mine, daemon_theirs = ctx.Pipe()
                daemon = ctx.Process(target=t.wait_forever, args=(daemon_theirs,), daemon=True)
                daemon.start()
                daemon_mine.recv()
                mine.send("go")
                print(type(ctx).__module__.split(".")[0], child.pid, daemon.pid, flush=True)
            # Not joined here: each side's exit function waits for its non-daemon child
            # and ends its daemon child, which would otherwise wait for ever.
        """,
    )
    assert done.returncode == 0, done.stderr
    sides = [line.split() for line in done.stdout.splitlines()]
    assert [side[0] for side in sides] == ["treadle", "multiprocessing"]
    for _, child, daemon in sides:  # ended, and reaped by their own side's exit function
        for pid in (int(child), int(daemon)):
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


def test_stdlib_keeps_working_after_treadles_services_started(tmp_path: Path) -> None:
    done = _run_script(
        tmp_path,
        """
        import multiprocessing as std
        from multiprocessing import resource_tracker as std_tracker
        from multiprocessing import shared_memory
        from treadle import multiprocessing as tm
        from treadle.multiprocessing import forkserver, resource_tracker
        import beside_targets as t

        if __name__ == "__main__":
            forkserver.ensure_running()
            resource_tracker.ensure_running()
            codes = []
            for method in ("forkserver", "spawn", "fork"):
                ctx = std.get_context(method)
                r, w = ctx.Pipe()
                p = ctx.Process(target=t.say, args=(w, method))
                p.start()
                assert r.recv() == method
                p.join()
                codes.append(p.exitcode)
            print(*codes)
            # The stdlib's own services: a tracker and a forkserver of their own.
            std_tracker.ensure_running()
            from multiprocessing import forkserver as std_forkserver
            print(std_tracker._resource_tracker._pid != resource_tracker._resource_tracker._pid)
            theirs, ours = std_forkserver._forkserver, forkserver._forkserver
            print(theirs._forkserver_pid != ours._forkserver_pid)
            segment = shared_memory.SharedMemory(create=True, size=16)
            segment.close()
            segment.unlink()
            lock = std.Lock()
            with lock:
                pass
            r, w = tm.Pipe()
            tp = tm.Process(target=t.say, args=(w, "x"))
            tp.start()
            assert r.recv() == "x"
            tp.join()
            print(tp.exitcode)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0", "0", "True", "True", "0"]
    assert "resource_tracker" not in done.stderr  # neither tracker found a leak


def test_treadle_keeps_working_after_the_stdlibs_services_started(tmp_path: Path) -> None:
    done = _run_script(
        tmp_path,
        """
        import multiprocessing as std
        from multiprocessing import forkserver as std_forkserver
        from multiprocessing import resource_tracker as std_tracker
        from treadle import multiprocessing as tm
        import beside_targets as t

        if __name__ == "__main__":
            std_forkserver.ensure_running()
            std_tracker.ensure_running()
            codes = []
            for method in ("forkserver", "spawn", "fork"):
                ctx = tm.get_context(method)
                r, w = ctx.Pipe()
                p = ctx.Process(target=t.say, args=(w, method))
                p.start()
                assert r.recv() == method
                p.join()
                codes.append(p.exitcode)
            print(*codes)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0", "0"]


def test_a_stdlib_child_of_a_treadle_parent_has_no_treadle_tracker_to_leak(
    tmp_path: Path,
) -> None:
    # A stdlib child started while treadle's tracker runs does not keep it alive: the
    # tracker ends (and would report leaks) when the treadle side's processes are gone.
    done = _run_script(
        tmp_path,
        """
        import multiprocessing as std
        from treadle.multiprocessing import resource_tracker
        import beside_targets as t

        if __name__ == "__main__":
            resource_tracker.register("/beside-left", "noop")
            ctx = std.get_context("spawn")
            r, w = ctx.Pipe()
            p = ctx.Process(target=t.say, args=(w, "ok"))
            p.start()
            print(r.recv())
            p.join()
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok"]
    assert "There appear to be 1 leaked noop objects" in done.stderr
    assert os.path.exists(tmp_path / "main.py")
