"""Types for the overloads of Popen, run, call, check_call and check_output.

Imported only by type checkers (under ``TYPE_CHECKING``): nothing here runs. The
overloads pick ``str`` or ``bytes`` from ``text``/``universal_newlines``/``encoding``/
``errors`` as typeshed's do for the stdlib; the keywords that do not change the types
are gathered in the TypedDicts below (``**kwargs: Unpack[...]``), so they are accepted by
keyword after ``args``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import IO, Any, TypeAlias, TypedDict, TypeVar, Union

from typing_extensions import Buffer

__all__ = ["CMD", "CallKeywords", "InputBytes", "PopenKeywords", "RunKeywords", "TeeArg"]

_T = TypeVar("_T")

StrOrBytesPath: TypeAlias = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
CMD: TypeAlias = StrOrBytesPath | Sequence[StrOrBytesPath]
FILE: TypeAlias = int | IO[Any] | None
ENV: TypeAlias = Mapping[bytes, StrOrBytesPath] | Mapping[str, StrOrBytesPath]
InputBytes: TypeAlias = Buffer
# tee=: True, False, or a callable taking (stream name, chunk or line).
TeeArg: TypeAlias = bool | Callable[[str, _T], object]


class PopenKeywords(TypedDict, total=False):
    """Popen's arguments other than args and those that pick text or bytes."""

    bufsize: int
    executable: StrOrBytesPath | None
    stdin: FILE
    stdout: FILE
    stderr: FILE
    preexec_fn: Callable[[], object] | None
    close_fds: bool
    shell: bool
    cwd: StrOrBytesPath | None
    env: ENV | None
    startupinfo: Any
    creationflags: int
    restore_signals: bool
    start_new_session: bool
    pass_fds: Collection[int]
    user: str | int | None
    group: str | int | None
    extra_groups: Iterable[str | int] | None
    umask: int
    pipesize: int
    process_group: int | None


class CallKeywords(PopenKeywords, total=False):
    """call()'s and check_call()'s: Popen's plus timeout and kill_tree."""

    timeout: float | None
    kill_tree: bool


class RunKeywords(CallKeywords, total=False):
    """run()'s: call()'s plus capture_output and check."""

    capture_output: bool
    check: bool
