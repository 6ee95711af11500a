"""The worker side of ProcessPoolExecutor: what runs in each worker process.

Kept apart from ``_process`` so that a spawned worker imports little: pickle, os, time
and signal, nothing of the executor's machinery.

Wire protocol on the worker's duplex pipe (one message = one ``send_bytes``):

- pool -> worker: the pickle of a list of ``(task_id, payload)``, *payload* being the
  pickle of ``(fn, args, kwargs)`` made at submit; an empty message asks the worker to
  leave.
- worker -> pool: the pickle of ``(outcomes, status)``. *outcomes* is a list of
  ``(task_id, how, payload)``: *payload* pickles the result (*how* is ``RETURNED``),
  ``(exception, traceback text)`` (``RAISED``) or the traceback text of a call that did
  not unpickle (``UNPICKLE_FAILED``), each on its own so that one outcome that does not
  (un)pickle fails alone. *status* is None while the worker goes on, ``("exit",
  unrun_ids)`` when it leaves by itself (``max_tasks_per_child`` or the memory limit;
  the tasks it was given and did not start go back to the pool), or ``("init",
  traceback text)`` when the initializer failed; ``("ready", None)`` first, once the
  initializer ran.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
import traceback
from typing import Any

__all__ = ["current_rss", "run_chunk", "serve"]

# Outcomes gathered while a batch runs go back at the end of the batch, or sooner once
# this much time passed since the last message: a long batch still reports as it goes.
_FLUSH_SECONDS = 0.005

# How a task ended, the second item of an outcome.
RETURNED = 1
RAISED = 0
UNPICKLE_FAILED = -1  # the call did not unpickle in the worker

_dumps = pickle.dumps
_loads = pickle.loads
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _TaskState:
    """Whether a task runs now: SIGINT interrupts a task, never the idle worker."""

    running = False


def _on_sigint(signum: int, frame: object) -> None:
    if _TaskState.running:
        raise KeyboardInterrupt
    # Idle: Ctrl-C reaches the whole process group; the pool decides what happens.


def current_rss() -> int | None:
    """Return the resident memory of this process in bytes (Linux ``/proc``), or None."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            fields = statm.read().split()
    except OSError:
        return None
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def run_chunk(fn: Any, chunk: list[tuple[Any, ...]]) -> list[Any]:
    """Call *fn* on each argument tuple of *chunk* (``map`` with ``chunksize`` > 1)."""
    return [fn(*args) for args in chunk]


def _failure(exc: BaseException) -> bytes:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    exc.__traceback__ = None  # the frames cannot travel and would keep the task alive
    try:
        return _dumps((exc, text), _PROTOCOL)
    except Exception as error:
        # The exception itself does not pickle: send what can be said about it.
        stand_in = RuntimeError(
            f"the task raised {type(exc).__name__}, which could not be pickled ({error}): {exc}"
        )
        return _dumps((stand_in, text), _PROTOCOL)


def _run_one(task_id: int, payload: bytes) -> tuple[int, int, bytes]:
    try:
        fn, args, kwargs = _loads(payload)
    except BaseException as exc:
        # The call itself did not arrive: the pool reports it as a BrokenProcessPool
        # (as the stdlib does), this traceback as its cause.
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return task_id, UNPICKLE_FAILED, _dumps(text, _PROTOCOL)
    try:
        _TaskState.running = True
        try:
            value = fn(*args, **kwargs)
        finally:
            _TaskState.running = False
        del fn, args, kwargs
    except BaseException as exc:
        return task_id, RAISED, _failure(exc)
    try:
        return task_id, RETURNED, _dumps(value, _PROTOCOL)
    except BaseException as exc:
        # The result does not pickle: the task fails with that error instead.
        return task_id, RAISED, _failure(exc)


def serve(
    conn: Any,
    initializer: Any,
    initargs: tuple[Any, ...],
    max_tasks: int | None,
    max_memory: int | None,
    *,
    stdlib_authkey: bytes | None = None,
    inherited: list[int] | None = None,
) -> None:
    """Serve the pool on *conn* until told to leave, or a limit is reached.

    *inherited* lists the pool's descriptors a fork copied into this worker (closed
    first). *stdlib_authkey* is the parent's stdlib ``multiprocessing`` authkey, given when this
    worker would not inherit it (see ``_process_pool._stdlib_authkey``): the stdlib's
    manager proxies in a call authenticate with it.
    """
    signal.signal(signal.SIGINT, _on_sigint)
    for fd in inherited or ():
        # The pool's descriptors a fork copied: with them closed, the pool's death
        # reads as end-of-file on *conn* and the worker leaves.
        try:
            os.close(fd)
        except OSError:
            pass
    if stdlib_authkey is not None:
        import multiprocessing.process  # noqa: PLC0415 - only a parent that had it

        multiprocessing.process.current_process().authkey = stdlib_authkey
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:
            import logging  # noqa: PLC0415 - only a failing initializer needs it

            logging.getLogger("concurrent.futures").critical(
                "Exception in initializer:", exc_info=True
            )
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            conn.send_bytes(_dumps(([], ("init", text)), _PROTOCOL))
            return
    conn.send_bytes(_dumps(([], ("ready", None)), _PROTOCOL))
    send = conn.send_bytes
    recv = conn.recv_bytes
    monotonic = time.monotonic
    done = 0
    while True:
        try:
            message = recv()
        except (EOFError, OSError):
            return  # the pool is gone
        if not message:
            return
        batch = _loads(message)
        del message
        outcomes = []
        flushed = monotonic()
        for index, (task_id, payload) in enumerate(batch):
            outcomes.append(_run_one(task_id, payload))
            done += 1
            leaving = (max_tasks is not None and done >= max_tasks) or (
                max_memory is not None and (current_rss() or 0) > max_memory
            )
            if leaving:
                unrun = [item[0] for item in batch[index + 1 :]]
                send(_dumps((outcomes, ("exit", unrun)), _PROTOCOL))
                return
            if index + 1 < len(batch) and monotonic() - flushed > _FLUSH_SECONDS:
                send(_dumps((outcomes, None), _PROTOCOL))
                outcomes = []
                flushed = monotonic()
        send(_dumps((outcomes, None), _PROTOCOL))
        del batch, outcomes
