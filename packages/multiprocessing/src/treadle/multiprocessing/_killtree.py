"""``Process.kill_tree()``: kill a child and every process descended from it (beyond the stdlib).

The design, on Linux:

1. The child is frozen with SIGSTOP. It is our own unreaped child, so its pid cannot
   name another process.
2. Walk: for each frozen process, its children are read from
   ``/proc/<pid>/task/*/children``. A frozen process can neither fork nor reap, so each
   pid read there names that process's child (alive, or a zombie it cannot reap) for as
   long as it stays frozen. Each is pinned with a pidfd (``pidfd_open``) and checked to
   still have that parent (a child that set SIGCHLD to SIG_IGN reaps its own children
   automatically: the check catches a pid reused in between), then frozen in turn.
3. The walk repeats until a pass finds nothing new and every member is stopped (a
   SIGSTOP takes effect asynchronously: a process may fork once more before it does).
4. Every member gets SIGKILL through its pidfd (a reused pid is never signalled), the
   pidfds are closed, and the caller reaps the child.

Nothing is moved into a process group of its own: Ctrl-C (SIGINT to the terminal's
foreground group) reaches the children exactly as it does with the stdlib. Processes
that left the tree before the call (daemonised grandchildren re-parented to init) are
not found. Without ``/proc`` or pidfds, only the child itself is killed.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.

from __future__ import annotations

import os
import signal
import time

from . import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["descendants", "kill_tree"]

# How long to wait for every member to stop (SIGSTOP is asynchronous; a loaded machine
# may take a while to schedule a process). Past it, what was found is killed anyway.
_FREEZE_SECONDS = 5.0


def _children_of(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as source:
                found.update(int(word) for word in source.read().split())
        except (OSError, ValueError):
            continue
    return found


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of *pid*, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as source:
            text = source.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[1])
    except (IndexError, ValueError):
        return None


def _signal(pidfd: int | None, pid: int, signum: int) -> None:
    try:
        if pidfd is not None and hasattr(signal, "pidfd_send_signal"):
            signal.pidfd_send_signal(pidfd, signum)
        else:
            os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _stopped(pid: int) -> bool:
    stat = _stat(pid)
    return stat is None or stat[0] in ("T", "t", "Z", "X")


def descendants(root_pid: int, root_pidfd: int | None) -> dict[int, int | None]:
    """Freeze *root_pid* and every descendant; return {pid: pidfd or None}, root included.

    The caller must kill (or SIGCONT) and close every pidfd returned.
    """
    members: dict[int, int | None] = {root_pid: root_pidfd}
    parent_of: dict[int, int] = {}
    _signal(root_pidfd, root_pid, signal.SIGSTOP)
    if not os.path.isdir(f"/proc/{root_pid}/task"):
        return members
    deadline = time.monotonic() + _FREEZE_SECONDS
    walked: set[int] = set()
    while True:
        waiting = False  # a member not frozen yet: it may still fork; look again
        for pid in list(members):
            if pid in walked:
                continue
            if not _stopped(pid):
                waiting = True
                continue
            walked.add(pid)
            for child in _children_of(pid) - members.keys():
                pidfd = _native.pidfd_open(child)
                stat = _stat(child)
                if stat is None or stat[1] != pid:
                    if pidfd is not None:
                        os.close(pidfd)
                    continue
                members[child] = pidfd
                parent_of[child] = pid
                _signal(pidfd, child, signal.SIGSTOP)
        if len(walked) == len(members) or time.monotonic() > deadline:
            return members
        if waiting:
            time.sleep(0.0005)  # SIGSTOP takes effect when the process is next scheduled


def kill_tree(popen: Any) -> None:
    """SIGKILL the child of *popen* and all its descendants (see the module's text)."""
    if popen.returncode is not None:
        return
    root_pidfd = _native.pidfd_open(popen.pid)
    members: dict[int, int | None] = {}
    try:
        members = descendants(popen.pid, root_pidfd)
        for pid, pidfd in members.items():
            _signal(pidfd, pid, signal.SIGKILL)
    finally:
        for pidfd in members.values():
            if pidfd is not None:
                os.close(pidfd)
        if root_pidfd is not None and root_pidfd not in members.values():
            os.close(root_pidfd)
