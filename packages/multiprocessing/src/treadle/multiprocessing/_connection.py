"""Connections between processes: framed messages over a descriptor.

A :class:`Connection` owns one descriptor (a socket or one end of a pipe) and sends
*messages*: a 4-byte big-endian signed length and the payload; a payload of 2 GiB or
more is announced by the length -1 and then an 8-byte big-endian unsigned length. This
is the stdlib's framing, so a treadle end talks to a stdlib end. Reads take at most
:data:`BUFSIZE` bytes at a time; writes go out as one ``writev`` of header and payload.

:class:`Listener` and :func:`Client` make connections over ``AF_INET`` or ``AF_UNIX``
sockets (including Linux's abstract namespace), authenticated with the HMAC handshake
of :mod:`._auth` when given an *authkey*: nothing a peer sends is unpickled before it
passed. :func:`wait` waits for any of several connections, sockets or descriptors.
"""

from __future__ import annotations

import operator
import os
import select
import socket
import struct
import time

from . import _reduction
from ._auth import OversizeMessage, client_handshake, server_handshake
from ._errors import BufferTooShort

# A child that unpickles a Connection imports this module: typing and treadle.thread_core
# stay out of its start-up (check_timeout is imported when a timeout needs checking).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType
    from typing import Any, TypeVar

    Address = str | bytes | tuple[str, int]
    _T = TypeVar("_T")


#: The largest single read from a descriptor.
BUFSIZE = 64 * 1024
#: The largest receive buffer a connection keeps for its next long message.
SPARE_MAX = 4 * 1024 * 1024
#: Kept for the stdlib's name; treadle's connect does not time out by itself.
CONNECTION_TIMEOUT = 20.0

families = ["AF_INET", "AF_UNIX"]
default_family = "AF_UNIX"

_HEADER = struct.Struct("!i")
_LONG_HEADER = struct.Struct("!Q")
_LONG_MARK = _HEADER.pack(-1)
_LARGEST_SHORT = 0x7FFFFFFF
_POLLIN = select.POLLIN
_PLAIN_DUMPS = _reduction.ForkingPickler.__dict__["dumps"]
_PLAIN_INIT = _reduction.ForkingPickler.__dict__["__init__"]


def _is_abstract(address: object) -> bool:
    # Linux's abstract unix-socket namespace: a name that starts with a NUL.
    if isinstance(address, bytes):
        return address[:1] == b"\0"
    return isinstance(address, str) and address[:1] == "\0"


def arbitrary_address(family: str) -> Address:
    """Return a free address of *family* to listen on (``'AF_INET'`` or ``'AF_UNIX'``)."""
    if family == "AF_INET":
        return ("localhost", 0)
    if family == "AF_UNIX":
        from ._util import get_temp_dir  # noqa: PLC0415 - _util imports the process model

        # The stdlib's shape, "sock-" and 12 hex digits: get_temp_dir() keeps room for it
        # within the 108 bytes of a unix socket's path.
        return os.path.join(get_temp_dir(), f"sock-{os.urandom(6).hex()}")
    raise ValueError("unrecognized family")


def address_type(address: object) -> str:
    """Return the family an address belongs to: ``'AF_INET'``, ``'AF_UNIX'``, ``'AF_PIPE'``."""
    if type(address) is tuple:
        return "AF_INET"
    if type(address) is str:
        return "AF_PIPE" if address.startswith("\\\\") else "AF_UNIX"
    if _is_abstract(address):
        return "AF_UNIX"
    if isinstance(address, (bytes, str)) or not address:
        raise ValueError(f"address type of {address!r} unrecognized")
    # As 3.14 does: an object that is no address at all is a TypeError.
    raise TypeError(f"address type of {address!r} unrecognized")


def _check_family(family: object) -> str:
    if family not in families:
        raise ValueError(f"Family {family} is not recognized.")
    return str(family)


def _check_authkey(authkey: object) -> bytes | None:
    if authkey is not None and not isinstance(authkey, bytes):
        raise TypeError("authkey should be a byte string")
    return authkey


def _descriptor(handle: object) -> int:
    try:
        fd = operator.index(handle)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"handle must be an int, not {type(handle).__name__}") from None
    if fd >= 0:
        return fd
    raise ValueError("invalid handle")


def _window(view: memoryview, offset: int, size: int | None) -> memoryview:
    """Return the *size* bytes of *view* from *offset* (to the end for None), checked."""
    total = view.nbytes
    if offset < 0:
        raise ValueError("offset is negative")
    end = total if size is None else offset + size
    if size is not None and size < 0:
        raise ValueError("size is negative")
    if end > total or offset > total:
        raise ValueError("buffer length < offset" + ("" if size is None else " + size"))
    return view if (offset, end) == (0, total) else view[offset:end]


class Connection:
    """One end of a connection: sends and receives messages over a descriptor.

    *handle* is the descriptor, which the connection now owns (it closes it). A
    connection is readable, writable or both.
    """

    _handle: int | None = None
    _spare: bytearray | None = None

    def __init__(self, handle: int, readable: bool = True, writable: bool = True) -> None:
        """Wrap the descriptor *handle*."""
        if not (readable or writable):
            raise ValueError("at least one of `readable` and `writable` must be True")
        self._readable, self._writable = readable, writable
        self._handle = _descriptor(handle)

    def __del__(self, _close: Any = os.close) -> None:
        # os.close bound at definition: at interpreter exit the module's globals may
        # already be None when the last connections are collected.
        fd = self._handle
        if fd is not None:
            self._handle = None
            _close(fd)

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"fd={self._handle}"
        mode = ("r" if self._readable else "") + ("w" if self._writable else "")
        return f"<{type(self).__module__}.{type(self).__qualname__} {state} {mode}>"

    # State -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is closed."""
        return self._handle is None

    @property
    def readable(self) -> bool:
        """True if the connection can receive."""
        return self._readable

    @property
    def writable(self) -> bool:
        """True if the connection can send."""
        return self._writable

    def fileno(self) -> int:
        """Return the descriptor of the connection."""
        fd = self._handle
        if fd is None:
            raise OSError("handle is closed")
        return fd

    def close(self) -> None:
        """Close the connection; closing it again does nothing."""
        fd = self._handle
        if fd is not None:
            self._handle = None
            os.close(fd)

    def _detach(self) -> None:
        """Stop owning the descriptor (someone else closes it)."""
        self._handle = None

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _reader(self) -> int:
        fd = self._handle
        if fd is None:
            raise OSError("handle is closed")
        if not self._readable:
            raise OSError("connection is write-only")
        return fd

    def _writer(self) -> int:
        fd = self._handle
        if fd is None:
            raise OSError("handle is closed")
        if not self._writable:
            raise OSError("connection is read-only")
        return fd

    # Sending ---------------------------------------------------------------------

    def send_bytes(self, buf: Any, offset: int = 0, size: int | None = None) -> None:
        """Send the bytes of the bytes-like *buf* (from *offset*, *size* of them) as a message."""
        fd = self._writer()
        whole = memoryview(buf)
        if whole.format != "B" or whole.ndim != 1:
            whole = whole.cast("B")  # sizes and offsets count bytes, whatever the items
        part = _window(whole, offset, size)
        self._send_message(fd, part, part.nbytes)

    def send(self, obj: object) -> None:
        """Send the pickle of *obj*."""
        fd = self._writer()
        plain = _reduction.ForkingPickler.__dict__
        if plain["dumps"] is not _PLAIN_DUMPS or plain["__init__"] is not _PLAIN_INIT:
            # Someone replaced the pickler's machinery: go through it, as the stdlib does.
            data = _reduction.ForkingPickler.dumps(obj)
            self._send_message(fd, data, data.nbytes)
            return
        framed = _reduction._framed_dumps(obj)
        size = framed.nbytes - 4
        if size > _LARGEST_SHORT:
            self._send_message(fd, framed[4:], size)
            return
        _HEADER.pack_into(framed, 0, size)
        sent = os.write(fd, framed)
        if sent != size + 4:
            _write_rest(fd, [framed], sent)

    def _send_frames(self, *payloads: bytes) -> None:
        """Send each of the short *payloads* as a message of its own, in one write.

        For a handshake's answer and challenge, which then reach the peer together.
        """
        fd = self._writer()
        parts: list[bytes] = []
        for payload in payloads:
            parts += (_HEADER.pack(len(payload)), payload)
        sent = os.writev(fd, parts)
        if sent != sum(map(len, parts)):
            _write_rest(fd, parts, sent)

    @staticmethod
    def _send_message(fd: int, payload: memoryview, size: int) -> None:
        if size <= _LARGEST_SHORT:
            parts: list[Any] = [_HEADER.pack(size), payload]
            want = size + 4
        else:
            parts = [_LONG_MARK, _LONG_HEADER.pack(size), payload]
            want = size + 12
        # One writev for header and payload: no copy to join them, and a small message
        # leaves in one segment (no Nagle delay on TCP).
        sent = os.writev(fd, parts)
        if sent != want:
            _write_rest(fd, parts, sent)

    # Receiving -------------------------------------------------------------------

    def _read_exact(self, fd: int, size: int) -> bytearray:
        data = bytearray(size)
        view = memoryview(data)
        got = 0
        while got < size:
            n = os.readv(fd, [view[got : got + BUFSIZE]])
            if n == 0:
                if got == 0:
                    raise EOFError
                raise OSError("got end of file during message")
            got += n
        return data

    def _read_size(self, fd: int) -> int:
        head = os.read(fd, 4)
        if len(head) != 4:
            if not head:
                raise EOFError
            head += self._read_exact(fd, 4 - len(head))
        size: int = _HEADER.unpack(head)[0]
        if size == -1:
            size = _LONG_HEADER.unpack(self._read_exact(fd, 8))[0]
        elif size < 0:
            raise OSError(f"bad message length {size}")
        return size

    def _read_payload(self, fd: int, size: int) -> bytes | memoryview:
        """Read *size* bytes in reads of at most BUFSIZE.

        A message that came in one read is returned as that bytes object. A longer one
        is read into the connection's spare buffer (kept between messages up to
        SPARE_MAX bytes), and a view of it is returned: the caller copies or unpickles
        it and hands the buffer back with :meth:`_keep_spare`. A buffer reused this
        way is faulted in by the kernel once, not on every message.
        """
        first = os.read(fd, size if size < BUFSIZE else BUFSIZE)
        got = len(first)
        if got == size:
            return first
        if not got:
            raise OSError("got end of file during message")
        spare = self._spare
        self._spare = None  # in use: a nested recv (from a signal handler) makes its own
        buf = spare if spare is not None and len(spare) >= size else bytearray(size)
        view = memoryview(buf)[:size]
        view[:got] = first
        _read_into(fd, view[got:])
        return view

    def _keep_spare(self, data: bytes | memoryview) -> None:
        if type(data) is memoryview and len(data.obj) <= SPARE_MAX:  # type: ignore[arg-type]
            self._spare = data.obj  # type: ignore[assignment]

    def _recv_message(self, maxlength: int | None = None) -> bytes | memoryview:
        """Read one whole message (CPython's tests reach the stdlib's ``_recv_bytes``)."""
        fd = self._reader()
        size = self._read_size(fd)
        if maxlength is not None and size > maxlength:
            self._refuse_long_message()
        if size == 0:
            return b""
        try:
            return self._read_payload(fd, size)
        except EOFError:
            raise OSError("got end of file during message") from None

    def _refuse_long_message(self) -> None:
        # The docs: the connection is no longer readable after this (the rest of the
        # message is still in the pipe). A read-only end has no use left: close it.
        if self._writable:
            self._readable = False
        else:
            self.close()
        raise OversizeMessage("bad message length")

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        """Receive one message and return its bytes.

        Blocks until a message arrives; :exc:`EOFError` when the other end closed.
        A message longer than *maxlength* raises :exc:`OSError` and leaves the
        connection unreadable.
        """
        if maxlength is not None and maxlength < 0:
            self._reader()
            raise ValueError("negative maxlength")
        data = self._recv_message(maxlength)
        if type(data) is bytes:
            return data
        copy = data.tobytes()  # type: ignore[union-attr]
        self._keep_spare(data)
        return copy

    def recv_bytes_into(self, buf: Any, offset: int = 0) -> int:
        """Receive one message into the writable bytes-like *buf* at byte *offset*.

        Returns the message's length. If it does not fit, raises
        :exc:`BufferTooShort` whose ``args[0]`` is the whole message.
        """
        fd = self._reader()
        with memoryview(buf) as view:
            room = view.nbytes
            if offset < 0:
                raise ValueError("negative offset")
            if offset > room:
                raise ValueError("offset too large")
            size = self._read_size(fd)
            if size > room - offset:
                data = self._read_payload(fd, size) if size else b""
                raise BufferTooShort(bytes(data))
            if size:
                with view.cast("B") as target:
                    _read_into(fd, target[offset : offset + size])
            return size

    def recv(self) -> Any:
        """Receive one message and return the object unpickled from it."""
        data = self._recv_message()
        try:
            return _reduction.ForkingPickler.loads(data)
        finally:
            self._keep_spare(data)

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Return whether a message (or the end of the stream) can be read.

        Waits up to *timeout* seconds; None waits for ever.
        """
        fd = self._reader()
        return _ready(fd, timeout)


def _write_rest(fd: int, parts: list[Any], sent: int) -> None:
    # A partial writev: skip what went out, then write the rest, piece by piece.
    for part in parts:
        view = memoryview(part).cast("B")
        if sent >= view.nbytes:
            sent -= view.nbytes
            continue
        rest = view[sent:]
        sent = 0
        while rest.nbytes:
            rest = rest[os.write(fd, rest) :]


def _read_into(fd: int, target: memoryview) -> None:
    got = 0
    size = target.nbytes
    while got < size:
        n = os.readv(fd, [target[got : got + BUFSIZE]])
        if n == 0:
            raise OSError("got end of file during message")
        got += n


def _ready(fd: int, timeout: object) -> bool:
    poller = select.poll()
    poller.register(fd, _POLLIN)
    return bool(_poll(poller, _seconds(timeout)))


def _seconds(timeout: object) -> float | None:
    """Return *timeout* checked by thread-core's one rule (a plain number needs no import)."""
    kind = type(timeout)
    if timeout is None or ((kind is float or kind is int) and timeout == timeout):  # noqa: PLR0124 - NaN
        return timeout  # type: ignore[return-value]
    from treadle.thread_core.support import check_timeout  # noqa: PLC0415 - see the imports

    return check_timeout(timeout)


# select.poll takes an int of milliseconds: longer waits go in slices of this many seconds.
_POLL_SLICE = 86400.0


def _poll(poller: Any, seconds: float | None) -> list[tuple[int, int]]:
    """Poll for up to *seconds* (None: for ever); return the events.

    A signal handler that returns lets poll() carry on with the time left (PEP 475).
    """
    if seconds is None:
        return poller.poll()  # type: ignore[no-any-return]
    if seconds <= 0.0:
        return poller.poll(0)  # type: ignore[no-any-return]
    deadline = time.monotonic() + seconds
    while True:
        # Milliseconds, rounded up by poll() itself, so no early wake-up.
        events: list[tuple[int, int]] = poller.poll(min(seconds, _POLL_SLICE) * 1000.0)
        if events:
            return events
        seconds = deadline - time.monotonic()
        if seconds <= 0.0:
            return events


def _reduce_connection(conn: Connection) -> tuple[Any, ...]:
    return _rebuild_connection, (
        _reduction.DupFd(conn.fileno()),
        conn.readable,
        conn.writable,
    )


def _rebuild_connection(df: Any, readable: bool, writable: bool) -> Connection:
    return Connection(df.detach(), readable, writable)


_reduction.register(Connection, _reduce_connection)


def Pipe(duplex: bool = True) -> tuple[Connection, Connection]:
    """Return the two ends of a new pipe.

    With *duplex* (a unix socket pair) both ends send and receive; without (an OS pipe)
    the first end only receives and the second only sends.
    """
    if not duplex:
        fds = os.pipe()
        return Connection(fds[0], True, False), Connection(fds[1], False, True)
    ends = [_blocking_fd(sock) for sock in socket.socketpair()]
    return Connection(ends[0]), Connection(ends[1])


def _blocking_fd(sock: socket.socket) -> int:
    # Blocking whatever socket.setdefaulttimeout() says; the descriptor changes owner.
    sock.setblocking(True)
    return sock.detach()


class Listener:
    """A listening socket that returns authenticated connections from :meth:`accept`.

    *address* defaults to a fresh one of *family* (the family of *address*, or
    ``AF_UNIX``). With *authkey* (bytes), every connection is authenticated with the
    HMAC handshake before :meth:`accept` returns it.
    """

    def __init__(
        self,
        address: Address | None = None,
        family: str | None = None,
        backlog: int = 1,
        authkey: bytes | None = None,
    ) -> None:
        """Bind and listen."""
        if not family:
            family = address_type(address) if address else default_family
        family = _check_family(family)
        self._authkey = _check_authkey(authkey)
        self._socket: socket.socket | None = None
        self._last_accepted: Any = None
        self._unlink: Any = None
        if not address:
            address = arbitrary_address(family)
        sock = socket.socket(getattr(socket, family))
        try:
            sock.setblocking(True)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(backlog)
            self._address = sock.getsockname()
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self._family = family
        if family == "AF_UNIX" and not _is_abstract(address):
            # _util imports the process model; finalizers need the exit hook even when no
            # Process was started.
            from ._util import Finalize, _hook_exit  # noqa: PLC0415

            # Remove the socket file at close, or at exit at the latest.
            self._unlink = Finalize(self, os.unlink, args=(address,), exitpriority=0)
            _hook_exit()

    def accept(self) -> Connection:
        """Wait for a client and return the connection to it (authenticated with *authkey*)."""
        sock = self._socket
        if sock is None:
            raise OSError("listener is closed")
        client, self._last_accepted = sock.accept()
        client.setblocking(True)
        conn = Connection(client.detach())
        key = self._authkey
        if key is not None:
            try:
                server_handshake(conn, key)
            except BaseException:
                conn.close()
                raise
        return conn

    def close(self) -> None:
        """Stop listening (and remove a unix socket's file); closing again does nothing."""
        sock = self._socket
        if sock is None:
            return
        self._socket = None
        try:
            sock.close()
        finally:
            unlink = self._unlink
            if unlink is not None:
                self._unlink = None
                unlink()

    @property
    def address(self) -> Any:
        """The address the listener is bound to."""
        return self._address

    @property
    def last_accepted(self) -> Any:
        """The address of the last client accepted, or None."""
        return self._last_accepted

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def Client(address: Address, family: str | None = None, authkey: bytes | None = None) -> Connection:
    """Connect to the :class:`Listener` at *address* and return the connection.

    With *authkey* (bytes) the connection is authenticated before it is returned.
    """
    family = _check_family(family or address_type(address))
    key = _check_authkey(authkey)
    with socket.socket(getattr(socket, family)) as sock:
        sock.setblocking(True)
        sock.connect(address)
        conn = Connection(sock.detach())
    if key is not None:
        try:
            client_handshake(conn, key, pipelined=family == "AF_UNIX")
        except BaseException:
            conn.close()
            raise
    return conn


def wait(object_list: Iterable[_T], timeout: float | None = None) -> list[_T]:
    """Wait until some of *object_list* are ready; return those, in their order.

    The objects are connections, sockets, or descriptors (such as a process's
    ``sentinel``): ready means a read would not block. Waits up to *timeout* seconds
    (None: for ever) and returns an empty list if none became ready.
    """
    seconds = _seconds(timeout)
    objects = list(object_list)
    fds = [obj if isinstance(obj, int) else obj.fileno() for obj in objects]  # type: ignore[attr-defined]
    poller = select.poll()
    for fd in set(fds):
        poller.register(fd, _POLLIN)
    ready = {fd for fd, _mask in _poll(poller, seconds)}
    if not ready:
        return []
    return [obj for obj, fd in zip(objects, fds, strict=True) if fd in ready]


# XML-RPC marshalling (the managers' "xmlrpclib" serializer) ---------------------------


class ConnectionWrapper:
    """A connection whose ``send``/``recv`` go through *dumps*/*loads* of its own.

    The bytes-level calls (``send_bytes``, ``recv_bytes``, ``poll``, ``fileno``,
    ``close``) are the wrapped connection's.
    """

    def __init__(self, conn: Connection, dumps: Any, loads: Any) -> None:
        """Wrap *conn*; *dumps* makes bytes of an object, *loads* the reverse."""
        self._conn = conn
        self._dumps = dumps
        self._loads = loads
        self.fileno = conn.fileno
        self.close = conn.close
        self.poll = conn.poll
        self.recv_bytes = conn.recv_bytes
        self.send_bytes = conn.send_bytes

    def send(self, obj: object) -> None:
        """Send *obj* marshalled by *dumps*."""
        self._conn.send_bytes(self._dumps(obj))

    def recv(self) -> Any:
        """Receive one message and return it unmarshalled by *loads*."""
        return self._loads(self._conn.recv_bytes())


def _xml_dumps(obj: object) -> bytes:
    import xmlrpc.client  # noqa: PLC0415 - only for this serializer

    text: str = xmlrpc.client.dumps((obj,), allow_none=True)  # type: ignore[arg-type]
    return text.encode("utf-8")


def _xml_loads(data: bytes) -> Any:
    import xmlrpc.client  # noqa: PLC0415 - only for this serializer

    params, _method = xmlrpc.client.loads(data.decode("utf-8"))
    return params[0]


class XmlListener(Listener):
    """A :class:`Listener` whose connections carry XML-RPC marshalled objects."""

    def accept(self) -> ConnectionWrapper:  # type: ignore[override]
        """Accept a client, as :meth:`Listener.accept`, wrapped for XML-RPC."""
        return ConnectionWrapper(super().accept(), _xml_dumps, _xml_loads)


def XmlClient(*args: Any, **kwargs: Any) -> ConnectionWrapper:
    """Connect as :func:`Client` does; objects travel XML-RPC marshalled."""
    return ConnectionWrapper(Client(*args, **kwargs), _xml_dumps, _xml_loads)
