"""Pickling between processes: the pickler, and passing file descriptors.

:class:`ForkingPickler` is a :class:`pickle.Pickler` whose dispatch table is
:mod:`copyreg`'s plus the reducers registered here with :func:`register` (sockets,
connections, bound methods, ``functools.partial``). A descriptor travels as a
:func:`DupFd`: while a spawn or forkserver child is being prepared, the child simply
inherits a duplicate; to a process that is already running, the descriptor is passed over
a unix socket by the resource sharer (:mod:`._resource_sharer`).
"""

from __future__ import annotations

import copyreg
import functools
import io
import os
import pickle
import socket
import types
from abc import ABCMeta

# A child that unpickles a Connection or a socket imports this module: typing stays out
# of its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import IO, Any, ClassVar, Protocol

    _Reduce = Callable[[Any], str | tuple[Any, ...]]

    class _HasFileno(Protocol):
        def fileno(self) -> int: ...

    class _Detachable(Protocol):
        def detach(self) -> int: ...


#: Whether descriptors can be passed between processes (SCM_RIGHTS over unix sockets).
HAVE_SEND_HANDLE = hasattr(socket, "SCM_RIGHTS") and hasattr(socket, "send_fds")


class ForkingPickler(pickle.Pickler):
    """The pickler used for everything sent between processes.

    Its dispatch table is :mod:`copyreg`'s, with the reducers given to :meth:`register`
    on top (they win over copyreg's).
    """

    _extra_reducers: ClassVar[dict[type, _Reduce]] = {}

    def __init__(self, file: IO[bytes], protocol: int | None = None, **kwargs: Any) -> None:
        """Pickle into *file*, as :class:`pickle.Pickler` does."""
        super().__init__(file, protocol, **kwargs)
        # Each pickler made by hand gets a table of its own, free to change.
        self.dispatch_table = dict(_merged_table(self._extra_reducers))

    @classmethod
    def register(cls, type: type, reduce: _Reduce) -> None:
        """Pickle instances of *type* with *reduce* (a ``__reduce__``-like function)."""
        cls._extra_reducers[type] = reduce
        _merged.clear()

    @classmethod
    def dumps(cls, obj: object, protocol: int | None = None) -> memoryview:
        """Return the pickle of *obj* as a memoryview of bytes."""
        out = io.BytesIO()
        if cls.__init__ is _own_init:
            # The hot path of every send(): no Python-level __init__, and the merged
            # table shared (read-only: this pickler is never handed out).
            pickler = cls.__new__(cls)
            _pickler_init(pickler, out, protocol)
            pickler.dispatch_table = _merged_table(cls._extra_reducers)
        else:
            pickler = cls(out, protocol)
        pickler.dump(obj)
        return out.getbuffer()

    loads = staticmethod(pickle.loads)


_own_init = ForkingPickler.__init__
_pickler_init = pickle.Pickler.__init__

# copyreg's table merged with a registry of reducers, rebuilt when either changed size or
# register() was called: {id(registry): (copyreg size, registry size, merged table)}.
_merged: dict[int, tuple[int, int, dict[type, Any]]] = {}


def _merged_table(extras: dict[type, _Reduce]) -> dict[type, Any]:
    base = copyreg.dispatch_table
    entry = _merged.get(id(extras))
    if entry is not None and entry[0] == len(base) and entry[1] == len(extras):
        return entry[2]
    table: dict[type, Any] = dict(base)
    table.update(extras)
    _merged[id(extras)] = (len(base), len(extras), table)
    return table


def _framed_dumps(obj: object) -> memoryview:
    """Pickle *obj* behind 4 bytes of room for a connection's message header.

    What ``Connection.send`` uses: the header is packed into the same buffer, and the
    message leaves in one write, without a list of parts or a copy.
    """
    out = io.BytesIO()
    out.write(b"\0\0\0\0")
    pickler = ForkingPickler.__new__(ForkingPickler)
    _pickler_init(pickler, out, None)
    pickler.dispatch_table = _merged_table(ForkingPickler._extra_reducers)
    pickler.dump(obj)
    return out.getbuffer()


def register(type: type, reduce: _Reduce) -> None:
    """Pickle instances of *type* with *reduce* in :class:`ForkingPickler`."""
    ForkingPickler.register(type, reduce)


def dump(obj: object, file: IO[bytes], protocol: int | None = None) -> None:
    """Write the pickle of *obj* to *file* with :class:`ForkingPickler`."""
    ForkingPickler(file, protocol).dump(obj)


# Descriptor passing ------------------------------------------------------------------
#
# The stdlib's framing, kept so that either end may be a stdlib process: one data byte,
# the number of descriptors modulo 256, with the descriptors as SCM_RIGHTS ancillary
# data; the receiver acknowledges with b"A".

_ACK = b"A"


def sendfds(sock: socket.socket, fds: Iterable[int]) -> None:
    """Send the descriptors *fds* over the unix socket *sock*."""
    fd_list = list(fds)
    socket.send_fds(sock, [bytes((len(fd_list) & 0xFF,))], fd_list)
    if sock.recv(1) != _ACK:
        raise RuntimeError("did not receive acknowledgement of fd")


def recvfds(sock: socket.socket, size: int) -> list[int]:
    """Receive *size* descriptors sent with :func:`sendfds` over *sock*."""
    data, fds, _flags, _addr = socket.recv_fds(sock, 1, size)
    if not data and not fds:
        raise EOFError
    try:
        sock.send(_ACK)
    except BaseException:
        _close_all(fds)
        raise
    if not data or not fds or len(fds) & 0xFF != data[0]:
        _close_all(fds)
        raise RuntimeError(f"Invalid data received: {len(fds)} descriptors for {data!r}")
    return list(fds)


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _with_socket(conn: _HasFileno, action: Callable[[socket.socket], Any]) -> Any:
    # A socket object over the connection's own descriptor, detached afterwards so the
    # descriptor stays the connection's (no dup, nothing to close).
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=conn.fileno())
    try:
        return action(sock)
    finally:
        sock.detach()


def send_handle(conn: _HasFileno, handle: int, destination_pid: int | None) -> None:
    """Send the descriptor *handle* over the unix-socket connection *conn*."""
    _with_socket(conn, lambda sock: sendfds(sock, [handle]))


def recv_handle(conn: _HasFileno) -> int:
    """Receive one descriptor sent with :func:`send_handle` over *conn*."""
    fd: int = _with_socket(conn, lambda sock: recvfds(sock, 1)[0])
    return fd


class _ChildFd:
    """A descriptor a spawn or forkserver child inherits under a known number."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[type[_ChildFd], tuple[int]]:
        return _ChildFd, (self.fd,)

    def detach(self) -> int:
        """Return the descriptor, in the child."""
        return self.fd


def DupFd(fd: int) -> _Detachable:
    """Wrap *fd* so that the process that unpickles the wrapper gets a duplicate of it.

    ``DupFd(fd).detach()`` in the receiving process returns the descriptor.
    """
    from . import _context  # noqa: PLC0415 - _context imports this module

    popen = _context.get_spawning_popen()
    if popen is not None:
        return _ChildFd(popen.duplicate_for_child(fd))
    if not HAVE_SEND_HANDLE:
        raise ValueError("SCM_RIGHTS appears not to be available")
    from ._resource_sharer import DupFd as SharedFd  # noqa: PLC0415 - only when needed

    return SharedFd(fd)


# Reducers ----------------------------------------------------------------------------


def _reduce_method(m: Any) -> tuple[Any, ...]:
    return getattr, (m.__self__, m.__func__.__name__)


def _reduce_method_descriptor(m: Any) -> tuple[Any, ...]:
    return getattr, (m.__objclass__, m.__name__)


def _rebuild_partial(
    func: Callable[..., Any], args: tuple[Any, ...], keywords: dict[str, Any]
) -> Any:
    return functools.partial(func, *args, **keywords)


def _reduce_partial(p: functools.partial[Any]) -> tuple[Any, ...]:
    return _rebuild_partial, (p.func, p.args, p.keywords or {})


def _rebuild_socket(df: _Detachable, family: int, type: int, proto: int) -> socket.socket:
    return socket.socket(family, type, proto, fileno=df.detach())


def _reduce_socket(s: socket.socket) -> tuple[Any, ...]:
    return _rebuild_socket, (DupFd(s.fileno()), s.family, s.type, s.proto)


#: What ForkingPickler knows beyond copyreg from the start: bound methods, the methods
#: and slot wrappers of built-in types, partials, and sockets (through DupFd).
_DEFAULT_REDUCERS: dict[type, _Reduce] = {
    types.MethodType: _reduce_method,
    types.MethodDescriptorType: _reduce_method_descriptor,
    types.WrapperDescriptorType: _reduce_method_descriptor,
    functools.partial: _reduce_partial,
    socket.socket: _reduce_socket,
}


def _register_defaults() -> None:
    ForkingPickler._extra_reducers.update(_DEFAULT_REDUCERS)
    _merged.clear()


_register_defaults()


class AbstractReducer(metaclass=ABCMeta):  # noqa: B024 - the stdlib's ABC has no abstract method
    """Base class of a replacement for the reduction machinery (a context's ``reducer``).

    It offers this module's functions as attributes; instantiating it (re)registers the
    default reducers.
    """

    ForkingPickler = ForkingPickler
    register = staticmethod(register)
    dump = staticmethod(dump)
    send_handle = staticmethod(send_handle)
    recv_handle = staticmethod(recv_handle)
    sendfds = staticmethod(sendfds)
    recvfds = staticmethod(recvfds)
    DupFd = staticmethod(DupFd)
    _reduce_method = staticmethod(_reduce_method)
    _reduce_method_descriptor = staticmethod(_reduce_method_descriptor)
    _rebuild_partial = staticmethod(_rebuild_partial)
    _reduce_socket = staticmethod(_reduce_socket)
    _rebuild_socket = staticmethod(_rebuild_socket)

    def __init__(self, *args: object) -> None:
        """Register the default reducers again."""
        _register_defaults()
