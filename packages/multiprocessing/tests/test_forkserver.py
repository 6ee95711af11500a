"""The forkserver: started once, authenticated, preloading, forking one child per request."""

from __future__ import annotations

import os
import select
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from treadle import multiprocessing
from treadle.multiprocessing import connection, forkserver

HERE = str(Path(__file__).parent)


@pytest.fixture
def targets(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The child targets' module, importable by forkserver children (on sys.path)."""
    monkeypatch.syspath_prepend(HERE)
    import _fs_targets  # type: ignore[import-not-found]

    return _fs_targets


@pytest.fixture
def ctx() -> Any:
    """The forkserver context, with its server running."""
    forkserver.ensure_running()
    return multiprocessing.get_context("forkserver")


@pytest.fixture
def server() -> Any:
    """The process's forkserver handle, its server running."""
    forkserver.ensure_running()
    return forkserver._forkserver


def _run(code: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        input=stdin,
    )


def _alive(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG)[0] == 0


# ---------------------------------------------------------------------------------------
# The server.


def test_started_once_and_reused(server: Any) -> None:
    pid, address = server._forkserver_pid, server._forkserver_address
    forkserver.ensure_running()
    assert (server._forkserver_pid, server._forkserver_address) == (pid, address)
    assert _alive(pid)


def test_control_socket_is_private(server: Any) -> None:
    address = server._forkserver_address
    assert isinstance(address, str)
    assert address.startswith("/")  # a filesystem socket (3.14), not the abstract namespace
    assert stat.S_ISSOCK(os.stat(address).st_mode)
    assert stat.S_IMODE(os.stat(address).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(address)).st_mode) == 0o700
    assert len(server._forkserver_authkey) >= 32


def test_a_client_with_the_key_passes_the_handshake(server: Any, ctx: Any, targets: Any) -> None:
    client = connection.Client(server._forkserver_address, authkey=server._forkserver_authkey)
    client.close()  # and leaves without a request: the server goes on
    p = ctx.Process(target=targets.exit_with, args=(0,))
    p.start()
    p.join()
    assert p.exitcode == 0
    p.close()


def test_a_client_without_the_key_is_refused(server: Any, ctx: Any, targets: Any) -> None:
    pid = server._forkserver_pid
    with pytest.raises(multiprocessing.AuthenticationError):
        connection.Client(server._forkserver_address, authkey=b"not the key")
    # A client that skips the handshake and sends a request gets nothing forked.
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(server._forkserver_address)
        r, w = os.pipe()
        try:
            socket.send_fds(raw, [b"TFS1\0\0\0\0"], [r, w])
            raw.shutdown(socket.SHUT_WR)
            replies = b""
            try:
                while chunk := raw.recv(1000):  # until the server hangs up
                    replies += chunk
            except ConnectionResetError:
                pass  # it hung up with our request unread
            # The challenge, maybe the refusal of the "answer", and nothing else (no pid).
            assert replies[4:].startswith(b"#CHALLENGE#{sha256}")
            assert len(replies) in (4 + 59, 4 + 59 + 4 + 9)
        finally:
            os.close(r)
            os.close(w)
    assert server._forkserver_pid == pid
    assert _alive(pid)
    p = ctx.Process(target=targets.exit_with, args=(3,))
    p.start()
    p.join()
    assert p.exitcode == 3
    p.close()


def test_a_wrong_key_makes_start_fail(server: Any, ctx: Any, targets: Any) -> None:
    key = server._forkserver_authkey
    server._forkserver_authkey = b"T" * len(key)
    try:
        p = ctx.Process(target=targets.exit_with, args=(0,))
        with pytest.raises(multiprocessing.AuthenticationError):
            p.start()
    finally:
        server._forkserver_authkey = key
    p = ctx.Process(target=targets.exit_with, args=(0,))
    p.start()
    p.join()
    assert p.exitcode == 0
    p.close()


_HALFWAY = """
    import os, socket, sys
    from treadle.multiprocessing import _forkserver
    address, key = sys.stdin.readline().strip(), bytes.fromhex(sys.stdin.readline())
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(address)
    channel = _forkserver._Framed(sock.fileno())
    from treadle.multiprocessing._auth import answer_challenge, deliver_challenge
    answer_challenge(channel, key)
    if sys.argv[1] == "auth":
        deliver_challenge(channel, key)
    print("ready", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.parametrize("stage", ["auth", "answer"])
def test_survives_a_client_killed_mid_request(
    server: Any, ctx: Any, targets: Any, stage: str
) -> None:
    pid = server._forkserver_pid
    client = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HALFWAY), stage],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdin is not None
        assert client.stdout is not None
        client.stdin.write(f"{server._forkserver_address}\n{server._forkserver_authkey.hex()}\n")
        client.stdin.flush()
        assert client.stdout.readline() == "ready\n"
        client.kill()
    finally:
        client.wait()
        client.stdin.close()  # type: ignore[union-attr]
        client.stdout.close()  # type: ignore[union-attr]
    assert _alive(pid)
    p = ctx.Process(target=targets.exit_with, args=(5,))
    p.start()
    p.join()
    assert p.exitcode == 5
    assert server._forkserver_pid == pid
    p.close()


def test_a_killed_server_is_replaced(server: Any, ctx: Any, targets: Any) -> None:
    r, w = ctx.Pipe(duplex=False)
    running = ctx.Process(target=targets.wait_forever, args=(w,))
    running.start()
    child = r.recv()
    pid = server._forkserver_pid
    os.kill(pid, signal.SIGKILL)
    running.join()
    assert running.exitcode == 255  # the server died before it could say
    os.kill(child, signal.SIGKILL)  # the orphan: not ours to reap
    p = ctx.Process(target=targets.exit_with, args=(0,))
    p.start()
    p.join()
    assert p.exitcode == 0
    assert server._forkserver_pid not in (None, pid)
    for obj in (running, p, r, w):
        obj.close()


def test_sigint_does_not_stop_the_server(server: Any, ctx: Any, targets: Any) -> None:
    pid = server._forkserver_pid
    os.kill(pid, signal.SIGINT)
    p = ctx.Process(target=targets.exit_with, args=(0,))
    p.start()
    p.join()
    assert p.exitcode == 0
    assert server._forkserver_pid == pid
    assert _alive(pid)
    p.close()


def test_stop_waits_for_the_server_and_removes_its_socket() -> None:
    mine = forkserver.ForkServer()
    mine.ensure_running()
    pid, address = mine._forkserver_pid, mine._forkserver_address
    assert pid is not None
    mine._stop()
    assert mine._forkserver_pid is None
    assert address is not None
    assert not os.path.exists(os.path.dirname(address))
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_the_server_ends_with_its_parent() -> None:
    code = """
        import os, signal
        from treadle.multiprocessing import forkserver
        forkserver.ensure_running()
        print(forkserver._forkserver._forkserver_pid, forkserver._forkserver._forkserver_address)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    done = _run(code)
    pid, address = done.stdout.split()
    # Its output pipes closed, so the server ended; its socket's directory went with it.
    assert not os.path.exists(os.path.dirname(address))
    try:
        watch = os.pidfd_open(int(pid))
    except ProcessLookupError:
        return  # ended and reaped already
    try:
        assert select.select([watch], [], [], 30.0)[0] == [watch]  # readable: it ended
    finally:
        os.close(watch)


@pytest.mark.parametrize(
    ("value", "message"),
    [(["ok", 1], "module_names must be a list of strings"), ("json", "list of strings")],
)
def test_set_forkserver_preload_checks_its_argument(value: object, message: str) -> None:
    before = forkserver._forkserver._preload_modules
    with pytest.raises(TypeError, match=message):
        forkserver.set_forkserver_preload(value)  # type: ignore[arg-type]
    assert forkserver._forkserver._preload_modules == before


def test_preloaded_modules_and_main(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {HERE!r})
        import _fs_targets
        from treadle import multiprocessing

        MARK = "imported as " + __name__
        print("importing", __name__)  # once here, once in the server: never in a child

        if __name__ == "__main__":
            multiprocessing.set_forkserver_preload(["__main__", "colorsys", "no_such_mod_x"])
            r, w = multiprocessing.Pipe(duplex=False)
            names = ["colorsys", "__mp_main__", "no_such_mod_x"]
            p = multiprocessing.Process(target=_fs_targets.report_modules, args=(w, names))
            p.start()
            print(sorted(k for k, v in r.recv().items() if v))
            p.join()
            print(sys.modules["__main__"].MARK, p.exitcode)
        """)
    )
    done = subprocess.run(
        [sys.executable, str(script), "an-argument"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.splitlines() == [
        "importing __main__",
        "importing __mp_main__",
        "['__mp_main__', 'colorsys']",
        "imported as __main__ 0",
    ], done.stderr


def test_a_preload_without_main_is_found_on_the_clients_sys_path(tmp_path: Path) -> None:
    # The client added a folder to sys.path at run time; the server, preloading a module
    # from there (and not __main__), searches the client's path (3.14).
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "preloaded_from_extra.py").write_text("VALUE = 1\n")
    script = tmp_path / "prog.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {HERE!r})
        sys.path.insert(0, {str(extra)!r})
        import _fs_targets
        from treadle import multiprocessing

        if __name__ == "__main__":
            multiprocessing.set_forkserver_preload(["preloaded_from_extra"])
            r, w = multiprocessing.Pipe(duplex=False)
            ctx = multiprocessing.get_context("forkserver")
            p = ctx.Process(
                target=_fs_targets.report_modules, args=(w, ["preloaded_from_extra"])
            )
            p.start()
            print(r.recv())
            p.join()
            print(p.exitcode)
        """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.splitlines() == ["{'preloaded_from_extra': True}", "0"], done.stderr


def test_server_carries_no_needless_modules(tmp_path: Path) -> None:
    # Each child is a copy of the server: what the server loads, every child copies and
    # resets at fork. pickle is loaded once there (each child reads its payload with it).
    script = tmp_path / "prog.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {HERE!r})
        import _fs_targets
        from treadle import multiprocessing

        if __name__ == "__main__":
            r, w = multiprocessing.Pipe(duplex=False)
            names = ["pickle", "shutil", "tempfile", "treadle.threading"]
            ctx = multiprocessing.get_context("forkserver")
            p = ctx.Process(target=_fs_targets.report_modules, args=(w, names))
            p.start()
            print(sorted(k for k, v in r.recv().items() if v))
            p.join()
            print(p.exitcode)
        """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.splitlines() == ["['pickle']", "0"], done.stderr


# ---------------------------------------------------------------------------------------
# Processes through the forkserver.


def test_exit_codes(ctx: Any, targets: Any) -> None:
    p = ctx.Process(target=targets.exit_with, args=(7,))
    assert [p.exitcode] == [None]  # (a list: mypy would narrow the attribute)
    p.start()
    assert isinstance(p.pid, int)
    assert p.pid != os.getpid()
    p.join()
    assert p.exitcode == 7
    assert not p.is_alive()
    p.close()


@pytest.mark.parametrize(
    ("how", "code"),
    [("terminate", -signal.SIGTERM), ("kill", -signal.SIGKILL), ("interrupt", 1)],
)
def test_stopping_a_child(ctx: Any, targets: Any, how: str, code: int) -> None:
    r, w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=targets.wait_forever, args=(w,))
    p.start()
    assert r.recv() == p.pid
    assert p.is_alive()
    assert [p.exitcode] == [None]  # (a list: mypy would narrow the attribute)
    getattr(p, how)()
    p.join()
    assert p.exitcode == code
    for obj in (p, r, w):
        obj.close()


def test_join_with_timeout_and_sentinel(ctx: Any, targets: Any) -> None:
    r, w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=targets.wait_forever, args=(w,))
    p.start()
    r.recv()
    p.join(0.01)
    assert [p.exitcode] == [None]  # (a list: mypy would narrow the attribute)
    assert connection.wait([p.sentinel], 0) == []
    p.kill()
    assert connection.wait([p.sentinel]) == [p.sentinel]
    p.join()
    assert p.exitcode == -signal.SIGKILL
    for obj in (p, r, w):
        obj.close()


def test_descriptors_reach_the_child_under_their_numbers(ctx: Any, targets: Any) -> None:
    r, w = os.pipe()
    high = os.dup2(w, 517, inheritable=False)  # a number the child cannot have by chance
    os.close(w)
    try:
        p = ctx.Process(target=targets.write_to_fd, args=(targets.FdBox(high), b"hello"))
        p.start()
        p.join()
        assert p.exitcode == 0
        os.close(high)
        high = -1
        assert os.read(r, 100) == b"hello"
        p.close()
    finally:
        os.close(r)
        if high != -1:
            os.close(high)


def test_services_are_listed_for_the_leak_check(server: Any) -> None:
    from treadle.multiprocessing import _services

    pids, fds = _services.live()
    assert server._forkserver_pid in pids
    assert server._forkserver_alive_fd in fds


def test_a_child_of_each_start_method_uses_a_forkserver_of_its_own(tmp_path: Path) -> None:
    script = tmp_path / "nested.py"
    script.write_text(
        textwrap.dedent("""
        from treadle import multiprocessing as mp
        from treadle.multiprocessing import forkserver

        def leaf(w):
            w.send("leaf")

        def middle(w, parents_server):
            p = mp.get_context("forkserver").Process(target=leaf, args=(w,))
            p.start()
            p.join()
            mine = forkserver._forkserver._forkserver_pid
            w.send((p.exitcode, mine not in (None, parents_server)))

        if __name__ == "__main__":
            forkserver.ensure_running()
            server = forkserver._forkserver._forkserver_pid
            for method in ("forkserver", "spawn", "fork"):
                ctx = mp.get_context(method)
                r, w = ctx.Pipe()
                p = ctx.Process(target=middle, args=(w, server))
                p.start()
                print(method, r.recv(), *r.recv())
                p.join()
                print(method, p.exitcode)
        """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.splitlines() == [
        "forkserver leaf 0 True",
        "forkserver 0",
        "spawn leaf 0 True",
        "spawn 0",
        "fork leaf 0 True",
        "fork 0",
    ], done.stderr
