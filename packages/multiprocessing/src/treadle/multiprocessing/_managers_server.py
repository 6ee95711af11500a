"""The manager's server: owns the shared objects and answers their proxies.

Its own machinery (accepting, one thread per connection) uses the stdlib's ``threading``:
a spawned server should not pay treadle.threading's import for it.
"""

from __future__ import annotations

import sys
import threading

from . import _auth, _connection, _process
from ._managers_wire import (
    _address_of,
    _PickleChannel,
    _portable_error,
    _traceback_text,
    _transport,
    _wire_token,
    public_methods,
)
from ._util import info

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

__all__ = ["Server"]


class _Served:
    """One shared object in the server: the object, its exposed names, its typeid map."""

    __slots__ = ("exposed", "obj", "typeids")

    def __init__(self, obj: Any, exposed: Iterable[str], typeids: dict[str, str] | None) -> None:
        self.obj = obj
        self.exposed = frozenset(exposed)
        self.typeids = typeids or {}


class Server:
    """The manager's server: owns the shared objects and answers their proxies.

    Made by ``BaseManager.get_server()`` (call :meth:`serve_forever`) or in the
    process that ``BaseManager.start()`` starts.
    """

    public: tuple[str, ...] = (
        "shutdown",
        "create",
        "accept_connection",
        "get_methods",
        "debug_info",
        "number_of_objects",
        "dummy",
        "incref",
        "decref",
    )

    def __init__(
        self, registry: dict[str, tuple[Any, ...]], address: Any, authkey: bytes, serializer: str
    ) -> None:
        """Listen at *address* (a fresh one when None) for clients knowing *authkey*."""
        if not isinstance(authkey, bytes):
            raise TypeError(f"authkey should be a byte string, not {type(authkey).__name__}")
        listener_cls, self._client = _transport(serializer)
        self.registry = registry
        self.authkey = _process.AuthenticationString(authkey)
        # The stdlib's backlog: many proxies connect at once.
        self.listener = listener_cls(address=address, backlog=128)
        self.address = _address_of(self.listener.address)
        self.serializer = serializer
        self.objects: dict[str, _Served] = {}
        self.refcounts: dict[str, int] = {}
        # Objects of this server that proxies living in the server itself point to (a
        # proxy inside a shared list): they stay reachable without a reference count.
        self.local_objects: dict[str, _Served] = {}
        self.local_counts: dict[str, int] = {}
        self.mutex = threading.Lock()
        self.stop_event = threading.Event()

    # serving ------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Serve until a client asks for ``shutdown``; then exit (``SystemExit(0)``)."""
        _process.current_process()._manager_server = self  # type: ignore[attr-defined]
        accepter = threading.Thread(target=self._accept_loop, name="manager-accepter")
        accepter.daemon = True
        accepter.start()
        try:
            try:
                self.stop_event.wait()
            except KeyboardInterrupt:
                pass
            self._wake_accepter()
            accepter.join()
            self.listener.close()
            self._on_stop()
        finally:
            sys.exit(0)

    def _on_stop(self) -> None:
        """Release what a subclass holds, once the server has stopped."""

    def _wake_accepter(self) -> None:
        # accept() does not return when another thread closes the socket: a connection
        # of our own wakes it, and it sees the stop flag.
        try:
            _connection.Client(self.address).close()
        except OSError:
            pass

    def _accept_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                # The handshake is done in the connection's thread, not here: a slow
                # client cannot hold up the others.
                sock = self.listener._socket
                if sock is None:
                    return
                client, _addr = sock.accept()
            except OSError:
                return
            if self.stop_event.is_set():
                client.close()
                return
            client.setblocking(True)
            conn = _connection.Connection(client.detach())
            worker = threading.Thread(target=self.handle_request, args=(conn,))
            worker.daemon = True
            worker.start()

    def _wrap(self, conn: Any) -> Any:
        if self.serializer == "xmlrpclib":
            return _connection.ConnectionWrapper(
                conn, _connection._xml_dumps, _connection._xml_loads
            )
        return _PickleChannel(conn)

    def handle_request(self, conn: Any) -> None:
        """Authenticate one new connection and answer its request."""
        try:
            _auth.deliver_challenge(conn, self.authkey)
            _auth.answer_challenge(conn, self.authkey)
        except Exception as exc:
            info("manager refused a connection: %s", exc)
            conn.close()
            return
        channel = self._wrap(conn)
        try:
            self._answer_one(channel)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def _answer_one(self, channel: Any) -> None:
        request = channel.recv()
        reply: tuple[str, Any]
        try:
            _ident, name, args, kwds = request
            if name not in self.public:
                raise AttributeError(f"{name!r} unrecognized")
            reply = ("#RETURN", getattr(self, name)(channel, *args, **dict(kwds)))
        except Exception:
            reply = ("#TRACEBACK", _traceback_text())
        if reply[1] is _SERVED:
            return  # accept_connection, shutdown: the reply is sent already
        self._send_reply(channel, reply)

    @staticmethod
    def _send_reply(channel: Any, reply: tuple[str, Any]) -> None:
        try:
            channel.send(reply)
        except Exception:
            channel.send(("#UNSERIALIZABLE", _traceback_text()))

    def _lookup(self, ident: str) -> _Served:
        # A dict lookup is atomic: the hot path of every call takes no lock.
        found = self.objects.get(ident) or self.local_objects.get(ident)
        if found is None:
            raise KeyError(ident)
        return found

    def serve_client(self, channel: Any) -> None:
        """Answer the method calls of one proxy connection until the client goes away."""
        while not self.stop_event.is_set():
            try:
                request = channel.recv()
            except (EOFError, OSError):
                return
            self._send_reply(channel, self._call(channel, request))

    def _call(self, channel: Any, request: Any) -> tuple[str, Any]:
        try:
            ident, name, args, kwds = request
            served = self._lookup(ident)
        except Exception:
            return ("#TRACEBACK", _traceback_text())
        if name not in served.exposed:
            fallback = _FALLBACKS.get(name)
            if fallback is None:
                try:
                    raise AttributeError(
                        f"method {name!r} of {type(served.obj)!r} object is not in "
                        f"exposed={tuple(sorted(served.exposed))!r}"
                    )
                except AttributeError:
                    return ("#TRACEBACK", _traceback_text())
            try:
                return ("#RETURN", fallback(served.obj))
            except Exception:
                return ("#TRACEBACK", _traceback_text())
        try:
            method = getattr(served.obj, name)
        except Exception:
            return ("#TRACEBACK", _traceback_text())
        try:
            result = method(*args, **dict(kwds))
        except Exception as exc:
            if self.serializer != "pickle":
                # XML-RPC cannot carry an exception (it would arrive as an empty
                # struct): the client gets a RemoteError with the traceback instead.
                return ("#TRACEBACK", _traceback_text())
            return ("#ERROR", _portable_error(exc))
        typeid = served.typeids.get(name)
        if typeid is None:
            return ("#RETURN", result)
        try:
            rident, rexposed = self.create(channel, typeid, result)
        except Exception:
            return ("#TRACEBACK", _traceback_text())
        return ("#PROXY", (rexposed, _wire_token(typeid, self.address, rident)))

    # the server's own requests ------------------------------------------------------

    def dummy(self, c: Any) -> None:
        """Do nothing (a client checks that the server answers)."""

    def debug_info(self, c: Any) -> str:
        """Describe the shared objects: id, reference count, a short repr."""
        with self.mutex:
            lines = [
                f"  {ident}:       refcount={self.refcounts.get(ident, 0)}\n    "
                f"{str(served.obj)[:75]}"
                for ident, served in self.objects.items()
            ]
        return "\n".join(lines)

    def number_of_objects(self, c: Any) -> int:
        """Return the number of shared objects."""
        with self.mutex:
            return len(self.refcounts)

    def shutdown(self, c: Any) -> object:
        """Acknowledge, then stop the server."""
        try:
            c.send(("#RETURN", None))
        finally:
            self.stop_event.set()
        return _SERVED

    def create(
        self, c: Any, typeid: str, /, *args: Any, **kwds: Any
    ) -> tuple[str, tuple[str, ...]]:
        """Make a new shared object of *typeid*; return its id and exposed names."""
        if typeid not in self.registry:
            raise KeyError(f"unknown typeid {typeid!r}")
        factory, exposed, typeids, _proxytype = self.registry[typeid]
        if factory is None:
            if len(args) != 1 or kwds:
                raise TypeError(f"typeid {typeid!r} has no callable: pass exactly one object")
            obj = args[0]
        else:
            obj = factory(*args, **kwds)
        names = list(public_methods(obj) if exposed is None else exposed)
        if typeids is not None:
            if not isinstance(typeids, dict):
                raise TypeError(f"Method_to_typeid {typeids!r} must be a dict")
            names += [name for name in typeids if name not in names]
        ident = f"{id(obj):x}"
        with self.mutex:
            self.objects[ident] = _Served(obj, names, typeids)
            self.refcounts.setdefault(ident, 0)
        self.incref(c, ident)
        return ident, tuple(names)

    def get_methods(self, c: Any, token: Any) -> tuple[str, ...]:
        """Return the exposed names of the object *token* names."""
        return tuple(sorted(self._lookup(token.id).exposed))

    def accept_connection(self, c: Any, name: str) -> object:
        """Serve the calls of a proxy on this connection (*name* names the client)."""
        threading.current_thread().name = str(name)
        c.send(("#RETURN", None))
        self.serve_client(c)
        return _SERVED

    def _hold_local(self, ident: str) -> None:
        with self.mutex:
            served = self.objects.get(ident) or self.local_objects.get(ident)
            if served is None:
                return
            self.local_objects[ident] = served
            self.local_counts[ident] = self.local_counts.get(ident, 0) + 1

    def _release_local(self, ident: str) -> None:
        with self.mutex:
            left = self.local_counts.get(ident, 0) - 1
            if left > 0:
                self.local_counts[ident] = left
                return
            self.local_counts.pop(ident, None)
            dropped = self.local_objects.pop(ident, None)
        del dropped

    def incref(self, c: Any, ident: str) -> None:
        """Count one more reference to object *ident*."""
        with self.mutex:
            if ident not in self.refcounts and ident in self.local_objects:
                # A proxy the server held is now sent out: the object needs counting.
                self.objects[ident] = self.local_objects[ident]
                self.refcounts[ident] = 0
            self.refcounts[ident] += 1

    def decref(self, c: Any, ident: str) -> None:
        """Count one reference less to object *ident*; drop it at zero."""
        dropped = None
        with self.mutex:
            if ident not in self.refcounts and ident in self.local_objects:
                return
            count = self.refcounts[ident]
            if count <= 0:
                raise AssertionError(
                    f"Id {ident} ({self.objects[ident].obj!r}) has refcount {count}, not 1+"
                )
            self.refcounts[ident] = count - 1
            if count == 1:
                del self.refcounts[ident]
                # A proxy held inside the server (in a shared dict) keeps it in
                # local_objects: a client may be sent that proxy later.
                dropped = self.objects.pop(ident, None)
        # The object goes (and its finalizers run) outside the lock.
        del dropped


_SERVED = object()

_FALLBACKS: dict[str, Callable[[Any], Any]] = {
    "__str__": str,
    "__repr__": repr,
    "#GETVALUE": lambda obj: obj,
}
