"""A spawned child re-imports the parent's ``__main__`` as ``__mp_main__``.

Each case is a program run in a fresh interpreter: a script, ``python -m`` of a module
and of a package, a ``-c`` main (the interactive case), and a script without the
``if __name__ == "__main__"`` guard (the child must refuse to start processes).
"""

from __future__ import annotations

import os
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
@pytest.mark.parametrize("body", ["BODY", "ANNOTATED"])
def test_script(tmp_path: Path, method: str, body: str) -> None:
    # ANNOTATED (below): the child runs the script with its own __future__ flags.
    (tmp_path / "prog.py").write_text(globals()[body])
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


# ---------------------------------------------------------------------------------------
# The child's start-up shortcuts: the main script's code compiled once by the parent, and
# the C unpickler loaded without functools. Each must behave as the long way does.

ANNOTATED = """
import sys
from treadle import multiprocessing

def annotated(x: int) -> None:
    pass

def target():
    # The script has no `from __future__ import annotations`: its annotations are
    # objects in the child too, whatever the package's own modules import.
    sys.exit(0 if annotated.__annotations__["x"] is int else 7)

if __name__ == "__main__":
    p = multiprocessing.get_context(sys.argv[1]).Process(target=target)
    p.start()
    p.join()
    print("exitcode", p.exitcode)
"""


def test_parents_compiled_main_is_used_only_while_valid(tmp_path: Path) -> None:
    from treadle.multiprocessing import _spawn

    script = tmp_path / "prog.py"
    script.write_text("VALUE = 1\n")
    path = str(script)
    compiled = _spawn._compiled_main(path)
    assert compiled is not None
    code = _spawn._reuse_main_code(path, compiled)
    assert code is not None
    assert code.co_filename == path
    namespace: dict[str, object] = {}
    exec(code, namespace)
    assert namespace["VALUE"] == 1

    # Another interpreter's bytecode, another -O level, or malformed data: not used.
    magic, optimize, mtime_ns, size, blob = compiled
    for other in (
        (b"\0\0\r\n", optimize, mtime_ns, size, blob),
        (magic, optimize + 1, mtime_ns, size, blob),
        (magic, optimize, mtime_ns, size, b"not marshal data"),
        (magic, optimize, mtime_ns),
        None,
    ):
        assert _spawn._reuse_main_code(path, other) is None

    # The script changed after the parent compiled it: the child compiles it again.
    script.write_text("VALUE = 22\n")
    assert _spawn._reuse_main_code(path, compiled) is None
    fresh = _spawn._compiled_main(path)
    assert fresh is not None
    assert fresh != compiled


def test_parent_leaves_unusual_mains_to_the_child(tmp_path: Path) -> None:
    from treadle.multiprocessing import _spawn

    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    assert _spawn._compiled_main(str(broken)) is None  # the child reports the error
    assert _spawn._compiled_main(str(tmp_path / "missing.py")) is None
    assert _spawn._compiled_main(str(tmp_path)) is None  # a folder: runpy's case


def test_edited_main_runs_as_edited(tmp_path: Path) -> None:
    # The parent compiles prog.py for its first child, then the file changes: the second
    # child runs the new text, as it would if it compiled the script itself.
    (tmp_path / "prog.py").write_text(
        textwrap.dedent(
            """
            import sys
            from treadle import multiprocessing

            def target():
                sys.exit(CODE)

            CODE = 3

            if __name__ == "__main__":
                ctx = multiprocessing.get_context("spawn")
                for _ in range(2):
                    p = ctx.Process(target=target)
                    p.start()
                    p.join()
                    print("exitcode", p.exitcode)
                    with open(__file__) as f:
                        text = f.read()
                    with open(__file__, "w") as f:
                        f.write(text.replace("CODE = 3", "CODE = 44"))
            """
        )
    )
    done = _run(["prog.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["exitcode", "3", "exitcode", "44"]


UNPICKLER = """
import sys
from treadle.multiprocessing import _native

load = _native.payload_loader()
assert "functools" not in sys.modules, "functools was imported"
import _pickle
import functools
import pickle

assert load is _pickle.load
assert type(functools.reduce).__name__ == "builtin_function_or_method"  # the real one


class KeywordOnly:
    def __new__(cls, *, size):
        self = super().__new__(cls)
        self.size = size
        return self

    def __getnewargs_ex__(self):
        return (), {"size": self.size}


# Protocol 2 pickles keyword arguments to __new__ through functools.partial, the object
# the C pickler took while functools was a stand-in.
for protocol in (2, pickle.HIGHEST_PROTOCOL):
    assert pickle.loads(pickle.dumps(KeywordOnly(size=3), protocol)).size == 3
    assert pickle.loads(pickle.dumps(functools.partial(int, "7"), protocol))() == 7
print("ok")
"""


# A finder (from a .pth file, say) that imports functools only when first asked: it must
# get the real module, and keep sharing it with everyone else.
LAZY_FINDER = """
import sys
from treadle.multiprocessing import _native

got = []


class LazyFinder:
    busy = False

    def find_spec(self, name, path=None, target=None):
        if not got and not LazyFinder.busy:
            LazyFinder.busy = True  # its own imports come through here too
            import functools

            got.append(functools)
        return None


sys.meta_path.insert(0, LazyFinder())
load = _native.payload_loader()
import functools

assert got[0] is functools, "two functools modules"
assert functools.lru_cache, "the stand-in leaked"
print("ok")
"""


@pytest.mark.parametrize("program", [UNPICKLER, LAZY_FINDER], ids=["plain", "lazy-finder"])
def test_unpickler_loads_without_functools(tmp_path: Path, program: str) -> None:
    # -S: no site, so that no .pth file (coverage's, in a test environment) has imported
    # functools before the child's first step; treadle is found through PYTHONPATH.
    import treadle

    roots = os.pathsep.join(os.path.dirname(portion) for portion in treadle.__path__)
    done = subprocess.run(
        [sys.executable, "-S", "-c", program],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": roots},
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok"]
