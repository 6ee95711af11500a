"""treadle's shared pytest plugin: a test fails when it leaves something behind.

Every test of every treadle package (and of ``tests/``) runs inside a check that
compares the process before and after the test, fixtures included:

* OS threads of this process (``/proc/self/task``), whoever started them;
* child processes, running or zombie (``/proc/*/stat`` whose parent is us);
* open file descriptors (``/proc/self/fd``);
* POSIX shared-memory segments (``/dev/shm``).

Whatever is new after the test gets a grace period to go away (a thread that has
set its last event still has to return), then the test fails in teardown with a
list of what leaked. Leaked children are killed and reaped so that one leak does
not cascade into the next test. A test that leaks on purpose says so, with the
reason, by ``@pytest.mark.leaks_ok("thread", reason="...")``.

Long-lived service processes are not leaks: treadle.multiprocessing's resource tracker
and forkserver are children of the process that first needed them and stay for its
life, with a descriptor to each. When that package is loaded, the check asks it for
exactly those (its ``_services.live()``) and leaves them out; it never imports it.

Under pytest-xdist several workers share ``/dev/shm``, so there the segment check
runs once, in the controller, over the whole session.

The plugin also gives every test the ``python_snippet`` fixture: it runs a piece of code
(dedented) in a new interpreter, this one's executable, and returns the completed
process with its output as text, for behaviour that only shows at start-up or exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from ._impl import MARKERS, impl_fixture
from ._surface import check_public_surface, stdlib_public_names

__all__ = [
    "KINDS",
    "Snapshot",
    "check_public_surface",
    "impl_fixture",
    "leaks_since",
    "snapshot",
    "stdlib_public_names",
]

KINDS = ("thread", "process", "fd", "shm")
# How long leftovers get to go away; TREADLE_LEAK_GRACE overrides it (the plugin's own
# tests shorten it, since every leak they provoke waits for it).
_GRACE_SECONDS = float(os.environ.get("TREADLE_LEAK_GRACE", "10"))
_SHM = "/dev/shm"
_shm_at_start_key = pytest.StashKey[frozenset[str]]()


@dataclass(frozen=True)
class Snapshot:
    """What the process holds at one moment."""

    threads: frozenset[int] = field(default_factory=frozenset)
    children: frozenset[int] = field(default_factory=frozenset)
    fds: frozenset[tuple[int, str]] = field(default_factory=frozenset)
    shm: frozenset[str] = field(default_factory=frozenset)


def _threads() -> frozenset[int]:
    try:
        return frozenset(int(t) for t in os.listdir("/proc/self/task"))
    except OSError:
        return frozenset()


def _children() -> frozenset[int]:
    me = os.getpid()
    found = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return frozenset()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: parse after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.add(int(entry))
    return frozenset(found)


def _fds() -> frozenset[tuple[int, str]]:
    result = set()
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return frozenset()
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the descriptor of the listing itself, already closed
        result.add((int(name), target))
    return frozenset(result)


def _shm() -> frozenset[str]:
    try:
        return frozenset(os.listdir(_SHM))
    except OSError:
        return frozenset()


def snapshot(*, shm: bool = True) -> Snapshot:
    """Record the threads, children, descriptors and segments of this process."""
    return Snapshot(_threads(), _children(), _fds(), _shm() if shm else frozenset())


def leaks_since(before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
    """Describe what *after* holds that *before* did not, by kind."""
    leaks: dict[str, list[str]] = {}
    threads = sorted(after.threads - before.threads)
    if threads:
        leaks["thread"] = [f"OS thread {tid} ({_thread_name(tid)})" for tid in threads]
    children = sorted(after.children - before.children)
    if children:
        leaks["process"] = [f"child process {pid} ({_proc_state(pid)})" for pid in children]
    fds = sorted(after.fds - before.fds)
    if fds:
        leaks["fd"] = [f"descriptor {fd} -> {target}" for fd, target in fds]
    shm = sorted(_not_foreign(after.shm - before.shm))
    if shm:
        leaks["shm"] = [f"segment {_SHM}/{name}" for name in shm]
    return leaks


def _not_foreign(names: frozenset[str]) -> set[str]:
    """Drop the segments that another program on the machine holds open or mapped.

    /dev/shm is shared by every process: a segment that appears during a test may
    belong to an unrelated program running at the same time (another test run using
    multiprocessing, say). One that a process outside this one and its children has
    open or mapped is that program's, not a leak of this test.
    """
    if not names:
        return set()
    mine = {os.getpid(), *_children()}
    paths = {f"{_SHM}/{name}": name for name in names}
    foreign: set[str] = set()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return set(names)
    for pid in pids:
        if pid in mine:
            continue
        try:
            with open(f"/proc/{pid}/maps") as f:
                maps = f.read()
        except OSError:
            maps = ""
        foreign.update(name for path, name in paths.items() if path in maps)
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target in paths:
                foreign.add(paths[target])
    return set(names) - foreign


def _thread_name(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "gone"


def _proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return "gone"
    name = stat[stat.find(b"(") + 1 : stat.rfind(b")")].decode(errors="replace")
    state = stat[stat.rfind(b")") + 2 :].split()[0].decode()
    return f"{name}, state {state}"


def _reap(pids: list[int]) -> None:
    """Kill and reap leaked children so one leak does not spill into the next test."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass


def _stdlib_services() -> tuple[set[int], set[int]]:
    """The stdlib multiprocessing's resource tracker and forkserver: pids, descriptors.

    Like treadle's, they start on first use and serve the process until it exits. The
    first test that happens to use them (random order, xdist) must not count them as its
    leak: killed, the tracker could no longer remove the semaphores it was told of.
    """
    pids: set[int] = set()
    fds: set[int] = set()
    tracker_module = sys.modules.get("multiprocessing.resource_tracker")
    tracker = getattr(tracker_module, "_resource_tracker", None)
    server_module = sys.modules.get("multiprocessing.forkserver")
    server = getattr(server_module, "_forkserver", None)
    for obj, pid_name, fd_name in (
        (tracker, "_pid", "_fd"),
        (server, "_forkserver_pid", "_forkserver_alive_fd"),
    ):
        pid = getattr(obj, pid_name, None)
        fd = getattr(obj, fd_name, None)
        if isinstance(pid, int):
            pids.add(pid)
        if isinstance(fd, int):
            fds.add(fd)
    return pids, fds


def _without_services(snap: Snapshot) -> Snapshot:
    """Drop the live service processes (treadle's and the stdlib's) and their descriptors."""
    pids, fds = _stdlib_services()
    services = sys.modules.get("treadle.multiprocessing._services")
    if services is not None:
        ours, our_fds = services.live()
        pids |= set(ours)
        fds |= set(our_fds)
    if not pids and not fds:
        return snap
    return Snapshot(
        snap.threads,
        snap.children - pids,
        frozenset(entry for entry in snap.fds if entry[0] not in fds),
        snap.shm,
    )


def _under_xdist() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


def pytest_configure(config: pytest.Config) -> None:
    """Register the opt-out marker and the impl fixture's markers."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.addinivalue_line(
        "markers",
        "leaks_ok(*kinds, reason): this test may leave behind the named kinds of resource "
        f"({', '.join(KINDS)}); the reason says why.",
    )


@pytest.fixture(autouse=True)
def _treadle_leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    allowed: set[str] = set()
    for mark in request.node.iter_markers("leaks_ok"):
        if not mark.kwargs.get("reason"):
            raise pytest.UsageError(f"{request.node.nodeid}: leaks_ok needs reason=")
        unknown = set(mark.args) - set(KINDS)
        if unknown:
            raise pytest.UsageError(f"{request.node.nodeid}: unknown leak kinds {unknown}")
        allowed.update(mark.args)
    check_shm = not _under_xdist()
    before = snapshot(shm=check_shm)
    yield
    deadline = time.monotonic() + _GRACE_SECONDS
    delay = 0.001
    while True:
        leaks = leaks_since(before, _without_services(snapshot(shm=check_shm)))
        for kind in allowed:
            leaks.pop(kind, None)
        if not leaks or time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    if "process" in leaks:
        _reap(sorted(_without_services(snapshot(shm=False)).children - before.children))
    if leaks:
        lines = [line for kind in KINDS for line in leaks.get(kind, [])]
        pytest.fail("test leaked:\n  " + "\n  ".join(lines), pytrace=False)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under xdist, remember the segments that exist before any worker starts."""
    if not _under_xdist():
        session.stash[_shm_at_start_key] = _shm()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under xdist, fail the run when segments appeared and stayed."""
    start = session.stash.get(_shm_at_start_key, None)
    if start is None or session.config.pluginmanager.get_plugin("dsession") is None:
        return  # not the xdist controller: the per-test check already ran
    # The workers have exited, but the resource trackers they started remove what was
    # left to them only once every process holding their pipe has ended too (a
    # forkserver, a worker process of a pool or a cluster): give them the same grace as
    # the per-test check.
    deadline = time.monotonic() + _GRACE_SECONDS
    leaked = sorted(_shm() - start)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.1)
        leaked = sorted(_shm() - start)
    if leaked:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"shared-memory segments leaked by the run: {leaked}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def python_snippet() -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Return a function that runs *code* in a new interpreter and returns the result."""

    def run(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
