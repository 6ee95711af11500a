"""tools/run_examples.py: runs the examples of installed packages and reports failures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tools import run_examples

LEAF = "zz_examples_probe"  # a treadle leaf that exists only inside these tests


@pytest.fixture
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An examples/ folder for LEAF (importable) and for a leaf that is not installed."""
    site = tmp_path / "site"
    (site / "treadle" / LEAF).mkdir(parents=True)
    (site / "treadle" / LEAF / "__init__.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(site))
    # The children import the fake package too.
    monkeypatch.setenv("PYTHONPATH", str(site))
    folder = tmp_path / "examples"
    (folder / LEAF).mkdir(parents=True)
    (folder / "not_installed_leaf").mkdir()
    (folder / "not_installed_leaf" / "never.py").write_text("raise SystemExit(3)\n")
    return folder


def _write(folder: Path, name: str, code: str) -> None:
    (folder / LEAF / name).write_text(code)


def test_passing_examples(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(examples, "a_hello.py", "print('hello from a')\n")
    _write(examples, "b_cwd.py", "import os, pathlib\nprint(sorted(os.listdir('.')))\n")
    assert run_examples.main(["--examples", str(examples)]) == 0
    out = capsys.readouterr().out
    assert f"=== examples/{LEAF}/a_hello.py ===\nhello from a\n" in out
    assert "[]\n" in out  # each example runs in an empty temporary directory
    assert f"--- ok: examples/{LEAF}/b_cwd.py" in out
    assert "skipping examples/not_installed_leaf/: treadle.not_installed_leaf is not" in out
    assert out.rstrip().endswith("2 passed, 0 failed")


def test_failing_example(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(examples, "good.py", "print('fine')\n")
    _write(examples, "bad.py", "import sys\nprint('about to fail')\nsys.exit(4)\n")
    _write(examples, "raises.py", "raise RuntimeError('boom')\n")
    assert run_examples.main(["--examples", str(examples)]) == 1
    out = capsys.readouterr().out
    assert "about to fail" in out
    assert "RuntimeError: boom" in out
    assert f"FAILED {LEAF}/bad.py: exit status 4" in out
    assert f"FAILED {LEAF}/raises.py: exit status 1" in out
    assert out.rstrip().endswith("1 passed, 2 failed")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_example_that_hangs_is_killed(
    examples: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The example and its child block forever; both must be killed at the timeout.
    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("PROBE_PID_FILE", str(pid_file))
    _write(
        examples,
        "hang.py",
        "import os, pathlib, subprocess, sys, threading\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)'])\n"
        "pathlib.Path(os.environ['PROBE_PID_FILE']).write_text(str(child.pid))\n"
        "print('started', flush=True)\n"
        "threading.Event().wait()\n",
    )
    assert run_examples.main(["--examples", str(examples), "--timeout", "1"]) == 1
    out = capsys.readouterr().out
    assert "started" in out
    assert f"FAILED {LEAF}/hang.py: timed out after 1 s" in out
    assert out.rstrip().endswith("0 passed, 1 failed")
    assert not _alive(int(pid_file.read_text()))


def test_selected_leaves(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(examples, "ok.py", "pass\n")
    assert run_examples.main(["--examples", str(examples), f"treadle.{LEAF}"]) == 0
    out = capsys.readouterr().out
    assert "not_installed_leaf" not in out
    assert out.rstrip().endswith("1 passed, 0 failed")
    assert run_examples.main(["--examples", str(examples), "no-such-leaf"]) == 1
    assert "error: no examples for 'no-such-leaf'" in capsys.readouterr().out


def test_uses_this_interpreter(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(examples, "which.py", "import sys\nprint(sys.executable)\n")
    assert run_examples.main(["--examples", str(examples)]) == 0
    assert f"\n{sys.executable}\n" in capsys.readouterr().out
