"""ProcessPoolExecutor: 3.14's API on treadle.multiprocessing, and treadle's opt-ins."""

from __future__ import annotations

import asyncio
import concurrent.futures as std_futures
import gc
import multiprocessing as std_mp
import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "treadle.multiprocessing",
    reason="ProcessPoolExecutor needs treadle-multiprocessing (the [process] extra)",
)

from treadle import futures
from treadle import multiprocessing as mp
from treadle.futures import process

# Spawned and forkserver workers get this path: they import _pp_tasks by the same name.
sys.path.insert(0, str(Path(__file__).parent))
import _pp_tasks as tasks  # type: ignore[import-not-found,unused-ignore]

# Forking while pytest's (and the pool's dispatcher) threads run warns; the fork method
# is tested on purpose here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"
)

METHODS = ["forkserver", "spawn", "fork"]
PPE = process.ProcessPoolExecutor


@pytest.fixture
def fifo() -> Iterator[str]:
    """A FIFO through which a task tells the test it runs (open blocks until both ends)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "started")
        os.mkfifo(path)
        yield path


def read_fifo(path: str) -> bytes:
    with open(path, "rb") as end:
        return end.read()


def gone(pid: int) -> bool:
    """Whether *pid* has ended (a SIGKILL takes effect when the process is next run).

    Waits for it through a pidfd, which becomes readable when the process exits.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], 30.0)[0])
    finally:
        os.close(pidfd)


# ------------------------------------------------------------------ the 3.14 API


@pytest.mark.parametrize("method", METHODS)
def test_submit_map_and_errors_per_start_method(method: str) -> None:
    with PPE(2, mp_context=mp.get_context(method)) as ex:
        assert ex.submit(tasks.add, 2, b=3).result() == 5
        assert list(ex.map(tasks.add, range(50), range(50))) == list(range(0, 100, 2))
        assert list(ex.map(tasks.add, range(7), chunksize=3)) == list(range(7))
        assert list(ex.map(tasks.add, range(9), buffersize=2)) == list(range(9))
        failed = ex.submit(tasks.fail, "boom")
        error = failed.exception()
        assert isinstance(error, ValueError)
        assert str(error) == "boom"
        assert isinstance(error.__cause__, process._RemoteTraceback)
        assert "a line the traceback text must show" in str(error.__cause__)
        with pytest.raises(ValueError, match="boom"):
            list(ex.map(tasks.fail, ["boom"], chunksize=2))
        assert isinstance(failed, futures.Future)
        assert ex.submit(tasks.pid_of_worker).result() != os.getpid()


def test_stdlib_context_and_default_size() -> None:
    # A stdlib context is used as it is: a stdlib queue passes to the workers in
    # initargs (pickled while spawning, as with the stdlib's pool) and the initializer's
    # puts are flushed before the worker exits.
    ctx = std_mp.get_context("spawn")
    log = ctx.Queue()
    with PPE(1, mp_context=ctx, initializer=tasks.put_pid, initargs=(log,)) as ex:
        assert ex._mp_context is ctx
        assert ex.submit(tasks.add, 1, 1).result() == 2
        (pid,) = ex._processes
    assert log.get(timeout=30) == pid
    log.close()
    log.join_thread()
    # The stdlib's semaphores are unlinked when collected (its resource tracker, a
    # service for the rest of the run, is not this test's leak).
    del log, ex  # the executor holds initargs
    gc.collect()
    cpus = os.process_cpu_count() if hasattr(os, "process_cpu_count") else None
    expected = cpus or len(os.sched_getaffinity(0))
    assert PPE()._max_workers == expected


def test_a_burst_of_blocking_calls_starts_a_worker_for_each() -> None:
    # As the stdlib's pool: submit() starts a worker while the calls waiting outnumber the
    # idle workers, and a worker that has just been handed a call is not idle (a stale
    # count made a second call wait for the first; CPython's test_processes_terminate).
    with std_mp.Manager() as manager:
        release = manager.Event()
        for _ in range(5):
            with PPE(5) as ex:
                calls = [ex.submit(release.wait, 60) for _ in range(3)]
                assert len(ex._processes) == 3
                release.set()
                assert [call.result(60) for call in calls] == [True] * 3
            release.clear()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        PPE(0)
    with pytest.raises(TypeError, match="max_workers"):
        PPE("2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="initializer must be a callable"):
        PPE(1, initializer=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mp_context"):
        PPE(1, mp_context="spawn")
    with pytest.raises(ValueError, match="max_tasks_per_child must be >= 1"):
        PPE(1, max_tasks_per_child=0)
    with pytest.raises(TypeError, match="max_tasks_per_child must be an integer"):
        PPE(1, max_tasks_per_child=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'fork'"):
        PPE(1, mp_context=mp.get_context("fork"), max_tasks_per_child=2)
    with pytest.raises(ValueError, match="'fork'"):
        PPE(1, mp_context=std_mp.get_context("fork"), max_tasks_per_child=2)
    assert PPE(1, max_tasks_per_child=2)._mp_context.get_start_method() == "spawn"
    with pytest.raises(ValueError, match="task_timeout"):
        PPE(1, task_timeout=-1)
    with pytest.raises(TypeError, match="task_timeout"):
        PPE(1, task_timeout="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="survive_worker_death"):
        PPE(1, survive_worker_death=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cancel_running"):
        PPE(1, cancel_running=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_worker_memory"):
        PPE(1, max_worker_memory=0)
    with pytest.raises(ValueError, match="max_pending"):
        PPE(1, max_pending=0)
    with pytest.raises(ValueError, match="submit_timeout"):
        PPE(1, submit_timeout=1)
    with pytest.raises(ValueError, match="shutdown_timeout"):
        PPE(1, shutdown_timeout=-1)
    ex = PPE(1)
    with pytest.raises(ValueError, match="chunksize"):
        ex.map(tasks.add, [1], chunksize=0)
    with pytest.raises(ValueError, match="buffersize"):
        ex.map(tasks.add, [1], buffersize=0)
    ex.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(tasks.add, 1)


def test_initializer_runs_and_its_failure_breaks_the_pool() -> None:
    with PPE(1, initializer=tasks.init_record, initargs=("ready",)) as ex:
        assert ex.submit(tasks.init_read).result() == "ready"
    with PPE(2, initializer=tasks.init_fail) as ex:
        first = ex.submit(tasks.add, 1)
        with pytest.raises(process.BrokenProcessPool) as info:
            first.result()
        assert "initializer refuses" in str(info.value.__cause__)
        assert ex._broken
        with pytest.raises(futures.BrokenExecutor):
            ex.submit(tasks.add, 1)


@pytest.mark.parametrize("method", ["forkserver", "fork"])
def test_dead_worker_breaks_the_pool_by_default(method: str) -> None:
    with PPE(2, mp_context=mp.get_context(method)) as ex:
        assert ex.submit(tasks.add, 1).result() == 1
        dying = ex.submit(tasks.die, 3)
        with pytest.raises(process.BrokenProcessPool) as info:
            dying.result()
        assert "exit code 3" in str(info.value.__cause__)
        with pytest.raises(process.BrokenProcessPool):
            ex.submit(tasks.add, 1)


def test_unpicklable_call_and_result() -> None:
    with PPE(1) as ex:
        holder = tasks.Holder(lambda: None)
        error = ex.submit(tasks.add, holder).exception()
        assert isinstance(error, (pickle.PicklingError, AttributeError, TypeError))
        bad_result = ex.submit(tasks.returns_unpicklable).exception()
        assert isinstance(bad_result, (pickle.PicklingError, AttributeError, TypeError))
        assert ex.submit(tasks.add, 4).result() == 4
    with PPE(1, check_pickle=True) as ex, pytest.raises(TypeError, match=r"args\[0\]\.handler"):
        ex.submit(tasks.add, holder)


def test_max_tasks_per_child_replaces_workers() -> None:
    with PPE(1, max_tasks_per_child=2) as ex:
        pids = [ex.submit(tasks.pid_of_worker).result() for _ in range(4)]
        assert pids[0] == pids[1] != pids[2] == pids[3]
        # A map with several tasks per batch: the tasks not run are given back.
        assert list(ex.map(tasks.add, range(5))) == list(range(5))


def test_shutdown_cancel_futures_terminate_and_kill(fifo: str) -> None:
    ex = PPE(1)
    running = ex.submit(tasks.block, fifo)
    read_fifo(fifo)
    queued = [ex.submit(tasks.add, i) for i in range(3)]
    ex.terminate_workers()
    # Cancelled, or (sent to the busy worker's pipe already) failed with the pool.
    for future in queued:
        assert future.cancelled() or isinstance(future.exception(), process.BrokenProcessPool)
    with pytest.raises(process.BrokenProcessPool):
        running.result()
    ex.shutdown()
    ex = PPE(1)
    running = ex.submit(tasks.block, fifo)
    read_fifo(fifo)
    ex.kill_workers()
    with pytest.raises(process.BrokenProcessPool):
        running.result()
    ex.shutdown()
    with PPE(1) as ex:
        done = ex.submit(tasks.add, 5)
        assert done.result() == 5
        ex.shutdown(wait=True, cancel_futures=True)
        assert not ex._processes


def test_asyncio_run_in_executor() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        with PPE(1) as ex:
            one = await loop.run_in_executor(ex, tasks.add, 1, 2)
            two = await asyncio.wrap_future(ex.submit(tasks.add, 3))
        return [one, two]

    assert asyncio.run(main()) == [3, 3]


def test_import_is_lazy() -> None:
    code = (
        "import sys, treadle.futures as f\n"
        "assert 'treadle.multiprocessing' not in sys.modules\n"
        "f.ProcessPoolExecutor\n"
        "assert 'treadle.futures._process' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("method", METHODS)
def test_workers_leave_when_the_pool_process_is_killed(method: str) -> None:
    # A worker waiting for work reads end-of-file when the pool's process dies (even a
    # forked one, which got copies of the pool's descriptors), and leaves.
    code = (
        "import os, signal, sys\n"
        "from treadle import multiprocessing as mp\n"
        "from treadle.futures import ProcessPoolExecutor\n"
        "if __name__ == '__main__':\n"
        f"    ex = ProcessPoolExecutor(3, mp_context=mp.get_context({method!r}))\n"
        "    assert sum(ex.map(abs, range(-9, 9))) == 81\n"
        "    print(' '.join(map(str, ex._processes)), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 3
    assert all(gone(pid) for pid in pids)


def _open_gate(gate: Path) -> None:
    with open(gate, "wb") as end:
        end.write(b"!")


def test_no_replacement_once_garbage_collected(fifo: str, tmp_path: Path) -> None:
    # As 3.14's pool: a collected executor's workers finish their work, but one that
    # leaves (max_tasks_per_child) is not replaced, so the queued calls fail.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    ex: Any = PPE(1, mp_context=mp.get_context("spawn"), max_tasks_per_child=1)
    first = ex.submit(tasks.wait_gate, fifo, str(gate), 7)
    rest = [ex.submit(tasks.add, i) for i in range(2)]
    read_fifo(fifo)
    thread = ex._executor_manager_thread
    del ex
    gc.collect()
    _open_gate(gate)
    assert first.result(timeout=60) == 7
    for future in rest:
        with pytest.raises(process.BrokenProcessPool, match="garbage collected"):
            future.result(timeout=60)
    thread.join(60)
    assert not thread.is_alive()


def test_replacement_that_cannot_start(
    fifo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The only worker leaves (max_tasks_per_child) and no other can start: the queued
    # calls fail with BrokenProcessPool instead of waiting for ever.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    with PPE(1, mp_context=mp.get_context("spawn"), max_tasks_per_child=1) as ex:
        first = ex.submit(tasks.wait_gate, fifo, str(gate), 7)
        rest = [ex.submit(tasks.add, i) for i in range(2)]
        read_fifo(fifo)

        def refuse(self: object, adopt: bool = False) -> None:
            raise OSError("no more processes")

        monkeypatch.setattr(futures._process_pool._Pool, "start_worker", refuse)
        _open_gate(gate)
        assert first.result(timeout=60) == 7
        for future in rest:
            with pytest.raises(process.BrokenProcessPool, match="could not be started"):
                future.result(timeout=60)
        assert ex._broken


# ------------------------------------------------------------------ beyond the stdlib


@pytest.mark.parametrize("method", METHODS)
def test_survive_worker_death(method: str) -> None:
    with PPE(2, mp_context=mp.get_context(method), survive_worker_death=True) as ex:
        first = ex.submit(tasks.pid_of_worker).result()
        killed = ex.submit(tasks.kill_self)
        others = list(ex.map(tasks.add, range(10)))
        error = killed.exception()
        assert isinstance(error, process.WorkerDiedError)
        assert isinstance(error, process.BrokenProcessPool)
        assert error.signal == signal.SIGKILL
        assert error.exitcode == -signal.SIGKILL
        assert error.pid > 0
        assert error.oom_suspected in (None, False)
        assert others == list(range(10))
        exited = ex.submit(tasks.die, 7).exception()
        assert isinstance(exited, process.WorkerDiedError)
        assert (exited.exitcode, exited.signal) == (7, None)
        assert ex.submit(tasks.add, 1).result() == 1
        assert first > 0


def test_task_timeout_kills_the_worker_tree(fifo: str) -> None:
    with PPE(1, task_timeout=0.5) as ex:
        hung = ex.submit(tasks.block_with_grandchild, fifo)
        grandchild = int(read_fifo(fifo))
        with pytest.raises(futures.TimeoutError, match="task_timeout"):
            hung.result()
        assert gone(grandchild)
        assert ex.submit(tasks.add, 2).result() == 2


@pytest.mark.parametrize("method", ["forkserver", "fork"])
def test_cancel_running(method: str, fifo: str) -> None:
    with PPE(1, mp_context=mp.get_context(method), cancel_running=True) as ex:
        running = ex.submit(tasks.block, fifo)
        read_fifo(fifo)
        assert running.running()
        assert running.cancel()
        assert running.cancelled()
        with pytest.raises(futures.CancelledError):
            running.result()
        assert ex.submit(tasks.add, 6).result() == 6


def test_cancel_running_through_asyncio(fifo: str) -> None:
    async def main(ex: process.ProcessPoolExecutor) -> bool:
        loop = asyncio.get_running_loop()
        waiter = loop.run_in_executor(ex, tasks.block, fifo)
        await loop.run_in_executor(None, read_fifo, fifo)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return True

    with PPE(1, cancel_running=True) as ex:
        assert asyncio.run(main(ex))
        assert ex.submit(tasks.add, 1).result() == 1


def test_max_pending_blocks_then_times_out(fifo: str) -> None:
    with PPE(1, max_pending=1, submit_timeout=0.05, cancel_running=True) as ex:
        running = ex.submit(tasks.block, fifo)
        read_fifo(fifo)
        queued = ex.submit(tasks.add, 1)
        with pytest.raises(futures.TimeoutError, match="submit_timeout"):
            ex.submit(tasks.add, 2)
        running.cancel()
        assert queued.result() == 1
        assert ex.submit(tasks.add, 3).result() == 3


def test_memory_recycling() -> None:
    with PPE(1, max_worker_memory=100 * 1024 * 1024) as ex:
        first = ex.submit(tasks.allocate, 1).result()
        assert ex.submit(tasks.pid_of_worker).result() == first
        big = ex.submit(tasks.allocate, 120).result()
        assert big == first
        assert ex.submit(tasks.pid_of_worker).result() != first


def test_shutdown_timeout_bounds_shutdown(fifo: str) -> None:
    ex = PPE(1, shutdown_timeout=0.2)
    hung = ex.submit(tasks.block_with_grandchild, fifo)
    grandchild = int(read_fifo(fifo))
    worker = next(iter(ex._processes))
    ex.shutdown(wait=True)
    with pytest.raises(process.BrokenProcessPool, match="shut down"):
        hung.result()
    assert gone(worker)
    assert gone(grandchild)


def test_a_dropped_executor_finishes_its_work_and_stops() -> None:
    ex = PPE(2)
    submitted = [ex.submit(tasks.add, i) for i in range(10)]
    dispatcher = ex._executor_manager_thread
    assert dispatcher is not None
    del ex
    gc.collect()
    dispatcher.join()
    assert [f.result() for f in submitted] == list(range(10))


def test_sigint_while_waiting_on_the_pool(fifo: str) -> None:
    """One Ctrl-C while the caller waits: pending work cancelled, running interrupted."""
    # CI runs with SIGINT ignored: install the handler this test relies on.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.0, os.kill, (os.getpid(), signal.SIGINT))
    seen: dict[str, list[Any]] = {}

    def wait_in_the_pool() -> None:
        with PPE(2, shutdown_timeout=2.0) as ex:
            seen["running"] = [ex.submit(tasks.interruptible, fifo)]
            read_fifo(fifo)
            seen["pending"] = [ex.submit(tasks.add, i) for i in range(50)]
            seen["workers"] = list(ex._processes)
            timer.start()
            # The signal arrives while this waits (it cannot end otherwise), or just
            # before: either way it leaves the block with KeyboardInterrupt.
            seen["running"][0].result()

    try:
        with pytest.raises(KeyboardInterrupt):
            wait_in_the_pool()
        assert seen["running"][0].result() == "interrupted"
        assert all(f.done() for f in seen["pending"])
        assert all(gone(pid) for pid in seen["workers"])
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)


def test_fault_injection_small() -> None:
    """Every kind of fault at once, a few rounds: every future ends, nothing leaks."""
    with PPE(2, survive_worker_death=True, task_timeout=3.0) as ex:
        for _ in range(2):
            killed = ex.submit(tasks.kill_self)
            memory = ex.submit(tasks.allocate_past_limit, 64)
            raised = ex.submit(tasks.fail, "x")
            normal = ex.submit(tasks.add, 1)
            assert isinstance(killed.exception(), process.WorkerDiedError)
            assert memory.result() == "MemoryError"
            assert isinstance(raised.exception(), ValueError)
            assert normal.result() == 1
        assert std_futures.wait([ex.submit(tasks.add, i) for i in range(20)]).not_done == set()
