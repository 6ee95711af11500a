"""treadle.subprocess offers 3.14's public names, and says where they live."""

from __future__ import annotations

import inspect

from pytest_treadle import check_public_surface
from treadle import subprocess

_WINDOWS = (
    "Windows-only; treadle.subprocess supports POSIX only (creating a process on Windows "
    "raises OSError)"
)

ABSENT = {
    name: _WINDOWS
    for name in (
        "ABOVE_NORMAL_PRIORITY_CLASS",
        "BELOW_NORMAL_PRIORITY_CLASS",
        "CREATE_BREAKAWAY_FROM_JOB",
        "CREATE_DEFAULT_ERROR_MODE",
        "CREATE_NEW_CONSOLE",
        "CREATE_NEW_PROCESS_GROUP",
        "CREATE_NO_WINDOW",
        "DETACHED_PROCESS",
        "HIGH_PRIORITY_CLASS",
        "IDLE_PRIORITY_CLASS",
        "NORMAL_PRIORITY_CLASS",
        "REALTIME_PRIORITY_CLASS",
        "STARTF_FORCEOFFFEEDBACK",
        "STARTF_FORCEONFEEDBACK",
        "STARTF_USESHOWWINDOW",
        "STARTF_USESTDHANDLES",
        "STARTUPINFO",
        "STD_ERROR_HANDLE",
        "STD_INPUT_HANDLE",
        "STD_OUTPUT_HANDLE",
        "SW_HIDE",
    )
}

# Parameters 3.14 has that 3.10 lacked (the surface data lists them as "function(parameter)").
PARAMETERS = ("getoutput(encoding)", "getoutput(errors)", "getstatusoutput(encoding)",
              "getstatusoutput(errors)")  # fmt: skip


def test_new_parameters() -> None:
    for entry in PARAMETERS:
        function, _, parameter = entry.rstrip(")").partition("(")
        assert parameter in inspect.signature(getattr(subprocess, function)).parameters


def test_public_surface() -> None:
    # list2cmdline is public in 3.14 (undocumented, left out of the stdlib's __all__):
    # treadle lists every public name it offers.
    assert check_public_surface(subprocess, "subprocess", absent=ABSENT) == []


def test_constants() -> None:
    assert (subprocess.PIPE, subprocess.STDOUT, subprocess.DEVNULL) == (-1, -2, -3)
