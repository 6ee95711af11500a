"""Starting a child from nothing: what it must know of its parent, and its first steps.

The parent sends a child (spawn or forkserver) two pickles over a pipe: the preparation
data (sys.path, argv, working directory, authkey, logging, how to re-import the parent's
``__main__``), then the process object. A spawned child runs::

    python <flags> -c "...; from treadle.multiprocessing._spawn import spawn_main; \
spawn_main(<payload fd>, <tracker fd>)" --multiprocessing-fork

and imports little more than this module, the C unpickler and what the process object
needs.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import os
import sys

from . import _context, _native, _util
from . import _process as process

# Annotations only: importing typing would cost every spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

__all__ = [
    "freeze_support",
    "get_command_line",
    "get_executable",
    "get_preparation_data",
    "import_main_path",
    "is_forking",
    "prepare",
    "run_child",
    "set_executable",
    "spawn_main",
    "write_payload",
]

_FORK_FLAG = "--multiprocessing-fork"

_executable: str = sys.executable


def set_executable(executable: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> None:
    """Start spawned children (and the package's helpers) with *executable*."""
    global _executable
    given: object = executable
    if not isinstance(given, (str, bytes, os.PathLike)):
        kind = type(given).__name__
        raise TypeError(f"executable must be a str, bytes or os.PathLike object, not {kind}")
    _executable = os.fsdecode(executable)


def get_executable() -> str:
    """Return the interpreter spawned children run."""
    return _executable


def is_forking(argv: list[str]) -> bool:
    """Whether *argv* is the command line of a spawned child."""
    return len(argv) >= 2 and argv[1] == _FORK_FLAG


def freeze_support() -> None:
    """In a frozen executable started as a spawn child: run the child, then exit."""
    if is_forking(sys.argv):
        values: dict[str, int | None] = {}
        for arg in sys.argv[2:]:
            name, _, value = arg.partition("=")
            values[name] = None if value == "None" else int(value)
        spawn_main(values.get("payload_fd", -1) or -1, values.get("tracker_fd"))


def _package_roots() -> list[str]:
    # Where the portions of the ``treadle`` namespace live: a child started with -S or
    # -I (or one whose parent added a path at run time) must find this package before
    # it has read its parent's sys.path.
    import treadle

    return [os.path.dirname(portion) for portion in treadle.__path__]


def get_command_line(payload_fd: int, tracker_fd: int | None) -> list[str]:
    """Return the argv that starts a spawned child reading its payload from *payload_fd*."""
    from . import _native

    roots = _package_roots()
    code = (
        f"import sys; sys.path += [p for p in {roots!r} if p not in sys.path]; "
        "from treadle.multiprocessing._spawn import spawn_main; "
        f"spawn_main({payload_fd}, {tracker_fd})"
    )
    if getattr(sys, "frozen", False):
        return [_executable, _FORK_FLAG, f"payload_fd={payload_fd}", f"tracker_fd={tracker_fd}"]
    return [_executable, *_native.interpreter_flags(), "-c", code, _FORK_FLAG]


def spawn_main(payload_fd: int, tracker_fd: int | None = None) -> None:
    """Run the spawned child (its entry point): the process object, then exit."""
    parent_sentinel = os.dup(payload_fd)
    code = run_child(payload_fd, parent_sentinel, tracker_fd=tracker_fd)
    sys.exit(code)


# ---------------------------------------------------------------------------------------
# Parent side.


def _check_not_importing_main() -> None:
    if getattr(process.current_process(), "_inheriting", False):
        raise RuntimeError(
            "An attempt has been made to start a new process before the current process "
            "has finished its bootstrapping phase.\n\n"
            "This probably means that you are not using fork to start your child "
            "processes and you have forgotten to use the proper idiom in the main "
            "module:\n\n"
            "    if __name__ == '__main__':\n"
            "        freeze_support()\n"
            "        ...\n\n"
            'The "freeze_support()" line can be omitted if the program is not going '
            "to be frozen to produce an executable.\n\n"
            'To fix this issue, refer to the "Safe importing of main module" section in '
            "https://docs.python.org/3/library/multiprocessing.html"
        )


def get_preparation_data(name: str) -> dict[str, Any]:
    """Return what a new child needs to know of this process before it unpickles."""
    _check_not_importing_main()
    me = process.current_process()
    path = list(sys.path)
    if "" in path and process.ORIGINAL_DIR is not None:
        path[path.index("")] = process.ORIGINAL_DIR
    data: dict[str, Any] = {
        "name": name,
        "authkey": me.authkey,
        "log_to_stderr": _util._log_to_stderr,
        "sys_path": path,
        "sys_argv": sys.argv,
        "orig_dir": process.ORIGINAL_DIR,
        "dir": os.getcwd(),
        # allow_none: preparing a child must not fix the default start method (3.14.3).
        "start_method": _context._default_context.get_start_method(allow_none=True),
    }
    if _util._logger is not None:
        data["log_level"] = _util._logger.getEffectiveLevel()
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is not None:
        data["init_main_from_name"] = spec_name
    else:
        main_path = getattr(main, "__file__", None)
        if main_path is not None:
            if not os.path.isabs(main_path) and process.ORIGINAL_DIR is not None:
                main_path = os.path.join(process.ORIGINAL_DIR, main_path)
            data["init_main_from_path"] = main_path = os.path.normpath(main_path)
            compiled = _compiled_main(main_path)
            if compiled is not None:
                data["main_code"] = compiled
    return data


# The parent's main script, compiled once for all its children: ((path, mtime_ns, size),
# marshalled code) of the latest compiled.
_main_code_cache: tuple[tuple[str, int, int], bytes] | None = None
_MAIN_CODE_LIMIT = 1 << 20  # bytes of source; a larger script is compiled by each child


def _compiled_main(path: str) -> tuple[bytes | None, int, int, int, bytes] | None:
    """Return the main script's code, marshalled, with what a child checks before use.

    A new child's first ``compile()`` costs about 2 ms (the compiler creates its AST
    types on first use); unmarshalling the parent's compilation costs almost nothing.
    The child uses it only if its bytecode magic and optimisation level are the parent's
    and the file's modification time and size are those compiled here.
    """
    global _main_code_cache
    if not path.endswith(".py"):
        return None
    try:
        stat = os.stat(path)
        if stat.st_size > _MAIN_CODE_LIMIT:
            return None
        key = (path, stat.st_mtime_ns, stat.st_size)
        if _main_code_cache is None or _main_code_cache[0] != key:
            compiled = _compile_to_bytes(path, stat.st_size)
            if compiled is None:
                return None
            _main_code_cache = (key, compiled)
        blob = _main_code_cache[1]
    except OSError:
        return None
    return (_native.bytecode_magic(), sys.flags.optimize, stat.st_mtime_ns, stat.st_size, blob)


def _compile_to_bytes(path: str, size: int) -> bytes | None:
    import marshal
    import warnings

    with open(path, "rb") as source:
        text = source.read()
    if len(text) != size:
        return None  # changed while we looked: let the child read it
    # The parent has shown this script's compile-time warnings already; an error is
    # left for the child to report, as it would be without this shortcut.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = compile(text, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return None
    return marshal.dumps(code)


def _reuse_main_code(path: str, compiled: Any) -> Any:
    """Return the code object the parent sent, if it is valid here for *path*; else None."""
    try:
        magic, optimize, mtime_ns, size, blob = compiled
        stat = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    if magic is None or magic != _native.bytecode_magic() or optimize != sys.flags.optimize:
        return None
    if (stat.st_mtime_ns, stat.st_size) != (mtime_ns, size):
        return None
    import marshal

    try:
        return marshal.loads(blob)
    except (EOFError, TypeError, ValueError):
        return None


def write_payload(
    stream: IO[bytes] | int, preparation_data: dict[str, Any], process_obj: Any
) -> None:
    """Write the two pickles a new child reads: *preparation_data*, then *process_obj*.

    Call it while ``set_spawning_popen`` names the Popen. When the process object cannot
    be pickled, the error names the path of the culprit (``args[1].callback: ...``),
    and nothing is written.
    """
    import io

    from ._reduction import ForkingPickler

    buffer = io.BytesIO()
    ForkingPickler(buffer).dump(preparation_data)
    try:
        ForkingPickler(buffer).dump(process_obj)
    except Exception as exc:
        from . import _picklecheck

        _picklecheck.raise_for(process_obj, exc)
        raise
    from . import _picklecheck

    _picklecheck.check_main_importable(buffer.getbuffer(), process_obj)
    if isinstance(stream, int):
        view = buffer.getbuffer()
        while view:
            written = os.write(stream, view)
            view = view[written:]
    else:
        stream.write(buffer.getbuffer())


# ---------------------------------------------------------------------------------------
# Child side.


def run_child(fd: int, parent_sentinel: int | None, *, tracker_fd: int | None = None) -> int:
    """In a new child: read the payload from *fd* (then close it), prepare, run.

    Returns the exit code of the process object's run. *tracker_fd*, if given, is the
    descriptor of the parent's resource tracker, which the child adopts.
    """
    load = _native.payload_loader()

    if tracker_fd is not None:
        from . import _tracker  # type: ignore[attr-defined,unused-ignore]

        _tracker.adopt(tracker_fd)
    with open(fd, "rb", closefd=True) as source:
        me = process.current_process()
        me._inheriting = True  # type: ignore[attr-defined]
        try:
            prepare(load(source))
            process_obj = load(source)
        finally:
            del me._inheriting  # type: ignore[attr-defined]
    code: int = process_obj._bootstrap(parent_sentinel)
    return code


_old_main_modules: list[Any] = []


def prepare(data: dict[str, Any]) -> None:
    """In a new child: take over the parent's state described by *data*."""
    # Each known key, in this order; the main module comes last (it may import
    # anything, so sys.path, argv and the working directory must be the parent's).
    for key, apply in _PREPARE_STEPS:
        if key in data:
            apply(data[key])
    main_name = data.get("init_main_from_name")
    main_path = data.get("init_main_from_path")
    if main_name is not None:
        _main_from_name(main_name)
    elif main_path is not None:
        import_main_path(main_path, data.get("main_code"))


def _set_name(name: str) -> None:
    process.current_process().name = name


def _set_authkey(key: bytes) -> None:
    process.current_process().authkey = key


def _set_stderr_logging(wanted: bool) -> None:
    if wanted:
        _util.log_to_stderr()


def _set_log_level(level: int) -> None:
    _util.get_logger().setLevel(level)


def _set_sys(name: str) -> Any:
    return lambda value: setattr(sys, name, value)


def _set_original_dir(path: str | None) -> None:
    process.ORIGINAL_DIR = path


def _set_start_method(method: str | None) -> None:
    if method is not None:
        _context._force_start_method(method)


_PREPARE_STEPS: tuple[tuple[str, Any], ...] = (
    ("name", _set_name),
    ("authkey", _set_authkey),
    ("log_to_stderr", _set_stderr_logging),
    ("log_level", _set_log_level),
    ("sys_path", _set_sys("path")),
    ("sys_argv", _set_sys("argv")),
    ("dir", os.chdir),
    ("orig_dir", _set_original_dir),
    ("start_method", _set_start_method),
)


def _install_main(module: Any) -> None:
    _old_main_modules.append(sys.modules.get("__main__"))
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def _main_from_name(name: str) -> None:
    # `python -m pkg` runs pkg.__main__, which is not re-run (it would start the
    # program again); nor is a main module the child already runs.
    if name == "__main__" or name.endswith(".__main__"):
        return
    current = sys.modules.get("__main__")
    if getattr(getattr(current, "__spec__", None), "name", None) == name:
        return
    import runpy

    module = type(sys)("__mp_main__")
    module.__dict__.update(runpy.run_module(name, run_name="__mp_main__", alter_sys=True))
    _install_main(module)


def import_main_path(main_path: str, compiled: Any = None) -> None:
    """Run the parent's main script as the module ``__mp_main__`` (guarded code skipped).

    *compiled* is the parent's compilation of it (``main_code`` in the preparation
    data), used when still valid.
    """
    current = sys.modules.get("__main__")
    if getattr(current, "__file__", None) == main_path:
        return
    if os.path.splitext(os.path.basename(main_path))[0] == "ipython":
        return
    if not main_path.endswith(".py") or not os.path.isfile(main_path):
        # A directory or a zip file with __main__.py: runpy knows how to run those.
        import runpy

        module = type(sys)("__mp_main__")
        module.__dict__.update(runpy.run_path(main_path, run_name="__mp_main__"))
        _install_main(module)
        return
    # A plain script: compile and run it in a fresh module, without importing runpy.
    code = _reuse_main_code(main_path, compiled)
    if code is None:
        with open(main_path, "rb") as source:
            # dont_inherit: this module's own __future__ imports are not the script's.
            code = compile(source.read(), main_path, "exec", dont_inherit=True)
    module = type(sys)("__mp_main__")
    module.__dict__.update(
        __file__=main_path, __cached__=None, __loader__=None, __package__="", __spec__=None
    )
    _install_main(module)
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules["__main__"] = _old_main_modules.pop()
        sys.modules.pop("__mp_main__", None)
        raise
