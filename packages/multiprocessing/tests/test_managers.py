"""treadle.multiprocessing.managers: servers sharing objects, and their proxies."""

from __future__ import annotations

import copy
import gc
import os
import queue
import signal
from collections.abc import Iterator, MutableMapping, MutableSequence
from typing import Any

import _manager_targets as targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from treadle import multiprocessing
from treadle.multiprocessing import managers


@pytest.fixture(scope="module")
def manager() -> Iterator[managers.SyncManager]:
    """One SyncManager (default context) for the tests that do not break it."""
    with managers.SyncManager() as started:
        yield started


@pytest.fixture(autouse=True)
def _collect() -> Iterator[None]:
    # A proxy that dies in a reference cycle (a traceback) would keep its connection
    # open past the test: collect before the leak check looks.
    yield
    gc.collect()


def test_manager_per_start_method(ctx: Any) -> None:
    with managers.SyncManager(ctx=ctx) as manager:
        shared, log, lock = manager.dict(), manager.list(), manager.Lock()
        child = ctx.Process(target=targets.fill, args=(shared, log, lock, "child"))
        child.start()
        child.join()
        assert child.exitcode == 0
        assert shared["child"] == child.pid
        assert shared["count"] == 1
        assert log[:] == ["child"]


def test_context_manager_method() -> None:
    manager = multiprocessing.get_context("fork").Manager()
    try:
        assert isinstance(manager, managers.SyncManager)
        assert manager.list([1, 2])[:] == [1, 2]
    finally:
        manager.shutdown()
    manager.join()


def test_shared_by_three_processes(manager: managers.SyncManager) -> None:
    shared, log, lock = manager.dict(), manager.list(), manager.Lock()
    children = [
        multiprocessing.Process(target=targets.fill, args=(shared, log, lock, f"p{n}"))
        for n in range(3)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert shared["count"] == 3
    assert sorted(log) == ["p0", "p1", "p2"]
    assert {shared[f"p{n}"] for n in range(3)} == {child.pid for child in children}


def test_proxy_through_queue_to_grandchild(manager: managers.SyncManager) -> None:
    shared, carrier = manager.dict(), manager.Queue()
    carrier.put(shared)
    method = multiprocessing.get_start_method()
    child = multiprocessing.Process(target=targets.child_with_grandchild, args=(carrier, method))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert shared["grandchild"] == "was here"


def test_list_proxy(manager: managers.SyncManager) -> None:
    items = manager.list([3, 1, 2])
    assert isinstance(items, MutableSequence)
    items.append(4)
    items += [5]
    items *= 1
    items.sort()
    assert items[:] == [1, 2, 3, 4, 5]
    assert list(items) == [1, 2, 3, 4, 5]
    assert len(items) == 5
    assert 3 in items
    assert items[-1] == 5
    assert items.copy() == [1, 2, 3, 4, 5]
    assert list(reversed(items)) == [5, 4, 3, 2, 1]
    items.clear()
    assert len(items) == 0
    with pytest.raises(IndexError):
        items[3]
    assert managers.ListProxy.__class_getitem__(int).__origin__ is managers.ListProxy


def test_dict_proxy_314_methods(manager: managers.SyncManager) -> None:
    mapping = manager.dict(a=1)
    assert isinstance(mapping, MutableMapping)
    mapping["b"] = 2
    assert sorted(mapping) == ["a", "b"]
    assert sorted(mapping.keys()) == ["a", "b"]
    assert sorted(mapping.items()) == [("a", 1), ("b", 2)]
    assert list(reversed(mapping)) == ["b", "a"]
    assert (mapping | {"c": 3}) == {"a": 1, "b": 2, "c": 3}
    assert ({"z": 0} | mapping) == {"z": 0, "a": 1, "b": 2}
    mapping |= {"d": 4}
    assert isinstance(mapping, managers.DictProxy)
    assert mapping.copy() == {"a": 1, "b": 2, "d": 4}
    assert mapping.fromkeys(["x"], 0) == {"x": 0}
    with pytest.raises(KeyError):
        mapping["missing"]
    mapping.clear()
    assert len(mapping) == 0


def test_set_proxy(manager: managers.SyncManager) -> None:
    items = manager.set({1, 2})
    items.add(3)
    items |= {4}
    items -= {1}
    assert isinstance(items, managers.SetProxy)
    assert sorted(items) == [2, 3, 4]
    assert 2 in items
    assert len(items) == 3
    assert items.union({9}) == {2, 3, 4, 9}
    assert items.issubset({2, 3, 4, 5})


def test_namespace_value_array(manager: managers.SyncManager) -> None:
    space = manager.Namespace(x=1)
    space.y = "two"
    assert (space.x, space.y) == (1, "two")
    del space.x
    with pytest.raises(AttributeError):
        space.x  # noqa: B018 - the attribute read is the test
    assert str(space) == "Namespace(y='two')"
    value = manager.Value("i", 7)
    value.value += 1
    assert value.get() == 8
    numbers = manager.Array("i", [1, 2, 3])
    numbers[0] = 10
    assert (len(numbers), numbers[0]) == (3, 10)


def test_synchronisation_objects(manager: managers.SyncManager) -> None:
    event = manager.Event()
    assert not event.is_set()
    assert event.wait(0) is False
    event.set()
    assert event.wait() is True
    for lock in (manager.Lock(), manager.RLock()):
        assert lock.acquire() is True
        assert lock.locked() is True
        lock.release()
        with lock:
            assert lock.locked()
    semaphore = manager.Semaphore(2)
    assert semaphore.acquire()
    assert semaphore.acquire()
    assert semaphore.acquire(timeout=0.01) is False
    bounded = manager.BoundedSemaphore(1)
    with pytest.raises(ValueError, match="released too many times"):
        bounded.release()
    condition = manager.Condition()
    with condition:
        assert condition.wait_for(lambda: True, timeout=0) is True
        assert condition.wait(0) is False
        condition.notify_all()
    barrier = manager.Barrier(1)
    assert (barrier.parties, barrier.wait(), barrier.broken) == (1, 0, False)


def test_queues(manager: managers.SyncManager) -> None:
    jobs = manager.JoinableQueue()
    jobs.put("job")
    assert jobs.get() == "job"
    jobs.task_done()
    jobs.join()
    bounded = manager.Queue(1)
    bounded.put(1)
    with pytest.raises(queue.Full):
        bounded.put(2, timeout=0.01)
    bounded.get()
    with pytest.raises(queue.Empty):
        bounded.get(block=False)


def test_nested_proxies_and_getvalue(manager: managers.SyncManager) -> None:
    outer = manager.list()
    inner = manager.dict(k="v")
    outer.append(inner)
    found = outer[0]
    assert isinstance(found, managers.DictProxy)
    found["k2"] = "v2"
    assert inner._getvalue() == {"k": "v", "k2": "v2"}
    assert copy.deepcopy(inner) == {"k": "v", "k2": "v2"}
    assert "DictProxy object, typeid 'dict'" in repr(inner)
    assert str(inner) == str({"k": "v", "k2": "v2"})


def test_nested_referent_outlives_its_client_proxies(manager: managers.SyncManager) -> None:
    holder = manager.dict()
    holder["inner"] = manager.list([1])  # the only client proxy of it dies here
    gc.collect()
    inner = holder["inner"]
    inner.append(2)
    assert holder["inner"][:] == [1, 2]
    holder.clear()
    assert inner[:] == [1, 2]  # this client's proxy still counts


def test_remote_error_carries_server_traceback(manager: managers.SyncManager) -> None:
    items = manager.list()
    with pytest.raises(managers.RemoteError) as caught:
        items._callmethod("not_exposed")
    assert "not_exposed" in str(caught.value)
    assert "Traceback" in caught.value.args[0]
    assert managers.convert_to_error("#ERROR", KeyError("x")).args == ("x",)
    assert isinstance(managers.convert_to_error("#what", None), ValueError)
    assert isinstance(managers.convert_to_error("#ERROR", {}), managers.RemoteError)


class _ErrorReply:
    """A connection whose one reply is an error (``#ERROR`` carrying queue.Empty)."""

    def send(self, obj: object) -> None:
        pass

    def recv(self) -> tuple[str, BaseException]:
        return "#ERROR", queue.Empty()


def test_a_failed_call_leaves_no_reference_cycle(manager: managers.SyncManager) -> None:
    # The error a failed call raises is freed with its last reference, not left in a cycle
    # through the raising frame for the collector (gh-106558).
    import weakref

    jobs = manager.Queue()
    gc.disable()
    try:
        for call in (jobs.get_nowait, lambda: managers.dispatch(_ErrorReply(), None, "x")):
            try:
                call()
            except queue.Empty as exc:
                ref = weakref.ref(exc)
            assert ref() is None
    finally:
        gc.enable()


def test_custom_manager_autoproxy_and_method_to_typeid() -> None:
    with targets.CounterManager(ctx=multiprocessing.get_context("fork")) as manager:
        counter = manager.Counter(5)
        assert counter.add(2) == 7
        with pytest.raises(KeyError):
            counter.fail()
        counts = counter.counts()
        assert isinstance(counts, managers.ListProxy)
        counts.append(0)
        assert counts[:] == [7, 0]
        assert manager._number_of_objects() == 2
        assert "refcount" in manager._debug_info()


def test_start_initializer_and_state_errors() -> None:
    manager = targets.InitManager(ctx=multiprocessing.get_context("fork"))
    manager.start(targets.remember, (42,))
    try:
        assert manager.initialized()[:] == [42]
        with pytest.raises(multiprocessing.ProcessError):
            manager.start()
        with pytest.raises(multiprocessing.ProcessError):
            manager.get_server()
    finally:
        manager.shutdown()
    with pytest.raises(multiprocessing.ProcessError):
        manager.start()


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="serializer"):
        managers.BaseManager(serializer="json")
    with pytest.raises(TypeError, match="authkey"):
        managers.BaseManager(authkey="text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="shutdown_timeout"):
        managers.BaseManager(shutdown_timeout="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="initializer"):
        managers.SyncManager().start(initializer=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="typeid"):
        managers.BaseManager.register(3)  # type: ignore[arg-type]


def test_server_in_other_process_connect_and_xmlrpclib() -> None:
    fork = multiprocessing.get_context("fork")
    authkey = b"shared secret"
    for serializer in ("pickle", "xmlrpclib"):
        reader, writer = fork.Pipe(duplex=False)
        args = (("127.0.0.1", 0), authkey, serializer, writer)
        server = fork.Process(target=targets.serve, args=args)
        server.start()
        writer.close()
        try:
            address = reader.recv()
            client = targets.CounterManager(address, authkey, serializer)
            client.connect()
            counter = client.Counter(1)
            assert counter.add(1) == 2
            del counter
            wrong = targets.CounterManager(address=address, authkey=b"wrong")
            with pytest.raises(multiprocessing.AuthenticationError):
                wrong.connect()
            conn = managers.listener_client[serializer][1](address, authkey=authkey)
            try:
                managers.dispatch(conn, None, "shutdown")
            finally:
                conn.close()
            server.join()
            assert server.exitcode == 0
        finally:
            reader.close()
            server.kill()
            server.join()
            server.close()


def test_killed_server_gives_errors_not_hangs() -> None:
    manager = managers.SyncManager(ctx=multiprocessing.get_context("fork"))
    manager.start()
    try:
        shared = manager.dict()
        shared["before"] = 1
        server = manager._process
        server.kill()
        server.join()
        assert server.exitcode == -signal.SIGKILL
        with pytest.raises((EOFError, OSError)):
            shared["after"] = 2
        with pytest.raises((ConnectionRefusedError, FileNotFoundError)):
            manager.list()
    finally:
        manager.shutdown()
    del shared


def test_shared_memory_manager_frees_segments() -> None:
    from treadle.multiprocessing import shared_memory

    with managers.SharedMemoryManager(ctx=multiprocessing.get_context("fork")) as smm:
        block = smm.SharedMemory(64)
        block.buf[0] = 7
        listed = smm.ShareableList([1, "two"])
        names = [block.name, listed.shm.name]
        assert listed[1] == "two"
        block.close()
        listed.shm.close()
    for name in names:
        with pytest.raises(FileNotFoundError):
            shared_memory.SharedMemory(name)


def test_pool_proxy(manager: managers.SyncManager) -> None:
    with manager.Pool(2) as pool:
        assert pool.apply(targets.sum_ints, (1, 2)) == 3
        assert pool.apply_async(targets.square, (4,)).get(timeout=30) == 16
        assert list(pool.imap(targets.square, range(3))) == [0, 1, 4]
        assert pool.map(targets.square, [5]) == [25]


def test_context_manager_method_in_fresh_interpreter(python_snippet: Any) -> None:
    # Only the context's Manager() imported: the registry's proxy types must still
    # pickle by reference for a spawned server.
    done = python_snippet(
        """
        from treadle import multiprocessing
        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Manager() as manager:
                print(manager.Array("i", [1, 2])[1], manager.list([3])[0])
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "3"]


def test_public_surface() -> None:
    from pytest_treadle import check_public_surface

    assert check_public_surface(managers, "multiprocessing.managers") == []
    assert managers.BaseProxy.__module__ == "treadle.multiprocessing.managers"
    assert managers.RebuildProxy.__module__ == "treadle.multiprocessing.managers"
    local = managers.ProcessLocalSet()
    local.add(1)
    assert copy.copy(local) == set()


def test_autoproxy_asks_the_server_for_methods_and_xmlrpclib_start() -> None:
    fork = multiprocessing.get_context("fork")
    with targets.CounterManager(ctx=fork) as manager:
        token, _exposed = manager._create("Counter", 3)
        proxy: Any = managers.AutoProxy(token, "pickle", manager=manager)  # exposed: asked
        assert proxy.add(1) == 4
        assert "add" in proxy._exposed_
        del proxy
    with managers.SyncManager(serializer="xmlrpclib", ctx=fork) as manager:
        items = manager.list([1, 2])
        items.append(3)
        assert (len(items), items[2]) == (3, 3)  # no slices: XML-RPC has none
        with pytest.raises(managers.RemoteError, match="ValueError"):
            items.index(99)  # XML-RPC cannot carry the exception: its traceback comes
        del items


def test_call_blocked_in_a_server_that_dies_fails() -> None:
    fork = multiprocessing.get_context("fork")
    manager = managers.SyncManager(ctx=fork)
    manager.start()
    try:
        jobs = manager.Queue()
        jobs.put("warm")  # this thread's connection is made
        assert jobs.get() == "warm"
        server_pid = manager._process.pid
        killer = fork.Process(target=os.kill, args=(server_pid, signal.SIGKILL))
        killer.start()
        # Blocked in the server when (or sent after) it dies: an error either way.
        with pytest.raises((EOFError, ConnectionError)):
            jobs.get()
        killer.join()
    finally:
        manager.shutdown()
    del jobs
