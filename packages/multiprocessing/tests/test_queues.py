"""treadle.multiprocessing.queues: Queue, JoinableQueue, SimpleQueue, and shutdown()."""

from __future__ import annotations

import gc
import importlib.util
import pickle
import queue
import signal
import sys
import threading
import types
from pathlib import Path
from typing import Any

import _queue_targets as targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from treadle import multiprocessing
from treadle.multiprocessing import _queues, queues
from treadle.queue import ShutDown

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fork() -> Any:
    """The fork context: for tests where the start method does not matter."""
    return multiprocessing.get_context("fork")


def _wait_until(predicate: Any) -> None:
    # Waits on a state another process changes (no event to wait on): bounded.
    done = threading.Event()
    for _ in range(2000):
        if predicate():
            return
        done.wait(0.005)
    raise AssertionError("the state never came")


class TestSurface:
    def test_all(self) -> None:
        assert queues.__all__ == ["JoinableQueue", "Queue", "SimpleQueue"]
        for name in queues.__all__:
            assert getattr(queues, name).__module__ == "treadle.multiprocessing.queues"

    def test_class_getitem(self) -> None:
        for cls in (queues.Queue, queues.JoinableQueue, queues.SimpleQueue):
            alias = cls[int]
            assert isinstance(alias, types.GenericAlias)
            assert alias.__origin__ is cls

    def test_context_methods_make_them(self, fork: Any) -> None:
        q, jq, sq = fork.Queue(), fork.JoinableQueue(), fork.SimpleQueue()
        assert type(q) is queues.Queue
        assert type(jq) is queues.JoinableQueue
        assert isinstance(jq, queues.Queue)
        assert type(sq) is queues.SimpleQueue
        for each in (q, jq, sq):
            each.close()


class TestInOneProcess:
    def test_put_get_sizes(self, fork: Any) -> None:
        q = fork.Queue(3)
        assert (q.qsize(), q.empty(), q.full()) == (0, True, False)
        for item in ("a", {"b": [1, 2]}, b"c" * 1000):
            q.put(item)
        assert q.full()
        assert q.qsize() == 3
        assert q.get(timeout=10) == "a"
        assert q.get() == {"b": [1, 2]}
        _wait_until(lambda: not q.empty())  # the feeder may not have written it yet
        assert q.get_nowait() == b"c" * 1000
        _wait_until(q.empty)
        q.close()
        q.join_thread()

    def test_empty_and_full_are_the_stdlib_exceptions(self, fork: Any) -> None:
        q = fork.Queue(1)
        with pytest.raises(queue.Empty):
            q.get_nowait()
        with pytest.raises(queue.Empty):
            q.get(timeout=0.01)
        with pytest.raises(queue.Empty):
            q.get(False)
        q.put_nowait(1)
        with pytest.raises(queue.Full):
            q.put_nowait(2)
        with pytest.raises(queue.Full):
            q.put(2, timeout=0.01)
        assert q.get() == 1
        q.close()
        q.join_thread()

    def test_large_items_and_order(self, fork: Any) -> None:
        q = fork.Queue()
        big = bytes(range(256)) * 4096  # 1 MiB: read in more than one step
        q.put(big)
        q.put("after")
        assert q.get(timeout=10) == big
        assert q.get(timeout=10) == "after"
        q.close()
        q.join_thread()

    def test_closed_queue(self, fork: Any) -> None:
        q = fork.Queue()
        with pytest.raises(AssertionError, match="not closed"):
            q.join_thread()
        q.put(1)
        q.close()
        q.close()  # twice is fine
        with pytest.raises(ValueError, match="is closed"):
            q.put(2)
        with pytest.raises(ValueError, match="is closed"):
            q.get()
        q.join_thread()
        assert q._thread is not None
        assert not q._thread.is_alive()

    def test_cancel_join_thread(self, fork: Any) -> None:
        q = fork.Queue()
        q.put(1)
        assert q.get(timeout=10) == 1
        q.cancel_join_thread()
        q.close()
        q.join_thread()  # not waited for: returns at once
        assert q._jointhread is not None
        assert not q._jointhread.still_active()
        q._thread.join()  # (the test's own clean-up: the feeder is done soon)

    def test_bad_arguments(self, fork: Any) -> None:
        with pytest.raises(TypeError, match="maxsize"):
            fork.Queue("3")
        with pytest.raises(TypeError, match="maxsize"):
            fork.JoinableQueue(2.5)
        with pytest.raises(ValueError, match="maxsize"):
            fork.Queue(1 << 40)
        with pytest.raises(TypeError, match="ctx"):
            queues.Queue(3)  # type: ignore[call-arg]
        q = fork.Queue(-5)  # <= 0: no bound
        assert q._maxsize == queues.Queue(0, ctx=fork)._maxsize

    def test_pickled_only_while_spawning(self, fork: Any) -> None:
        for each in (fork.Queue(), fork.JoinableQueue(), fork.SimpleQueue()):
            with pytest.raises(RuntimeError, match="inheritance"):
                pickle.dumps(each)
            each.close()

    def test_feeder_error_prints_traceback_and_queue_goes_on(self, fork: Any, capfd: Any) -> None:
        q = fork.Queue(1)
        q.put(lambda: None)  # cannot be pickled: reported, and its place freed
        q.put("fine", timeout=10)
        assert q.get(timeout=10) == "fine"
        q.close()
        q.join_thread()
        err = capfd.readouterr().err
        assert "Traceback" in err
        assert "pickle" in err.lower()

    def test_feeder_error_hook(self, fork: Any) -> None:
        seen: list[tuple[type, object]] = []

        class Hooked(queues.Queue[Any]):
            @staticmethod
            def _on_queue_feeder_error(e: BaseException, obj: object) -> None:
                seen.append((type(e), obj))

        q = Hooked(ctx=fork)
        bad = threading.Lock()
        q.put(bad)
        q.put("ok")
        assert q.get(timeout=10) == "ok"
        q.close()
        q.join_thread()
        assert seen == [(TypeError, bad)]

    def test_joinable_task_done_and_join(self, fork: Any) -> None:
        jq = fork.JoinableQueue()
        with pytest.raises(ValueError, match="too many times"):
            jq.task_done()
        jq.join()  # nothing pending
        jq.put(1)
        jq.put(2)
        assert jq.get(timeout=10) == 1
        jq.task_done()
        assert jq.get(timeout=10) == 2
        joined = threading.Event()

        def join_then_say() -> None:
            jq.join()
            joined.set()

        joiner = threading.Thread(target=join_then_say)
        joiner.start()
        assert not joined.is_set()
        jq.task_done()
        joiner.join()
        assert joined.is_set()
        jq.close()
        jq.join_thread()

    def test_simple_queue(self, fork: Any) -> None:
        sq = fork.SimpleQueue()
        assert sq.empty()
        sq.put([1, "two"])
        assert not sq.empty()
        assert sq.get() == [1, "two"]
        sq.close()
        with pytest.raises(OSError, match="closed"):
            sq.put(1)


class TestAcrossProcesses:
    def test_round_trip(self, ctx: Any) -> None:
        q, back, jq, sq = ctx.Queue(4), ctx.Queue(), ctx.JoinableQueue(), ctx.SimpleQueue()
        child = ctx.Process(target=targets.echo_round, args=(q, back, jq, sq))
        child.start()
        sent = [1, "two", (3.0, None), b"x" * 100_000]
        for item in [*sent, None]:
            q.put(item, timeout=30)
        assert back.get(timeout=30) == ("items", sent)
        for n in range(3):
            jq.put(n)
        jq.join()  # the child marks each done
        assert sq.get() == ("simple", child.pid)
        # What the child put right before it exited is all there (flushed at exit).
        assert [back.get(timeout=30) for _ in range(200)] == list(range(200))
        child.join()
        assert child.exitcode == 0
        for each in (q, back, jq, sq):
            each.close()
        for each in (q, back, jq):
            each.join_thread()

    def test_flushed_at_child_exit(self, fork: Any) -> None:
        q = fork.Queue()
        child = fork.Process(target=targets.put_many_and_exit, args=(q, 50, b"y" * 10_000))
        child.start()
        got = [q.get(timeout=30) for _ in range(50)]
        child.join()
        assert child.exitcode == 0
        assert [number for number, _ in got] == list(range(50))

    def test_cancel_join_thread_lets_child_exit(self, fork: Any) -> None:
        q = fork.Queue()
        # 4 MiB does not fit in the pipe and nobody reads: without cancel_join_thread
        # the child would wait for its feeder for ever at exit.
        child = fork.Process(target=targets.put_big_and_cancel, args=(q, 4 << 20))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        q.close()

    def test_consumer_killed_while_holding_the_reader_lock(self, ctx: Any) -> None:
        q = ctx.Queue()
        said_r, said_w = ctx.Pipe(duplex=False)
        child = ctx.Process(target=targets.get_then_die, args=(q, said_w))
        child.start()
        said_w.close()
        q.put("first")
        assert said_r.recv() == "first"
        assert said_r.recv() == "blocking"
        _wait_until(q._rlock.locked)  # the child waits for data, holding the lock
        child.kill()
        child.join()
        # The next reader finds the lock held by a dead process and takes it over.
        q.put("second")
        assert q.get(timeout=30) == "second"
        said_r.close()
        q.close()
        q.join_thread()

    def test_places_of_a_killed_producer_come_back(self, fork: Any) -> None:
        q = fork.Queue(2)
        here, there = fork.Pipe()
        child = fork.Process(target=targets.put_and_wait, args=(q, there, 2))
        child.start()
        assert q.get(timeout=30) == "warm"
        # Hold the write lock as a writer does (pid recorded): the child's next items
        # stay in its buffer.
        wlock = q._wlock._semlock
        assert _queues._take(wlock, q._map, _queues._WRITER_SLOT, True, None)
        here.send("go")
        assert here.recv() == "put"
        assert q.full()
        child.kill()
        child.join()
        _queues._pack_pid(q._map, _queues._WRITER_SLOT, 0)
        wlock.release()
        # The two places the dead child took are given back to a waiting putter.
        q.put("mine", timeout=30)
        assert q.get(timeout=30) == "mine"
        for conn in (here, there):
            conn.close()
        q.close()
        q.join_thread()

    def test_reader_killed_mid_message_is_reported(self, fork: Any) -> None:
        q = fork.Queue()
        here, there = fork.Pipe()
        child = fork.Process(target=targets.die_mid_message, args=(q, there))
        child.start()
        assert here.recv() == "held"
        child.kill()
        child.join()
        # The lock is handed on, but the pipe may be out of step: said, not read.
        with pytest.raises(OSError, match="out of step"):
            q.get(timeout=30)
        for conn in (here, there):
            conn.close()
        q.close()


class TestShutdown:
    def test_in_one_process(self, fork: Any) -> None:
        q = fork.Queue()
        assert not q.is_shutdown
        q.put(1)
        q.put(2)
        q.shutdown()
        assert q.is_shutdown
        with pytest.raises(ShutDown):
            q.put(3)
        assert q.get(timeout=10) == 1  # drained first
        assert q.get(timeout=10) == 2
        with pytest.raises(ShutDown):
            q.get(timeout=10)
        with pytest.raises(ShutDown):
            q.get_nowait()
        q.close()
        q.join_thread()
        assert issubclass(ShutDown, Exception)
        if sys.version_info >= (3, 13):
            assert issubclass(ShutDown, queue.ShutDown)

    def test_immediate_drops_items_and_releases_join(self, fork: Any) -> None:
        jq = fork.JoinableQueue()
        for n in range(5):
            jq.put(n)
        _wait_until(lambda: not jq.empty())
        jq.shutdown(immediate=True)
        with pytest.raises(ShutDown):
            jq.get(timeout=10)
        jq.join()  # every dropped item counts as done
        jq.close()
        jq.join_thread()

    def test_blocked_getter_in_child_wakes(self, ctx: Any) -> None:
        q = ctx.Queue()
        said_r, said_w = ctx.Pipe(duplex=False)
        child = ctx.Process(target=targets.wait_for_shutdown, args=(q, said_w))
        child.start()
        said_w.close()
        assert said_r.recv() == "ready"
        q.put("last")
        q.shutdown()
        assert said_r.recv() == [("item", "last"), "get ShutDown", "put ShutDown"]
        child.join()
        said_r.close()
        q.close()
        q.join_thread()

    def test_blocked_putter_in_child_wakes(self, fork: Any) -> None:
        q = fork.Queue(1)
        said_r, said_w = fork.Pipe(duplex=False)
        child = fork.Process(target=targets.block_in_put, args=(q, said_w))
        child.start()
        assert said_r.recv() == "ready"
        _wait_until(q.full)
        q.shutdown()
        assert said_r.recv() == "put ShutDown"
        child.join()
        assert q.get(timeout=10) == 0
        with pytest.raises(ShutDown):
            q.get(timeout=10)
        said_r.close()
        said_w.close()
        q.close()
        q.join_thread()

    def test_shutdown_by_a_child_is_seen_here(self, fork: Any) -> None:
        q = fork.Queue()
        child = fork.Process(target=targets.shut_down_from_child, args=(q, True))
        child.start()
        with pytest.raises(ShutDown):
            q.get(timeout=30)  # woken by the child's shutdown
        child.join()
        with pytest.raises(ShutDown):
            q.put(1)
        q.close()

    def test_closed_queue_cannot_shut_down(self, fork: Any) -> None:
        q = fork.Queue()
        q.close()
        with pytest.raises(ValueError, match="is closed"):
            q.shutdown()


def _stress_module() -> Any:
    path = ROOT / "tools" / "stress" / "mp_queue_kill.py"
    spec = importlib.util.spec_from_file_location("mp_queue_kill", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mp_queue_kill"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_stress_kill_one_of_four() -> None:
    stress = _stress_module()
    results = stress.run_many(runs=5, items=60, seed=14)
    for result in results:
        assert result.ok, result
    gc.collect()
