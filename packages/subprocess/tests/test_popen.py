"""Popen: pipes, communicate, wait/poll, signals, bad input, the leak guarantees."""

from __future__ import annotations

import errno
import io
import os
import signal
import stat
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from treadle import subprocess
from treadle.subprocess import _native

PY = sys.executable
SLEEPER = [
    PY,
    "-c",
    "import sys, time; sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(60)",
]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    p = subprocess.Popen(SLEEPER, stdout=subprocess.PIPE)
    assert p.stdout is not None
    assert p.stdout.readline() == b"ready\n"  # the child runs: synchronised, no sleep
    try:
        yield p
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


def test_communicate_all_pipes_large(impl: Any) -> None:
    code = (
        "import sys; d = sys.stdin.buffer.read(); "
        "sys.stdout.buffer.write(d); sys.stderr.buffer.write(d[:10])"
    )
    data = os.urandom(1 << 20)
    with impl.Popen([PY, "-c", code], stdin=impl.PIPE, stdout=impl.PIPE,
                          stderr=impl.PIPE) as p:  # fmt: skip
        out, err = p.communicate(data)
    assert out == data
    assert err == data[:10]
    assert p.returncode == 0
    assert p.stdout is not None
    assert p.stdout.closed


def test_communicate_timeout_is_resumable_with_partial_output(impl: Any) -> None:
    release_r, release_w = os.pipe()
    code = f"import os; print('first', flush=True); os.read({release_r}, 1); print('second')"
    try:
        with impl.Popen([PY, "-c", code], stdout=impl.PIPE, pass_fds=[release_r], text=True) as p:
            partial = None
            timeouts = set()
            for _ in range(1000):  # until the partial output shows the child's first line
                try:
                    p.communicate(timeout=0.01)
                except impl.TimeoutExpired as exc:
                    timeouts.add(exc.timeout)
                    partial = exc.stdout
                if partial == b"first\n":
                    break
            assert partial == b"first\n"
            assert timeouts == {0.01}
            os.write(release_w, b"x")
            out, err = p.communicate()
    finally:
        os.close(release_r)
        os.close(release_w)
    assert out == "first\nsecond\n"
    assert err is None


def test_communicate_input_after_start_is_refused(sleeper: subprocess.Popen[bytes]) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.communicate(timeout=0.05)
    with pytest.raises(ValueError, match="Cannot send input"):
        sleeper.communicate(b"late")


def test_text_modes(impl: Any) -> None:
    with impl.Popen(["cat"], stdin=impl.PIPE, stdout=impl.PIPE,
                          universal_newlines=True) as p:  # fmt: skip
        assert isinstance(p.stdin, io.TextIOWrapper)
        assert p.universal_newlines
        out, _ = p.communicate("a\r\nb\rc\n")
    assert out == "a\nb\nc\n"
    with pytest.raises(impl.SubprocessError, match="disambiguate"):
        impl.Popen(["true"], text=True, universal_newlines=False)
    with impl.Popen(["true"], stdout=impl.PIPE, encoding="utf-8") as p:
        assert p.text_mode
        assert p.encoding == "utf-8"


def test_bufsize_checks(impl: Any) -> None:
    with pytest.raises(TypeError, match="bufsize"):
        impl.Popen(["true"], bufsize="1")
    with (
        pytest.warns(RuntimeWarning, match="line buffering"),
        impl.Popen(["true"], stdout=impl.PIPE, bufsize=1) as p,
    ):
        p.communicate()


def test_wait_poll_and_returncode(sleeper: subprocess.Popen[bytes]) -> None:
    assert sleeper.poll() is None
    with pytest.raises(subprocess.TimeoutExpired) as info:
        sleeper.wait(timeout=0.05)
    assert info.value.timeout == 0.05
    sleeper.terminate()
    assert sleeper.wait(timeout=30) == -signal.SIGTERM
    assert sleeper.poll() == -signal.SIGTERM
    sleeper.send_signal(signal.SIGKILL)  # reaped already: silently nothing
    assert "returncode: -15" in repr(sleeper)


@pytest.mark.skipif(not _native.HAVE_PIDFD, reason="no os.pidfd_open")
def test_wait_timeout_uses_pidfd(
    sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real = _native.pidfd_open

    def spy(pid: int) -> int | None:
        fd = real(pid)
        if fd is not None:
            opened.append(pid)
        return fd

    monkeypatch.setattr(_native, "pidfd_open", spy)
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)  # any poll loop would show
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=0.1)
    if not opened:
        pytest.skip("the kernel refuses pidfd_open")
    assert opened == [sleeper.pid]
    assert slept == []
    sleeper.kill()
    assert sleeper.wait(timeout=30) == -signal.SIGKILL
    assert slept == []


def test_wait_without_pidfd_falls_back(
    sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_native, "pidfd_open", lambda pid: None)
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=0.05)
    sleeper.kill()
    assert sleeper.wait(timeout=30) == -signal.SIGKILL


def test_context_manager_waits_and_closes(impl: Any) -> None:
    with impl.Popen(["echo", "x"], stdout=impl.PIPE) as p:
        assert p.stdout is not None
        assert p.stdout.read() == b"x\n"
    assert p.returncode == 0
    assert p.stdout.closed


def test_del_of_running_child_warns(sleeper: subprocess.Popen[bytes]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sleeper.__del__()
    assert any(issubclass(w.category, ResourceWarning) and "is still running" in str(w.message)
               for w in caught)  # fmt: skip
    active: Any = subprocess._active
    assert sleeper in active
    active.remove(sleeper)


def test_audit_event_is_raised() -> None:
    code = (
        "import sys\n"
        "from treadle import subprocess\n"
        "seen = []\n"
        "hook = lambda ev, args: seen.append(args) if ev == 'subprocess.Popen' else None\n"
        "sys.addaudithook(hook)\n"
        "subprocess.run(['true'], cwd='/')\n"
        "print(seen[0][0], seen[0][1], seen[0][2])\n"
    )
    out = subprocess.check_output([PY, "-c", code], text=True)
    assert out == "true ['true'] /\n"


def test_popen_arguments_in_child(tmp_path: Path) -> None:
    code = (
        "import os; print(os.getcwd(), os.environ.get('TV'), "
        "os.getpgid(0) == os.getpid(), oct(os.umask(0)))"
    )
    out = subprocess.check_output(
        [PY, "-c", code], cwd=tmp_path, env={"TV": "1", "PATH": os.environ.get("PATH", "")},
        process_group=0, umask=0o027, text=True,
    )  # fmt: skip
    assert out.split() == [str(tmp_path.resolve()), "1", "True", "0o27"]
    out = subprocess.check_output([PY, "-c", "import os; print(os.getsid(0) == os.getpid())"],
                                  start_new_session=True, text=True)  # fmt: skip
    assert out == "True\n"


def test_pass_fds_and_close_fds() -> None:
    r, w = os.pipe()
    try:
        code = f"import os; os.write({w}, b'hello')"
        subprocess.check_call([PY, "-c", code], pass_fds=[w])
        assert os.read(r, 5) == b"hello"
        with pytest.raises(subprocess.CalledProcessError):
            subprocess.check_call([PY, "-c", code], stderr=subprocess.DEVNULL)  # closed by default
        with pytest.warns(RuntimeWarning, match="pass_fds overriding close_fds"):
            subprocess.check_call([PY, "-c", code], pass_fds=[w], close_fds=False)
    finally:
        os.close(r)
        os.close(w)


def test_stderr_to_stdout_and_devnull_and_fileobj(impl: Any, tmp_path: Path) -> None:
    out = impl.check_output("echo a; echo b >&2", shell=True, stderr=impl.STDOUT)
    assert sorted(out.split()) == [b"a", b"b"]
    with open(tmp_path / "f", "wb") as f:
        impl.check_call(["echo", "file"], stdout=f, stderr=impl.DEVNULL)
        impl.check_call(["echo", "fd"], stdout=f.fileno())
    assert (tmp_path / "f").read_bytes() == b"file\nfd\n"


def test_stream_without_fileno_is_a_type_error_naming_it() -> None:
    # The stdlib lets the AttributeError from .fileno() out.
    for name in ("stdin", "stdout", "stderr"):
        with pytest.raises(TypeError, match=f"{name} must be PIPE, DEVNULL"):
            subprocess.Popen(["true"], **{name: object()})  # type: ignore[call-overload]


def test_pipesize() -> None:
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("no F_GETPIPE_SZ")
    with subprocess.Popen(
        ["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, pipesize=8192
    ) as p:
        assert p.stdin is not None
        assert p.stdout is not None
        assert fcntl.fcntl(p.stdin.fileno(), fcntl.F_GETPIPE_SZ) == 8192
        p.communicate()


# -- bad input: the right exception and nothing left behind (the plugin checks) ---------


def _fds() -> set[int]:
    """The open descriptors, less the one that lists them (its number varies)."""
    if not os.path.isdir("/proc/self/fd"):
        return set()
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the listing's own descriptor, closed by now
        if not target.startswith(f"/proc/{os.getpid()}/fd"):
            found.add(int(name))
    return found


@pytest.mark.parametrize("pipes", [False, True])
def test_missing_program(pipes: bool) -> None:
    before = _fds()
    kw: dict[str, Any] = (
        {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        if pipes
        else {}
    )
    with pytest.raises(FileNotFoundError) as info:
        subprocess.Popen(["/nonexistent/treadle-prog"], **kw)
    assert info.value.filename == "/nonexistent/treadle-prog"
    with pytest.raises(FileNotFoundError) as info:
        subprocess.run(["treadle-no-such-program-xyz"], capture_output=True)
    assert info.value.filename == "treadle-no-such-program-xyz"
    assert _fds() == before


def test_bad_cwd(impl: Any) -> None:
    before = _fds()
    with pytest.raises(FileNotFoundError) as info:
        impl.run(["true"], cwd="/nonexistent-dir", stdout=impl.PIPE)
    assert info.value.filename == "/nonexistent-dir"
    assert _fds() == before


def test_non_executable_file(impl: Any) -> None:
    before = _fds()
    with tempfile.NamedTemporaryFile(suffix=".sh") as f:
        os.chmod(f.name, stat.S_IRUSR | stat.S_IWUSR)
        with pytest.raises(PermissionError) as info:
            impl.run([f.name], stdout=impl.PIPE, stderr=impl.PIPE)
    assert info.value.filename == f.name
    assert info.value.errno == errno.EACCES
    assert _fds() == before


def test_pass_fds_with_closed_descriptor() -> None:
    before = _fds()
    closed = max(before | {100}) + 50  # above every open descriptor, so not reused below
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        subprocess.run(["true"], pass_fds=[closed], stdout=subprocess.PIPE)
    assert info.value.errno == errno.EBADF
    assert _fds() == before


def test_bad_env_and_args(impl: Any) -> None:
    with pytest.raises(ValueError, match="illegal environment variable name"):
        impl.run(["true"], env={"A=B": "1"})
    with pytest.raises(ValueError, match="null"):
        impl.run(["tr\0ue"])
    with pytest.raises(TypeError, match="path-like"):
        impl.run(Path("/bin/true"), shell=True)
    with pytest.raises(ValueError, match="Windows"):
        impl.Popen(["true"], creationflags=1)
    with pytest.raises(ValueError, match="Windows"):
        impl.Popen(["true"], startupinfo=object())


def test_bad_user_and_groups(impl: Any) -> None:
    with pytest.raises(ValueError, match="User ID cannot be negative"):
        impl.Popen(["true"], user=-1)
    with pytest.raises(TypeError, match="User must be"):
        impl.Popen(["true"], user=1.5)
    with pytest.raises(ValueError, match="Group ID cannot be negative"):
        impl.Popen(["true"], group=-2)
    with pytest.raises(TypeError, match="Group must be"):
        impl.Popen(["true"], group=[])
    with pytest.raises(TypeError, match="extra_groups"):
        impl.Popen(["true"], extra_groups=[1.5])
    with pytest.raises(KeyError):
        impl.Popen(["true"], user="treadle-no-such-user")


def test_preexec_fn_failure(impl: Any) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(impl.SubprocessError, match="preexec_fn"):
        impl.run(["true"], preexec_fn=boom, stdout=impl.PIPE)


def test_path_like_args_and_executable(impl: Any, tmp_path: Path) -> None:
    assert impl.run(Path("/bin/true")).returncode == 0
    out = impl.check_output(["argv0", "-c", "echo $0"], executable="/bin/sh", text=True)
    assert out == "argv0\n"
    out = impl.check_output("echo $0", shell=True, executable="/bin/sh", text=True)
    assert out == "/bin/sh\n"


def test_unsupported_platform_raises_clear_oserror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_native, "MSWINDOWS", True)
    before = _fds()
    with pytest.raises(OSError, match="only POSIX systems are supported") as info:
        subprocess.run(["true"], capture_output=True)
    assert info.value.errno == errno.ENOSYS
    assert _fds() == before


def test_concurrent_waits_from_threads(sleeper: subprocess.Popen[bytes]) -> None:
    from treadle import threading

    results: list[int] = []
    started = threading.Barrier(4)

    def waiter(timeout: float | None) -> None:
        started.wait()
        results.append(sleeper.wait(timeout=timeout))

    threads = [threading.Thread(target=waiter, args=(t,)) for t in (None, 30, 30)]
    for t in threads:
        t.start()
    started.wait()
    sleeper.kill()
    for t in threads:
        t.join()
    assert results == [-signal.SIGKILL] * 3


def test_path_search_follows_changes_to_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The search list for a bare name is cached per (name, PATH): a new PATH must be seen.
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        script = folder / "treadle-which-dir"
        script.write_text(f"#!/bin/sh\necho {name}\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "first"))
    assert subprocess.check_output(["treadle-which-dir"]) == b"first\n"
    monkeypatch.setenv("PATH", f"{tmp_path / 'second'}{os.pathsep}{tmp_path / 'first'}")
    assert subprocess.check_output(["treadle-which-dir"]) == b"second\n"
    monkeypatch.delenv("PATH")
    with pytest.raises(FileNotFoundError):
        subprocess.check_output(["treadle-which-dir"])


def _script(folder: Path, name: str, text: str, mode: int = 0o755) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\necho {text}\n")
    script.chmod(mode)


def test_path_search_sees_a_program_added_to_an_earlier_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The search runs on every call (only the list of candidates is cached).
    _script(tmp_path / "late", "treadle-path-prog", "late")
    (tmp_path / "early").mkdir()
    monkeypatch.setenv("PATH", f"{tmp_path / 'early'}{os.pathsep}{tmp_path / 'late'}")
    assert subprocess.check_output(["treadle-path-prog"]) == b"late\n"
    _script(tmp_path / "early", "treadle-path-prog", "early")
    assert subprocess.check_output(["treadle-path-prog"]) == b"early\n"


def test_path_search_relative_entry_is_resolved_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "bin" in PATH means cwd/bin for the child, not the parent's bin.
    _script(tmp_path / "work" / "bin", "treadle-rel-prog", "relative")
    _script(tmp_path / "fallback", "treadle-rel-prog", "fallback")
    monkeypatch.setenv("PATH", f"bin{os.pathsep}{tmp_path / 'fallback'}")
    monkeypatch.chdir(tmp_path)
    out = subprocess.check_output(["treadle-rel-prog"], cwd=tmp_path / "work")
    assert out == b"relative\n"


def test_path_search_non_executable_match_is_skipped_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An existing but non-executable candidate is still tried by the child (and fails),
    # so a later executable one runs; with no later one, PermissionError as in the stdlib.
    # (Root too: execve wants at least one execute bit, whatever the capabilities.)
    _script(tmp_path / "a", "treadle-perm-prog", "a", mode=0o644)
    _script(tmp_path / "b", "treadle-perm-prog", "b")
    monkeypatch.setenv("PATH", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    assert subprocess.check_output(["treadle-perm-prog"]) == b"b\n"
    monkeypatch.setenv("PATH", str(tmp_path / "a"))
    with pytest.raises(PermissionError):
        subprocess.check_output(["treadle-perm-prog"])


def test_communicate_keeps_bytes_already_buffered(impl: Any) -> None:
    # communicate() after a partial read returns the rest, buffered bytes included.
    code = "import sys; sys.stdout.buffer.write(b'x' * 300000 + b'end')"
    with impl.Popen([PY, "-c", code], stdout=impl.PIPE) as p:
        assert p.stdout is not None
        assert p.stdout.read(5) == b"xxxxx"
        out, err = p.communicate()
    assert err is None
    assert out == b"x" * 299995 + b"end"
