"""``fallback`` (stdlib source of submodules treadle has not built yet) and ``select``.

A fake stdlib package ``fakepkg`` sits in the venv's site-packages; treadle's stand-in
``treadle_fakepkg`` has only part of it (``core``), so ``fakepkg.extra`` and the
``fakepkg.extra_sub`` package fall back to the "stdlib" source, whose relative imports must
then reach treadle's modules, in the test process and in its children alike.
"""

from __future__ import annotations

import json
import sys
import textwrap
import unittest
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the conformance tool needs Python 3.11+ (tomllib)"
)

from tools.conformance import _cli, _pythons  # noqa: E402
from tools.conformance._config import ConfigError, load_targets, parse_target  # noqa: E402
from tools.conformance._execute import Venv, ensure_venv, run_module  # noqa: E402
from tools.conformance._runner import select_matches, select_suite, selected  # noqa: E402
from tools.conformance._scoring import ModuleRun, Outcome  # noqa: E402

VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
HERE = Path(__file__).resolve().parents[1]

FAKEPKG = {
    "__init__.py": (
        'WHO = "stdlib"\nONLY_IN_STDLIB = True\n'
        "from .context import _default_context as _default\n"
        "Thing, Own = _default.Thing, _default.Own\n"
    ),
    # A context module as multiprocessing's: the package exports its default's methods.
    "context.py": (
        "from . import core\n"
        "class BaseContext:\n"
        "    def Thing(self):\n"
        "        from .extra import PKG_WHO\n"
        "        return PKG_WHO, core.WHO, type(self).__module__\n"
        "    def Own(self):\n"
        '        return "stdlib Own"\n'
        "_default_context = BaseContext()\n"
    ),
    "core.py": 'WHO = "stdlib core"\n',
    # `from . import extra_sub` asks treadle's package for treadle_fakepkg.extra_sub.
    "extra.py": "from . import core\nfrom . import WHO as PKG_WHO\nfrom . import extra_sub\n",
    "extra_sub/__init__.py": "",
    "extra_sub/leaf.py": "from .. import core\n",
    "broken.py": "from . import ONLY_IN_STDLIB\n",
}

TREADLE_FAKEPKG = {
    "__init__.py": (
        'WHO = "treadle"\nfrom .context import _default_context as _default\nOwn = _default.Own\n'
    ),
    "context.py": (
        "class BaseContext:\n"
        "    def Own(self):\n"
        '        return "treadle Own"\n'
        "_default_context = BaseContext()\n"
    ),
    "core.py": 'WHO = "treadle core"\n',
}

TEST_FAKEPKG = """
import subprocess
import sys
import unittest

import fakepkg
import fakepkg.extra
import fakepkg.extra_sub.leaf

CORE = "treadle core" if fakepkg.WHO == "treadle" else "stdlib core"


class Fallback(unittest.TestCase):
    def test_relative_imports_reach_the_substituted_package(self):
        self.assertEqual(fakepkg.extra.core.WHO, CORE)
        self.assertEqual(fakepkg.extra.PKG_WHO, fakepkg.WHO)
        self.assertIs(fakepkg.extra_sub.leaf.core, fakepkg.extra.core)
        self.assertIs(fakepkg.extra.extra_sub, sys.modules["fakepkg.extra_sub"])
        self.assertEqual(fakepkg.extra.extra_sub.__name__, "fakepkg.extra_sub")

    def test_in_a_child_with_a_clean_environment(self):
        code = "import fakepkg.extra_sub.leaf as m; print(m.core.WHO)"
        out = subprocess.run(
            [sys.executable, "-I", "-c", code], env={}, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.assertEqual(out, CORE)


    def test_a_child_has_not_imported_the_package_before_it_asks(self):
        code = (
            "import sys; assert 'fakepkg' not in sys.modules, 'already imported';"
            "import fakepkg; print(fakepkg.WHO)"
        )
        out = subprocess.run(
            [sys.executable, "-I", "-c", code], env={}, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.assertEqual(out, fakepkg.WHO)


class Other(unittest.TestCase):
    def test_other(self):
        pass
"""

TEST_FAKEPKG_CONTEXT = """
import unittest

import fakepkg

CONTEXT = "treadle_fakepkg.context" if fakepkg.WHO == "treadle" else "fakepkg.context"


class Context(unittest.TestCase):
    def test_a_child_has_not_imported_the_package_before_it_asks(self):
        import subprocess
        import sys

        code = (
            "import sys; assert 'fakepkg' not in sys.modules, 'already imported';"
            "import fakepkg; print(fakepkg.Thing()[0])"
        )
        out = subprocess.run(
            [sys.executable, "-I", "-c", code], env={}, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.assertEqual(out, fakepkg.WHO)

    def test_a_missing_method_comes_from_the_stdlib_on_top_of_treadle(self):
        core = "treadle core" if fakepkg.WHO == "treadle" else "stdlib core"
        self.assertEqual(fakepkg.Thing(), (fakepkg.WHO, core, CONTEXT))

    def test_a_method_treadle_has_is_never_replaced(self):
        self.assertEqual(fakepkg.Own(), fakepkg.WHO + " Own")
"""

TEST_FAKEPKG_BROKEN = """
import unittest

try:  # CPython's tests do this with optional parts: the failure must not go unnoticed
    import fakepkg.broken
    HAS_BROKEN = True
except ImportError:
    HAS_BROKEN = False


class Uses(unittest.TestCase):
    def test_it(self):
        pass
"""


TEST_PACKAGE_INIT = """
def load_tests(loader, tests, pattern):  # imports its module when the tests are loaded
    from . import test_inner

    tests.addTests(loader.loadTestsFromModule(test_inner))
    return tests
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Venv, Path]:
    interpreter = _pythons.find(VERSION)
    if interpreter is None:
        pytest.skip(f"no base interpreter for Python {VERSION} with its test suite")
    base = tmp_path_factory.mktemp("fallback")
    venv = ensure_venv(base / "state", interpreter)
    for root, files in (
        (venv.site_packages / "fakepkg", FAKEPKG),
        (base / "src" / "treadle_fakepkg", TREADLE_FAKEPKG),
    ):
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    (base / "tests").mkdir()
    (base / "tests" / "test_fakepkg.py").write_text(TEST_FAKEPKG)
    (base / "tests" / "test_fakepkg_broken.py").write_text(TEST_FAKEPKG_BROKEN)
    (base / "tests" / "test_fakepkg_context.py").write_text(TEST_FAKEPKG_CONTEXT)
    # 3.13+'s test_multiprocessing_spawn shape: a package whose modules load_tests imports.
    (base / "tests" / "test_fakepkg_package").mkdir()
    (base / "tests" / "test_fakepkg_package" / "__init__.py").write_text(TEST_PACKAGE_INIT)
    (base / "tests" / "test_fakepkg_package" / "test_inner.py").write_text(TEST_FAKEPKG_BROKEN)
    return venv, base


def _spec(base: Path, fallback: list[str]) -> dict[str, object]:
    return {
        "substitute": {"fakepkg": "treadle_fakepkg"},
        "preload": [],
        "src": [str(base / "src")],
        "fallback": fallback,
    }


def _run(
    world: tuple[Venv, Path],
    test: str,
    spec: dict[str, object] | None,
    select: tuple[str, ...] = (),
) -> ModuleRun:
    venv, base = world
    return run_module(
        venv,
        test,
        mode="baseline" if spec is None else "treadle",
        spec=spec,
        workdir=base / "w",
        module_timeout=100.0,
        test_timeout=30.0,
        test_paths=(str(base / "tests"),),
        select=select,
    )


def _short(run: ModuleRun) -> dict[str, str]:
    return {k.split(".", 2)[-1]: o.outcome for k, o in run.outcomes.items()}


def test_fallback_modules_build_on_the_treadle_package_in_every_process(
    world: tuple[Venv, Path],
) -> None:
    run = _run(world, "test_fakepkg", _spec(world[1], ["fakepkg.extra", "fakepkg.extra_sub"]))
    assert run.status == "ok", run.message
    assert set(_short(run).values()) == {"pass"}, run.outcomes
    assert run.proof["ok"]
    assert run.proof["fallback_loaded"] == [
        "fakepkg.extra",
        "fakepkg.extra_sub",
        "fakepkg.extra_sub.leaf",
    ]
    assert run.processes["from_spec_file"] == 2  # the -I children substituted too
    baseline = _run(world, "test_fakepkg", None)
    assert set(_short(baseline).values()) == {"pass"}


def test_fallback_context_fills_in_only_what_treadle_lacks(world: tuple[Venv, Path]) -> None:
    spec = _spec(world[1], ["fakepkg.extra", "fakepkg.extra_sub"])
    spec["fallback_context"] = ["Thing", "Own"]
    run = _run(world, "test_fakepkg_context", spec)
    assert set(_short(run).values()) == {"pass"}, run.outcomes
    assert run.proof["fallback_context"] == ["BaseContext.Thing", "fakepkg.Thing"]
    baseline = _run(world, "test_fakepkg_context", None)
    assert set(_short(baseline).values()) == {"pass"}
    # Without it, the name is simply missing: the test fails, nothing else stands in.
    del spec["fallback_context"]
    assert _short(_run(world, "test_fakepkg_context", spec)) == {
        "Context.test_a_missing_method_comes_from_the_stdlib_on_top_of_treadle": "error",
        "Context.test_a_method_treadle_has_is_never_replaced": "pass",
        "Context.test_a_child_has_not_imported_the_package_before_it_asks": "error",
    }


def test_a_module_left_out_of_fallback_is_not_found_never_the_stdlib(
    world: tuple[Venv, Path],
) -> None:
    run = _run(world, "test_fakepkg", _spec(world[1], ["fakepkg.extra"]))
    # fakepkg.extra's `from . import extra_sub` finds neither treadle's nor the stdlib's.
    assert run.status == "fallback-error"
    assert "cannot import name 'extra_sub' from 'treadle_fakepkg'" in run.message
    assert "fakepkg.extra_sub" not in run.proof["fallback_loaded"]


def test_a_fallback_failing_on_top_of_treadle_is_an_error_even_when_swallowed(
    world: tuple[Venv, Path],
) -> None:
    baseline = _run(world, "test_fakepkg_broken", None)
    assert _short(baseline) == {"Uses.test_it": "pass"}
    run = _run(world, "test_fakepkg_broken", _spec(world[1], ["fakepkg.broken"]))
    assert run.status == "fallback-error"
    assert "fallback module fakepkg.broken" in run.message
    assert "on top of treadle_fakepkg" in run.message
    assert "ONLY_IN_STDLIB" in run.message
    assert run.outcomes == {}


def test_a_fallback_failing_in_a_test_package_module_is_an_error_too(
    world: tuple[Venv, Path],
) -> None:
    run = _run(world, "test_fakepkg_package", _spec(world[1], ["fakepkg.broken"]))
    assert run.status == "fallback-error"
    assert "fallback module fakepkg.broken" in run.message
    baseline = _run(world, "test_fakepkg_package", None)
    assert _short(baseline) == {"test_inner.Uses.test_it": "pass"}


def test_select_restricts_baseline_and_treadle_runs_alike(world: tuple[Venv, Path]) -> None:
    select = ("Other", "test_fakepkg.Fallback.test_relative_imports_reach_the_substituted_package")
    spec = _spec(world[1], ["fakepkg.extra", "fakepkg.extra_sub"])
    for mode_spec in (None, spec):
        run = _run(world, "test_fakepkg", mode_spec, select)
        assert _short(run) == {
            "Other.test_other": "pass",
            "Fallback.test_relative_imports_reach_the_substituted_package": "pass",
        }
        assert run.unmatched == []
    run = _run(world, "test_fakepkg", None, ("Other", "NoSuchClass"))
    assert _short(run) == {"Other.test_other": "pass"}
    assert run.unmatched == ["NoSuchClass"]


def test_the_command_line_reports_fallback_and_select(
    world: tuple[Venv, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv, base = world
    targets = tmp_path / "targets.toml"
    targets.write_text(
        textwrap.dedent(
            f"""
            [fake]
            substitute = {{ "fakepkg" = "treadle_fakepkg" }}
            fallback = ["fakepkg.extra", "fakepkg.extra_sub"]
            select = ["Fallback", "NotThere"]
            tests = ["test_fakepkg"]
            src = ["{base / "src"}"]
            """
        )
    )
    common = [
        "fake",
        "--python",
        VERSION,
        "--targets-file",
        str(targets),
        "--exclusions-dir",
        str(tmp_path / "no-exclusions"),
        "--root",
        str(base),
        "--state-dir",
        str(venv.path.parent),
        "--test-path",
        str(base / "tests"),
    ]
    assert _cli.main([*common, "--json", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    assert "| fake | test_fakepkg | " in out
    assert "| 3/3 | 3/3 | 100.0% (3/3) |" in out
    assert "fallback to the stdlib's own source" in out
    assert "fakepkg.extra, fakepkg.extra_sub" in out
    assert "select matched no test: NotThere" in out
    assert "loaded as fallback: fakepkg.extra, fakepkg.extra_sub, fakepkg.extra_sub.leaf" in out
    report = json.loads((tmp_path / "out.json").read_text())["results"][0]
    assert report["fallback"] == ["fakepkg.extra", "fakepkg.extra_sub"]
    assert report["select"] == ["Fallback", "NotThere"]
    module = report["modules"]["test_fakepkg"]
    assert sorted(module["treadle"]["outcomes"]) == sorted(module["baseline"]["outcomes"])
    assert module["treadle"]["proof"]["fallback_loaded"][0] == "fakepkg.extra"

    # --select replaces the target's own selection, for both runs.
    assert _cli.main([*common, "--select", "Other"]) == 0
    assert "| 1/1 | 1/1 | 100.0% (1/1) |" in capsys.readouterr().out


def test_select_matches_whole_components_anywhere_in_the_id() -> None:
    tid = "test.test_multiprocessing_spawn.test_processes.WithProcessesTestListener.test_x"
    assert select_matches(tid, "WithProcessesTestListener")
    assert select_matches(tid, "test.test_multiprocessing_spawn")
    assert select_matches(tid, "test_processes.WithProcessesTestListener")
    assert select_matches(tid, tid)
    assert select_matches(tid, "test_multiprocessing_spawn")
    assert not select_matches(tid, "WithProcessesTestListenerClient")
    client = tid.replace("Listener.", "ListenerClient.")
    assert not select_matches(client, "WithProcessesTestListener")
    assert not select_matches(tid, "WithProcesses")
    assert not select_matches(tid, "test_x.more")


def test_select_suite_keeps_loader_errors_and_names_unmatched_entries() -> None:
    class Kept(unittest.TestCase):
        def test_a(self) -> None:
            pass

    class Dropped(unittest.TestCase):
        def test_b(self) -> None:
            pass

    failed = unittest.loader._FailedTest("test.test_x.sub", ImportError("no"))  # type: ignore[attr-defined]
    suite = unittest.TestSuite(
        [unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in (Kept, Dropped)] + [failed]
    )
    kept, unmatched = select_suite(suite, ["Kept", "Missing"])
    ids = [t.id() for t in _flatten(kept)]
    assert len(ids) == 2
    assert ids[0].endswith(".Kept.test_a")
    assert ids[1] == "unittest.loader._FailedTest.test.test_x.sub"
    assert unmatched == ["Missing"]


def test_wildcards_match_within_one_component() -> None:
    tid = "test.test_concurrent_futures.test_wait.ProcessPoolForkWaitTest.test_first"
    assert select_matches(tid, "ProcessPool*")
    assert select_matches(tid, "test_wait.*WaitTest")
    assert select_matches(tid, "!ProcessPool*")  # the "!" is the caller's business
    assert not select_matches(tid, "ProcessPool")
    assert not select_matches(tid, "Thread*")
    # A wildcard never spans a dot: "test_*Test" is one component, not "test_wait...Test".
    assert not select_matches(tid, "test_*Test")


def test_bang_entries_leave_out_what_they_cover() -> None:
    process = "test.test_concurrent_futures.test_wait.ProcessPoolForkWaitTest.test_first"
    thread = "test.test_concurrent_futures.test_wait.ThreadPoolWaitTest.test_first"
    hang = "test.test_concurrent_futures.test_thread_pool.ThreadPoolExecutorTest.test_hang"
    everything_else = ["!ProcessPool*", "!ThreadPoolExecutorTest.test_hang"]
    assert selected(thread, everything_else)
    assert not selected(process, everything_else)
    assert not selected(hang, everything_else)
    only = ["ProcessPool*", "ThreadPoolExecutorTest.test_hang"]
    assert selected(process, only)
    assert selected(hang, only)
    assert not selected(thread, only)
    assert not selected(process, ["*Pool*", "!ProcessPoolFork*"])
    assert selected(thread, ["*Pool*", "!ProcessPoolFork*"])
    assert selected("unittest.loader._FailedTest.x", ["!*"])  # loader errors always stay
    assert selected(thread, [])


def test_a_bang_selection_filters_the_suite_and_restricts_a_run_alike() -> None:
    class ThreadPoolCase(unittest.TestCase):
        def test_a(self) -> None:
            pass

    class ProcessPoolCase(unittest.TestCase):
        def test_b(self) -> None:
            pass

    suite = unittest.TestSuite(
        unittest.defaultTestLoader.loadTestsFromTestCase(c)
        for c in (ThreadPoolCase, ProcessPoolCase)
    )
    kept, unmatched = select_suite(suite, ["!ProcessPool*", "!Missing*"])
    assert [t.id().rsplit(".", 2)[-2] for t in _flatten(kept)] == ["ThreadPoolCase"]
    assert unmatched == ["!Missing*"]
    run = ModuleRun(
        outcomes={
            "test.m.ThreadPoolCase.test_a": Outcome("pass"),
            "test.m.ProcessPoolCase.test_b": Outcome("fail"),
            "setUpClass (test.m.ProcessPoolCase)": Outcome("error"),
        },
        hangs=["test.m.ProcessPoolCase.test_b"],
    )
    part = run.restricted(("!ProcessPool*",), "a test")
    assert list(part.outcomes) == ["test.m.ThreadPoolCase.test_a"]
    assert part.hangs == []


def test_the_futures_targets_split_test_concurrent_futures_between_them() -> None:
    targets = load_targets(HERE / "targets.toml")
    futures, process, interpreter = (
        targets[n] for n in ("futures", "futures-process", "futures-interpreter")
    )
    assert futures.tests == process.tests == interpreter.tests == ("test_concurrent_futures",)
    ids = [
        "test.test_concurrent_futures.test_wait.ThreadPoolWaitTest.test_x",
        "test.test_concurrent_futures.test_wait.ProcessPoolSpawnWaitTest.test_x",
        "test.test_concurrent_futures.test_init.FailingInitializerResourcesTest.test_x",
        "test.test_concurrent_futures.test_interpreter_pool.AsyncioTest.test_x",
        "test.test_concurrent_futures.test_as_completed.InterpreterPoolAsCompletedTest.test_x",
        "test.test_concurrent_futures.ProcessPoolForkExecutorDeadlockTest.test_x",  # 3.10
        "test.test_concurrent_futures.ThreadPoolExecutorTest.test_hang_global_shutdown_lock",
    ]
    for tid in ids:
        owners = [t.name for t in (futures, process, interpreter) if selected(tid, t.select)]
        assert len(owners) == 1, (tid, owners)


def _flatten(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    out: list[unittest.TestCase] = []
    for item in suite:
        out += _flatten(item) if isinstance(item, unittest.TestSuite) else [item]
    return out


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ({"fallback": ["multiprocessing"]}, "a substituted module itself never falls back"),
        ({"fallback": ["queue.sub"]}, "not a submodule of a substituted module"),
        ({"fallback": ["multiprocessing."]}, "not a submodule"),
        ({"fallback": "multiprocessing.pool"}, "fallback must be a list"),
        ({"select": ["With Processes"]}, "not a test id"),
        ({"fallback": ["multiprocessing.pool"], "fallback-context": ["_x"]}, "not a public"),
        ({"fallback-context": ["Pool"]}, "needs the fallback modules"),
        ({"select": [""]}, "select must be a list of non-empty strings"),
        ({"python": ["3.14"], "all-python": ["3.13"]}, r"all-python \['3.13'\] not among"),
    ],
)
def test_bad_fallback_and_select_entries_are_rejected(
    extra: dict[str, object], pattern: str
) -> None:
    table = {
        "substitute": {"multiprocessing": "treadle.multiprocessing"},
        "tests": ["test_multiprocessing_spawn"],
        "src": ["s"],
        **extra,
    }
    with pytest.raises(ConfigError, match=pattern):
        parse_target("mp", table, "f")


def test_the_part1_target_selects_the_issue_classes_with_fallback_for_later_parts() -> None:
    targets = load_targets(HERE / "targets.toml")
    part1 = targets["multiprocessing-part1"]
    assert part1.tests == targets["multiprocessing"].tests
    # Every part of multiprocessing is treadle's now: nothing falls back to the stdlib.
    assert part1.fallback == targets["multiprocessing"].fallback == ()
    assert not part1.fallback_context
    assert not targets["multiprocessing"].fallback_context
    with_processes = [
        "Process", "SubclassingProcess", "Connection", "Listener", "ListenerClient", "Poll",
        "PicklingConnections", "Finalize", "Logging", "PollEintr", "AtExit",
    ]  # fmt: skip
    plain = [
        "_TestImportStar", "TestInvalidHandle", "OtherTest", "ChallengeResponseTest", "TestWait",
        "TestInvalidFamily", "TestFlags", "TestTimeouts", "TestNoForkBomb",
        "TestForkAwareThreadLock", "TestCloseFds", "TestIgnoreEINTR", "TestStartMethod",
        "TestResourceTracker", "MiscTestCase",
    ]  # fmt: skip
    expected = [f"WithProcessesTest{c}" for c in with_processes] + plain
    assert part1.select == (*expected, "test_multiprocessing_main_handling")


def test_a_selecting_target_is_derived_from_an_unselected_run_of_the_same_invocation(
    world: tuple[Venv, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv, base = world
    # all-python: without --python, --all runs the targets on this Python only.
    table = f"""
        all-python = ["{VERSION}"]
        substitute = {{ "fakepkg" = "treadle_fakepkg" }}
        fallback = ["fakepkg.extra", "fakepkg.extra_sub"]
        tests = ["test_fakepkg"]
        src = ["{base / "src"}"]
    """
    targets = tmp_path / "targets.toml"
    targets.write_text(textwrap.dedent(f"[full]\n{table}\n[part]\nselect = ['Other']\n{table}"))
    status = _cli.main(
        [
            "--all",
            "--targets-file",
            str(targets),
            "--exclusions-dir",
            str(tmp_path / "no-exclusions"),
            "--root",
            str(base),
            "--state-dir",
            str(venv.path.parent),
            "--test-path",
            str(base / "tests"),
            "--json",
            str(tmp_path / "out.json"),
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "part / " + VERSION + ": selected from the unselected runs of test_fakepkg" in out
    full, part = json.loads((tmp_path / "out.json").read_text())["results"]
    assert len(full["modules"]["test_fakepkg"]["treadle"]["outcomes"]) == 4
    module = part["modules"]["test_fakepkg"]
    for side in ("baseline", "treadle"):
        assert list(module[side]["outcomes"]) == ["test.test_fakepkg.Other.test_other"]
        assert module[side]["select_unmatched"] == []
    assert any("derived from" in note for note in module["treadle"]["notes"])
    assert module["score"]["main"]["percent"] == 100.0
    assert "(2 target x Python runs in" in out
