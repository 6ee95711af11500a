"""Type tests of treadle.multiprocessing (part 1): processes, contexts, util."""

from __future__ import annotations

import os
from typing import Any

from typing_extensions import assert_type

from treadle import multiprocessing
from treadle.multiprocessing import context, process, util


def work(x: int) -> None:  # noqa: D103
    ...


# Process: a class (it can be subclassed and used in annotations).
p = multiprocessing.Process(target=work, args=(1,), kwargs=None, name="w", daemon=True)
assert_type(p, multiprocessing.Process)
p.start()
assert_type(p.join(timeout=1.5), None)
assert_type(p.join(), None)
assert_type(p.is_alive(), bool)
assert_type(p.exitcode, int | None)
assert_type(p.pid, int | None)
assert_type(p.ident, int | None)
assert_type(p.sentinel, int)
assert_type(p.name, str)
assert_type(p.daemon, bool)
assert_type(p.authkey, bytes)
p.terminate()
p.kill()
p.interrupt()
p.kill_tree()
p.close()


class Worker(multiprocessing.Process):  # noqa: D101
    def run(self) -> None:  # noqa: D102
        ...


w: process.BaseProcess = Worker()

# Module functions.
assert_type(multiprocessing.current_process(), process.BaseProcess)
assert_type(multiprocessing.parent_process(), process.BaseProcess | None)
assert_type(multiprocessing.active_children(), list[process.BaseProcess])
assert_type(multiprocessing.cpu_count(), int)
assert_type(multiprocessing.get_all_start_methods(), list[str])
assert_type(multiprocessing.get_start_method(), str | None)
assert_type(multiprocessing.get_start_method(allow_none=True), str | None)
multiprocessing.set_start_method("spawn", force=True)
multiprocessing.set_executable(os.path.join("/usr", "bin", "python3"))
multiprocessing.freeze_support()

# Contexts.
ctx = multiprocessing.get_context("spawn")
assert_type(ctx, context.BaseContext)
sp = ctx.Process(target=work, args=(2,))
assert_type(sp, process.BaseProcess)
spawn_ctx: context.BaseContext = context.SpawnContext()

# Exceptions.
err: multiprocessing.ProcessError = multiprocessing.TimeoutError()
auth: multiprocessing.ProcessError = multiprocessing.AuthenticationError()
short: multiprocessing.ProcessError = multiprocessing.BufferTooShort(b"")

# util.
fin = util.Finalize(p, print, args=("done",), exitpriority=1)
assert_type(fin.still_active(), bool)
fin.cancel()
util.register_after_fork(p, lambda obj: None)
assert_type(util.get_temp_dir(), str)
assert_type(util.is_exiting(), bool)
assert_type(util.is_abstract_socket_namespace("\0x"), bool)
logger: Any = util.get_logger()

# What must fail.
multiprocessing.Process(target=work, daemon="yes")  # type: ignore[arg-type]
multiprocessing.get_context(3)  # type: ignore[arg-type]
p.join(timeout="soon")  # type: ignore[arg-type]
util.Finalize(p, print, exitpriority="high")  # type: ignore[arg-type]
multiprocessing.set_executable(3)  # type: ignore[arg-type]
