"""Python 3.14's ``concurrent.interpreters`` (PEP 734) on CPython 3.10 and later.

On CPython 3.14 (and 3.13, see ``default_backend``) interpreters are the runtime's
sub-interpreters; elsewhere (and on request: ``create(backend="process")`` or
``TREADLE_INTERPRETERS_BACKEND=process``) each interpreter is a child Python process
behind the same API: a fresh ``__main__``,
``exec``/``call``, shareable values only, ``ExecutionFailed`` with ``excinfo``, and queues
between interpreters.
"""

from treadle.thread_core.support import publish as _publish

from ._api import Interpreter, create, default_backend, get_current, get_main, list_all
from ._errors import (
    ExecutionFailed,
    InterpreterError,
    InterpreterNotFoundError,
    NotShareableError,
    QueueEmpty,
    QueueError,
    QueueFull,
)
from ._queues import Queue
from ._queues import create as create_queue
from ._shareable import is_shareable

__all__ = [
    "ExecutionFailed",
    "Interpreter",
    "InterpreterError",
    "InterpreterNotFoundError",
    "NotShareableError",
    "Queue",
    "QueueEmpty",
    "QueueError",
    "QueueFull",
    "create",
    "create_queue",
    "default_backend",
    "get_current",
    "get_main",
    "is_shareable",
    "list_all",
]

_publish(globals())
