"""A spawned child re-imports the parent's ``__main__`` as ``__mp_main__``.

Each case is a program run in a fresh interpreter: a script, ``python -m`` of a module
and of a package, a ``-c`` main (the interactive case), and a script without the
``if __name__ == "__main__"`` guard (the child must refuse to start processes).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(90)

HERE = str(Path(__file__).resolve().parent)

# A main module whose target is defined in the main module itself.
BODY = """
import sys
from treadle import multiprocessing

def target():
    sys.exit(0 if __name__ == "__mp_main__" else 9)

if __name__ == "__main__":
    p = multiprocessing.get_context(sys.argv[1]).Process(target=target)
    p.start()
    p.join()
    print("exitcode", p.exitcode)
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=80, check=False
    )


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_script(tmp_path: Path, method: str) -> None:
    (tmp_path / "prog.py").write_text(BODY)
    done = _run(["prog.py", method], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["exitcode", "0"]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_python_m_module(tmp_path: Path, method: str) -> None:
    (tmp_path / "progmod.py").write_text(BODY)
    done = _run(["-m", "progmod", method], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["exitcode", "0"]


def test_python_m_package(tmp_path: Path) -> None:
    # `python -m pkg` runs pkg.__main__, which the child does not re-run (as in the
    # stdlib): targets live in the package's modules.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "work.py").write_text("import sys\ndef target():\n    sys.exit(5)\n")
    (pkg / "__main__.py").write_text(
        textwrap.dedent(
            """
            import sys
            from treadle import multiprocessing
            from pkg import work
            p = multiprocessing.get_context("spawn").Process(target=work.target)
            p.start()
            p.join()
            print("exitcode", p.exitcode)
            """
        )
    )
    done = _run(["-m", "pkg"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["exitcode", "5"]


def test_relative_imports_from_script_dir(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("import sys\ndef target():\n    sys.exit(4)\n")
    (tmp_path / "prog.py").write_text(
        textwrap.dedent(
            """
            import sys
            import helper
            from treadle import multiprocessing
            if __name__ == "__main__":
                p = multiprocessing.get_context("spawn").Process(target=helper.target)
                p.start()
                p.join()
                print("exitcode", p.exitcode)
            """
        )
    )
    other = tmp_path / "elsewhere"
    other.mkdir()
    done = _run([str(tmp_path / "prog.py")], other)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["exitcode", "4"]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_interactive_main_is_refused_clearly(tmp_path: Path, method: str) -> None:
    code = BODY.replace("sys.argv[1]", repr(method))
    done = _run(["-c", code], tmp_path)
    assert done.returncode == 1
    assert "PicklingError" in done.stderr
    assert "target: target is defined in the interactive __main__ module" in done.stderr


def test_interactive_main_fine_with_fork(tmp_path: Path) -> None:
    code = BODY.replace("sys.argv[1]", "'fork'").replace('"__mp_main__"', '"__main__"')
    done = _run(["-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["exitcode", "0"]


def test_unguarded_main_does_not_fork_bomb(tmp_path: Path) -> None:
    (tmp_path / "bomb.py").write_text(
        textwrap.dedent(
            """
            import sys
            from treadle import multiprocessing

            def target():
                pass

            p = multiprocessing.get_context("spawn").Process(target=target)
            p.start()
            p.join()
            print("exitcode", p.exitcode)
            """
        )
    )
    done = _run(["bomb.py"], tmp_path)
    # The child, re-running the unguarded main, refuses to start a process: it fails
    # with the stdlib's RuntimeError and the parent sees exit code 1.
    assert done.returncode == 0, done.stderr
    assert "An attempt has been made to start a new process" in done.stderr
    assert done.stdout.split() == ["exitcode", "1"]
