"""How an exception escaping a thread is reported, the 3.14 way, on every Python.

It goes to ``sys.unraisablehook`` with the message
``Exception ignored in thread started by <function>``; a program can install its own
hook to log such failures instead of printing them.
"""

from __future__ import annotations

import sys
from typing import Any

from treadle import thread_core

reports: list[Any] = []
previous = sys.unraisablehook
sys.unraisablehook = reports.append
try:

    def failing_job() -> None:
        raise ValueError("the job failed")

    thread_core.start_joinable_thread(failing_job).join()
finally:
    sys.unraisablehook = previous

report = reports[0]
print("message:  ", report.err_msg.split(" <")[0])
print("exception:", repr(report.exc_value))
