"""The whole mechanism on a fake "stdlib" module, a fake treadle module and a fake test module.

A real conformance venv is made for the Python running these tests; ``fakestd`` plays the
stdlib module (it sits in the venv's site-packages), ``treadle_fakestd`` plays treadle's (a
copy with one bug, in a src folder), ``test_fakestd`` plays CPython's test module (added to
the ``test`` package's path).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the conformance tool needs Python 3.11+ (tomllib)"
)

from tools.conformance import _cli, _execute, _pythons  # noqa: E402
from tools.conformance._execute import Refused, Venv, ensure_venv, run_module  # noqa: E402
from tools.conformance._scoring import ModuleRun  # noqa: E402

VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"

FAKESTD = """
WHO = "stdlib"

def add(a, b):
    return a + b

def mul(a, b):
    return a * b
"""

TREADLE_FAKESTD = """
import fakestd as _real  # the real one: imported before the substitution

WHO = "treadle"
add = _real.add

def mul(a, b):
    return a * b + 1  # the bug the score must show
"""

TEST_FAKESTD = """
import os
import subprocess
import sys
import time
import unittest

import fakestd


def child(*flags, env=None):
    code = "import fakestd; print(fakestd.WHO)"
    proc = subprocess.run(
        [sys.executable, *flags, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


class Basic(unittest.TestCase):
    def test_add(self):
        self.assertEqual(fakestd.add(2, 3), 5)

    def test_mul(self):
        self.assertEqual(fakestd.mul(2, 3), 6)

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.assertEqual(1, 2)

    @unittest.skip("never runs")
    def test_skipped(self):
        pass

    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertEqual(fakestd.mul(i, 1), i)

    def test_child_isolated_with_a_clean_environment(self):
        self.assertEqual(child("-I", env={}), fakestd.WHO)

    def test_child_ignoring_the_environment(self):
        self.assertEqual(child("-E"), fakestd.WHO)


class Trouble(unittest.TestCase):
    def test_1_hang(self):
        if fakestd.WHO == "treadle":
            time.sleep(600)

    def test_2_crash(self):
        if fakestd.WHO == "treadle":
            os.abort()

    def test_3_after(self):
        pass
"""

SNEAKY = """
import unittest

from treadle_fakestd import _real as fakestd  # the stdlib module after all


class Sneaky(unittest.TestCase):
    def test_it(self):
        self.assertEqual(fakestd.WHO, "treadle")
"""

EXIT_HANG = """
import threading
import unittest

import fakestd


class Leaves(unittest.TestCase):
    def test_leaves_a_thread_behind(self):
        if fakestd.WHO == "treadle":
            threading.Thread(target=threading.Event().wait).start()
"""

BROKEN_TREADLE = """
raise ImportError("treadle_broken cannot be imported")
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Venv, Path]:
    interpreter = _pythons.find(VERSION)
    if interpreter is None:
        pytest.skip(f"no base interpreter for Python {VERSION} with its test suite")
    base = tmp_path_factory.mktemp("conformance")
    venv = ensure_venv(base / "state", interpreter)
    (venv.site_packages / "fakestd.py").write_text(FAKESTD)
    (base / "src").mkdir()
    (base / "src" / "treadle_fakestd.py").write_text(TREADLE_FAKESTD)
    (base / "src" / "treadle_broken.py").write_text(BROKEN_TREADLE)
    (base / "tests").mkdir()
    (base / "tests" / "test_fakestd.py").write_text(TEST_FAKESTD)
    (base / "tests" / "test_sneaky.py").write_text(SNEAKY)
    (base / "tests" / "test_exit_hang.py").write_text(EXIT_HANG)
    return venv, base


def _spec(base: Path, module: str = "treadle_fakestd") -> dict[str, object]:
    return {"substitute": {"fakestd": module}, "preload": [], "src": [str(base / "src")]}


def test_baseline_and_treadle_runs_with_hang_and_crash_recovery(
    world: tuple[Venv, Path],
) -> None:
    venv, base = world

    def run(mode: str, spec: dict[str, object] | None) -> ModuleRun:
        return run_module(
            venv,
            "test_fakestd",
            mode=mode,
            spec=spec,
            workdir=base / "w",
            module_timeout=100.0,
            test_timeout=5.0,
            test_paths=(str(base / "tests"),),
        )

    baseline = run("baseline", None)
    treadle = run("treadle", _spec(base))

    def short(run: ModuleRun) -> dict[str, str]:
        return {
            k.rsplit(".", 2)[-2] + "." + k.rsplit(".", 1)[-1]: o.outcome
            for k, o in run.outcomes.items()
        }

    assert short(baseline) == {
        "Basic.test_add": "pass",
        "Basic.test_mul": "pass",
        "Basic.test_expected_failure": "xfail",
        "Basic.test_skipped": "skip",
        "Basic.test_subtests": "pass",
        "Basic.test_child_isolated_with_a_clean_environment": "pass",
        "Basic.test_child_ignoring_the_environment": "pass",
        "Trouble.test_1_hang": "pass",
        "Trouble.test_2_crash": "pass",
        "Trouble.test_3_after": "pass",
    }
    assert baseline.restarts == 0
    assert baseline.proof["ok"]
    assert short(treadle) == {
        "Basic.test_add": "pass",
        "Basic.test_mul": "fail",
        "Basic.test_expected_failure": "xfail",
        "Basic.test_skipped": "skip",
        "Basic.test_subtests": "fail",
        "Basic.test_child_isolated_with_a_clean_environment": "pass",
        "Basic.test_child_ignoring_the_environment": "pass",
        "Trouble.test_1_hang": "hang",
        "Trouble.test_2_crash": "crash",
        "Trouble.test_3_after": "pass",
    }
    assert treadle.restarts == 2
    assert treadle.hangs == ["test.test_fakestd.Trouble.test_1_hang"]
    assert treadle.crashes == ["test.test_fakestd.Trouble.test_2_crash"]
    assert treadle.proof["referencing"] == ["test.test_fakestd.fakestd"]
    # The test process of each of the 3 attempts and the 2 children of the first one.
    assert treadle.processes["substituted"] == 5
    assert treadle.processes["failed"] == 0
    assert treadle.processes["from_spec_file"] == 1  # the child with a clean environment
    assert not venv.spec_file.exists()  # removed after the run: a later baseline is clean


def test_a_hang_at_interpreter_exit_is_recorded(world: tuple[Venv, Path]) -> None:
    venv, base = world
    run = run_module(
        venv,
        "test_exit_hang",
        mode="treadle",
        spec=_spec(base),
        workdir=base / "w",
        module_timeout=100.0,
        test_timeout=3.0,
        test_paths=(str(base / "tests"),),
    )
    assert [o.outcome for o in run.outcomes.values()] == ["pass"]
    assert run.hangs == ["<at exit>"]
    assert run.restarts == 0


def test_a_test_module_holding_the_stdlib_module_is_refused(world: tuple[Venv, Path]) -> None:
    venv, base = world
    with pytest.raises(Refused, match=r"test_sneaky\.fakestd is the stdlib fakestd"):
        run_module(
            venv,
            "test_sneaky",
            mode="treadle",
            spec=_spec(base),
            workdir=base / "w",
            module_timeout=60,
            test_timeout=60,
            test_paths=(str(base / "tests"),),
        )


def test_a_venv_without_the_hook_is_refused(world: tuple[Venv, Path], tmp_path: Path) -> None:
    venv, base = world
    pth = venv.site_packages / _execute.PTH_NAME
    saved = pth.read_text()
    pth.unlink()
    try:
        with pytest.raises(Refused, match="the conformance hook did not run"):
            run_module(
                venv,
                "test_fakestd",
                mode="treadle",
                spec=_spec(base),
                workdir=tmp_path,
                module_timeout=60,
                test_timeout=60,
                test_paths=(str(base / "tests"),),
            )
    finally:
        pth.write_text(saved)


def _write_targets(base: Path, module: str) -> Path:
    targets = base / f"targets-{module}.toml"
    targets.write_text(
        textwrap.dedent(
            f"""
            [fake]
            substitute = {{ "fakestd" = "{module}" }}
            tests = ["test_sneaky"]
            src = ["{base / "src"}"]
            """
        )
    )
    return targets


def test_the_command_line_refuses_with_exit_2_when_the_treadle_module_fails(
    world: tuple[Venv, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv, base = world
    status = _cli.main(
        [
            "fake",
            "--python",
            VERSION,
            "--targets-file",
            str(_write_targets(base, "treadle_broken")),
            "--exclusions-dir",
            str(tmp_path),
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
    err = capsys.readouterr().err
    assert status == 2
    assert "substitution did not take effect" in err
    assert "treadle_broken cannot be imported" in err
    assert not (tmp_path / "out.json").exists()


def test_the_command_line_reports_not_built_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "targets.toml").write_text(
        '[later]\nsubstitute = { "sched" = "treadle.sched" }\n'
        'tests = ["test_sched"]\nsrc = ["packages/sched/src"]\n'
    )
    status = _cli.main(
        [
            "later",
            "--python",
            VERSION,
            "--targets-file",
            str(tmp_path / "targets.toml"),
            "--root",
            str(tmp_path),
            "--state-dir",
            str(tmp_path / "state"),
            "--json",
            str(tmp_path / "out.json"),
        ]
    )
    assert status == 0
    assert "| later | - | - | not built yet |" in capsys.readouterr().out
    payload = json.loads((tmp_path / "out.json").read_text())
    assert payload["results"][0]["status"] == "not built yet"


def test_the_command_line_rejects_unknown_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["no-such-target", "--root", str(tmp_path)]) == 2
    assert "unknown target" in capsys.readouterr().err


def test_targets_after_python_versions_are_still_targets() -> None:
    args = _cli.parse_args(["--python", "3.12", "3.13", "thread-core", "--only", "test_thread"])
    assert args.targets == ["thread-core"]
    assert args.python == ["3.12", "3.13"]
