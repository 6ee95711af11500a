"""Managers on the wire: treadle's and the stdlib's of every installed Python 3.10-3.14.

Each direction, per version: a stdlib ``SyncManager`` client (in a child interpreter,
``-I``) uses a treadle manager server, and a treadle client uses a stdlib manager
server. They authenticate, create shared objects, call them, get results, proxies made
by ``#PROXY`` replies (a dict's iterator), raised exceptions (``#ERROR``) and
``RemoteError``s. Also: ``logging.handlers.QueueHandler`` logging from a child process
through a manager queue. A Python that is not installed is a skip naming it.
"""

from __future__ import annotations

import ast
import collections
import copyreg
import gc
import logging
import logging.handlers
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from treadle import multiprocessing
from treadle.multiprocessing import managers

sys.path.insert(0, str(Path(__file__).parent))
from _peer_pythons import (  # type: ignore[import-not-found,unused-ignore]
    VERSIONS,
    peer_python,
)
from _wire_proxy_types import TallyProxy  # type: ignore[import-not-found,unused-ignore]

HERE = str(Path(__file__).parent)  # where a stdlib peer finds _wire_proxy_types

pytestmark = [
    pytest.mark.timeout(120),
    # The servers and the logging child are forked: nothing of this module has to be
    # importable by name in them. pytest's own threads make fork warn.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

AUTHKEY = b"wire test key"

# The stdlib end. argv: role, address (repr; "" for a server), authkey (hex), the folder
# of _wire_proxy_types (a proxy type of the user's own, which both ends import by name).
PEER = r"""
import ast, collections, multiprocessing, queue, sys
from multiprocessing.managers import RemoteError, SyncManager

sys.path.insert(0, sys.argv[4])
from _wire_proxy_types import TallyProxy

class Peer(SyncManager):
    pass

Peer.register("Counter", collections.Counter)
Peer.register("Tally", collections.Counter, proxytype=TallyProxy)
role, key = sys.argv[1], bytes.fromhex(sys.argv[3])
# Proxies received inside others (nested) authenticate with this process's key.
multiprocessing.current_process().authkey = key
if role == "server":
    server = Peer(address=("127.0.0.1", 0), authkey=key).get_server()
    print(repr(server.address), flush=True)
    server.serve_forever()
manager = Peer(address=ast.literal_eval(sys.argv[2]), authkey=key)
manager.connect()
shared = manager.dict(a=1)
shared["b"] = [2, 3]
assert shared["b"] == [2, 3] and len(shared) == 2, "dict calls"
assert sorted(iter(shared)) == ["a", "b"], "iterator proxy (#PROXY)"
try:
    shared.pop("missing")
except KeyError:
    pass
else:
    raise AssertionError("#ERROR")
try:
    shared._callmethod("not_exposed")
except RemoteError as exc:
    assert "not_exposed" in str(exc), "RemoteError text"
else:
    raise AssertionError("RemoteError")
jobs = manager.Queue()
jobs.put(("job", 1))
assert jobs.get() == ("job", 1), "queue"
try:
    jobs.get(timeout=0.01)
except queue.Empty:
    pass
else:
    raise AssertionError("queue.Empty")
lock = manager.Lock()
assert lock.acquire() and (lock.release() is None), "lock"
counter = manager.Counter("abca")
counter.update("a")
assert counter.most_common(1) == [("a", 3)], "registered type"
items = manager.list([1])
items.append(shared)
assert len(items) == 2, "nested proxy sent"
assert items[1]["a"] == 1, "nested proxy read back"
tally = manager.Tally("xyx")
items.append(tally)
back = items[2]
assert type(back) is TallyProxy, "a proxy of the user's own type read back"
assert back.most_common(1) == [("x", 2)], "a proxy of the user's own type"
print("peer ok", flush=True)
"""


class WireManager(managers.SyncManager):
    """treadle's end: a SyncManager that also shares collections.Counter objects."""

    Counter: Any
    Tally: Any


WireManager.register("Counter", collections.Counter)
WireManager.register("Tally", collections.Counter, proxytype=TallyProxy)


@pytest.fixture(autouse=True)
def _without_tblib_reducers() -> Iterator[None]:
    """Take tblib's picklers of exceptions out of copyreg for the test, then put them back.

    distributed (tested in the same pytest process) installs them for every exception
    class; a forked manager server would then send exceptions a stdlib peer without tblib
    cannot load. Both picklers, the stdlib's and treadle's, honour copyreg: this is the
    test process's state, not the manager's doing.
    """
    table = copyreg.dispatch_table
    foreign = {
        cls: reducer
        for cls, reducer in table.items()
        if str(getattr(getattr(reducer, "func", reducer), "__module__", "")).startswith("tblib")
    }
    for cls in foreign:
        del table[cls]
    try:
        yield
    finally:
        table.update(foreign)


@pytest.mark.parametrize("version", VERSIONS)
def test_stdlib_client_uses_treadle_server(version: str) -> None:
    python = peer_python(version)
    fork = multiprocessing.get_context("fork")
    with WireManager(address=("127.0.0.1", 0), authkey=AUTHKEY, ctx=fork) as manager:
        done = subprocess.run(
            [str(python), "-I", "-c", PEER, "client", repr(manager.address), AUTHKEY.hex(), HERE],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "peer ok" in done.stdout


@pytest.mark.parametrize("version", VERSIONS)
def test_treadle_client_uses_stdlib_server(version: str) -> None:
    python = peer_python(version)
    with subprocess.Popen(
        [str(python), "-I", "-c", PEER, "server", "", AUTHKEY.hex(), HERE],
        stdout=subprocess.PIPE,
        text=True,
    ) as peer:
        try:
            assert peer.stdout is not None
            address = ast.literal_eval(peer.stdout.readline())
            _use_stdlib_server(address)
            # Proxies kept by reference cycles (pytest.raises' tracebacks) go now, and
            # close their connection before the server does.
            gc.collect()
            conn = managers.listener_client["pickle"][1](address, authkey=AUTHKEY)
            try:
                managers.dispatch(conn, None, "shutdown")
            finally:
                conn.close()
            assert peer.wait(timeout=60) == 0
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait()


def _use_stdlib_server(address: Any) -> None:
    manager = WireManager(address=address, authkey=AUTHKEY)
    manager.connect()
    shared = manager.dict(a=1)
    shared["b"] = [2, 3]
    assert shared["b"] == [2, 3]
    assert sorted(iter(shared)) == ["a", "b"]  # the stdlib's #PROXY, its Token
    with pytest.raises(KeyError):
        shared.pop("missing")
    with pytest.raises(managers.RemoteError, match="not_exposed"):
        shared._callmethod("not_exposed")
    jobs = manager.Queue()
    jobs.put("job")
    assert jobs.get() == "job"
    with pytest.raises(queue.Empty):
        jobs.get(timeout=0.01)
    counter = manager.Counter("abca")
    counter.update("a")
    assert counter.most_common(1) == [("a", 3)]
    items = manager.list([1, manager.dict(b=2)])
    assert items[1]["b"] == 2  # a treadle proxy sent, a stdlib one sent back
    items.append(shared)
    assert items[2]["a"] == 1
    # A proxy of the user's own type, sent to the stdlib server and back.
    items.append(manager.Tally("xyx"))
    back = items[3]
    assert type(back) is TallyProxy
    assert back.most_common(1) == [("x", 2)]
    del shared, jobs, counter, items, back


def _log_through(records: Any) -> None:
    # In the child: everything the root logger gets goes into the manager queue.
    logger = logging.getLogger("treadle.wire.child")
    logger.propagate = False
    logger.addHandler(logging.handlers.QueueHandler(records))
    logger.warning("hello from %s", multiprocessing.current_process().name)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_queue_handler_through_manager_queue() -> None:
    fork = multiprocessing.get_context("fork")
    with managers.SyncManager(ctx=fork) as manager:
        records = manager.Queue()
        collect = _Collect()
        listener = logging.handlers.QueueListener(records, collect)
        listener.start()
        try:
            child = fork.Process(target=_log_through, args=(records,), name="logger-child")
            child.start()
            child.join()
        finally:
            listener.stop()
        assert child.exitcode == 0
        assert collect.messages == ["hello from logger-child"]
        del records, listener
