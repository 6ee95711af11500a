"""tools/check_layout.py: passes on good trees, names each kind of breakage."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from tools import check_layout
from tools.check_layout import Requirement, check, find_cycle, specifier_admits
from tools.tests._tree import make_member, make_tree, write, write_root

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the repository tools need Python 3.11+ (tomllib)"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = make_tree(tmp_path / "repo")
    assert check(root) == []
    return root


def _one(problems: list[str], pattern: str) -> None:
    assert any(re.search(pattern, p) for p in problems), problems


def test_real_tree_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_layout.main([]) == 0, capsys.readouterr().out
    assert "ok" in capsys.readouterr().out


def test_main_reports_and_exits_1(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "packages/threading/src/treadle/threading/py.typed").unlink()
    assert check_layout.main(["--root", str(tree)]) == 1
    out = capsys.readouterr()
    assert "packages/threading: missing src/treadle/threading/py.typed" in out.out
    assert "1 problem" in out.err


def test_missing_py_typed(tree: Path) -> None:
    (tree / "packages/contextvars/src/treadle/contextvars/py.typed").unlink()
    assert check(tree) == ["packages/contextvars: missing src/treadle/contextvars/py.typed"]


def test_namespace_init(tree: Path) -> None:
    write(tree / "packages/thread-core/src/treadle/__init__.py", "")
    _one(check(tree), r"^packages/thread-core: src/treadle/__init__\.py must not exist")


def test_namespace_py_typed_and_stray_entries(tree: Path) -> None:
    write(tree / "packages/thread-core/src/treadle/py.typed", "")
    write(tree / "packages/thread-core/src/treadle/extra/__init__.py", "")
    problems = check(tree)
    _one(problems, r"src/treadle/py\.typed must not exist")
    _one(problems, r"src/treadle/extra must not exist")


def test_wrong_leaf_folder(tree: Path) -> None:
    src = tree / "packages/thread-core/src/treadle"
    (src / "thread_core").rename(src / "threadcore")
    problems = check(tree)
    _one(problems, r"missing src/treadle/thread_core/__init__\.py")
    _one(problems, r"src/treadle/threadcore must not exist")


def test_wrong_distribution_name(tree: Path) -> None:
    path = tree / "packages/contextvars/pyproject.toml"
    path.write_text(path.read_text().replace('"treadle-contextvars"', '"treadle-ctx"'))
    _one(check(tree), r"project\.name is 'treadle-ctx', expected 'treadle-contextvars'")


def test_undeclared_sibling_import(tree: Path) -> None:
    write(
        tree / "packages/contextvars/src/treadle/contextvars/_impl.py",
        "from treadle.thread_core import start_new_thread\n",
    )
    assert check(tree) == [
        "packages/contextvars/src/treadle/contextvars/_impl.py:1: imports "
        "treadle.thread_core but treadle-thread-core is not a declared dependency"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "import treadle.queue",
        "import treadle.queue.sub as q",
        "from treadle.queue import Queue",
        "from treadle import queue",
    ],
)
def test_every_import_form_is_seen(tree: Path, line: str) -> None:
    write(tree / "packages/threading/src/treadle/threading/_x.py", f"def f():\n    {line}\n")
    _one(check(tree), r"_x\.py:2: imports treadle\.queue but treadle-queue is not a declared")


def test_relative_and_own_imports_are_fine(tree: Path) -> None:
    write(
        tree / "packages/threading/src/treadle/threading/_x.py",
        "from . import VALUE\nfrom treadle.threading import VALUE as V\nimport treadle\n",
    )
    assert check(tree) == []


def test_tests_may_import_transitive_dependencies(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "thread-core": (),
            "contextvars": (),
            "threading": ("thread-core", "contextvars"),
            "queue": ("threading",),
        },
    )
    write(root / "packages/queue/tests/test_more.py", "import treadle.thread_core\n")
    assert check(root) == []
    write(root / "packages/queue/src/treadle/queue/_y.py", "import treadle.thread_core\n")
    _one(check(root), r"queue/_y\.py:1: imports treadle\.thread_core")


def test_pin_not_admitting_sibling_version(tree: Path) -> None:
    path = tree / "packages/thread-core/pyproject.toml"
    path.write_text(path.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    assert check(tree) == [
        "packages/threading: dependencies pin 'treadle-thread-core>=0.1,<0.2' does not admit "
        "the in-tree version 0.2.0 of packages/thread-core"
    ]


def test_unpinned_sibling(tree: Path) -> None:
    path = tree / "packages/threading/pyproject.toml"
    path.write_text(
        path.read_text().replace('"treadle-contextvars>=0.1,<0.2"', '"treadle-contextvars"')
    )
    assert check(tree) == [
        "packages/threading: dependencies treadle-contextvars has no version pin"
    ]


def test_cycle(tree: Path) -> None:
    path = tree / "packages/thread-core/pyproject.toml"
    path.write_text(
        path.read_text().replace("dependencies = []", 'dependencies = ["treadle-threading>=0.1"]')
    )
    problems = check(tree)
    assert (
        "dependency cycle: treadle-thread-core -> treadle-threading -> treadle-thread-core"
        in problems
    )
    _one(problems, r"thread-core: dependencies on siblings are treadle-threading, DESIGN\.md says")


def test_graph_differs_from_design(tree: Path) -> None:
    path = tree / "packages/threading/pyproject.toml"
    path.write_text(path.read_text().replace(', "treadle-contextvars>=0.1,<0.2"', ""))
    (tree / "packages/threading/src/treadle/threading/__init__.py").write_text(
        '"""Doc."""\n__all__ = ["VALUE"]\nVALUE = 9\n'
    )
    assert check(tree) == [
        "packages/threading: dependencies on siblings are treadle-thread-core, DESIGN.md says "
        "treadle-contextvars, treadle-thread-core"
    ]


def test_unknown_member_and_unknown_sibling(tree: Path) -> None:
    make_member(tree, "extra", ["nothere"])
    write_root(tree, ["thread-core", "contextvars", "threading", "extra"])
    problems = check(tree)
    _one(problems, r"packages/extra: not in DESIGN\.md's table")
    _one(problems, r"packages/extra: dependencies names treadle-nothere, which is not a member")


def test_optional_extras(tmp_path: Path) -> None:
    members = {
        "thread-core": (),
        "contextvars": (),
        "threading": ("thread-core", "contextvars"),
        "queue": ("threading",),
        "multiprocessing": ("threading", "queue"),
        "futures": ("threading", "queue", "contextvars"),
    }
    root = make_tree(tmp_path, members)
    futures = root / "packages/futures"
    write(
        futures / "src/treadle/futures/_proc.py", "def f():\n    import treadle.multiprocessing\n"
    )
    # An extra not declared yet is no error of its own (it comes with its feature); the
    # import of the undeclared sibling is.
    problems = check(root)
    _one(problems, r"_proc\.py:2: imports treadle\.multiprocessing")
    assert len(problems) == 1
    path = futures / "pyproject.toml"
    base = path.read_text()
    path.write_text(
        base + '\n[project.optional-dependencies]\nprocess = ["treadle-queue>=0.1,<0.2"]\n'
    )
    _one(
        check(root),
        r"futures: optional sibling dependencies are \[process\] treadle-queue, DESIGN\.md "
        r"says \[process\] treadle-multiprocessing",
    )
    path.write_text(
        base
        + '\n[project.optional-dependencies]\nprocess = ["treadle-multiprocessing>=0.1,<0.2"]\n'
    )
    # An optional dependency may be imported (guarded); [interpreters] is not in the tree.
    assert check(root) == []


def test_classifiers_and_wheel_target(tree: Path) -> None:
    path = tree / "packages/contextvars/pyproject.toml"
    text = path.read_text()
    text = text.replace('  "Programming Language :: Python :: 3.12",\n', "")
    text = text.replace('  "Typing :: Typed",\n', "")
    text = text.replace('packages = ["src/treadle"]', 'packages = ["src/treadle/contextvars"]')
    path.write_text(text)
    problems = check(tree)
    _one(problems, r"contextvars: classifiers lack 'Typing :: Typed'")
    _one(problems, r"contextvars: classifiers lack 'Programming Language :: Python :: 3\.12'")
    _one(problems, r"contextvars: \[tool\.hatch\.build\.targets\.wheel\] must say")
    assert len(problems) == 3


def test_classifiers_follow_the_floor(tree: Path) -> None:
    path = tree / "packages/contextvars/pyproject.toml"
    path.write_text(path.read_text().replace(">=3.10", ">=3.13"))
    problems = check(tree)
    assert problems == [
        "packages/contextvars: classifier 'Programming Language :: Python :: 3.10' is below "
        "requires-python 13",
        "packages/contextvars: classifier 'Programming Language :: Python :: 3.11' is below "
        "requires-python 13",
        "packages/contextvars: classifier 'Programming Language :: Python :: 3.12' is below "
        "requires-python 13",
    ]


def test_readme_license_tests(tree: Path) -> None:
    member = tree / "packages/contextvars"
    (member / "README.md").unlink()
    (member / "LICENSE").unlink()
    (member / "tests/test_contextvars.py").unlink()
    write(member / "tests/__init__.py", "")
    assert check(tree) == [
        "packages/contextvars: missing README.md",
        "packages/contextvars: missing LICENSE",
        "packages/contextvars: tests/ holds no test_*.py file",
        "packages/contextvars: tests/__init__.py must not exist "
        "(tests run with --import-mode=importlib)",
    ]


def test_root_lists_out_of_sync(tree: Path) -> None:
    write_root(tree, ["thread-core", "threading", "queue"])
    assert check(tree) == [
        "pyproject.toml: tool.mypy.mypy_path lacks packages/contextvars/src",
        "pyproject.toml: tool.mypy.mypy_path lists packages/queue/src, which does not exist",
        "pyproject.toml: tool.hatch.envs.solo.sources lacks treadle-contextvars",
        "pyproject.toml: tool.hatch.envs.solo.sources lists treadle-queue, not in packages/",
        "pyproject.toml: the solo matrix pkg lacks 'contextvars'",
        "pyproject.toml: the solo matrix pkg lists 'queue', not in packages/",
    ]


def test_dunder_all(tree: Path) -> None:
    init = tree / "packages/contextvars/src/treadle/contextvars/__init__.py"
    init.write_text('"""Doc."""\nVALUE = 1\n')
    assert check(tree) == ["packages/contextvars: src/treadle/contextvars/__init__.py: no __all__"]
    init.write_text(
        '"""Doc."""\n'
        "from ._impl import A, B as C\n"
        "import os.path\n"
        "try:\n    from ._fast import D\nexcept ImportError:\n    D = None\n"
        "if True:\n    def E(): pass\nclass F: pass\n"
        "G: int = 1\n"
        '__all__ = ["A", "C", "D", "E", "F", "G", "os", "B", "H"]\n'
        '__all__ += ["A"]\n'
    )
    assert check(tree) == [
        "packages/contextvars: src/treadle/contextvars/__init__.py: __all__ lists 'B', "
        "which the module does not define",
        "packages/contextvars: src/treadle/contextvars/__init__.py: __all__ lists 'H', "
        "which the module does not define",
        "packages/contextvars: src/treadle/contextvars/__init__.py: __all__ lists A more than once",
    ]


def test_umbrella(tree: Path) -> None:
    umbrella = tree / "packages/treadle"
    write(
        umbrella / "pyproject.toml",
        '[project]\nname = "treadle"\nversion = "0.1.0"\n'
        'dependencies = ["treadle-thread-core>=0.1,<0.2", "treadle-contextvars>=0.2"]\n',
    )
    write(umbrella / "README.md", "# treadle\n")
    write(umbrella / "LICENSE", "MIT\n")
    write(umbrella / "src/treadle/x.py", "")
    assert check(tree) == [
        "packages/treadle: dependencies pin 'treadle-contextvars>=0.2' does not admit the "
        "in-tree version 0.1.0 of packages/contextvars",
        "packages/treadle: the umbrella distribution has no code, found src/treadle/x.py",
        "packages/treadle: the umbrella does not depend on treadle-threading",
    ]


def test_find_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


@pytest.mark.parametrize(
    ("spec", "version", "admitted"),
    [
        (">=0.1,<0.2", "0.1.0", True),
        (">=0.1,<0.2", "0.1.9", True),
        (">=0.1,<0.2", "0.2.0", False),
        (">=0.1,<0.2", "0.0.9", False),
        (">=0.1,<0.2", "0.2.0a1", False),
        (">=0.1,<0.2", "0.1.0rc1", False),
        ("<=0.1", "0.1.0", True),
        (">0.1", "0.1.0.post1", False),
        (">0.1", "0.1.1", True),
        ("==0.1", "0.1.0", True),
        ("==0.1.*", "0.1.7", True),
        ("==0.1.*", "0.2.0", False),
        ("!=0.1.3", "0.1.3", False),
        ("!=0.1.*", "0.2", True),
        ("~=0.1.2", "0.1.9", True),
        ("~=0.1.2", "0.2.0", False),
        ("~=0.1", "0.9", True),
        ("~=0.1", "1.0", False),
        ("", "5", True),
        (">=3.10", "3.10.13", True),
        (">=3.13", "3.12.1", False),
        (">=1.0.dev0", "1.0a1", True),
    ],
)
def test_specifier_admits(spec: str, version: str, admitted: bool) -> None:
    assert specifier_admits(spec, version) is admitted


@pytest.mark.parametrize(("spec", "version"), [("=>0.1", "1.0"), ("~=1", "1.0"), (">=1", "one")])
def test_specifier_rejects_what_is_not_pep_440(spec: str, version: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid"):
        specifier_admits(spec, version)


def test_invalid_member_version(tree: Path) -> None:
    path = tree / "packages/contextvars/pyproject.toml"
    path.write_text(path.read_text().replace('version = "0.1.0"', 'version = "0.1-final-x"'))
    _one(check(tree), r"^packages/contextvars: project\.version: Invalid version")


def test_requirement_parsing() -> None:
    req = Requirement.parse("Treadle_Queue[a, b] >=0.1,<0.2 ; python_version >= '3.11'")
    assert (req.name, req.extras, req.specifier, req.marker) == (
        "treadle-queue",
        ("a", "b"),
        "<0.2,>=0.1",
        'python_version >= "3.11"',
    )
    assert Requirement.parse("treadle-queue (>=0.1)").specifier == ">=0.1"
    assert Requirement.parse("x @ file:///tmp/x").url == "file:///tmp/x"
    with pytest.raises(ValueError, match=r"cannot parse requirement 'x >= '"):
        Requirement.parse("x >= ")


# --- a member may declare what its DESIGN.md dependencies bring along, and nothing else ---

QUEUE_TREE: dict[str, tuple[str, ...]] = {
    "thread-core": (),
    "contextvars": (),
    "threading": ("thread-core", "contextvars"),
    "queue": ("threading",),
    "sched": ("threading",),
}


@pytest.mark.parametrize(
    "extra", [("thread-core",), ("contextvars",), ("thread-core", "contextvars")]
)
def test_declaring_the_design_closure_is_allowed(tmp_path: Path, extra: tuple[str, ...]) -> None:
    """queue -> threading -> thread-core: queue may name thread-core itself and import it."""
    root = make_tree(tmp_path, {**QUEUE_TREE, "queue": ("threading", *extra)})
    assert check(root) == []


def test_declaring_outside_the_design_closure_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {**QUEUE_TREE, "queue": ("threading", "thread-core", "sched")})
    assert check(root) == [
        "packages/queue: dependencies on siblings are treadle-sched, treadle-thread-core, "
        "treadle-threading, DESIGN.md says treadle-threading (and may add "
        "treadle-contextvars, treadle-thread-core)"
    ]


# --- the layering: version tests and private stdlib names in _native.py only ---


def _layering(tree: Path, folder: str, name: str, code: str) -> list[str]:
    """check() after writing *code* to packages/<folder>/src/treadle/<leaf>/<name>."""
    leaf = folder.replace("-", "_")
    write(tree / f"packages/{folder}/src/treadle/{leaf}/{name}", code)
    return check(tree)


VIOLATIONS = [
    ("import sys\nif sys.version_info >= (3, 13):\n    pass\n", 2, "tests the Python version"),
    ("import sys\nX = sys.version_info[:2]\n", 2, "tests the Python version"),
    ("from sys import version_info\n", 1, "tests the Python version"),
    ("import sys as s\nX = s.hexversion\n", 2, "tests the Python version"),
    ("import _posixsubprocess\n", 1, "imports _posixsubprocess, a private stdlib name"),
    ("def f():\n    import _thread\n", 2, "imports _thread, a private stdlib name"),
    ("from _contextvars import Context\n", 1, "imports from _contextvars, a private"),
    ("import importlib._bootstrap\n", 1, "imports importlib._bootstrap, a private"),
    ("from os import _exit\n", 1, "imports _exit from os, a private stdlib name"),
    ("import os\nos._exit(0)\n", 2, "uses os._exit, a private stdlib name"),
    ("import os.path\nX = os.path._joinrealpath\n", 2, "uses os.path._joinrealpath, a"),
    ("import concurrent.futures as cf\nE = cf._base.Error\n", 2, "uses concurrent.futures._base"),
    ("from subprocess import Popen as P\nP._x = 1\n", 2, "uses subprocess.Popen._x, a"),
    ("import sys\nF = getattr(sys, '_getframe')\n", 2, "uses sys._getframe \\(getattr\\)"),
]


@pytest.mark.parametrize(("code", "line", "what"), VIOLATIONS)
def test_layering_violation_outside_native(tree: Path, code: str, line: int, what: str) -> None:
    problems = _layering(tree, "contextvars", "_impl.py", code)
    assert len(problems) == 1, problems
    _one(problems, rf"^packages/contextvars/src/treadle/contextvars/_impl\.py:{line}: {what}")


@pytest.mark.parametrize(("code", "line", "what"), VIOLATIONS)
def test_layering_allows_all_of_it_in_native(tree: Path, code: str, line: int, what: str) -> None:
    assert _layering(tree, "contextvars", "_native.py", code) == []


def test_native_means_the_leaf_module_only(tree: Path) -> None:
    code = "import _thread\n"
    problems = _layering(tree, "contextvars", "sub/_native.py", code)
    assert problems == [
        "packages/contextvars/src/treadle/contextvars/sub/_native.py:1: imports _thread, "
        "a private stdlib name (it belongs in _native.py)"
    ]


@pytest.mark.parametrize(
    "code",
    [
        "from __future__ import annotations\n",
        "import threading\nN = threading.__name__\n",
        "import sys\nX = sys.platform, sys.version\n",
        "from . import _native\nX = _native._thing\n",
        "class A:\n    _x = 1\n    def f(self):\n        return self._x\n",
        "import collections\nX = collections.OrderedDict\n",
        "version_info = (3, 14)\nX = version_info\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from _typeshed import Self\n",
    ],
)
def test_layering_leaves_public_names_alone(tree: Path, code: str) -> None:
    assert _layering(tree, "contextvars", "_impl.py", code) == []


def test_a_chain_is_reported_once_at_its_first_private_part(tree: Path) -> None:
    code = "import threading\nX = threading.Thread._bootstrap._y.z\n"
    assert _layering(tree, "thread-core", "_x.py", code) == [
        "packages/thread-core/src/treadle/thread_core/_x.py:2: uses "
        "threading.Thread._bootstrap, a private stdlib name (it belongs in _native.py)"
    ]


THREAD_INTERNALS = [
    "import threading as std\nwith std._active_limbo_lock:\n    pass\n",
    "from threading import _shutdown\n",
    "import threading\nF = getattr(threading, '_register_atexit')\n",
    "import _thread\n_thread._shutdown()\n",
    "from _thread import allocate_lock, _count\n",
]


@pytest.mark.parametrize("code", THREAD_INTERNALS)
def test_only_thread_core_touches_the_stdlib_thread_internals(tree: Path, code: str) -> None:
    """Not even in threading's own _native.py; thread-core does, in its _native.py only."""
    problems = _layering(tree, "threading", "_native.py", code)
    assert len(problems) == 1, problems
    _one(problems, r"^packages/threading/src/treadle/threading/_native\.py:\d: ")
    _one(problems, r"only treadle-thread-core touches the stdlib's thread internals")
    (tree / "packages/threading/src/treadle/threading/_native.py").unlink()
    assert _layering(tree, "thread-core", "_native.py", code) == []
    problems = _layering(tree, "thread-core", "runtime.py", code)
    assert problems, problems
    for problem in problems:
        assert re.search(r"thread_core/runtime\.py:\d: .*a private stdlib name \(it", problem)
