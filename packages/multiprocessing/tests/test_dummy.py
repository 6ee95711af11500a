"""treadle.multiprocessing.dummy: the multiprocessing API over threads."""

from __future__ import annotations

import multiprocessing.dummy as std_dummy

import pytest

import treadle.queue
import treadle.threading
from pytest_treadle import check_public_surface
from treadle.multiprocessing import dummy
from treadle.multiprocessing.dummy import connection
from treadle.multiprocessing.pool import ThreadPool


def test_names_are_the_stdlibs() -> None:
    assert set(std_dummy.__all__) <= set(dummy.__all__)
    assert check_public_surface(dummy, "multiprocessing.dummy") == []
    assert check_public_surface(connection, "multiprocessing.dummy.connection") == []
    assert connection.families == ["dummy"]


def test_the_primitives_are_treadles() -> None:
    assert isinstance(dummy.Lock(), type(treadle.threading.Lock()))
    assert dummy.Event is treadle.threading.Event
    assert dummy.Queue is treadle.queue.Queue
    assert dummy.JoinableQueue is treadle.queue.Queue
    assert dummy.current_process() is treadle.threading.current_thread()
    queue: treadle.queue.Queue[int] = dummy.JoinableQueue()
    queue.put(1)
    assert queue.get() == 1
    queue.task_done()
    queue.join()


def test_process_is_a_thread_with_process_extras() -> None:
    release = dummy.Event()
    seen: list[object] = []

    def body(value: object) -> None:
        seen.append(value)
        release.wait()

    proc = dummy.Process(target=body, args=("x",), name="worker")
    assert isinstance(proc, treadle.threading.Thread)
    assert isinstance(proc, dummy.DummyProcess)
    before = proc.exitcode
    assert proc.name == "worker"
    proc.start()
    assert proc in dummy.active_children()
    running = proc.exitcode
    release.set()
    proc.join()
    assert (before, running, proc.exitcode) == (None, None, 0)
    assert seen == ["x"]
    assert dummy.active_children() == []


def test_process_subclass_and_start_from_another_thread() -> None:
    ran: list[bool] = []

    class Mine(dummy.Process):  # type: ignore[misc]
        def run(self) -> None:
            ran.append(True)

    mine = Mine()
    mine.start()
    mine.join()
    assert ran == [True]

    other = dummy.Process(target=ran.append, args=(False,))
    errors: list[BaseException] = []

    def start_it() -> None:
        try:
            other.start()
        except AssertionError as exc:
            errors.append(exc)

    thread = treadle.threading.Thread(target=start_it)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert ran == [True]


def test_manager_is_the_module_itself() -> None:
    manager = dummy.Manager()
    assert manager is dummy
    space = manager.Namespace(a=1, b="two")
    space.c = 3
    assert (space.a, space.b, space.c) == (1, "two", 3)
    assert repr(dummy.Namespace(a=1)) == "Namespace(a=1)"
    value = manager.Value("i", 7)
    value.value += 1
    assert value.value == 8
    assert repr(value) == "<Value('i', 8)>"
    assert list(manager.Array("i", [1, 2, 3])) == [1, 2, 3]
    assert manager.list([1]) == [1]
    assert manager.dict(a=1) == {"a": 1}
    dummy.freeze_support()
    dummy.shutdown()


def test_pool_is_a_thread_pool() -> None:
    with dummy.Pool(2) as pool:
        assert isinstance(pool, ThreadPool)
        assert pool.map(lambda x: x + 1, range(4)) == [1, 2, 3, 4]
    pool.join()


def test_pipe_passes_objects_as_they_are() -> None:
    left, right = dummy.Pipe()
    payload = [object()]
    assert not right.poll()
    left.send(payload)
    assert right.poll(0)
    assert right.recv() is payload
    right.send_bytes(b"back")
    assert left.recv_bytes() == b"back"

    sender = treadle.threading.Thread(target=left.send, args=("later",))
    sender.start()
    assert right.poll(30)
    assert right.recv() == "later"
    sender.join()
    assert not right.poll(0.01)
    # close() leaves both ends usable, as in 3.14: a thread may be using the very object.
    left.close()
    left.send("after close")
    assert right.recv() == "after close"
    with right:
        pass


def test_listener_and_client() -> None:
    with connection.Listener() as listener:
        answers: list[object] = []

        def serve() -> None:
            with listener.accept() as conn:
                conn.send(conn.recv() * 2)

        server = treadle.threading.Thread(target=serve)
        server.start()
        with connection.Client(listener.address) as client:
            client.send(21)
            answers.append(client.recv())
        server.join()
        assert answers == [42]
    with pytest.raises(OSError, match="closed"):
        listener.accept()


def test_bad_connection_arguments() -> None:
    with pytest.raises(ValueError, match="Family"):
        connection.Listener(family="AF_INET")
    with pytest.raises(TypeError, match="address"):
        connection.Client(None)
