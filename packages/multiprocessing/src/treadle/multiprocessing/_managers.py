"""Managers: a server process that owns Python objects, and proxies that call them.

The wire protocol is the stdlib's, so that either end may be a stdlib process of
3.10-3.14. After the HMAC handshake a client sends ``(ident, name, args, kwargs)``
tuples; ``ident`` None addresses the server itself (``create``, ``incref``,
``decref``, ``accept_connection``, ``shutdown``...). Replies are ``(kind, value)``:
``#RETURN`` a value, ``#ERROR`` a raised exception, ``#TRACEBACK`` the text of a
server-side failure, ``#UNSERIALIZABLE`` a reply that could not be sent, ``#PROXY``
``(exposed, token)`` for a method whose result becomes a new shared object. A server
connection answers one request, except after ``accept_connection``, when it serves a
proxy's calls until the client goes away.

The server's own machinery (accepting, one thread per connection) uses the stdlib's
``threading``: a spawned server should not pay treadle.threading's import for it. The
shared objects of ``SyncManager`` (in ``_managers_sync``) are treadle's, imported when
first made.
"""

# Imports inside functions are deliberate: spawned children import this module.
# ruff: noqa: PLC0415

from __future__ import annotations

import os
import sys
import threading

from . import _auth, _connection, _process, _reduction
from ._context import get_spawning_popen
from ._errors import ProcessError
from ._util import Finalize, info, register_after_fork

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from types import TracebackType
    from typing import Any, ClassVar, TypeVar

    _M = TypeVar("_M", bound="BaseManager")

__all__ = [
    "AutoProxy",
    "BaseManager",
    "BaseProxy",
    "MakeProxyType",
    "ProcessLocalSet",
    "RebuildProxy",
    "RemoteError",
    "Server",
    "State",
    "Token",
    "all_methods",
    "convert_to_error",
    "dispatch",
    "public_methods",
    "view_types",
]

# Serializers: the listener and client of each (the stdlib's two names).
listener_client: dict[str, tuple[Any, Any]] = {
    "pickle": (_connection.Listener, _connection.Client),
    "xmlrpclib": (_connection.XmlListener, _connection.XmlClient),
}


def _transport(serializer: object) -> tuple[Any, Any]:
    found = listener_client.get(serializer) if isinstance(serializer, str) else None
    if found is None:
        raise ValueError(f"serializer must be one of {sorted(listener_client)}, not {serializer!r}")
    return found


# The dict views, which travel as lists (see _managers_sync).
view_types: list[type] = [type({}.items()), type({}.keys()), type({}.values())]


class ProcessLocalSet(set):  # type: ignore[type-arg]
    """A set that a child started with fork finds empty, and that pickles empty."""

    def __init__(self) -> None:
        register_after_fork(self, ProcessLocalSet.clear)

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return type(self), ()


class Token:
    """Names a shared object: its type id, its server's address, its id there."""

    __slots__ = ("address", "id", "typeid")

    def __init__(self, typeid: str, address: Any, id: str) -> None:
        self.typeid = typeid
        self.address = address
        self.id = id

    def __getstate__(self) -> tuple[str, Any, str]:
        return (self.typeid, self.address, self.id)

    def __setstate__(self, state: tuple[str, Any, str]) -> None:
        self.typeid, self.address, self.id = state

    def __repr__(self) -> str:
        fields = f"typeid={self.typeid!r}, address={self.address!r}, id={self.id!r}"
        return f"{type(self).__name__}({fields})"


def _as_token(found: Any) -> Token:
    # A stdlib server sends its own Token class (or anything with the three fields).
    if isinstance(found, Token):
        return found
    return Token(found.typeid, _address_of(found.address), found.id)


def _address_of(address: Any) -> Any:
    # XML-RPC turns a (host, port) tuple into a list: addresses must stay hashable.
    return tuple(address) if isinstance(address, list) else address


class RemoteError(Exception):
    """A failure in the manager's server; ``args[0]`` is the server's traceback text."""

    def __str__(self) -> str:
        rule = "-" * 75
        return f"\n{rule}\n{self.args[0]}{rule}"


def convert_to_error(kind: str, result: Any) -> Exception:
    """Return the exception a reply of *kind* carrying *result* stands for."""
    if kind == "#ERROR":
        return result  # type: ignore[no-any-return]
    if kind in ("#TRACEBACK", "#UNSERIALIZABLE"):
        if not isinstance(result, str):
            return TypeError(f"Result {result!r} (kind {kind!r}) type is {type(result)}, not str")
        if kind == "#UNSERIALIZABLE":
            return RemoteError(f"Unserializable message: {result}\n")
        return RemoteError(result)
    return ValueError(f"Unrecognized message type {kind!r}")


# Set while this thread pickles a request to a manager server: proxies among the
# arguments then travel by the stdlib's names, which any server can read.
_to_server = threading.local()
# Set while this thread unpickles a server's reply: the key of that server.
_from_server = threading.local()


def _send_request(channel: Any, request: tuple[Any, ...]) -> None:
    _to_server.active = True
    try:
        channel.send(request)
    finally:
        _to_server.active = False


def dispatch(c: Any, id: Any, methodname: str, args: Sequence[Any] = (), kwds: Any = None) -> Any:
    """Send one request on connection *c* and return its result (or raise its error)."""
    _send_request(c, (id, methodname, tuple(args), {} if kwds is None else kwds))
    kind, result = c.recv()
    if kind == "#RETURN":
        return result
    raise convert_to_error(kind, result)


def _one_request(
    client: Any, address: Any, authkey: bytes, name: str, args: Sequence[Any] = ()
) -> Any:
    # Requests to the server itself (create, incref, decref...) each use a connection
    # of their own, as the stdlib's clients do.
    channel = client(address, authkey=authkey)
    try:
        return dispatch(channel, None, name, args)
    finally:
        channel.close()


def all_methods(obj: object) -> list[str]:
    """Return the names of *obj*'s callable attributes."""
    return [name for name in dir(obj) if callable(getattr(obj, name, None))]


def public_methods(obj: object) -> list[str]:
    """Return the names of *obj*'s callable attributes that do not start with ``_``."""
    return [name for name in all_methods(obj) if not name.startswith("_")]


def _portable_error(exc: BaseException) -> BaseException:
    # An exception goes to the client pickled by its class's name. A stdlib peer cannot
    # import treadle's classes: a treadle queue's Empty travels as queue.Empty, a treadle
    # barrier's BrokenBarrierError as threading's (same name, same arguments).
    module = type(exc).__module__
    if module not in ("treadle.queue", "treadle.threading"):
        return exc
    import importlib

    twin = getattr(importlib.import_module(module[len("treadle.") :]), type(exc).__name__, None)
    if isinstance(twin, type) and issubclass(twin, BaseException):
        return twin(*exc.args)
    return exc


class _PickleChannel:
    """A server's end of a pickle connection: requests are read by :func:`_peer_loads`."""

    __slots__ = ("close", "recv_bytes", "send")

    def __init__(self, conn: Any) -> None:
        self.send = conn.send
        self.recv_bytes = conn.recv_bytes
        self.close = conn.close

    def recv(self) -> Any:
        return _peer_loads(self.recv_bytes())


def _peer_loads(data: bytes) -> Any:
    # A stdlib client pickles its proxies (an argument of a call: a proxy put in a
    # shared list) by the stdlib's names. In this server they must become treadle's
    # proxies, which know that their referent lives here: the names are mapped.
    if b"multiprocessing." not in data:
        return _reduction.ForkingPickler.loads(data)
    import io

    return _TwinUnpickler(io.BytesIO(data)).load()


def _twin_finder() -> type:
    import pickle

    class TwinUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module.partition(".")[0] == "multiprocessing":
                import importlib

                try:
                    twin = getattr(importlib.import_module(f"treadle.{module}"), name, None)
                except ImportError:
                    twin = None
                if twin is not None:
                    return twin
            return super().find_class(module, name)

    return TwinUnpickler


class _LazyUnpickler:
    # The pickle module is not imported by spawned children that never serve.
    cls: type | None = None

    def __call__(self, file: Any) -> Any:
        if self.cls is None:
            self.cls = _twin_finder()
        return self.cls(file)


_TwinUnpickler = _LazyUnpickler()


def _traceback_text() -> str:
    import traceback

    return traceback.format_exc()


# ---------------------------------------------------------------------------------------
# The server.


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


def _wire_token(typeid: str, address: Any, ident: str) -> Any:
    # A #PROXY reply carries a token; a stdlib client reads its three attributes and
    # cannot import treadle's class: types.SimpleNamespace travels between any two.
    import types

    return types.SimpleNamespace(typeid=typeid, address=address, id=ident)


# ---------------------------------------------------------------------------------------
# The manager.


class _Opened:
    """Close a connection (or an XML-RPC wrapper of one) at the end of a ``with``."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def __enter__(self) -> Any:
        return self.channel

    def __exit__(self, *exc: object) -> None:
        self.channel.close()


def _ended(process: Any, timeout: float | None) -> bool:
    process.join(timeout)
    return process.exitcode is not None


class State:
    """The state of a manager: ``INITIAL``, ``STARTED`` or ``SHUTDOWN``."""

    __slots__ = ("value",)
    INITIAL = 0
    STARTED = 1
    SHUTDOWN = 2

    def __init__(self) -> None:
        self.value = State.INITIAL


def _state_error(state: State) -> ProcessError:
    if state.value == State.STARTED:
        return ProcessError("Already started server")
    if state.value == State.SHUTDOWN:
        return ProcessError("Manager has shut down")
    return ProcessError(f"Unknown state {state.value!r}")


class BaseManager:
    """Starts (or connects to) a server process sharing objects; makes their proxies.

    Register the types it shares with :meth:`register`, then :meth:`start` a server
    (or :meth:`connect` to one started elsewhere). *authkey* defaults to the current
    process's; *serializer* is ``'pickle'`` or ``'xmlrpclib'``; *ctx* is the context
    that starts the server; the server gets *shutdown_timeout* seconds to stop before
    it is terminated.
    """

    _registry: ClassVar[dict[str, tuple[Any, ...]]] = {}
    _Server: type[Server] = Server

    def __init__(
        self,
        address: Any = None,
        authkey: bytes | None = None,
        serializer: str = "pickle",
        ctx: Any = None,
        *,
        shutdown_timeout: float = 1.0,
    ) -> None:
        """Prepare a manager for the server at *address* (a fresh one when None)."""
        if authkey is None:
            authkey = _process.current_process().authkey
        elif not isinstance(authkey, bytes):
            raise TypeError(f"authkey should be a byte string, not {type(authkey).__name__}")
        if not isinstance(shutdown_timeout, (int, float)) or isinstance(shutdown_timeout, bool):
            raise TypeError(f"shutdown_timeout must be a number, not {shutdown_timeout!r}")
        self._Listener, self._Client = _transport(serializer)
        self._address = _address_of(address)
        self._authkey = _process.AuthenticationString(authkey)
        self._state = State()
        self._serializer = serializer
        if ctx is None:
            from ._context import _default_context

            ctx = _default_context.get_context()
        self._ctx = ctx
        self._shutdown_timeout = shutdown_timeout
        self._process: Any = None

    @property
    def address(self) -> Any:
        """The server's address (known once started or connected)."""
        return self._address

    def get_server(self) -> Server:
        """Return a server (not yet serving) for this manager's registered types."""
        if self._state.value != State.INITIAL:
            raise _state_error(self._state)
        return self._Server(self._registry, self._address, self._authkey, self._serializer)

    def connect(self) -> None:
        """Use the server already running at ``address``."""
        # A request that does nothing: the address answers and the key is right.
        _one_request(self._Client, self._address, self._authkey, "dummy")
        self._state.value = State.STARTED

    def start(
        self, initializer: Callable[..., object] | None = None, initargs: Iterable[Any] = ()
    ) -> None:
        """Start the server in a child process (which first calls ``initializer(*initargs)``)."""
        if self._state.value != State.INITIAL:
            raise _state_error(self._state)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        reader, writer = _connection.Pipe(duplex=False)
        try:
            self._process = self._ctx.Process(
                target=type(self)._run_server,
                args=(
                    self._registry,
                    self._address,
                    self._authkey,
                    self._serializer,
                    writer,
                    initializer,
                    tuple(initargs),
                ),
            )
            ident = ":".join(str(part) for part in self._process._identity)
            self._process.name = f"{type(self).__name__}-{ident}"
            self._process.start()
        except BaseException:
            reader.close()
            writer.close()
            raise
        writer.close()
        try:
            self._address = _address_of(reader.recv())
        except EOFError:
            self._process.join()
            raise ProcessError(
                f"manager server exited with code {self._process.exitcode} before it served"
            ) from None
        finally:
            reader.close()
        self._state.value = State.STARTED
        self.shutdown = Finalize(  # type: ignore[method-assign]
            self,
            type(self)._finalize_manager,
            args=(
                self._process,
                self._address,
                self._authkey,
                self._state,
                self._Client,
                self._shutdown_timeout,
            ),
            exitpriority=0,
        )

    @classmethod
    def _run_server(  # noqa: PLR0917 - the stdlib's signature
        cls,
        registry: dict[str, tuple[Any, ...]],
        address: Any,
        authkey: bytes,
        serializer: str,
        writer: Any,
        initializer: Callable[..., object] | None = None,
        initargs: Sequence[Any] = (),
    ) -> None:
        # The manager's process: Ctrl-C in a terminal reaches the whole process group;
        # the owner shuts the server down, not the signal.
        _ignore_interrupts()
        if initializer is not None:
            initializer(*initargs)
        with _Opened(writer):
            # The owner waits for the address: a server that cannot listen tells it by
            # closing the pipe unanswered (the exception ends this process).
            server = cls._Server(registry, address, authkey, serializer)
            writer.send(server.address)
        server.serve_forever()

    def _create(self, typeid: str, /, *args: Any, **kwds: Any) -> tuple[Token, tuple[str, ...]]:
        request = (None, "create", (typeid, *args), kwds)
        with _Opened(self._Client(self._address, authkey=self._authkey)) as channel:
            _send_request(channel, request)
            kind, result = channel.recv()
        if kind != "#RETURN":
            raise convert_to_error(kind, result)
        return Token(typeid, self._address, result[0]), tuple(result[1])

    def join(self, timeout: float | None = None) -> None:
        """Wait until the server process ends (or *timeout* seconds pass)."""
        server = self._process
        if server is not None and _ended(server, timeout):
            self._process = None

    def _debug_info(self) -> str:
        return str(_one_request(self._Client, self._address, self._authkey, "debug_info"))

    def _number_of_objects(self) -> int:
        return int(_one_request(self._Client, self._address, self._authkey, "number_of_objects"))

    def __enter__(self: _M) -> _M:
        if self._state.value == State.INITIAL:
            self.start()
        if self._state.value != State.STARTED:
            raise ProcessError(f"Unable to start server: {_state_error(self._state)}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the server started by :meth:`start` (a no-op before that)."""

    @staticmethod
    def _finalize_manager(
        process: Any,
        address: Any,
        authkey: bytes,
        state: State,
        _Client: Any,
        shutdown_timeout: float,
    ) -> None:
        if process.is_alive():
            try:
                _one_request(_Client, address, authkey, "shutdown")
            except Exception:
                pass
            process.join(timeout=shutdown_timeout)
            if process.is_alive():
                process.terminate()
                process.join(timeout=shutdown_timeout)
                if process.is_alive():
                    process.kill()
                    process.join()
        state.value = State.SHUTDOWN
        _proxy_channels.pop(address, None)

    @classmethod
    def register(  # noqa: PLR0917 - the stdlib's signature
        cls,
        typeid: str,
        callable: Callable[..., Any] | None = None,
        proxytype: Any = None,
        exposed: Sequence[str] | None = None,
        method_to_typeid: dict[str, str] | None = None,
        create_method: bool = True,
    ) -> None:
        """Share objects of *typeid*, made by *callable*, through *proxytype* proxies.

        *exposed* names the methods proxies may call (default: the proxy type's
        ``_exposed_``, else every public method); *method_to_typeid* maps a method to
        the typeid its result is shared as. With *create_method* the manager gets a
        method named *typeid* that makes one and returns its proxy.
        """
        if not isinstance(typeid, str):
            raise TypeError(f"typeid must be a str, not {type(typeid).__name__}")
        if "_registry" not in cls.__dict__:
            cls._registry = dict(cls._registry)
        if proxytype is None:
            proxytype = AutoProxy
        exposed = exposed or getattr(proxytype, "_exposed_", None)
        method_to_typeid = method_to_typeid or getattr(proxytype, "_method_to_typeid_", None)
        if method_to_typeid:
            for key, value in method_to_typeid.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise TypeError(f"method_to_typeid must map str to str, not {key!r}: {value!r}")
        cls._registry[typeid] = (callable, exposed, method_to_typeid, proxytype)
        if create_method:
            setattr(cls, typeid, _maker(typeid, proxytype))


def _ignore_interrupts() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the owner shuts the
    # server down, not the signal.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _hand_over(proxy: BaseProxy) -> BaseProxy:
    # The new proxy counts its own reference: drop the one the server's create() took.
    token = proxy._token
    _one_request(proxy._Client, token.address, proxy._authkey, "decref", (token.id,))
    return proxy


def _maker(typeid: str, proxytype: Any) -> Callable[..., Any]:
    def make(self: BaseManager, /, *args: Any, **kwds: Any) -> Any:
        token, exposed = self._create(typeid, *args, **kwds)
        key = self._authkey
        return _hand_over(proxytype(token, self._serializer, self, key, exposed))

    make.__name__ = typeid
    make.__qualname__ = typeid
    return make


# ---------------------------------------------------------------------------------------
# Proxies.


class _Channels:
    """The proxy connections of this process to one server: one per thread, and the ids held.

    A forked child starts with none (the pid is checked): it must not talk on the
    parent's sockets, and the parent's references are not its own.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.local = threading.local()
        self.ids: set[str] = set()
        self.lock = threading.Lock()

    def fresh(self) -> _Channels:
        if self.pid != os.getpid():
            self.pid = os.getpid()
            self.local = threading.local()
            self.ids = set()
            self.lock = threading.Lock()
        return self


_proxy_channels: dict[Any, _Channels] = {}
_channels_lock = threading.Lock()


def _channels_for(address: Any) -> _Channels:
    with _channels_lock:
        found = _proxy_channels.get(address)
        if found is None:
            found = _proxy_channels[address] = _Channels()
    return found.fresh()


class BaseProxy:
    """A reference to a shared object of a manager's server.

    ``_callmethod(name, args, kwds)`` calls a method of the referent in the server and
    returns the result (a copy), ``_getvalue()`` returns a copy of the referent. A
    proxy can be pickled to another process (it then uses that process's authkey,
    unless it goes to a child being started) and put inside other shared objects.
    """

    _exposed_: tuple[str, ...] | None = None
    _method_to_typeid_: dict[str, str] | None = None
    _isauto = False

    def __init__(  # noqa: PLR0917 - the stdlib's signature
        self,
        token: Any,
        serializer: str,
        manager: Any = None,
        authkey: bytes | None = None,
        exposed: Sequence[str] | None = None,
        incref: bool = True,
        manager_owned: bool = False,
    ) -> None:
        """Refer to the object *token* names (counted in the server unless *manager_owned*)."""
        token = _as_token(token)
        self._token = token
        self._id = token.id
        self._serializer = serializer
        self._Client = _transport(serializer)[1]
        self._manager = manager
        self._channels = _channels_for(token.address)
        if authkey is None:
            authkey = (
                manager._authkey if manager is not None else _process.current_process().authkey
            )
        self._authkey = _process.AuthenticationString(authkey)
        if exposed is not None:
            self._exposed_ = tuple(exposed)
        self._owned_by_manager = manager_owned
        self._close: Any = None
        if incref and not manager_owned:
            self._incref()
        register_after_fork(self, BaseProxy._after_fork)

    def _connect(self) -> Any:
        name = _process.current_process().name
        thread = threading.current_thread().name
        if thread != "MainThread":
            name = f"{name}|{thread}"
        conn = self._Client(self._token.address, authkey=self._authkey)
        try:
            dispatch(conn, None, "accept_connection", (name,))
        except BaseException:
            conn.close()
            raise
        self._channels.fresh().local.connection = conn
        return conn

    def _callmethod(self, methodname: str, args: Sequence[Any] = (), kwds: Any = None) -> Any:
        """Call *methodname* of the referent with *args*/*kwds* and return the result."""
        channels = self._channels
        conn = None
        if channels.pid == os.getpid():
            conn = getattr(channels.local, "connection", None)
        if conn is None:
            conn = self._connect()
        _send_request(conn, (self._id, methodname, tuple(args), {} if kwds is None else kwds))
        # Proxies nested in the reply come from this server: they use our key.
        _from_server.authkey = self._authkey
        try:
            if self._serializer == "pickle":
                kind, result = _peer_loads(conn.recv_bytes())
            else:
                kind, result = conn.recv()
        finally:
            _from_server.authkey = None
        if kind == "#RETURN":
            return result
        if kind == "#PROXY":
            return self._adopt(result)
        raise convert_to_error(kind, result)

    def _adopt(self, result: Any) -> Any:
        exposed, wire = result
        token = _as_token(wire)
        # The server knows itself by its own address: ours is how we reach it.
        token.address = self._token.address
        manager = self._manager
        registry = manager._registry if manager is not None else {}
        entry = registry.get(token.typeid)
        proxytype = entry[-1] if entry is not None else AutoProxy
        return _hand_over(proxytype(token, self._serializer, manager, self._authkey, exposed))

    def _getvalue(self) -> Any:
        """Return a copy of the referent."""
        return self._callmethod("#GETVALUE")

    def _incref(self) -> None:
        if self._owned_by_manager:
            return
        _one_request(self._Client, self._token.address, self._authkey, "incref", (self._id,))
        channels = self._channels.fresh()
        channels.ids.add(self._id)
        state = self._manager._state if self._manager is not None else None
        self._close = Finalize(
            self,
            BaseProxy._decref,
            args=(self._token, self._authkey, state, channels, self._Client),
            exitpriority=10,
        )

    @staticmethod
    def _decref(
        token: Token, authkey: bytes, state: State | None, channels: _Channels, client: Any
    ) -> None:
        channels.ids.discard(token.id)
        if state is None or state.value == State.STARTED:
            try:
                _one_request(client, token.address, authkey, "decref", (token.id,))
            except Exception as exc:
                info("... decref failed %s", exc)
        if not channels.ids and channels.pid == os.getpid():
            conn = getattr(channels.local, "connection", None)
            if conn is not None:
                # The last proxy of this thread to that server: its connection goes too.
                del channels.local.connection
                conn.close()

    def _after_fork(self) -> None:
        # A forked child holds its own reference (its finalizer will drop it).
        self._manager = None
        self._channels = _channels_for(self._token.address)
        try:
            self._incref()
        except Exception as exc:
            info("incref failed in forked child: %s", exc)

    def __reduce__(self) -> tuple[Any, ...]:
        # An AutoProxy's class is made on the fly: the other end remakes it from the
        # exposed names. The authkey travels only to a child being started.
        auto = self._isauto
        kwds: dict[str, Any] = {"exposed": self._exposed_} if auto else {}
        neutral_ok = self._owned_by_manager or getattr(_to_server, "active", False)
        if neutral_ok and get_spawning_popen() is None:
            # To a server, or from inside its server to clients: either may be a
            # stdlib process.
            neutral = _neutral_reduce(self, kwds)
            if neutral is not None:
                return neutral
        if get_spawning_popen() is not None:
            kwds["authkey"] = bytes(self._authkey)
        maker: Any = AutoProxy if auto else type(self)
        return RebuildProxy, (maker, self._token, self._serializer, kwds)

    def __deepcopy__(self, memo: Any) -> Any:
        return self._getvalue()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object, typeid {self._token.typeid!r} at {id(self):#x}>"

    def __str__(self) -> str:
        try:
            return str(self._callmethod("__repr__"))
        except Exception:
            return repr(self)[:-1] + "; '__str__()' failed>"


def RebuildProxy(
    func: Callable[..., Any], token: Any, serializer: str, kwds: dict[str, Any]
) -> Any:
    """Remake a pickled proxy (inside its own server: one that is not counted)."""
    token = _as_token(token)
    server = getattr(_process.current_process(), "_manager_server", None)
    kwds = dict(kwds)
    if server is not None and server.address == token.address:
        kwds["manager_owned"] = True
        kwds.setdefault("authkey", server.authkey)
        server._hold_local(token.id)
        proxy = func(token, serializer, incref=False, **kwds)
        # When the last such proxy in the server goes, the object needs no holding.
        Finalize(proxy, server._release_local, args=(token.id,))
        return proxy
    key = getattr(_from_server, "authkey", None)
    if key is not None:
        kwds.setdefault("authkey", key)
    inheriting = getattr(_process.current_process(), "_inheriting", False)
    incref = kwds.pop("incref", True) and not inheriting
    return func(token, serializer, incref=incref, **kwds)


def _neutral_reduce(proxy: BaseProxy, kwds: dict[str, Any]) -> tuple[Any, ...] | None:
    # Sent by a server, a proxy of one of the stdlib's own proxy types travels by the
    # stdlib's names (its token as a SimpleNamespace): a stdlib client rebuilds it, and
    # a treadle client maps the names back to treadle's (_peer_loads). A proxy type of
    # the user's own keeps treadle's names.
    cls = AutoProxy if proxy._isauto else type(proxy)
    name = getattr(cls, "__name__", "")
    if getattr(cls, "__module__", "") != "treadle.multiprocessing.managers":
        return None
    import importlib

    stdlib = importlib.import_module("multiprocessing.managers")
    twin = getattr(stdlib, name, None)
    rebuild = getattr(stdlib, "RebuildProxy", None)
    if twin is None or rebuild is None:
        return None
    token = proxy._token
    wire = _wire_token(token.typeid, token.address, token.id)
    return rebuild, (twin, wire, proxy._serializer, kwds)


def _method_caller(name: str) -> Callable[..., Any]:
    def call(self: BaseProxy, /, *args: Any, **kwds: Any) -> Any:
        return self._callmethod(name, args, kwds)

    call.__name__ = name
    call.__qualname__ = name
    return call


_proxy_types: dict[tuple[str, tuple[str, ...], str], type[BaseProxy]] = {}


def MakeProxyType(name: str, exposed: Iterable[str], _cache: Any = None) -> type[BaseProxy]:
    """Return a proxy class named *name* whose methods call the *exposed* ones.

    The class reports the caller's module, so that one bound to the same name there
    is pickled by reference (a registered proxy type goes to the server's process).
    """
    from . import _native

    names = tuple(exposed)
    frame = _native.caller_frame(1)
    home = frame.f_globals.get("__name__", __name__) if frame is not None else __name__
    key = (name, names, home)
    found = _proxy_types.get(key)
    if found is None:
        namespace: dict[str, Any] = {name_: _method_caller(name_) for name_ in names}
        namespace["_exposed_"] = names
        namespace["__module__"] = home
        found = _proxy_types[key] = type(name, (BaseProxy,), namespace)
    return found


def AutoProxy(  # noqa: PLR0917 - the stdlib's signature
    token: Any,
    serializer: str,
    manager: Any = None,
    authkey: bytes | None = None,
    exposed: Sequence[str] | None = None,
    incref: bool = True,
    manager_owned: bool = False,
) -> BaseProxy:
    """Return a proxy whose methods are the referent's exposed ones (asked of the server)."""
    token = _as_token(token)
    client = _transport(serializer)[1]
    if authkey is None:
        authkey = manager._authkey if manager is not None else _process.current_process().authkey
    if exposed is None:
        wire = _wire_token(token.typeid, token.address, token.id)
        exposed = _one_request(client, token.address, authkey, "get_methods", (wire,))
    proxytype = MakeProxyType(f"AutoProxy[{token.typeid}]", exposed or ())
    proxy = proxytype(
        token,
        serializer,
        manager=manager,
        authkey=authkey,
        incref=incref,
        manager_owned=manager_owned,
    )
    proxy._isauto = True
    return proxy


def __getattr__(name: str) -> Any:
    # The context's Manager() imports SyncManager from here; it lives in _managers_sync
    # (which imports this module), so it is looked up on first use.
    if name in ("SyncManager", "SharedMemoryManager"):
        from . import _managers_sync

        return getattr(_managers_sync, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
