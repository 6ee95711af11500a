"""The process object: ``BaseProcess``, the current and the parent process, children.

A spawned child imports this module before anything else of the package, so it pulls in
nothing heavier than ``os``, ``signal`` and ``itertools``.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import itertools
import os
import sys

# Annotations only: importing typing would cost every spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

__all__ = [
    "AuthenticationString",
    "BaseProcess",
    "active_children",
    "current_process",
    "parent_process",
]


# The working directory the program started in (a relative sys.path entry or main
# script path is resolved against it in a spawned child).
try:
    ORIGINAL_DIR: str | None = os.path.abspath(os.getcwd())
except OSError:
    ORIGINAL_DIR = None


def current_process() -> BaseProcess:
    """Return the object of the process this code runs in."""
    return _current_process


def parent_process() -> BaseProcess | None:
    """Return the object of the parent process (None in the main process)."""
    return _parent_process


def active_children() -> list[BaseProcess]:
    """Return the children of this process still running (reaping those that ended)."""
    _cleanup()
    return list(_children)


def _has_ended(child: BaseProcess) -> bool:
    return child._popen is not None and child._popen.poll() is not None


def _cleanup() -> None:
    # Forget the children that have ended (CPython's tests call this too).
    _children.difference_update([child for child in list(_children) if _has_ended(child)])


def _state_error(message: str) -> AssertionError:
    # The stdlib reports misuse of a process object (start twice, join before start,
    # a daemon starting children) with AssertionError; so do we, but not through
    # `assert`, which -O would remove.
    return AssertionError(message)


class BaseProcess:
    """A unit of work run in a child process; the API mirrors ``threading.Thread``.

    Subclasses give ``_start_method`` and ``_Popen(process_obj)``; user code either
    passes *target* or overrides :meth:`run`.
    """

    _start_method: str | None = None

    @staticmethod
    def _Popen(process_obj: BaseProcess) -> Any:
        raise NotImplementedError

    @staticmethod
    def _after_fork() -> None:
        _util._finalizer_registry.clear()
        _util.run_after_forkers()

    def __init__(
        self,
        group: None = None,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        if group is not None:
            raise _state_error("group argument must be None for now")
        me = _current_process
        self._identity: tuple[int, ...] = (*me._identity, next(_process_counter))
        self._config: dict[str, Any] = dict(me._config)
        self._parent_pid: int | None = os.getpid()
        self._parent_name = me.name
        self._popen: Any = None
        self._closed = False
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs) if kwargs else {}
        self._name = name or f"{type(self).__name__}-{':'.join(map(str, self._identity))}"
        if daemon is not None:
            self.daemon = daemon
        _dangling.add(self)

    def _check_closed(self) -> None:
        if self._closed:
            raise ValueError("process object is closed")

    def run(self) -> None:
        """Do the work of the process: call *target* with *args* and *kwargs*."""
        if self._target:
            self._target(*self._args, **self._kwargs)

    def start(self) -> None:
        """Start the child process; at most once per process object."""
        self._check_closed()
        if self._popen is not None:
            raise _state_error("cannot start a process twice")
        if self._parent_pid != os.getpid():
            raise _state_error("can only start a process object created by current process")
        if _current_process._config.get("daemon"):
            raise _state_error("daemonic processes are not allowed to have children")
        if _children:
            _cleanup()
        if not _util._exit_hooked:
            _util._hook_exit()
        self._popen = self._Popen(self)
        self._sentinel = self._popen.sentinel
        # The child has its own copy: drop ours so the parent does not keep them alive.
        del self._target, self._args, self._kwargs
        _children.add(self)

    def _started_popen(self) -> Any:
        self._check_closed()
        if self._popen is None:
            raise ValueError("process not started")
        return self._popen

    def interrupt(self) -> None:
        """Send SIGINT to the process (3.14)."""
        self._check_closed()
        self._popen.interrupt()

    def terminate(self) -> None:
        """Send SIGTERM to the process."""
        self._check_closed()
        self._popen.terminate()

    def kill(self) -> None:
        """Send SIGKILL to the process."""
        self._check_closed()
        self._popen.kill()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the process ends, or *timeout* seconds pass."""
        self._check_closed()
        if self._parent_pid != os.getpid():
            raise _state_error("can only join a child process")
        if self._popen is None:
            raise _state_error("can only join a started process")
        if timeout is not None and type(timeout) is not float and type(timeout) is not int:
            from treadle.thread_core.support import check_timeout

            timeout = check_timeout(timeout, "timeout")
        if self._popen.wait(timeout) is not None:
            _children.discard(self)

    def is_alive(self) -> bool:
        """Whether the process has started and not yet ended."""
        self._check_closed()
        if self is _current_process:
            return True
        if self._parent_pid != os.getpid():
            raise _state_error("can only test a child process")
        if _has_ended(self):
            _children.discard(self)
            return False
        return self._popen is not None

    def close(self) -> None:
        """Release what the process object holds; ValueError while it still runs."""
        popen = self._popen
        if popen is not None and popen.poll() is None:
            raise ValueError(
                "Cannot close a process while it is still running. "
                "You should first call join() or terminate()."
            )
        self._closed = True
        if popen is None:
            return
        # Ended: give back its descriptors and forget it.
        self._popen = None
        self.__dict__.pop("_sentinel", None)
        _children.discard(self)
        popen.close()

    def kill_tree(self, timeout: float | None = None) -> None:
        """Kill the process and every process descended from it, then reap it.

        Beyond the stdlib. On Linux the tree is frozen first (SIGSTOP, each process
        before its children are read from ``/proc/<pid>/task/*/children``) so that no
        process can fork or reap while it is walked, then every member gets SIGKILL;
        pidfds pin each process, so a reused pid is never signalled. Processes are not
        moved into process groups of their own (Ctrl-C keeps reaching them as usual).
        Elsewhere only the process itself is killed. Waits up to *timeout* seconds (all
        the time needed when None) for the process to be reaped.
        """
        popen = self._started_popen()
        from . import _killtree

        if popen.poll() is None:
            _killtree.kill_tree(popen)
        self.join(timeout)

    @property
    def name(self) -> str:
        """The process's name (not unique; only for identification)."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, not {type(name).__name__}")
        self._name = name

    @property
    def daemon(self) -> bool:
        """Whether the process is a daemon (killed when its parent exits)."""
        return bool(self._config.get("daemon", False))

    @daemon.setter
    def daemon(self, daemonic: bool) -> None:
        if self._popen is not None:
            raise _state_error("process has already started")
        self._config["daemon"] = daemonic

    @property
    def authkey(self) -> bytes:
        """The process's authentication key (inherited from its parent)."""
        key: bytes = self._config["authkey"]
        return key

    @authkey.setter
    def authkey(self, authkey: bytes) -> None:
        self._config["authkey"] = AuthenticationString(authkey)

    @property
    def exitcode(self) -> int | None:
        """The exit code; ``-N`` when signal N ended it; None while running."""
        self._check_closed()
        if self._popen is None:
            return None
        code: int | None = self._popen.poll()
        return code

    @property
    def ident(self) -> int | None:
        """The process id (None before start)."""
        self._check_closed()
        if self is _current_process:
            return os.getpid()
        if self._popen is None:
            return None
        pid: int = self._popen.pid
        return pid

    pid = ident

    @property
    def sentinel(self) -> int:
        """A descriptor that becomes ready when the process ends."""
        self._check_closed()
        try:
            return self._sentinel  # type: ignore[no-any-return]
        except AttributeError:
            raise ValueError("process not started") from None

    def __repr__(self) -> str:
        code = None
        if self is _current_process:
            status = "started"
        elif self._closed:
            status = "closed"
        elif self._parent_pid != os.getpid():
            status = "unknown"
        elif self._popen is None:
            status = "initial"
        else:
            code = self._popen.poll()
            status = "started" if code is None else "stopped"
        words = [type(self).__name__, f"name={self._name!r}"]
        if self._popen is not None:
            words.append(f"pid={self._popen.pid}")
        words += [f"parent={self._parent_pid}", status]
        if code is not None:
            words.append(f"exitcode={_exitcode_name(code)}")
        if self.daemon:
            words.append("daemon")
        return f"<{' '.join(words)}>"

    def _bootstrap(self, parent_sentinel: int | None = None) -> int:
        """In the child: become the current process, run, return the exit code."""
        global _current_process, _parent_process, _process_counter, _children
        # Every step counts: in a fork child each object touched is a page copied.
        try:
            if self._start_method is not None:
                _context._force_start_method(self._start_method)
            _process_counter = itertools.count(1)
            _children = set()
            _util._close_stdin()
            _util._hook_child_exit()
            _current_process = self
            _native.refresh_native_id()  # a fork child's (fork, forkserver) is the parent's
            _parent_process = _ParentProcess(self._parent_name, self._parent_pid, parent_sentinel)
            self._after_fork()
            if _util._logger:
                _util.info("child process calling self.run()")
            self.run()
            code = 0
        except SystemExit as exc:
            code = _exit_code_of(exc.code)
        except BaseException:
            code = 1
            import traceback

            sys.stderr.write(f"Process {self.name}:\n")
            traceback.print_exc()
        finally:
            if not _native.lone_thread() and _other_threads_to_join():
                _native.join_threads()
            if _util._logger:
                _util.info(f"process exiting with exitcode {code}")
            _util._flush_std_streams()
        return code


def _other_threads_to_join() -> bool:
    # Whether run() left non-daemon threads behind, which must end before the process
    # does. Most children have none: they then skip treadle.thread_core's import (about
    # 15 ms in a forkserver or spawn child).
    threading = sys.modules.get("threading")
    if threading is None:
        return False
    me = threading.current_thread()
    return any(t is not me and not t.daemon and t.is_alive() for t in threading.enumerate())


def _exit_code_of(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    sys.stderr.write(f"{value}\n")
    return 1


class AuthenticationString(bytes):
    """Bytes that refuse to be pickled except to start a child process."""

    def __reduce__(self) -> tuple[type, tuple[bytes]]:
        from ._context import get_spawning_popen

        if get_spawning_popen() is None:
            raise TypeError(
                "Pickling an AuthenticationString object is disallowed for security reasons"
            )
        return AuthenticationString, (bytes(self),)


def _bare_process(obj: BaseProcess, name: str, config: dict[str, Any], **more: Any) -> None:
    # The state of a process object that was not made by BaseProcess.__init__ (this
    # process, or its parent): never started here, no parent known, nothing to join.
    state = {"_identity": (), "_parent_pid": None, "_popen": None, "_closed": False}
    obj.__dict__.update(state, _name=name, _config=config, **more)


class _ParentProcess(BaseProcess):
    """The parent, seen from a child: its name, pid and liveness."""

    _pid: int | None

    def __init__(self, name: str, pid: int | None, sentinel: int | None) -> None:
        _bare_process(self, name, {}, _pid=pid, _sentinel=sentinel)

    def _wait(self, timeout: float | None) -> bool:
        if self._sentinel is None:
            return False
        return _native.fd_ready(self._sentinel, timeout)

    def is_alive(self) -> bool:
        """Whether the parent still runs."""
        return not self._wait(0)

    @property
    def ident(self) -> int | None:
        """The parent's process id."""
        return self._pid

    pid = ident

    def join(self, timeout: float | None = None) -> None:
        """Wait until the parent ends, or *timeout* seconds pass."""
        self._wait(timeout)


class _MainProcess(BaseProcess):
    """The process the program started as."""

    def __init__(self) -> None:
        key = AuthenticationString(os.urandom(32))
        _bare_process(self, "MainProcess", {"authkey": key, "semprefix": "/mp"})

    def close(self) -> None:
        """Nothing to release for the main process."""


_parent_process: BaseProcess | None = None
_current_process: BaseProcess = _MainProcess()
_process_counter = itertools.count(1)
_children: set[BaseProcess] = set()
del _MainProcess


def _exitcode_name(code: int) -> str:
    # -SIGTERM rather than -15 in reprs (signal is imported here, not by every child).
    if code >= 0:
        return str(code)
    import signal

    try:
        return f"-{signal.Signals(-code).name}"
    except ValueError:
        return str(code)


def _forget_children_in_fork_child() -> None:
    # Any fork (the stdlib's fork start method, a bare os.fork()) copies this registry;
    # the copy's processes are not the new process's children: it must not join them.
    global _children
    _children = set()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_children_in_fork_child)

# Bound once, at the end (they import this module): a function-level relative import
# runs importlib's Python code on every call, which start() and a child's bootstrap
# would pay each time. Every process that starts or is a child has them loaded anyway.
from . import _context, _native, _util  # noqa: E402

# CPython's tests look for process objects left alive here.
_dangling: _native.WeakSet[BaseProcess] = _native.WeakSet()
