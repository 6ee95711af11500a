"""Listener and Client: families, addresses, authentication, bad input, stdlib peers."""

from __future__ import annotations

import importlib
import os
import re
import socket
import threading
from typing import Any

import pytest

from treadle.multiprocessing import connection
from treadle.multiprocessing._errors import AuthenticationError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def conn_mod(impl: Any) -> Any:
    """``multiprocessing.connection`` of the stdlib, then of treadle."""
    return importlib.import_module(impl.__name__ + ".connection")


def _serve_once(listener: Any, reply: Any = None) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            with listener.accept() as conn:
                obj = conn.recv()
                conn.send(obj if reply is None else reply)
                outcome.append(obj)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


FAMILIES = ["AF_INET", "AF_UNIX"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("authkey", [None, b"secret"], ids=["plain", "auth"])
def test_round_trip(conn_mod: Any, family: str, authkey: bytes | None) -> None:
    with conn_mod.Listener(family=family, authkey=authkey) as listener:
        assert conn_mod.address_type(listener.address) == family
        assert listener.last_accepted is None
        thread, outcome = _serve_once(listener)
        with conn_mod.Client(listener.address, authkey=authkey) as client:
            client.send({"n": 1})
            assert client.recv() == {"n": 1}
        thread.join()
        assert outcome == [{"n": 1}]
        if family == "AF_INET":
            accepted: Any = listener.last_accepted
            assert accepted[0] == "127.0.0.1"


@pytest.mark.skipif(not connection.families, reason="no families")
def test_abstract_namespace(conn_mod: Any) -> None:
    if not os.path.exists("/proc/net/unix"):
        pytest.skip("Linux's abstract unix-socket namespace is not available here")
    name = b"\0treadle-test-" + os.urandom(6).hex().encode()
    with conn_mod.Listener(name, authkey=b"k") as listener:
        assert listener.address == name
        assert conn_mod.address_type(name) == "AF_UNIX"
        thread, _ = _serve_once(listener)
        with conn_mod.Client(name, authkey=b"k") as client:
            client.send("abstract")
            assert client.recv() == "abstract"
        thread.join()
    str_name = "\0treadle-str-" + os.urandom(6).hex()
    with conn_mod.Listener(str_name) as listener:
        thread, _ = _serve_once(listener)
        with conn_mod.Client(str_name) as client:
            client.send(1)
            assert client.recv() == 1
        thread.join()


def test_unix_socket_file_is_removed_on_close(conn_mod: Any) -> None:
    listener = conn_mod.Listener(family="AF_UNIX")
    path = listener.address
    assert os.path.exists(path)
    listener.close()
    assert not os.path.exists(path)
    listener.close()  # again: nothing
    with pytest.raises(OSError, match="listener is closed"):
        listener.accept()


def test_explicit_address(conn_mod: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "sock")
    with conn_mod.Listener(path, backlog=5) as listener:
        assert listener.address == path
        thread, _ = _serve_once(listener)
        with conn_mod.Client(path, "AF_UNIX") as client:
            client.send(2)
            assert client.recv() == 2
        thread.join()


def test_multiple_bind(conn_mod: Any) -> None:
    for family in conn_mod.families:
        with conn_mod.Listener(family=family) as listener, pytest.raises(OSError, match="in use"):
            conn_mod.Listener(listener.address, family)


def test_bad_family_and_address(conn_mod: Any) -> None:
    with pytest.raises(ValueError, match=r"not recognized|unrecognized"):
        conn_mod.Listener(r"\\.\test")
    with pytest.raises(ValueError, match="unrecognized"):
        conn_mod.address_type(b"not abstract")
    with pytest.raises(TypeError):
        conn_mod.address_type(42)
    with pytest.raises(ValueError, match="unrecognized family"):
        conn_mod.arbitrary_address("AF_NOTHING")
    with pytest.raises(ValueError, match=r"not recognized|unrecognized"):
        conn_mod.Client(r"\\.\pipe\x")


def test_unknown_family_is_a_value_error() -> None:
    # The stdlib lets getattr(socket, family) raise AttributeError for a name it does
    # not know; treadle says ValueError, as for AF_PIPE.
    with pytest.raises(ValueError, match="AF_BLUETOOTH"):
        connection.Listener(family="AF_BLUETOOTH")
    with pytest.raises(ValueError, match="AF_NOPE"):
        connection.Client(("localhost", 1), family="AF_NOPE")


@pytest.mark.stdlib_since(
    (3, 14), "the stdlib's Listener bound its socket before checking authkey, and leaked it"
)
def test_authkey_must_be_bytes(conn_mod: Any) -> None:
    with pytest.raises(TypeError):
        conn_mod.Listener(authkey="text")
    with conn_mod.Listener() as listener, pytest.raises(TypeError):
        conn_mod.Client(listener.address, authkey="text")


def test_client_authkey_checked_before_connecting() -> None:
    # Nothing reaches the listener: its backlog stays empty.
    with connection.Listener() as listener:
        with pytest.raises(TypeError, match="authkey"):
            connection.Client(listener.address, authkey=bytearray(b"k"))  # type: ignore[arg-type]
        assert connection.wait([listener._socket], 0) == []


def test_wrong_key(conn_mod: Any, impl: Any) -> None:
    with conn_mod.Listener(authkey=b"right") as listener:
        outcome: list[Any] = []

        def run() -> None:
            try:
                listener.accept()
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        with pytest.raises(impl.AuthenticationError):
            conn_mod.Client(listener.address, authkey=b"wrong")
        thread.join()
        assert isinstance(outcome[0], impl.AuthenticationError)
        # The stdlib's accept leaves the failed connection to the traceback's frames.
        outcome.clear()


def test_failed_accept_leaves_the_listener_usable() -> None:
    with connection.Listener(authkey=b"k") as listener:
        thread, outcome = _serve_once(listener)
        with pytest.raises(AuthenticationError):
            connection.Client(listener.address, authkey=b"bad")
        thread.join()
        assert isinstance(outcome[0], AuthenticationError)
        thread, outcome = _serve_once(listener)
        with connection.Client(listener.address, authkey=b"k") as client:
            client.send("ok")
            assert client.recv() == "ok"
        thread.join()


@pytest.mark.parametrize(
    ("listener_side", "client_side"),
    [("stdlib", "treadle"), ("treadle", "stdlib")],
)
def test_interoperates_with_the_stdlib_in_process(listener_side: str, client_side: str) -> None:
    mods = {
        "stdlib": importlib.import_module("multiprocessing.connection"),
        "treadle": connection,
    }
    with mods[listener_side].Listener(authkey=b"shared") as listener:
        thread, outcome = _serve_once(listener)
        with mods[client_side].Client(listener.address, authkey=b"shared") as client:
            client.send([1, "two", b"three"])
            assert client.recv() == [1, "two", b"three"]
        thread.join()
        assert outcome == [[1, "two", b"three"]]


def test_families_and_defaults() -> None:
    assert connection.families == ["AF_INET", "AF_UNIX"]
    assert connection.default_family == "AF_UNIX"
    assert connection.arbitrary_address("AF_INET") == ("localhost", 0)
    address = connection.arbitrary_address("AF_UNIX")
    assert isinstance(address, str)
    assert not os.path.exists(address)
    assert connection.address_type(("h", 1)) == "AF_INET"
    assert connection.address_type("/tmp/x") == "AF_UNIX"
    assert connection.address_type(r"\\.\pipe\x") == "AF_PIPE"


def test_accept_of_a_socket_connection_blocks(conn_mod: Any) -> None:
    # The accepted connection is in blocking mode whatever the socket default.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(0.5)
    try:
        with conn_mod.Listener() as listener:
            thread, _ = _serve_once(listener)
            with conn_mod.Client(listener.address) as client:
                client.send(3)
                assert client.recv() == 3
            thread.join()
    finally:
        socket.setdefaulttimeout(old)


def test_unix_socket_file_is_removed_at_exit(python_snippet: Any) -> None:
    result = python_snippet(
        """
        from treadle.multiprocessing import connection
        listener = connection.Listener(family="AF_UNIX")  # never closed
        print(listener.address)
        """
    )
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip()
    assert path.endswith(path.rsplit("/", 1)[-1])
    assert not os.path.exists(path)


def test_xml_listener_and_client() -> None:
    with connection.XmlListener(authkey=b"k") as listener:
        outcome: list[Any] = []

        def serve() -> None:
            conn = listener.accept()  # a ConnectionWrapper: no context manager, as in 3.14
            try:
                obj = conn.recv()
                conn.send({"echo": obj})
                outcome.append(obj)
            finally:
                conn.close()

        thread = threading.Thread(target=serve)
        thread.start()
        client = connection.XmlClient(listener.address, authkey=b"k")
        try:
            client.send([1, "two", None, 2.5])
            assert client.recv() == {"echo": [1, "two", None, 2.5]}  # lists: XML-RPC arrays
            assert isinstance(client.fileno(), int)
        finally:
            client.close()
        thread.join()
    assert outcome == [[1, "two", None, 2.5]]


def test_unix_address_shape() -> None:
    address = connection.arbitrary_address("AF_UNIX")
    assert isinstance(address, str)
    assert re.fullmatch(r"sock-[0-9a-f]{12}", os.path.basename(address))
    assert len(address) < 108
