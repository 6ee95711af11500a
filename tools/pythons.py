"""Find the CPython versions treadle supports, and install the missing ones where possible.

    python3 tools/pythons.py find 3.12             # the path of a working python3.12, or exit 1
    python3 tools/pythons.py find 3.14 --install   # the same, installing 3.14 when it is missing
    python3 tools/pythons.py newest [--venv]       # the newest supported one found
    python3 tools/pythons.py all [--install]       # one line per version: "3.10 PATH" or "3.10 -"

The one place where tools/dev, .ci/run and tools/conformance look for interpreters. It
looks, best first, in pyenv (``$PYENV_ROOT``, ``~/.pyenv``, ``/root/.pyenv``), in the
interpreters it installed itself (``<dir>/bin``), then on ``PATH`` (pyenv's shims
aside). ``--venv`` asks for one that can make a venv with pip (``ensurepip``).

``--install`` tries, in order:

1. ``uv python install`` (uv beside this checkout's hatch, or on ``PATH``), which downloads
   a python-build-standalone build: it needs to reach GitHub;
2. on Debian x86-64, the packages of Debian's unstable or experimental suite, fetched from
   the machine's own Debian mirror with ``apt-get download`` into a private apt state and
   unpacked with ``dpkg-deb -x`` into ``<dir>/debian-3.X``; the interpreter is then pointed
   (with a private patchelf from the same suite) at the C library that came with it, so it
   runs on an older Debian. Nothing is installed into the system, no root needed.

``<dir>`` is ``$TREADLE_PYTHONS`` or ``.dev/pythons`` in the checkout. Runs on any
Python 3.8+ with the standard library only (it is what finds the others).
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

SUPPORTED = ("3.10", "3.11", "3.12", "3.13", "3.14")
ROOT = Path(__file__).resolve().parent.parent
# Experimental holds only what differs from unstable: it is tried on top of unstable.
_DEBIAN_SUITES = (("sid",), ("sid", "experimental"))
_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def home() -> Path:
    """Where this tool installs interpreters (``bin/python3.X`` links to each)."""
    return Path(os.environ.get("TREADLE_PYTHONS") or ROOT / ".dev" / "pythons")


def _minor_key(path: str) -> list[int]:
    """Sort key of ``.../versions/3.12.1/bin/...``: the version numbers of the folder."""
    return [int(n) for n in re.findall(r"\d+", Path(path).parent.parent.name)]


def candidates(version: str) -> list[Path]:
    """Where python<version> may be, best first (paths that may not exist or may not run)."""
    found: list[Path] = []
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"]
    for root in dict.fromkeys(r for r in roots if r):
        # Plain releases only (3.12.1, not 3.12-dev or 3.13.0t), newest patch first.
        pattern = os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")
        matches = [m for m in glob.glob(pattern) if re.search(r"/\d+\.\d+\.\d+/bin/", m)]
        found.extend(Path(m) for m in sorted(matches, key=_minor_key, reverse=True))
    found.append(home() / "bin" / f"python{version}")
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if "shims" not in p
    )
    which = shutil.which(f"python{version}", path=path)
    if which:
        found.append(Path(which))
    return list(dict.fromkeys(found))


def works(path: Path, version: str, *, venv: bool = False) -> bool:
    """Whether *path* runs and is CPython *version* (with ``ensurepip`` when *venv*)."""
    if not os.access(str(path), os.X_OK):
        return False
    code = "import sys; assert '%d.%d' % sys.version_info[:2] == sys.argv[1]"
    if venv:
        code += "; import ensurepip, venv"
    try:
        proc = subprocess.run(
            [str(path), "-I", "-c", code, version],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def find(version: str, *, venv: bool = False) -> Path | None:
    """The first working python<version>, or None."""
    found = next((p for p in candidates(version) if works(p, version, venv=venv)), None)
    if found is not None and found == home() / "bin" / f"python{version}":
        write_bytecode(version, found)  # an install made before this step existed
    return found


def _log(message: str) -> None:
    print(f"tools/pythons: {message}", file=sys.stderr, flush=True)


def _run(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> bool:
    """Run *cmd* with its output on stderr; whether it succeeded."""
    try:
        proc = subprocess.run(
            list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sys.stderr, check=False
        )
    except OSError as exc:
        _log(f"{cmd[0]}: {exc}")
        return False
    return proc.returncode == 0


def _link(version: str, target: Path) -> Path:
    """Point ``<home>/bin/python<version>`` at *target* and return the link."""
    link = home() / "bin" / f"python{version}"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    return link


def install_with_uv(version: str) -> Path | None:
    """``uv python install`` into ``<home>/uv``; None when uv is missing or cannot fetch."""
    uv = ROOT / ".dev" / "venv" / "bin" / "uv"
    uv_path = str(uv) if uv.is_file() else shutil.which("uv")
    if uv_path is None:
        return None
    env = dict(os.environ, UV_PYTHON_INSTALL_DIR=str(home() / "uv"))
    _log(f"trying: uv python install {version}")
    if not _run([uv_path, "python", "install", "--no-bin", version], env=env):
        return None
    try:
        out = subprocess.run(
            [uv_path, "python", "find", "--managed-python", version],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return _link(version, Path(out)) if out else None


def _debian_mirror() -> str | None:
    """The first non-security Debian mirror in this machine's apt sources."""
    texts = []
    for name in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]:
        try:
            texts.append(Path(name).read_text())
        except OSError:
            continue
    for line in "\n".join(texts).splitlines():
        words = line.split()
        if len(words) > 1 and words[0] in ("deb", "URIs:") and "security" not in line:
            url = next((w for w in words[1:] if "://" in w), None)
            if url:
                return url
    return None


class _Apt:
    """apt-get and apt-cache on a private state holding Debian suites (no root needed)."""

    def __init__(self, where: Path, mirror: str, suites: Sequence[str]) -> None:
        self.where = where
        for sub in ("lists/partial", "cache/archives/partial"):
            (where / sub).mkdir(parents=True, exist_ok=True)
        sources = where / "sources.list"
        sources.write_text(
            "".join(f"deb [signed-by={_KEYRING}] {mirror} {suite} main\n" for suite in suites)
        )
        self.options: list[str] = []
        for key, value in (
            ("Dir::Etc::SourceList", sources),
            ("Dir::Etc::SourceParts", "/dev/null"),
            ("Dir::State::Lists", where / "lists"),
            ("Dir::State::status", "/dev/null"),
            ("Dir::Cache", where / "cache"),
            ("APT::Architecture", "amd64"),
            ("Debug::NoLocking", "1"),
            ("APT::Sandbox::User", "root"),
        ):
            self.options += ["-o", f"{key}={value}"]

    def update(self) -> bool:
        return _run(["apt-get", *self.options, "-qq", "update"])

    def closure(self, packages: Sequence[str]) -> list[str]:
        """*packages* and what they need (apt's recursive dependencies, virtual ones aside)."""
        proc = subprocess.run(
            ["apt-cache", *self.options, "depends", "--recurse", "--no-recommends",
             "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
             "--no-enhances", *packages],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        names = {line.strip() for line in proc.stdout.splitlines() if not line.startswith(" ")}
        return sorted(n for n in names if "<" not in n) if proc.returncode == 0 else []

    def download(self, packages: Sequence[str], into: Path) -> bool:
        into.mkdir(parents=True, exist_ok=True)
        return _run(["apt-get", *self.options, "-qq", "download", *packages], cwd=into)


def install_from_debian(version: str) -> Path | None:
    """Unpack Debian's python<version> from unstable or experimental; None when impossible."""
    mirror = _debian_mirror()
    if mirror is None or not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return None
    if os.uname().machine != "x86_64":
        return None
    where = home() / f"debian-{version}"
    prefix = where / "prefix"
    for suites in _DEBIAN_SUITES:
        apt = _Apt(where / "apt", mirror, suites)
        _log(f"trying: python{version} from Debian {' + '.join(suites)} ({mirror})")
        if not apt.update():
            continue
        wanted = apt.closure([f"python{version}-minimal", f"libpython{version}-stdlib", "patchelf"])
        if f"python{version}-minimal" not in wanted:
            continue  # not in this suite
        shutil.rmtree(prefix, ignore_errors=True)
        debs = Path(tempfile.mkdtemp(dir=str(where)))
        try:
            if not apt.download(wanted, debs):
                continue
            for deb in sorted(debs.glob("*.deb")):
                if not _run(["dpkg-deb", "-x", str(deb), str(prefix)]):
                    break
            else:
                return _relocate(version, prefix)
        finally:
            shutil.rmtree(debs, ignore_errors=True)
    shutil.rmtree(where, ignore_errors=True)
    return None


def _relocate(version: str, prefix: Path) -> Path | None:
    """Run the unpacked interpreter on the C library beside it, and link it."""
    lib = prefix / "usr" / "lib" / "x86_64-linux-gnu"
    loader = lib / "ld-linux-x86-64.so.2"
    binary = prefix / "usr" / "bin" / f"python{version}"
    # patchelf comes from the same suite, so it too runs through that suite's loader. The
    # RPATH (not RUNPATH) of the executable also serves the extension modules it loads.
    # Two calls, the RPATH first: patchelf 0.18 breaks the binary when given both at once.
    patchelf = [str(loader), "--library-path", str(lib), str(prefix / "usr/bin/patchelf")]
    for change in (["--force-rpath", "--set-rpath", str(lib)], ["--set-interpreter", str(loader)]):
        if not _run([*patchelf, *change, str(binary)]):
            return None
    link = _link(version, binary)  # it finds its standard library through the link
    if not works(link, version):
        return None
    write_bytecode(version, link)
    return link


def write_bytecode(version: str, python: Path) -> None:
    """Compile the standard library of an unpacked Debian interpreter, if not done yet.

    ``dpkg-deb -x`` runs no maintainer script, so the library arrives without the ``.pyc``
    files Debian's postinst (``py3compile``) would write. Without them, and with
    PYTHONDONTWRITEBYTECODE set (as on our machines), every process compiles every module
    it imports, every time: ``import typing`` took 35 ms and left 6 MB of compiler heap
    behind, which made 3.14's start-up, spawned children and fork timings meaningless.
    A few files are meant not to compile (bad-syntax test data): errors are not fatal.
    """
    stdlib = home() / f"debian-{version}" / "prefix" / "usr" / "lib" / f"python{version}"
    tag = version.replace(".", "")
    if not stdlib.is_dir() or (stdlib / "__pycache__" / f"typing.cpython-{tag}.pyc").exists():
        return
    _log(f"python{version}: compiling its standard library (Debian's postinst would)")
    skip = r"[/\\](test|tests|idle_test|site-packages)[/\\]"
    _run([str(python), "-m", "compileall", "-qq", "-j", "0", "-x", skip, str(stdlib)])


def install(version: str) -> Path | None:
    """Install python<version> (uv, else Debian); its path, or None.

    A failure is remembered for the day (``<home>/unavailable-3.X``), so that commands
    run often do not retry what this machine cannot fetch.
    """
    marker = home() / f"unavailable-{version}"
    today = time.strftime("%Y-%m-%d")
    try:
        if marker.read_text().strip() == today:
            return None
    except OSError:
        pass
    for how in (install_with_uv, install_from_debian):
        path = how(version)
        if path is not None and works(path, version):
            _log(f"python{version} installed: {path}")
            return path
    _log(f"python{version}: could not install it here (not retried before tomorrow)")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(today + "\n")
    return None


def find_or_install(
    version: str, *, venv: bool = False, allow_install: bool = False
) -> Path | None:
    """:func:`find`, then :func:`install` when *allow_install* (not for ``venv``)."""
    found = find(version, venv=venv)
    if found is not None or not allow_install or venv:
        return found
    home().mkdir(parents=True, exist_ok=True)
    with open(home() / ".lock", "w") as lock:  # one installer at a time per folder
        fcntl.flock(lock, fcntl.LOCK_EX)
        return find(version) or install(version)


def _each(versions: Sequence[str], *, install_missing: bool) -> Iterator[tuple[str, Path | None]]:
    for version in versions:
        yield version, find_or_install(version, allow_install=install_missing)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("find", help="the path of one version")
    one.add_argument("version", choices=SUPPORTED)
    newest = sub.add_parser("newest", help="the newest supported version found")
    every = sub.add_parser("all", help="one line per supported version")
    every.add_argument("versions", nargs="*", metavar="3.X", help="only these versions")
    for command in (one, newest):
        command.add_argument("--venv", action="store_true", help="it must have ensurepip")
    for command in (one, every):
        command.add_argument("--install", action="store_true", help="install what is missing")
    args = parser.parse_args(argv)

    if args.command == "find":
        found = find_or_install(args.version, venv=args.venv, allow_install=args.install)
        if found is None:
            return 1
        print(found)
    elif args.command == "newest":
        for version in reversed(SUPPORTED):
            found = find(version, venv=args.venv)
            if found is not None:
                print(found)
                return 0
        return 1
    else:
        unknown = [v for v in args.versions if v not in SUPPORTED]
        if unknown:
            parser.error(f"not a supported version: {' '.join(unknown)} (of {' '.join(SUPPORTED)})")
        for version, path in _each(args.versions or SUPPORTED, install_missing=args.install):
            print(version, path or "-", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
