"""Handing a descriptor to a process that is already running.

When a socket or a connection is pickled outside the start of a child (sent through a
connection or a queue to a running process), the descriptor cannot be inherited. The
sending process then keeps a duplicate and serves it: a thread of its own listens on an
authenticated unix socket (the process's ``authkey``), and the receiving process
connects, names the descriptor it wants, and gets it by SCM_RIGHTS. Each descriptor is
served once and then closed. The thread starts with the first :class:`DupFd`, stops
with :func:`stop`, at exit, and in a fork child (whose copies of the duplicates are
closed).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from treadle import threading

from . import _util
from ._connection import Client, Connection, Listener
from ._process import current_process
from ._reduction import recv_handle, send_handle

__all__ = ["DupFd", "stop"]

# A request names the descriptor by its key; an empty request asks the thread to stop.
_STOP = b""


class _Sharer:
    """The listening thread and the descriptors it still has to hand out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self._next_key = 0
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None
        self._exit_hook: Any = None
        _util.register_after_fork(self, _Sharer._after_fork)

    def share(self, fd: int) -> tuple[Any, int]:
        """Keep a duplicate of *fd* to serve once; return (address, key) to ask for it."""
        with self._lock:
            listener = self._listener
            if listener is None:
                listener = self._start()
            duplicate = os.dup(fd)
            self._next_key += 1
            self._pending[self._next_key] = duplicate
            return listener.address, self._next_key

    def _start(self) -> Listener:
        listener = Listener(authkey=bytes(current_process().authkey), backlog=128)
        thread = threading.Thread(
            target=self._serve, args=(listener,), name="treadle-resource-sharer", daemon=True
        )
        try:
            thread.start()
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self._thread = thread
        if self._exit_hook is None:
            # Stopped at exit with the other finalizers (before the listener's own
            # unlink, whose priority is 0).
            self._exit_hook = _util.Finalize(None, self.stop, exitpriority=1)
            _util._hook_exit()
        return listener

    def _serve(self, listener: Listener) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Signals are for the main thread.
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        while True:
            try:
                with listener.accept() as conn:
                    request = conn.recv_bytes(16)
                    if request == _STOP:
                        return
                    self._hand_out(conn, int.from_bytes(request, "big"))
            except Exception:
                if _util.is_exiting():
                    return
                sys.excepthook(*sys.exc_info())
            except BaseException:
                return

    def _hand_out(self, conn: Connection, key: int) -> None:
        with self._lock:
            fd = self._pending.pop(key, None)
        if fd is None:
            raise KeyError(f"no descriptor shared under key {key}")
        try:
            send_handle(conn, fd, None)
        finally:
            os.close(fd)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread, close the descriptors not handed out yet."""
        with self._lock:
            listener, thread = self._listener, self._thread
            self._listener = self._thread = None
            pending = list(self._pending.values())
            self._pending.clear()
        try:
            if listener is not None and thread is not None:
                # Not under the lock: the thread takes it to hand a descriptor out.
                try:
                    with Client(listener.address, authkey=bytes(current_process().authkey)) as c:
                        c.send_bytes(_STOP)
                finally:
                    thread.join(timeout)
                if thread.is_alive():
                    _util.sub_warning("the resource sharer's thread did not stop when asked")
        finally:
            if listener is not None:
                listener.close()
            for fd in pending:
                os.close(fd)

    def _after_fork(self) -> None:
        # The child has no thread; the duplicates and the listening socket are copies
        # of the parent's, which the parent still serves: close ours, keep its file.
        self._lock = threading.Lock()
        for fd in self._pending.values():
            os.close(fd)
        self._pending.clear()
        listener = self._listener
        if listener is not None:
            listener._unlink = None
            listener.close()
        self._listener = None
        self._thread = None
        self._exit_hook = None  # the parent's finalizer does not run here: make our own


_sharer = _Sharer()


def stop(timeout: float | None = None) -> None:
    """Stop the serving thread (waiting *timeout* seconds for it) and drop what it held."""
    _sharer.stop(timeout)


def _ask(address: Any, key: int) -> Connection:
    conn = Client(address, authkey=bytes(current_process().authkey))
    try:
        conn.send_bytes(key.to_bytes(8, "big"))
    except BaseException:
        conn.close()
        raise
    return conn


class DupFd:
    """A descriptor served by this process, for the process that unpickles this object."""

    def __init__(self, fd: int) -> None:
        """Share a duplicate of *fd*."""
        self._id = _sharer.share(fd)

    def detach(self) -> int:
        """Fetch the descriptor from the sending process; call it once."""
        address, key = self._id
        with _ask(address, key) as conn:
            return recv_handle(conn)
