"""Install each distribution alone, from the wheels built here only, and test it there.

    python tools/check_isolation.py PYTHON [PYTHON ...]
    python tools/check_isolation.py --wheels dist PYTHON ...     # wheels built already
    python tools/check_isolation.py --member queue PYTHON ...    # only some members

Runs on Python 3.11+ with ``packaging`` (hatch's venv, ``.dev/venv/bin/python``, has it;
``bash tools/dev wheels DIR`` builds the wheels it wants). Without ``--wheels`` it builds every
member's wheel (``hatch build -t wheel``, or ``pip wheel`` when hatch is not on PATH) into
a temporary folder. Then, for each interpreter and each member whose requires-python
admits it, in sequence:

1. a fresh venv; ``pip install --no-index --find-links <wheels> <dist>``: only the wheels
   built here are visible, so a sibling that is used but not declared is missing (with
   ``uv`` beside this Python or on PATH, as hatch installs it, ``uv venv`` and
   ``uv pip install`` do the same several times faster);
2. from an empty working directory: import ``treadle.<leaf>`` and check that it comes from
   the venv, ships ``py.typed``, that ``treadle`` is a namespace and that the installed
   sources are the tree's (not a cached older wheel of the same version);
3. the test tools (pytest, pytest-timeout, tools/pytest-treadle), from the index;
4. the member's own ``packages/<x>/tests`` with the root pytest configuration.

One line per (python, member): ``ok``, ``skip`` or ``FAIL`` with the reason. Exit 1 when
anything failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.check_layout import (
    ROOT,
    Member,
    discover,
    specifier_admits,
)

TEST_TOOLS = ("pytest>=8", "pytest-timeout>=2.3")
_TAIL_LINES = 15

# Run inside the venv from an empty directory: where does the package come from?
_PROBE = textwrap.dedent(
    """
    import importlib, pathlib, sys
    leaf = sys.argv[1]
    module = importlib.import_module("treadle." + leaf)
    import treadle
    prefix = pathlib.Path(sys.prefix).resolve()
    where = pathlib.Path(module.__file__).resolve()
    problems = []
    if prefix not in where.parents:
        problems.append(f"treadle.{leaf} comes from {where}, not from the venv {prefix}")
    if not (where.parent / "py.typed").is_file():
        problems.append(f"py.typed is not installed beside {where}")
    if getattr(treadle, "__file__", None) is not None:
        problems.append(f"treadle is not a namespace package: {treadle.__file__}")
    # The installed sources must be the tree's: an installer's cache can hand out an older
    # wheel of the same name and version (uv does, for --find-links wheels).
    source = pathlib.Path(sys.argv[2])
    for mine in sorted(source.rglob("*.py")):
        theirs = where.parent / mine.relative_to(source)
        if not theirs.is_file() or theirs.read_bytes() != mine.read_bytes():
            problems.append(f"{theirs} is not the tree's {mine}: a stale wheel was installed")
            break
    print("\\n".join(problems) or "ok")
    sys.exit(1 if problems else 0)
    """
)

# Run inside the venv: the umbrella imports every leaf its dependencies installed.
_UMBRELLA_PROBE = textwrap.dedent(
    """
    import importlib, importlib.metadata as md, re, sys
    names = []
    for req in md.requires("treadle") or []:
        name = re.split(r"[ ;<>=!~\\[(@]", req, maxsplit=1)[0]
        try:
            md.distribution(name)
        except md.PackageNotFoundError:
            continue  # excluded by an environment marker
        leaf = name.lower().replace("-", "_").removeprefix("treadle_")
        importlib.import_module("treadle." + leaf)
        names.append("treadle." + leaf)
    print(len(names), "packages:", " ".join(names))
    """
)


class StepFailedError(Exception):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class Interpreter:
    """A Python given on the command line."""

    path: str
    version: str  # "3.12.1"

    @property
    def short(self) -> str:
        """``3.12``."""
        return ".".join(self.version.split(".")[:2])


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    # HATCH_ENV_ACTIVE: run from a hatch environment, `hatch build` would build in it.
    for name in (
        "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONSAFEPATH",
        "HATCH_ENV_ACTIVE",
    ):  # fmt: skip
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if "is ignored: it is neither" not in line]
    return "\n".join(lines[-_TAIL_LINES:])


def run(cmd: Sequence[str | Path], what: str, cwd: Path | None = None) -> str:
    """Run ``cmd``; return its output, or raise StepFailedError naming ``what``."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise StepFailedError(f"{what}: {exc}") from exc
    if proc.returncode != 0:
        raise StepFailedError(f"{what} (exit {proc.returncode}):\n{_tail(proc.stdout)}")
    return proc.stdout


def probe_interpreter(path: str) -> Interpreter:
    """Ask ``path`` for its version."""
    found = shutil.which(path) or path
    out = run(
        [found, "-c", "import platform; print(platform.python_version())"],
        f"cannot run {path}",
    )
    return Interpreter(found, out.strip())


def build_wheels(members: Sequence[Member], out: Path) -> None:
    """Build the wheel of each member into ``out``."""
    hatch = shutil.which("hatch")
    for member in members:
        if hatch:
            cmd: list[str | Path] = [hatch, "build", "-t", "wheel", out]
        else:
            cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, "."]
        run(cmd, f"building the wheel of {member.dist}", cwd=member.path)


def build_test_plugin(root: Path, out: Path) -> Path:
    """Build tools/pytest-treadle once, so every venv installs the same wheel."""
    plugin = root / "tools" / "pytest-treadle"
    hatch = shutil.which("hatch")
    if hatch:
        cmd: list[str | Path] = [hatch, "build", "-t", "wheel", out]
    else:
        cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, "."]
    run(cmd, "building tools/pytest-treadle", cwd=plugin)
    wheels = sorted(out.glob("pytest_treadle-*.whl"))
    if not wheels:
        raise StepFailedError(f"building tools/pytest-treadle left no wheel in {out}")
    return wheels[-1]


def find_uv() -> str | None:
    """uv beside this Python (hatch's venv has it) or on PATH; None without it."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def install(
    vpy: Path, args: Sequence[str | Path], what: str, cwd: Path, *, cached: bool = True
) -> None:
    """``pip install -q ARGS`` into the venv of *vpy* (with uv when there is one).

    ``cached=False`` for treadle's own wheels: their version does not change from one
    commit to the next, and both installers trust a cached wheel of the same name and
    version over the file in ``--find-links`` (a CI machine then tests an old build).
    """
    uv = find_uv()
    if uv:
        no_cache = [] if cached else ["--no-cache"]
        run([uv, "pip", "install", "-q", *no_cache, "--python", vpy, *args], what, cwd=cwd)
    else:
        no_cache = [] if cached else ["--no-cache-dir"]
        run([vpy, "-m", "pip", "install", "-q", *no_cache, *args], what, cwd=cwd)


def make_venv(python: Interpreter, where: Path) -> Path:
    """A fresh venv (with pip unless uv will install into it); returns its python."""
    venv_python = where / "bin" / "python"
    uv = find_uv()
    if uv:
        run([uv, "venv", "-q", "--python", python.path, where], "uv venv")
        return venv_python
    try:
        proc = subprocess.run(
            [python.path, "-m", "venv", where],
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise StepFailedError(f"python -m venv: {exc}") from exc
    if proc.returncode == 0:
        return venv_python
    if "ensurepip" not in proc.stdout:
        raise StepFailedError(f"python -m venv (exit {proc.returncode}):\n{_tail(proc.stdout)}")
    # Some distributors' Pythons ship without ensurepip: bootstrap pip with ours.
    shutil.rmtree(where, ignore_errors=True)
    run([python.path, "-m", "venv", "--without-pip", where], "python -m venv --without-pip")
    run(
        [sys.executable, "-m", "pip", "--python", venv_python, "install", "-q", "pip"],
        "bootstrapping pip into the venv",
    )
    return venv_python


class PluginWheel:
    """tools/pytest-treadle's wheel, built the first time a member needs it."""

    def __init__(self, root: Path, out: Path) -> None:
        self._root = root
        self._out = out
        self._wheel: Path | None = None

    def get(self) -> Path:
        """The wheel's path (raises StepFailedError when it cannot be built)."""
        if self._wheel is None:
            self._wheel = build_test_plugin(self._root, self._out)
        return self._wheel


def check_member(
    *,
    root: Path,
    member: Member,
    python: Interpreter,
    find_links: Sequence[Path],
    plugin: PluginWheel,
    scratch: Path,
) -> str:
    """Install ``member`` alone and test it; return the ok detail or raise StepFailedError."""
    venv = scratch / f"venv-{python.short}-{member.folder}"
    empty = scratch / f"cwd-{python.short}-{member.folder}"
    shutil.rmtree(venv, ignore_errors=True)
    empty.mkdir(parents=True, exist_ok=True)
    vpy = make_venv(python, venv)
    links: list[str | Path] = []
    for folder in find_links:
        links += ["--find-links", folder]
    install(
        vpy,
        ["--no-index", *links, member.dist],
        f"pip install --no-index {member.dist}",
        empty,
        cached=False,
    )
    if member.is_umbrella:
        out = run([vpy, "-c", _UMBRELLA_PROBE], "importing the umbrella's packages", cwd=empty)
        return out.strip().splitlines()[-1]
    source = member.path / "src" / "treadle" / member.leaf
    run([vpy, "-c", _PROBE, member.leaf, source], f"import treadle.{member.leaf}", cwd=empty)
    install(vpy, [*TEST_TOOLS, plugin.get()], "installing the test tools", empty)
    tests = member.path / "tests"
    if not tests.is_dir():
        raise StepFailedError(f"{tests} does not exist")
    cmd: list[str | Path] = [
        vpy,
        "-m",
        "pytest",
        "-c",
        root / "pyproject.toml",
        "--rootdir",
        root,
        "-p",
        "no:cacheprovider",
        "-q",
        tests,
    ]
    out = run(cmd, f"the tests of {member.dist}", cwd=empty)
    lines = out.strip().splitlines()
    return lines[-1].strip("= ") if lines else "tests passed"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("pythons", nargs="+", metavar="PYTHON", help="interpreters to check")
    parser.add_argument(
        "--wheels",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="use the wheels already built in DIR (repeatable) instead of building them",
    )
    parser.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="NAME",
        help="check only this member (folder or distribution name; repeatable)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument("--keep", action="store_true", help="keep the venvs (prints where)")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()

    members, problems = discover(root)
    for problem in problems:
        print(f"FAIL layout: {problem}")
    if args.member:
        wanted = {n if n == "treadle" else n.removeprefix("treadle-") for n in args.member}
        unknown = wanted - {m.folder for m in members}
        for name in sorted(unknown):
            print(f"FAIL {name}: no such member in {root / 'packages'}")
        if unknown:
            return 1
        members = [m for m in members if m.folder in wanted]

    failures = len(problems)
    scratch = Path(tempfile.mkdtemp(prefix="treadle-isolation-"))
    try:
        wheel_dirs: list[Path] = [w.resolve() for w in args.wheels]
        for folder in wheel_dirs:
            if not folder.is_dir():
                print(f"FAIL --wheels {folder}: not a directory")
                return 1
        if not wheel_dirs:
            built = scratch / "wheels"
            all_members, _ = discover(root)
            print(f"building {len(all_members)} wheel(s) into {built}", flush=True)
            try:
                build_wheels(all_members, built)
            except StepFailedError as exc:
                print(f"FAIL build: {exc}")
                return 1
            wheel_dirs = [built]
        plugin = PluginWheel(root, scratch / "test-tools")

        for path in args.pythons:
            try:
                python = probe_interpreter(path)
            except StepFailedError as exc:
                print(f"FAIL {path}: {exc}")
                failures += 1
                continue
            for member in members:
                label = f"{python.short:<5} {member.dist}"
                try:
                    admitted = specifier_admits(member.requires_python, python.version)
                except ValueError as exc:
                    print(f"FAIL {label}: requires-python: {exc}", flush=True)
                    failures += 1
                    continue
                if not admitted:
                    print(
                        f"skip {label}: requires-python {member.requires_python} excludes "
                        f"{python.version}",
                        flush=True,
                    )
                    continue
                try:
                    detail = check_member(
                        root=root,
                        member=member,
                        python=python,
                        find_links=wheel_dirs,
                        plugin=plugin,
                        scratch=scratch,
                    )
                except StepFailedError as exc:
                    print(f"FAIL {label}: {exc}", flush=True)
                    failures += 1
                else:
                    print(f"ok   {label}: {detail}", flush=True)
                finally:
                    if not args.keep:
                        shutil.rmtree(scratch / f"venv-{python.short}-{member.folder}", True)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print(f"check_isolation: {failures} failure(s)")
        return 1
    print("check_isolation: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
