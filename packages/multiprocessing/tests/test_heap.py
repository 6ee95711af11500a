"""treadle.multiprocessing.heap: arenas, the shared heap and its blocks."""

from __future__ import annotations

import errno
import gc
import itertools
import mmap
import os
import random
import threading
from collections.abc import Iterator
from typing import Any

import _shm_targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from treadle import multiprocessing
from treadle.multiprocessing import heap
from treadle.multiprocessing.heap import Arena, BufferWrapper, Heap


@pytest.fixture
def fresh() -> Iterator[Heap]:
    """A heap that gives every fully free arena back, swapped in for BufferWrapper."""
    saved = BufferWrapper._heap
    mine = BufferWrapper._heap = Heap()
    mine._DISCARD_FREE_SPACE_LARGER_THAN = 0
    try:
        yield mine
    finally:
        gc.collect()
        BufferWrapper._heap = saved
    assert mine._arenas == []


def _check_layout(owner: Heap) -> None:
    """Free and used blocks tile every arena exactly, and no two free blocks touch."""
    with owner._lock:
        pieces: list[tuple[int, int, int, str]] = []
        for blocks in owner._len_to_seq.values():
            for arena, start, stop in blocks:
                pieces.append((owner._arenas.index(arena), start, stop, "free"))
        for arena, held in owner._allocated_blocks.items():
            for start, stop in held:
                pieces.append((owner._arenas.index(arena), start, stop, "used"))
        pieces.sort()
        total = sum(stop - start for _, start, stop, _ in pieces)
        assert total == sum(arena.size for arena in owner._arenas)
        for (index, _s, stop, kind), (next_index, next_start, _e, next_kind) in itertools.pairwise(
            pieces
        ):
            if index == next_index:
                assert stop == next_start
                assert not (kind == next_kind == "free")
            else:
                assert stop == owner._arenas[index].size
                assert next_start == 0


def test_malloc_free_reuse_and_merge(fresh: Heap) -> None:
    first = fresh.malloc(100)
    arena, start, stop = first
    assert isinstance(arena, Arena)
    assert (start, stop) == (0, 104)  # rounded up to the alignment
    second = fresh.malloc(1)
    third = fresh.malloc(0)
    assert second[1:] == (104, 112)
    assert third[1:] == (112, 120)
    fresh.free(first)
    again = fresh.malloc(50)  # best fit: the freed first block
    assert again[:2] == (arena, 0)
    _check_layout(fresh)
    for block in (again, second, third):
        fresh.free(block)
    assert fresh._n_mallocs == fresh._n_frees == 4
    assert fresh._arenas == []  # wholly free, and the threshold is 0
    assert fresh._len_to_seq == {}
    assert fresh._allocated_blocks == {}


def test_large_arena_kept_below_the_threshold() -> None:
    owner = Heap()
    block = owner.malloc(10)
    owner.free(block)
    # A small wholly free arena stays for reuse (the default threshold is 4 MiB)...
    assert len(owner._arenas) == 1
    assert owner._lengths == [mmap.PAGESIZE]
    kept = owner._arenas[0]
    owner._DISCARD_FREE_SPACE_LARGER_THAN = 0
    owner.free(owner.malloc(10))
    # ... and goes with its descriptor once the threshold allows.
    assert owner._arenas == []
    assert kept.fd == -1


def test_arenas_grow_and_big_requests_fit(fresh: Heap) -> None:
    sizes = []
    blocks = []
    for _ in range(4):
        block = fresh.malloc(mmap.PAGESIZE)
        blocks.append(block)
        sizes.append(block[0].size)
    assert sizes == sorted(sizes)
    assert sizes[-1] > sizes[0]
    huge = fresh.malloc(3 * 1024 * 1024 + 5)
    assert huge[0].size >= 3 * 1024 * 1024 + 8
    _check_layout(fresh)
    for block in [*blocks, huge]:
        fresh.free(block)


def test_random_use_keeps_the_layout(fresh: Heap) -> None:
    rng = random.Random(1234)
    live: list[Any] = []
    for _ in range(2000):
        live.append(BufferWrapper(int(rng.lognormvariate(0, 1) * 1000)))
        if len(live) > 40:
            del live[rng.randrange(len(live))]
    _check_layout(fresh)
    rng.shuffle(live)
    live.clear()
    assert fresh._n_frees == fresh._n_mallocs
    assert fresh._pending_free_blocks == []
    assert fresh._arenas == []


def test_free_while_the_heap_is_busy_is_deferred(fresh: Heap) -> None:
    block = fresh.malloc(16)
    keeper = fresh.malloc(16)  # keeps the arena in use
    with fresh._lock:
        fresh.free(block)  # as from a GC callback inside malloc: must not wait
        assert fresh._pending_free_blocks == [block]
    other = fresh.malloc(16)  # the next malloc does the free first
    assert fresh._pending_free_blocks == []
    assert other == block
    fresh.free(other)
    fresh.free(keeper)


def test_free_from_gc_cycles_does_not_deadlock(fresh: Heap) -> None:
    thresholds = gc.get_threshold()
    gc.set_threshold(10)
    try:
        for _ in range(2000):
            first = BufferWrapper(1)
            second = BufferWrapper(1)
            first.buddy = second  # type: ignore[attr-defined]
            second.buddy = first  # type: ignore[attr-defined]
    finally:
        gc.set_threshold(*thresholds)
    del first, second


def test_threads_share_the_heap(fresh: Heap) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def churn(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            mine = []
            for _ in range(500):
                wrapper = BufferWrapper(rng.randrange(1, 300))
                view = wrapper.create_memoryview()
                view[:] = bytes([seed]) * len(view)
                mine.append((wrapper, seed))
                if len(mine) > 10:
                    old, mark = mine.pop(rng.randrange(len(mine)))
                    assert set(old.create_memoryview()) <= {mark}
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    workers = [threading.Thread(target=churn, args=(n,)) for n in range(1, 5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    _check_layout(fresh)


def test_buffer_wrapper_views_and_bad_sizes(fresh: Heap) -> None:
    wrapper = BufferWrapper(10)
    view = wrapper.create_memoryview()
    assert len(view) == 10
    view[:] = b"0123456789"
    assert bytes(wrapper.create_memoryview()) == b"0123456789"
    view.release()
    with pytest.raises(ValueError, match="-1"):
        BufferWrapper(-1)
    with pytest.raises(ValueError, match="-5"):
        fresh.malloc(-5)
    with pytest.raises(OverflowError):
        fresh.malloc(1 << 70)
    with pytest.raises(ValueError, match="size"):
        Arena(0)


def test_arena_travels_only_as_a_descriptor() -> None:
    arena = Arena(mmap.PAGESIZE)
    arena.buffer[:4] = b"abcd"
    assert repr(arena).startswith("<Arena size=")
    arena._release_fd()
    from treadle.multiprocessing.reduction import ForkingPickler

    with pytest.raises(ValueError, match="descriptor"):
        ForkingPickler.dumps(arena)
    arena.buffer.close()


def test_fork_child_starts_a_heap_of_its_own(fresh: Heap) -> None:
    wrapper = BufferWrapper(8)
    wrapper.create_memoryview()[:3] = b"old"
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_shm_targets.allocate_in_fork_child, args=(wrapper,))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert fresh._n_mallocs == 1  # the child's allocation was its own


def test_no_room_for_an_arena_is_an_oserror(fresh: Heap, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(OSError, match="space") as caught:
        BufferWrapper(100)
    assert caught.value.errno == errno.ENOSPC
    assert fresh._arenas == []  # and the descriptor was closed (the leak check sees it)


def test_public_module() -> None:
    assert heap.__all__ == ["Arena", "BufferWrapper", "Heap"]
    assert Heap.__module__ == "treadle.multiprocessing.heap"
