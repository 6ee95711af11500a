"""Conformance venvs and the runs of one test module in them (with hang and crash recovery)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.conformance._pythons import Interpreter
from tools.conformance._scoring import ModuleRun, Outcome

HERE = Path(__file__).resolve().parent
HOOK_MODULE = "_treadle_conformance_hook"
RUNNER_MODULE = "_treadle_conformance_runner"
PTH_NAME = "_treadle_conformance.pth"
SPEC_FILE_NAME = "_treadle_conformance_spec.json"
ENV_VAR = "TREADLE_CONFORMANCE_SPEC"
EXIT_REFUSED = 2
EXIT_IMPORT_ERROR = 3
MAX_RESTARTS = 5
EXIT_GRACE = 60.0
"""At most this long (or the test timeout) for interpreter exit after the last test."""
_POLL = 0.1


class Refused(Exception):
    """The substitution did not take effect: the tool must not report."""


class Stopped(Exception):
    """The tool was asked to stop (SIGINT/SIGTERM); the running test process was killed."""


STOP = threading.Event()
"""Set by the command line on SIGINT/SIGTERM: every run kills its process and stops."""


@dataclass(frozen=True)
class Venv:
    """A conformance venv for one interpreter."""

    path: Path
    interpreter: Interpreter

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.path / "bin" / f"python{self.interpreter.version}"

    @property
    def site_packages(self) -> Path:
        """Where the hook, the runner and the .pth live."""
        return self.path / "lib" / f"python{self.interpreter.version}" / "site-packages"

    @property
    def spec_file(self) -> Path:
        """The fallback spec for children started with a clean environment."""
        return self.site_packages / SPEC_FILE_NAME

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the venv for one run (the spec file is per venv)."""
        with (self.path / ".lock").open("w") as stream:
            fcntl.flock(stream, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(stream, fcntl.LOCK_UN)


def _venv_matches(path: Path, interpreter: Interpreter) -> bool:
    cfg = path / "pyvenv.cfg"
    if not cfg.is_file():
        return False
    values = {}
    for line in cfg.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    version = values.get("version") or values.get("version_info", "")
    home = values.get("home", "")
    return (
        version.startswith(interpreter.full_version)
        and Path(home) == Path(interpreter.executable).parent
        and (path / "bin" / f"python{interpreter.version}").exists()
    )


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)


def ensure_venv(base: Path, interpreter: Interpreter) -> Venv:
    """Create (or refresh) ``base/venv-3.X`` with the hook, the runner and the .pth."""
    venv = Venv(base / f"venv-{interpreter.version}", interpreter)
    if not _venv_matches(venv.path, interpreter):
        shutil.rmtree(venv.path, ignore_errors=True)
        venv.path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [interpreter.executable, "-m", "venv", "--without-pip", str(venv.path)],
            check=True,
            capture_output=True,
        )
    site = venv.site_packages
    site.mkdir(parents=True, exist_ok=True)
    _write_if_changed(site / f"{HOOK_MODULE}.py", (HERE / "_hook.py").read_text("utf-8"))
    _write_if_changed(site / f"{RUNNER_MODULE}.py", (HERE / "_runner.py").read_text("utf-8"))
    _write_if_changed(site / PTH_NAME, f"import {HOOK_MODULE}\n")
    # A spec file left by a killed run would turn children of a later baseline into treadle
    # processes; under the lock, so a run of another invocation keeps its own.
    with venv.locked():
        venv.spec_file.unlink(missing_ok=True)
    return venv


def clean_env() -> dict[str, str]:
    """The environment for test processes: ours, less what would steer the interpreter."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTHON") and k not in ("VIRTUAL_ENV", ENV_VAR, "__PYVENV_LAUNCHER__")
    }
    return env


@dataclass
class _Attempt:
    returncode: int | None
    timed_out: bool
    events: list[dict[str, Any]]


def _read_events(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete JSON lines of *path* from byte *offset* on, and the offset after them."""
    try:
        with path.open("rb") as stream:
            stream.seek(offset)
            data = stream.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    events = []
    for line in data[: end + 1].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash
    return events, offset + end + 1


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Dump the tracebacks (faulthandler on SIGABRT), then kill the whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGABRT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _attempt(
    *,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    results: Path,
    log: Path,
    deadline: float,
    test_timeout: float,
) -> _Attempt:
    """One process: until it ends, a test outlives *test_timeout*, interpreter exit outlives
    ``min(test_timeout, 60)`` after the last test, or the clock passes *deadline*."""
    offset = results.stat().st_size if results.exists() else 0
    events: list[dict[str, Any]] = []
    current: str | None = None
    current_since = time.monotonic()
    done_at: float | None = None
    exit_grace = min(test_timeout, EXIT_GRACE)
    timed_out = False
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while True:
                try:
                    proc.wait(timeout=_POLL)
                    finished = True
                except subprocess.TimeoutExpired:
                    finished = False
                new, offset = _read_events(results, offset)
                for event in new:
                    if event.get("event") == "start":
                        current, current_since = event.get("id"), time.monotonic()
                    elif event.get("event") == "result" and event.get("id") == current:
                        current = None
                    elif event.get("event") == "done":
                        done_at = time.monotonic()
                events.extend(new)
                if finished:
                    break
                if STOP.is_set():
                    _kill(proc)
                    raise Stopped("asked to stop")
                now = time.monotonic()
                if (
                    now > deadline
                    or (current is not None and now - current_since > test_timeout)
                    or (done_at is not None and now - done_at > exit_grace)
                ):
                    timed_out = True
                    _kill(proc)
                    new, offset = _read_events(results, offset)
                    events.extend(new)
                    break
        finally:
            if proc.poll() is None:
                _kill(proc)
            # Whatever the tests left running in the process group goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    return _Attempt(proc.returncode, timed_out, events)


def run_module(
    venv: Venv,
    test: str,
    *,
    mode: str,
    spec: dict[str, Any] | None,
    workdir: Path,
    module_timeout: float,
    test_timeout: float,
    resources: tuple[str, ...] = (),
    max_restarts: int = MAX_RESTARTS,
    test_paths: tuple[str, ...] = (),
    select: tuple[str, ...] = (),
) -> ModuleRun:
    """Run *test* in *venv*, baseline (``spec`` None) or treadle; recover from hangs/crashes.

    *select* (entries as in targets.toml) restricts the run to the tests it covers.

    Raises :class:`Refused` when the test process says the substitution is not in force.
    """
    if (mode == "treadle") != (spec is not None):
        raise ValueError("a treadle run needs a spec, a baseline run must have none")
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / f"{mode}-{test}.jsonl"
    log = workdir / f"{mode}-{test}.log"
    proof_log = workdir / f"{mode}-{test}.processes.jsonl"
    skip_file = workdir / f"{mode}-{test}.skip"
    env = clean_env()
    expect: dict[str, str] = {}
    if spec is not None:
        spec = dict(spec, log=str(proof_log))
        env[ENV_VAR] = json.dumps(spec)
        expect = dict(spec["substitute"])
    else:
        env[ENV_VAR] = ""  # explicit: no substitution, whatever file there may be
    command = [
        str(venv.python),
        "-X",
        "faulthandler",
        "-c",
        f"import {RUNNER_MODULE} as r, sys; sys.exit(r.main())",
        "--test",
        test,
        "--results",
        str(results),
        "--skip-file",
        str(skip_file),
        "--mode",
        mode,
        "--expect",
        json.dumps(expect),
        "--resources",
        json.dumps(list(resources)),
        "--select",
        json.dumps(list(select)),
    ]
    for folder in test_paths:
        command += ["--test-path", folder]
    run = ModuleRun()
    skip: set[str] = set()
    with venv.locked(), contextlib.ExitStack() as stack:
        # Under the lock: another invocation on this Python may be running the same module
        # in the same (shared baseline) folder until it lets go.
        for path in (results, log, proof_log, skip_file):
            path.unlink(missing_ok=True)
        started = time.monotonic()
        if spec is not None:
            venv.spec_file.write_text(json.dumps(spec), encoding="utf-8")
            stack.callback(venv.spec_file.unlink, missing_ok=True)
        else:
            venv.spec_file.unlink(missing_ok=True)
        for attempt_number in range(max_restarts + 1):
            skip_file.write_text("".join(f"{tid}\n" for tid in sorted(skip)), encoding="utf-8")
            with tempfile.TemporaryDirectory(prefix="cwd-", dir=workdir) as cwd:
                attempt = _attempt(
                    command=command,
                    env=env,
                    cwd=Path(cwd),
                    results=results,
                    log=log,
                    deadline=started + module_timeout,
                    test_timeout=test_timeout,
                )
            unfinished = _absorb(run, attempt, mode, log)
            if unfinished is None:
                break
            skip |= set(run.outcomes) | {unfinished}
            if attempt_number == max_restarts:
                run.notes.append(f"gave up after {max_restarts} restarts")
                break
            if time.monotonic() > started + module_timeout:
                run.notes.append(f"the module's time budget of {module_timeout:.0f} s is used up")
                break
            run.restarts += 1
    run.seconds = time.monotonic() - started
    run.processes = _summarise_processes(proof_log, spec is not None)
    return run


def _tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _absorb(run: ModuleRun, attempt: _Attempt, mode: str, log: Path) -> str | None:
    """Fold one attempt into *run*; the id of the test to skip on a restart, or None."""
    current: str | None = None
    done = False
    for event in attempt.events:
        kind = event.get("event")
        if kind == "proof":
            run.proof = {k: v for k, v in event.items() if k != "event"}
            if not event.get("ok"):
                problems = "; ".join(event.get("problems", [])) or "unknown"
                if mode == "baseline":
                    raise Refused(f"the baseline run is not testing the stdlib: {problems}")
                raise Refused(f"substitution did not take effect: {problems}")
        elif kind == "start":
            current = event["id"]
        elif kind == "result":
            run.outcomes[event["id"]] = Outcome(
                event.get("outcome", "error"),
                event.get("message", ""),
                event.get("details", ""),
                float(event.get("duration", 0.0)),
            )
            if event["id"] == current:
                current = None
        elif kind == "loaded":
            if run.unmatched is None:
                run.unmatched = list(event.get("unmatched", []))
        elif kind in ("import-error", "module-skip", "fallback-error"):
            run.status = kind
            run.message = event.get("message", "")
            run.notes.append(event.get("details", "") or run.message)
        elif kind == "done":
            done = True
    if attempt.returncode == EXIT_REFUSED and not run.proof:
        raise Refused(f"the {mode} run refused without a proof line; output:\n{_tail(log)}")
    if mode == "treadle" and not run.proof and run.status == "ok":
        raise Refused(
            f"no proof of the substitution from the test process (exit status "
            f"{attempt.returncode}); output:\n{_tail(log)}"
        )
    if done:
        if attempt.timed_out:
            run.hangs.append("<at exit>")
            run.notes.append("hung at interpreter exit after every test had run")
        elif attempt.returncode not in (0, None):
            run.crashes.append("<at exit>")
            run.notes.append(f"exit status {attempt.returncode} after every test had run")
        return None
    if run.status in ("import-error", "module-skip", "fallback-error"):
        return None
    label = "hang" if attempt.timed_out else "crash"
    if current is not None:
        run.outcomes[current] = Outcome(
            label,
            "timed out" if attempt.timed_out else f"exit status {attempt.returncode}",
            _tail(log, 40),
        )
        (run.hangs if label == "hang" else run.crashes).append(current)
        return current
    # A hang or crash outside any test (module fixtures, loading): nothing to skip.
    run.status = "incomplete"
    run.message = (
        "timed out outside any test"
        if attempt.timed_out
        else f"exit status {attempt.returncode} outside any test"
    )
    (run.hangs if label == "hang" else run.crashes).append("<outside tests>")
    run.notes.append(_tail(log, 40))
    return None


def _summarise_processes(path: Path, expected: bool) -> dict[str, Any]:
    """What the hook recorded in every process of a treadle run."""
    if not expected:
        return {}
    records: list[dict[str, Any]] = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    failed = [r for r in records if not r.get("ok")]
    return {
        "substituted": len(records) - len(failed),
        "failed": len(failed),
        "failures": [{"argv": r.get("argv"), "error": r.get("error")} for r in failed[:10]],
        "from_spec_file": sum(1 for r in records if r.get("source") == "file"),
    }


def describe_command(venv: Venv) -> str:
    """For messages."""
    return f"{venv.python} (Python {venv.interpreter.full_version})"


if sys.platform == "win32":  # pragma: no cover
    raise ImportError("the conformance tool runs on POSIX systems only")
