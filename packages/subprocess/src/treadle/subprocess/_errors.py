"""The exceptions of treadle.subprocess."""

from __future__ import annotations

import signal
from typing import Any

__all__ = ["CalledProcessError", "SubprocessError", "TimeoutExpired"]


class SubprocessError(Exception):
    """Base class for the errors this module raises (other than OSError)."""


class CalledProcessError(SubprocessError):
    """A process run by check_call(), check_output() or run(check=True) exited non-zero.

    ``returncode`` is the exit status (negative: killed by that signal), ``cmd`` the
    command, ``output``/``stdout`` and ``stderr`` what was captured, if anything.
    """

    def __init__(self, returncode: int, cmd: Any, output: Any = None, stderr: Any = None) -> None:
        self.returncode = returncode
        self.cmd = cmd
        self.output = output
        self.stderr = stderr

    def __str__(self) -> str:
        code = self.returncode
        if isinstance(code, int) and code < 0:
            try:
                name: object = signal.Signals(-code)
            except ValueError:
                return f"Command '{self.cmd}' died with unknown signal {-code}."
            return f"Command '{self.cmd}' died with {name!r}."
        return f"Command '{self.cmd}' returned non-zero exit status {code}."

    @property
    def stdout(self) -> Any:
        """The captured output; the same object as ``output``."""
        return self.output

    @stdout.setter
    def stdout(self, value: Any) -> None:
        self.output = value


class TimeoutExpired(SubprocessError):
    """The timeout given to a wait, communicate or run expired before the child exited.

    ``timeout`` is the caller's timeout in seconds; ``output``/``stdout`` and ``stderr``
    hold what the child had written so far when it was captured.
    """

    def __init__(
        self, cmd: Any, timeout: float | None, output: Any = None, stderr: Any = None
    ) -> None:
        self.cmd = cmd
        self.timeout = timeout
        self.output = output
        self.stderr = stderr

    def __str__(self) -> str:
        return f"Command '{self.cmd}' timed out after {self.timeout} seconds"

    @property
    def stdout(self) -> Any:
        """The output captured before the timeout; the same object as ``output``."""
        return self.output

    @stdout.setter
    def stdout(self, value: Any) -> None:
        self.output = value
