"""Context variables: the Python 3.14 ``contextvars`` API on CPython 3.10 and later.

treadle's variables live in the interpreter's own current context, so asyncio tasks and
callbacks, ``asyncio.to_thread``, the stdlib's ``copy_context().run()`` and new threads
isolate them exactly as they isolate the stdlib's variables. See the package README.
"""

from __future__ import annotations

from ._core import Context, ContextVar, Token, copy_context
from ._native import publish as _publish

__all__ = ["Context", "ContextVar", "Token", "copy_context"]

_publish(globals())
