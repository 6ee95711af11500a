"""treadle.multiprocessing.reduction: pickling between processes (3.14's names).

:class:`ForkingPickler`, :func:`register`, :func:`dump`, descriptor passing
(:func:`send_handle`, :func:`recv_handle`, :func:`sendfds`, :func:`recvfds`,
:func:`DupFd`) and :class:`AbstractReducer`, the base of a context's ``reducer``.
"""

from . import _reduction
from ._native import publish as _publish
from ._reduction import (
    AbstractReducer,
    DupFd,
    ForkingPickler,
    dump,
    recv_handle,
    recvfds,
    register,
    send_handle,
    sendfds,
)

__all__ = [
    "AbstractReducer",
    "DupFd",
    "ForkingPickler",
    "dump",
    "recv_handle",
    "recvfds",
    "register",
    "send_handle",
    "sendfds",
]

# Not in __all__ (nor in the stdlib's); CPython's tests read it.
HAVE_SEND_HANDLE = _reduction.HAVE_SEND_HANDLE

_publish(globals())
