"""Connection and Pipe: framing, bytes and objects, limits, poll, wait, close."""

from __future__ import annotations

import array
import importlib
import os
import signal
import socket
import struct
import threading
from typing import Any

import pytest

from treadle.multiprocessing import _connection as impl_connection
from treadle.multiprocessing import connection
from treadle.multiprocessing._errors import BufferTooShort

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def conn_mod(impl: Any) -> Any:
    """``multiprocessing.connection`` of the stdlib, then of treadle."""
    return importlib.import_module(impl.__name__ + ".connection")


@pytest.fixture
def pair(conn_mod: Any) -> Any:
    a, b = conn_mod.Pipe()
    yield a, b
    a.close()
    b.close()


def _background(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args)
    thread.start()
    return thread


def test_objects_and_bytes_round_trip(pair: Any) -> None:
    a, b = pair
    for obj in ([1, 2.25, None], {"k": (1, b"x")}, "text", 0):
        a.send(obj)
        assert b.recv() == obj
        b.send(obj)
        assert a.recv() == obj
    a.send_bytes(b"hello world")
    assert b.recv_bytes() == b"hello world"
    a.send_bytes(b"")
    assert b.recv_bytes() == b""


def test_send_bytes_offset_and_size(pair: Any) -> None:
    a, b = pair
    msg = b"abcdefghijklmnopqrstuvwxyz"
    a.send_bytes(msg, 5)
    assert b.recv_bytes() == msg[5:]
    a.send_bytes(msg, 7, 8)
    assert b.recv_bytes() == msg[7:15]
    a.send_bytes(msg, 26)
    assert b.recv_bytes() == b""
    a.send_bytes(msg, 26, 0)
    assert b.recv_bytes() == b""
    for args in ((27,), (22, 5), (26, 1), (-1,), (4, -1)):
        with pytest.raises(ValueError, match=r"offset|size"):
            a.send_bytes(msg, *args)
    # Multi-byte items count in bytes.
    a.send_bytes(array.array("i", [1, 2, 3]), 4, 4)
    assert b.recv_bytes() == array.array("i", [2]).tobytes()


def test_recv_bytes_into(pair: Any, impl: Any) -> None:
    a, b = pair
    arr = array.array("i", range(4))
    buffer = array.array("i", [0] * 10)
    a.send_bytes(arr)
    assert b.recv_bytes_into(buffer) == 16
    assert list(buffer) == [0, 1, 2, 3] + [0] * 6
    buffer = array.array("i", [0] * 10)
    a.send_bytes(arr)
    assert b.recv_bytes_into(buffer, 3 * buffer.itemsize) == 16
    assert list(buffer) == [0, 0, 0, 0, 1, 2, 3, 0, 0, 0]
    big = b"hello world" * 10
    a.send_bytes(big)
    with pytest.raises(impl.BufferTooShort) as info:
        b.recv_bytes_into(bytearray(40))
    assert info.value.args == (big,)
    # The connection is still usable after BufferTooShort.
    a.send_bytes(b"next")
    target = bytearray(10)
    assert b.recv_bytes_into(target, 6) == 4
    assert target == bytearray(6) + b"next"
    with pytest.raises(ValueError, match="negative offset"):
        b.recv_bytes_into(bytearray(4), -1)
    with pytest.raises(ValueError, match="offset too large"):
        b.recv_bytes_into(bytearray(4), 5)


def test_buffer_too_short_is_a_process_error() -> None:
    from treadle import multiprocessing

    assert multiprocessing.BufferTooShort is BufferTooShort
    assert issubclass(BufferTooShort, multiprocessing.ProcessError)


def test_maxlength_over_the_limit(pair: Any, conn_mod: Any) -> None:
    a, b = pair
    a.send_bytes(b"x" * 100)
    with pytest.raises(OSError, match="bad message length"):
        b.recv_bytes(10)
    # The docs: the connection is no longer readable; a duplex end can still send.
    assert not b.readable
    with pytest.raises(OSError, match="write-only"):
        b.recv_bytes()
    b.send_bytes(b"still writable")
    assert a.recv_bytes() == b"still writable"
    with pytest.raises(ValueError, match="negative maxlength"):
        a.recv_bytes(-1)
    a.send_bytes(b"fits")
    # (b is not readable any more; a fresh pair shows that maxlength=len passes.)
    c, d = conn_mod.Pipe()
    with c, d:
        c.send_bytes(b"12345")
        assert d.recv_bytes(5) == b"12345"


def test_maxlength_on_a_read_only_end_closes_it(conn_mod: Any) -> None:
    reader, writer = conn_mod.Pipe(duplex=False)
    with reader, writer:
        writer.send_bytes(b"x" * 100)
        with pytest.raises(OSError, match="bad message length"):
            reader.recv_bytes(10)
        assert reader.closed


def test_simplex_pipe(conn_mod: Any) -> None:
    reader, writer = conn_mod.Pipe(duplex=False)
    with reader, writer:
        writer.send(1)
        assert reader.recv() == 1
        assert (reader.readable, reader.writable) == (True, False)
        assert (writer.readable, writer.writable) == (False, True)
        with pytest.raises(OSError, match="read-only"):
            reader.send(2)
        with pytest.raises(OSError, match="write-only"):
            writer.recv()
        with pytest.raises(OSError, match="write-only"):
            writer.poll()


def test_poll(pair: Any) -> None:
    a, b = pair
    assert a.poll() is False
    assert a.poll(-1) is False
    assert a.poll(0.01) is False
    b.send(None)
    assert a.poll(None) is True
    assert a.poll(5) is True
    assert a.recv() is None
    with pytest.raises(TypeError):
        a.poll("1")


def test_poll_sees_the_end_of_the_stream(pair: Any) -> None:
    a, b = pair
    b.close()
    assert a.poll(5) is True
    with pytest.raises(EOFError):
        a.recv()
    with pytest.raises(EOFError):
        a.recv_bytes()


def test_closed_connection(pair: Any) -> None:
    a, b = pair
    with a, b:
        a.send(1729)
        assert b.recv() == 1729
        assert not a.closed
    assert a.closed
    assert b.closed
    for call in (a.recv, a.recv_bytes, a.poll, a.fileno, lambda: a.send(1)):
        with pytest.raises(OSError, match="handle is closed"):
            call()
    a.close()  # again: nothing


def test_fileno_readable_writable(pair: Any) -> None:
    a, _b = pair
    assert isinstance(a.fileno(), int)
    assert a.readable
    assert a.writable


def test_invalid_handles(conn_mod: Any) -> None:
    with pytest.raises((ValueError, OSError)):
        conn_mod.Connection(-1)
    with pytest.raises(ValueError, match="at least one"):
        conn_mod.Connection(0, readable=False, writable=False)
    conn = conn_mod.Connection(44977608)
    try:
        with pytest.raises((ValueError, OSError)):
            conn.recv()
    finally:
        conn._handle = None  # not ours to close: CPython's test does the same


def test_handle_must_be_an_int() -> None:
    # The stdlib lets the AttributeError of str.__index__ through.
    with pytest.raises(TypeError, match="handle"):
        connection.Connection("3")  # type: ignore[arg-type]


def test_big_message_through_a_thread(pair: Any) -> None:
    a, b = pair
    big = os.urandom(1 << 20) * 16
    thread = _background(a.send_bytes, big)
    assert b.recv_bytes() == big
    thread.join()
    thread = _background(a.send, {"big": big})
    assert b.recv() == {"big": big}
    thread.join()


def test_wire_framing_short_and_long_headers() -> None:
    a, b = connection.Pipe()
    with a, b:
        a.send_bytes(b"abc")
        assert os.read(b.fileno(), 7) == struct.pack("!i", 3) + b"abc"
        # A long header (-1, then 8 bytes) is read whatever the size.
        os.write(a.fileno(), struct.pack("!i", -1) + struct.pack("!Q", 5) + b"hello")
        assert b.recv_bytes() == b"hello"


def test_long_header_is_sent_above_the_short_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sending 2 GiB in a test is too much: lower the limit the sender switches at.
    monkeypatch.setattr(impl_connection, "_LARGEST_SHORT", 3)
    a, b = connection.Pipe()
    with a, b:
        a.send_bytes(b"hello")
        assert os.read(b.fileno(), 17) == struct.pack("!i", -1) + struct.pack("!Q", 5) + b"hello"


def test_reads_take_at_most_64_kib(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_read, real_readv = os.read, os.readv

    def read(fd: int, n: int) -> bytes:
        sizes.append(n)
        return real_read(fd, n)

    def readv(fd: int, buffers: Any) -> int:
        sizes.append(sum(memoryview(x).nbytes for x in buffers))
        return real_readv(fd, buffers)

    a, b = connection.Pipe()
    with a, b:
        big = b"y" * (300 * 1024)
        thread = _background(a.send_bytes, big)
        monkeypatch.setattr(os, "read", read)
        monkeypatch.setattr(os, "readv", readv)
        assert b.recv_bytes() == big
        monkeypatch.undo()
        thread.join()
    assert sizes
    assert max(sizes) <= connection.BUFSIZE == 64 * 1024


def test_eof_in_the_middle_of_a_message() -> None:
    a, b = connection.Pipe()
    with a, b:
        os.write(a.fileno(), struct.pack("!i", 10) + b"abc")
        a.close()
        with pytest.raises(OSError, match="end of file"):
            b.recv_bytes()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
def test_recv_survives_eintr() -> None:
    a, b = connection.Pipe()
    calls: list[int] = []

    def handler(signum: int, frame: object) -> None:
        calls.append(signum)
        a.send("sent from the handler")

    old = signal.signal(signal.SIGALRM, handler)
    try:
        with a, b:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            assert b.recv() == "sent from the handler"
            assert b.poll(0) is False
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            assert b.poll(30) is True
            assert b.recv() == "sent from the handler"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert calls == [signal.SIGALRM, signal.SIGALRM]


def test_wait_over_connections_sockets_and_fds(conn_mod: Any) -> None:
    a, b = conn_mod.Pipe()
    s1, s2 = socket.socketpair()
    r, w = os.pipe()
    try:
        objects = [a, s1, r]
        assert conn_mod.wait(objects, 0) == []
        assert conn_mod.wait(objects, 0.01) == []
        b.send(1)
        assert conn_mod.wait(objects, 5) == [a]
        os.write(w, b"!")
        s2.send(b"!")
        assert sorted(map(id, conn_mod.wait(objects))) == sorted(map(id, objects))
        assert conn_mod.wait([], 0) == []
    finally:
        for conn in (a, b, s1, s2):
            conn.close()
        os.close(r)
        os.close(w)


def test_wait_timeout_is_checked() -> None:
    a, b = connection.Pipe()
    with a, b, pytest.raises(TypeError, match="timeout"):
        connection.wait([a], "soon")  # type: ignore[arg-type]


def test_wait_returns_when_a_thread_sends() -> None:
    a, b = connection.Pipe()
    with a, b:
        ready = threading.Event()

        def later() -> None:
            ready.wait()
            b.send_bytes(b"x")

        thread = _background(later)
        ready.set()
        assert connection.wait([a]) == [a]
        thread.join()


def test_repr_and_public_module() -> None:
    a, b = connection.Pipe()
    with a, b:
        assert "Connection" in repr(a)
    assert connection.Pipe.__module__.startswith("treadle.multiprocessing")
    assert set(connection.__all__) >= {"Client", "Listener", "Pipe", "wait"}


def test_partial_writes_are_completed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A writev that moves only 3 bytes (a signal, a full socket buffer): the rest follows.
    real_writev, real_write = os.writev, os.write

    def short_writev(fd: int, buffers: Any) -> int:
        head = b"".join(bytes(b) for b in buffers)[:3]
        return real_writev(fd, [head])

    def short_write(fd: int, data: Any) -> int:
        return real_write(fd, bytes(data)[:5])

    a, b = connection.Pipe()
    with a, b:
        monkeypatch.setattr(os, "writev", short_writev)
        monkeypatch.setattr(os, "write", short_write)
        a.send_bytes(b"0123456789abcdef")
        a.send({"k": list(range(10))})
        monkeypatch.undo()
        assert b.recv_bytes() == b"0123456789abcdef"
        assert b.recv() == {"k": list(range(10))}


def test_long_messages_of_changing_sizes() -> None:
    # Long messages go through a spare buffer the connection keeps (up to SPARE_MAX):
    # each result must be its own, whatever came before or after it.
    a, b = connection.Pipe()
    sizes = [200_000, 70_000, 300_000, impl_connection.SPARE_MAX + 10, 100_000]
    payloads = [bytes([i + 1]) * size for i, size in enumerate(sizes)]
    with a, b:

        def send_all_bytes() -> None:
            for payload in payloads:
                a.send_bytes(payload)

        def send_all_objects() -> None:
            for payload in payloads:
                a.send(("obj", payload))

        thread = _background(send_all_bytes)
        got = [b.recv_bytes() for _ in payloads]
        thread.join()
        assert got == payloads
        thread = _background(send_all_objects)
        objects = [b.recv() for _ in payloads]
        thread.join()
        assert objects == [("obj", p) for p in payloads]
        assert b._spare is not None
        assert len(b._spare) <= impl_connection.SPARE_MAX


def test_send_goes_through_a_replaced_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    from treadle.multiprocessing import reduction

    calls: list[object] = []
    real = reduction.ForkingPickler.dumps

    def spy(obj: object, protocol: int | None = None) -> memoryview:
        calls.append(obj)
        return real(obj, protocol)

    monkeypatch.setattr(reduction.ForkingPickler, "dumps", staticmethod(spy))
    a, b = connection.Pipe()
    with a, b:
        a.send("through the spy")
        assert b.recv() == "through the spy"
    assert calls == ["through the spy"]


def test_connection_alive_at_interpreter_exit(python_snippet: Any) -> None:
    result = python_snippet(
        """
        from treadle.multiprocessing import connection
        import builtins
        builtins.kept = connection.Pipe()  # collected last, after module globals
        """
    )
    assert result.returncode == 0
    assert "Exception ignored" not in result.stderr, result.stderr
