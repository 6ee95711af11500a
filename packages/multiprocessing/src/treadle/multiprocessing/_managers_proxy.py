"""Proxies: references to the objects a manager's server shares.

Each thread of a process has one connection per server, made on first use; a child
started with fork makes its own (the parent's sockets are not its own).
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate (spawned children)

from __future__ import annotations

import os
import threading

from . import _process
from ._context import get_spawning_popen
from ._managers_wire import (
    State,
    Token,
    _as_token,
    _from_server,
    _one_request,
    _peer_loads,
    _send_request,
    _to_server,
    _transport,
    _wire_token,
    convert_to_error,
    dispatch,
)
from ._util import Finalize, info, register_after_fork

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

__all__ = ["AutoProxy", "BaseProxy", "MakeProxyType", "RebuildProxy"]


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
        error = convert_to_error(kind, result)
        del result  # no cycle through this frame's locals (see dispatch)
        try:
            raise error
        finally:
            del error

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


def _hand_over(proxy: BaseProxy) -> BaseProxy:
    # The new proxy counts its own reference: drop the one the server's create() took.
    token = proxy._token
    _one_request(proxy._Client, token.address, proxy._authkey, "decref", (token.id,))
    return proxy


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
    # Sent by a server, or to one, a proxy travels by the stdlib's names (its token as a
    # SimpleNamespace): a stdlib peer rebuilds it, and a treadle peer maps the names back
    # to treadle's (_peer_loads). One of treadle's proxy types goes as its stdlib twin; a
    # proxy type of the user's own goes by its own name, which each end resolves to its
    # own class (a subclass of that end's BaseProxy), as stdlib peers do between them.
    import importlib

    stdlib = importlib.import_module("multiprocessing.managers")
    rebuild = getattr(stdlib, "RebuildProxy", None)
    if rebuild is None:
        return None
    cls: Any = AutoProxy if proxy._isauto else type(proxy)
    if str(getattr(cls, "__module__", "")).startswith("treadle.multiprocessing."):
        cls = getattr(stdlib, getattr(cls, "__name__", ""), None)
        if cls is None:
            return None
    token = proxy._token
    wire = _wire_token(token.typeid, token.address, token.id)
    return rebuild, (cls, wire, proxy._serializer, kwds)


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
