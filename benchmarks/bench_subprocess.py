"""treadle.subprocess against the stdlib's subprocess (and a bare posix_spawn + waitpid).

Issue 7 targets: ``run(['true'])`` and ``check_output`` of 10 MB within 1.1x of the stdlib
and of a bare ``os.posix_spawn`` + ``os.waitpid``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import subprocess as tsubprocess

_TRUE = shutil.which("true") or "/bin/true"
_HEAD = shutil.which("head") or "/usr/bin/head"
_TEN_MB = [_HEAD, "-c", str(10 * 1024 * 1024), "/dev/zero"]


def _runs(run: Callable[..., Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            run(["true"])
        return time.perf_counter() - t0

    return timed


def _bare_spawn(n: int) -> float:
    spawn, waitpid, environ = os.posix_spawn, os.waitpid, os.environ
    t0 = time.perf_counter()
    for _ in range(n):
        waitpid(spawn(_TRUE, [_TRUE], environ), 0)
    return time.perf_counter() - t0


def _check_output(check_output: Callable[..., Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            out = check_output(_TEN_MB)
            assert len(out) == 10 * 1024 * 1024
        return time.perf_counter() - t0

    return timed


def _bare_spawn_read(n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        r, w = os.pipe()
        pid = os.posix_spawn(_HEAD, _TEN_MB, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
        os.close(w)
        chunks = []
        while data := os.read(r, 65536):
            chunks.append(data)
        os.close(r)
        os.waitpid(pid, 0)
        # Kept until the next round, as the other side keeps check_output's result: both
        # hold one 10 MB result while making the next.
        out = b"".join(chunks)
        assert len(out) == 10 * 1024 * 1024
    return time.perf_counter() - t0


CASES = [
    Case(
        "run(['true'])",
        _runs(subprocess.run),
        _runs(tsubprocess.run),
        n=200,
        target=1 / 1.1,
    ),
    Case(
        "run(['true']) vs bare posix_spawn+waitpid",
        _bare_spawn,
        _runs(tsubprocess.run),
        n=200,
        target=1 / 1.1,
        note="the bare side resolves the path once, outside the loop",
    ),
    Case(
        "check_output of 10 MB",
        _check_output(subprocess.check_output),
        _check_output(tsubprocess.check_output),
        n=10,
        target=1 / 1.1,
    ),
    Case(
        "check_output of 10 MB vs bare posix_spawn+read",
        _bare_spawn_read,
        _check_output(tsubprocess.check_output),
        n=10,
        target=1 / 1.1,
    ),
]
