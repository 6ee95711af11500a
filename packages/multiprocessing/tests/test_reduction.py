"""reduction: ForkingPickler, register, dump, descriptor passing, DupFd, pickled connections."""

from __future__ import annotations

import functools
import io
import os
import pickle
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from treadle import multiprocessing
from treadle.multiprocessing import connection, reduction, resource_sharer

pytestmark = [
    pytest.mark.timeout(90),
    # pytest-rerunfailures (hatch's test env) keeps a server thread in every test
    # process, so the fork start method warns about threads (the warning is P's test).
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


@pytest.fixture
def sharer() -> Iterator[None]:
    """Stop the resource sharer's thread after the test (it would count as a leak)."""
    yield
    resource_sharer.stop(timeout=30)


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def double(self) -> int:
        return 2 * self.x


def test_dumps_loads() -> None:
    data = reduction.ForkingPickler.dumps({"a": [1, 2], "b": b"x"})
    assert isinstance(data, memoryview)
    assert reduction.ForkingPickler.loads(data) == {"a": [1, 2], "b": b"x"}
    assert reduction.ForkingPickler.loads(bytes(data)) == {"a": [1, 2], "b": b"x"}
    assert pickle.loads(reduction.ForkingPickler.dumps(3, protocol=0)) == 3


def test_dump_to_a_file() -> None:
    out = io.BytesIO()
    reduction.dump([Point(3).x], out)
    assert pickle.loads(out.getvalue()) == [3]
    out = io.BytesIO()
    reduction.dump("x", out, protocol=2)
    assert out.getvalue()[:2] == b"\x80\x02"


def test_default_reducers() -> None:
    method = Point(4).double
    assert reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(method))() == 8
    append = reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(list.append))
    assert append is list.append
    add = reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(int.__add__))
    assert add(1, 2) == 3
    partial = functools.partial(int, base=2)
    assert reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(partial))("101") == 5


class Custom:
    def __init__(self, value: int) -> None:
        self.value = value


def _rebuild_custom(value: int) -> Custom:
    return Custom(value * 10)


def test_register_is_per_forking_pickler_not_global() -> None:
    reduction.register(Custom, lambda obj: (_rebuild_custom, (obj.value,)))
    try:
        back = reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(Custom(2)))
        assert back.value == 20
        # The plain pickle module does not see it.
        assert pickle.loads(pickle.dumps(Custom(2))).value == 2
    finally:
        del reduction.ForkingPickler._extra_reducers[Custom]


def test_instance_dispatch_table_is_its_own() -> None:
    pickler = reduction.ForkingPickler(io.BytesIO())
    table = pickler.dispatch_table
    assert isinstance(table, dict)
    table[Custom] = lambda obj: (_rebuild_custom, (obj.value,))
    other = reduction.ForkingPickler(io.BytesIO())
    assert Custom not in other.dispatch_table


def test_sendfds_recvfds() -> None:
    left, right = socket.socketpair()
    r, w = os.pipe()
    with left, right:
        try:
            got: list[int] = []
            thread = threading.Thread(target=lambda: got.extend(reduction.recvfds(right, 2)))
            thread.start()
            reduction.sendfds(left, [r, w])  # waits for the receiver's ack
            thread.join()
            assert len(got) == 2
            os.write(got[1], b"through a passed fd")
            assert os.read(r, 100) == b"through a passed fd"
            for fd in got:
                os.close(fd)
        finally:
            os.close(r)
            os.close(w)


def test_recvfds_without_descriptors() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.send(b"\0")
        with pytest.raises(RuntimeError):
            reduction.recvfds(right, 1)
        assert left.recv(1) == b"A"
        left.close()
        with pytest.raises(EOFError):
            reduction.recvfds(right, 1)


def test_send_handle_recv_handle_over_a_connection() -> None:
    a, b = connection.Pipe()
    r, w = os.pipe()
    with a, b:
        try:
            got: list[int] = []
            thread = threading.Thread(target=lambda: got.append(reduction.recv_handle(b)))
            thread.start()
            reduction.send_handle(a, w, os.getpid())  # waits for the receiver's ack
            thread.join()
            fd = got[0]
            os.write(fd, b"hi")
            os.close(fd)
            assert os.read(r, 2) == b"hi"
            # The connection still owns its descriptor and still works.
            a.send("after")
            assert b.recv() == "after"
        finally:
            os.close(r)
            os.close(w)


def test_dupfd_through_the_resource_sharer(sharer: None) -> None:
    r, w = os.pipe()
    try:
        wrapper = reduction.DupFd(w)
        back = pickle.loads(pickle.dumps(wrapper))
        fd = back.detach()
        assert fd not in (r, w)
        os.write(fd, b"dup")
        os.close(fd)
        assert os.read(r, 3) == b"dup"
    finally:
        os.close(r)
        os.close(w)


def test_dupfd_while_spawning_asks_the_popen() -> None:
    from treadle.multiprocessing import _context

    class FakePopen:
        def __init__(self) -> None:
            self.asked: list[int] = []

        def duplicate_for_child(self, fd: int) -> int:
            self.asked.append(fd)
            return 99

    popen = FakePopen()
    _context.set_spawning_popen(popen)
    try:
        wrapper = reduction.DupFd(7)
    finally:
        _context.set_spawning_popen(None)
    assert popen.asked == [7]
    assert pickle.loads(pickle.dumps(wrapper)).detach() == 99


def test_socket_pickles_through_the_sharer(sharer: None) -> None:
    left, right = socket.socketpair()
    with left, right:
        copy = reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(left))
        with copy:
            assert (copy.family, copy.type) == (left.family, left.type)
            copy.sendall(b"from the copy")
            assert right.recv(100) == b"from the copy"


def test_abstract_reducer() -> None:
    class MyReducer(reduction.AbstractReducer):
        pass

    reducer = MyReducer()
    assert reducer.ForkingPickler is reduction.ForkingPickler
    assert reducer.dump is reduction.dump
    assert reducer.DupFd is reduction.DupFd
    assert reducer.sendfds is reduction.sendfds
    assert isinstance(reducer, reduction.AbstractReducer)


def test_context_reducer_is_the_module() -> None:
    assert multiprocessing.get_context().reducer is reduction


def test_have_send_handle() -> None:
    assert reduction.HAVE_SEND_HANDLE is True


# Connections pickled into children -------------------------------------------------


def _echo_child(conn: Any) -> None:
    with conn:
        for msg in iter(conn.recv, None):
            conn.send(("echo", msg))


def _write_child(conn: Any, data: bytes) -> None:
    with conn:
        fd = reduction.recv_handle(conn)
        os.write(fd, data)
        os.close(fd)


def test_connection_pickles_into_a_child(ctx: Any) -> None:
    parent, child = connection.Pipe()
    with parent:
        process = ctx.Process(target=_echo_child, args=(child,))
        process.start()
        child.close()
        parent.send("ping")
        assert parent.recv() == ("echo", "ping")
        parent.send(None)
        process.join()
    assert process.exitcode == 0


def test_simplex_connection_pickles_into_a_child(ctx: Any) -> None:
    reader, writer = connection.Pipe(duplex=False)
    with reader:
        process = ctx.Process(target=_send_from, args=(writer, "simplex"))
        process.start()
        writer.close()
        assert reader.recv() == "simplex"
        process.join()
    assert process.exitcode == 0


def _send_from(conn: Any, obj: object) -> None:
    with conn:
        assert conn.writable
        assert not conn.readable
        conn.send(obj)


def test_fd_transfer_to_a_child(ctx: Any, tmp_path: Any) -> None:
    parent, child = connection.Pipe()
    target = tmp_path / "out"
    with parent:
        process = ctx.Process(target=_write_child, args=(child, b"foo"))
        process.start()
        child.close()
        with open(target, "wb") as f:
            reduction.send_handle(parent, f.fileno(), process.pid)
        process.join()
    assert target.read_bytes() == b"foo"


def _receive_connection(control: Any) -> None:
    with control:
        conn = control.recv()  # rebuilt through the parent's resource sharer
        with conn:
            conn.send(("from the running child", os.getpid()))


def test_connection_sent_to_a_running_process(ctx: Any, sharer: None) -> None:
    control, control_child = connection.Pipe()
    with control:
        process = ctx.Process(target=_receive_connection, args=(control_child,))
        process.start()
        control_child.close()
        a, b = connection.Pipe()
        with a:
            control.send(b)  # the child is running: the descriptor goes through the sharer
            b.close()
            message, pid = a.recv()
        process.join()
    assert message == "from the running child"
    assert pid == process.pid
    assert process.exitcode == 0


def test_sharer_restarts_after_stop(sharer: None) -> None:
    a, b = connection.Pipe()
    with a, b:
        for _ in range(2):
            copy = reduction.ForkingPickler.loads(reduction.ForkingPickler.dumps(a))
            with copy:
                copy.send("copy")
                assert b.recv() == "copy"
            resource_sharer.stop()


def test_sharer_stop_closes_what_was_not_fetched(sharer: None) -> None:
    a, b = connection.Pipe()
    with a, b:
        reduction.ForkingPickler.dumps(a)  # a duplicate now waits in the sharer
    resource_sharer.stop()  # closes it: the leak check would see it otherwise


def _sharer_state(conn: Any) -> None:
    from treadle.multiprocessing import _resource_sharer

    with conn:
        sharer = _resource_sharer._sharer
        conn.send((sharer._listener, sharer._thread, dict(sharer._pending)))


def test_a_fork_child_has_no_sharer(sharer: None) -> None:
    a, b = connection.Pipe()
    with a, b:
        reduction.ForkingPickler.dumps(a)  # the sharer runs, holding a duplicate
        ctx = multiprocessing.get_context("fork")
        parent, child = connection.Pipe()
        with parent:
            process = ctx.Process(target=_sharer_state, args=(child,))
            process.start()
            child.close()
            assert parent.recv() == (None, None, {})
            process.join()
        assert process.exitcode == 0


def test_the_sharer_stops_at_exit(python_snippet: Any) -> None:
    result = python_snippet(
        """
        import os, socket
        from treadle.multiprocessing import reduction, _resource_sharer
        left, right = socket.socketpair()
        reduction.ForkingPickler.dumps(left)
        address = _resource_sharer._sharer._listener.address
        print(address)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    address = result.stdout.strip()
    assert address
    assert not os.path.exists(address)  # the socket file went with the listener


def _wait_for(sentinel: int) -> list[int]:
    return connection.wait([sentinel], 60)


def test_wait_on_a_process_sentinel(ctx: Any) -> None:
    reader, writer = connection.Pipe(duplex=False)
    with reader, writer:
        process = ctx.Process(target=_send_from, args=(writer, "done"))
        process.start()
        assert reader.recv() == "done"
        assert connection.wait([process.sentinel], 60) == [process.sentinel]
        process.join()


def _serve_and_send(control: Any, family: str) -> None:
    with control:
        with connection.Listener(family=family) as listener:
            control.send(listener.address)
            with listener.accept() as accepted:
                control.send(accepted)  # through this child's own resource sharer
        raw = socket.create_server(("127.0.0.1", 0))
        with raw:
            control.send(raw.getsockname())
            sock, _ = raw.accept()
            with sock:
                control.send(sock)
        control.recv()  # the sharer serves until the parent is done


@pytest.mark.parametrize("family", ["AF_UNIX", "AF_INET"])
def test_child_sends_accepted_connections_to_the_parent(ctx: Any, family: str) -> None:
    control, control_child = connection.Pipe()
    with control:
        process = ctx.Process(target=_serve_and_send, args=(control_child, family))
        process.start()
        control_child.close()
        with connection.Client(control.recv()) as client:
            client.send("hello")
            with control.recv() as accepted:
                assert accepted.recv() == "hello"
        with socket.create_connection(control.recv()) as plain:
            plain.sendall(b"plain")
            with control.recv() as sock:
                assert sock.recv(100) == b"plain"
        control.send(None)
        process.join()
    assert process.exitcode == 0
