"""Start-up hook of a conformance venv: puts treadle modules in place of stdlib ones.

The conformance tool copies this file into the site-packages of its venvs as
``_treadle_conformance_hook.py`` next to a ``.pth`` file that imports it, so it runs at the
start of every interpreter of the venv: the test process, multiprocessing spawn and
forkserver children, and ``sys.executable`` helpers started with ``-I``/``-E`` (the venv's
site-packages is processed even then).

The substitution spec is JSON, read from the environment variable ``TREADLE_CONFORMANCE_SPEC``
or, when the variable is absent (helpers that start children with a clean environment), from
``_treadle_conformance_spec.json`` next to this file, which the tool writes for one run and
removes afterwards. An empty variable, or no variable and no file, means "no substitution"
(the baseline run). Keys of the spec:

``substitute``  {stdlib name: treadle module name}
``preload``     stdlib modules imported for real first, so they keep the real modules
``src``         folders added to ``sys.path`` (the treadle packages' ``src``)
``fallback``    submodules of substituted modules (and their own submodules) that treadle
                does not provide yet: loaded from the stdlib's source file under the stdlib
                name, so their relative imports (``from . import connection``) get treadle's
                modules; a failure is recorded in ``FALLBACK_ERRORS`` and raised as an
                ImportError that names the module, never answered with the real stdlib package
``fallback_context`` names of a multiprocessing-like package's context API (``Lock``,
                ``Queue``, ``Pool``...) that treadle does not provide yet: the methods of the
                stdlib's ``context.BaseContext`` (its source run inside treadle's package) are
                added to treadle's ``BaseContext`` and, bound to ``_default_context``, to the
                package, where treadle has no such name; never replacing one of treadle's
``log``         file to which every process appends one JSON line: proof that it ran

This module must run on every Python the tool drives (3.10 and later) and import as little as
possible when there is no spec, so a baseline process is not disturbed.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # not imported at run time: keep start-up light
    from types import ModuleType
    from typing import Any

ENV_VAR = "TREADLE_CONFORMANCE_SPEC"
SPEC_FILE_NAME = "_treadle_conformance_spec.json"

SPEC: dict[str, Any] | None = None
"""The spec in force in this process, or None (baseline or no hook configuration)."""
SPEC_SOURCE: str | None = None
"""Where the spec came from: "env" or "file"."""
ERROR: str | None = None
"""Why the substitution failed in this process, or None."""
ACTIVE: dict[str, ModuleType] = {}
"""stdlib name -> the treadle module put in its place."""
REAL: dict[str, ModuleType] = {}
"""stdlib name -> the real stdlib module, when it had been imported (for the proof)."""
FALLBACK: dict[str, str] = {}
"""Fallback module loaded in this process -> the stdlib source file it was loaded from."""
FALLBACK_ERRORS: dict[str, str] = {}
"""Fallback module that failed to import in this process -> why."""
FALLBACK_CONTEXT: list[str] = []
"""Context API names this process took from the stdlib's context.py (``fallback-context``)."""


def _load_spec() -> tuple[dict[str, Any] | None, str | None]:
    raw = os.environ.get(ENV_VAR)
    source = "env"
    if raw is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), SPEC_FILE_NAME)
        try:
            with open(path, encoding="utf-8") as stream:
                raw = stream.read()
        except FileNotFoundError:
            return None, None
        source = "file"
    if not raw.strip():
        return None, None
    import json

    spec = json.loads(raw)
    if not isinstance(spec, dict) or not isinstance(spec.get("substitute"), dict):
        raise ValueError(f"malformed {ENV_VAR} spec: {raw[:200]!r}")
    return spec, source


def _target_name(mapping: dict[str, str], fullname: str) -> str | None:
    """The treadle module name that stands for the stdlib module *fullname*, or None."""
    if fullname in mapping:
        return mapping[fullname]
    best: str | None = None
    for std in mapping:
        if fullname.startswith(std + ".") and (best is None or len(std) > len(best)):
            best = std
    if best is None:
        return None
    return mapping[best] + fullname[len(best) :]


class _Loader:
    """Hands out an already imported treadle module under the stdlib name."""

    def __init__(self, module: ModuleType, after: Any = None) -> None:
        self.module = module
        self.own_spec = getattr(module, "__spec__", None)
        self.after = after

    def create_module(self, spec: object) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just set __spec__ to the stdlib-named spec: give the treadle
        # module its own back, so it stays what it is (reload, pickling by module, reprs).
        if self.own_spec is not None:
            module.__spec__ = self.own_spec
        if self.after is not None:  # once in sys.modules under the stdlib name
            self.after()


def _stdlib_source(fullname: str) -> tuple[str, list[str] | None] | None:
    """The source file of the real module *fullname* (and its folders if a package), or None.

    Looked up on ``sys.path`` by the path finder itself, bypassing ``sys.modules`` and the
    substitution; only a ``.py`` source counts.
    """
    import importlib.machinery

    parts = fullname.split(".")
    locations: list[str] | None = None
    spec: Any = None
    for depth in range(1, len(parts) + 1):
        if depth > 1 and locations is None:
            return None  # a module where a package was needed
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), locations)
        if spec is None:
            return None
        found = spec.submodule_search_locations
        locations = list(found) if found is not None else None
    origin = getattr(spec, "origin", None)
    if not isinstance(origin, str) or not origin.endswith(".py"):
        return None
    return origin, locations


def _fallback_spec(fullname: str, owner: str) -> Any:
    """A spec that loads the stdlib's own source of *fullname* under that name.

    *owner* is the treadle module that stands for the package *fullname* belongs to (for
    messages). The module's package is the substituted one, so its relative imports resolve
    to treadle's modules.
    """
    import importlib.machinery
    import importlib.util

    found = _stdlib_source(fullname)
    if found is None:
        message = f"fallback module {fullname} has no stdlib source file"
        FALLBACK_ERRORS[fullname] = message
        raise ModuleNotFoundError(f"treadle conformance: {message}", name=fullname)
    source, locations = found

    class FallbackLoader(importlib.machinery.SourceFileLoader):
        def exec_module(self, module: ModuleType) -> None:
            try:
                super().exec_module(module)
            except BaseException as exc:
                message = (
                    f"fallback module {fullname} (the stdlib's {source}) failed to import "
                    f"on top of {owner}: {type(exc).__name__}: {exc}"
                )
                FALLBACK_ERRORS.setdefault(fullname, message)
                raise ImportError(f"treadle conformance: {message}", name=fullname) from exc
            FALLBACK[fullname] = source

    return importlib.util.spec_from_file_location(
        fullname,
        source,
        loader=FallbackLoader(fullname, source),
        submodule_search_locations=locations,
    )


class _Finder:
    """Meta-path finder: ``import <stdlib name>`` (or a submodule) gets the treadle module.

    Used when the name is not (or no longer) in ``sys.modules``, e.g. by
    ``test.support.import_helper.import_fresh_module``, which removes it before importing.
    A name in *fallback* (or below one) gets the stdlib's source instead (see the module's
    docstring).
    """

    def __init__(
        self,
        mapping: dict[str, str],
        fallback: tuple[str, ...] = (),
        on_first_import: dict[str, Any] | None = None,
    ) -> None:
        self.mapping = mapping
        self.fallback = fallback
        self.on_first_import = on_first_import if on_first_import is not None else {}

    def _fallback_alias(self, fullname: str) -> str | None:
        """The stdlib name of a fallback module that *fullname* (a treadle name) stands for."""
        for std, tre in self.mapping.items():
            if fullname.startswith(tre + "."):
                std_name = std + fullname[len(tre) :]
                if any(std_name == f or std_name.startswith(f + ".") for f in self.fallback):
                    return std_name
        return None

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> Any:
        for fallen in self.fallback:
            if fullname == fallen or fullname.startswith(fallen + "."):
                stds = [std for std in self.mapping if fullname.startswith(std + ".")]
                owner = self.mapping[max(stds, key=len)] if stds else "treadle"
                return _fallback_spec(fullname, owner)
        alias = self._fallback_alias(fullname)
        if alias is not None:
            # Imported here, not above: a finder that imports before knowing the name is its
            # own recurses (importlib.machinery itself comes through here at start-up).
            import importlib
            import importlib.machinery

            # ``from . import pool`` in a fallback module asks the package (treadle's) for
            # ``<its __name__>.pool``: give it the one fallback module, never a second copy.
            same: Any = _Loader(importlib.import_module(alias))
            return importlib.machinery.ModuleSpec(
                fullname, same, is_package=hasattr(same.module, "__path__")
            )
        name = _target_name(self.mapping, fullname)
        if name is None:
            return None
        import importlib
        import importlib.machinery

        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            # Never fall through to the real stdlib module: that would test the stdlib.
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (treadle conformance: {name!r} does not exist)",
                name=fullname,
            ) from None
        # duck-typed: importlib.abc would import typing
        loader: Any = _Loader(module, self.on_first_import.pop(fullname, None))
        return importlib.machinery.ModuleSpec(
            fullname, loader, is_package=hasattr(module, "__path__")
        )


def install(spec: dict[str, Any]) -> None:
    """Put the treadle modules of *spec* in place of the stdlib ones in this process."""
    import functools
    import importlib

    for folder in spec.get("src", []):
        if folder not in sys.path:
            sys.path.append(folder)
    for name in spec.get("preload", []):
        importlib.import_module(name)
    mapping: dict[str, str] = dict(spec["substitute"])
    # Import treadle's modules first: they may import the real stdlib modules themselves
    # (thread_core imports the real _thread) and must get the real ones.
    modules = {std: importlib.import_module(tre) for std, tre in mapping.items()}
    for std in mapping:
        real = sys.modules.get(std)
        if real is not None and real is not modules[std]:
            REAL[std] = real
        # Submodules of the real module imported so far must not be found in sys.modules.
        for key in [k for k in sys.modules if k.startswith(std + ".")]:
            del sys.modules[key]
    for std, module in modules.items():
        ACTIVE[std] = module
        if std not in REAL:
            # Not imported yet in this process: left to the finder, so that the process looks
            # as it would with the stdlib (a test checks that `-I -c "import sys"` has not
            # imported multiprocessing yet).
            continue
        sys.modules[std] = module
        parent, _, child = std.rpartition(".")
        if parent:
            setattr(importlib.import_module(parent), child, module)
    names = list(spec.get("fallback_context", ()))
    # The stdlib's context.py runs inside the package, which imports the package: done when
    # the process first imports it (at once if it is imported already), so that a process
    # that never asks for it does not get it.
    later: dict[str, Any] = {}
    now: list[Any] = []
    for std, module in modules.items() if names else ():
        fill = functools.partial(_fill_context, std, module, names)
        if std in REAL:
            now.append(fill)
        else:
            later[std] = fill
    sys.meta_path.insert(0, _Finder(mapping, tuple(spec.get("fallback", ())), later))
    for fill in now:
        fill()


def _fill_context(std: str, package: ModuleType, names: list[str]) -> None:
    """Give treadle's context API the *names* it lacks, from the stdlib's own context.py.

    For packages built like multiprocessing: ``<package>.context.BaseContext`` gets the
    stdlib's ``BaseContext`` methods it does not have, and the package the methods of its
    ``context._default_context`` as attributes (the stdlib's ``__init__`` exports them that
    way). The stdlib's context.py runs under a private name inside the substituted package,
    so its methods' relative imports (``from .synchronize import Lock``) reach the fallback
    modules and treadle's. A failure is recorded in ``FALLBACK_ERRORS``.
    """
    import importlib
    import importlib.util

    label = f"{std}.context (context API {', '.join(names)})"
    try:
        ours = importlib.import_module(package.__name__ + ".context")
        found = _stdlib_source(std + ".context")
        if found is None:
            raise ImportError(f"no stdlib source for {std}.context")
        name = f"{std}._treadle_conformance_stdlib_context"
        spec = importlib.util.spec_from_file_location(name, found[0])
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {found[0]}")
        theirs = importlib.util.module_from_spec(spec)
        sys.modules[name] = theirs
        spec.loader.exec_module(theirs)
        for attr in names:
            method = theirs.BaseContext.__dict__[attr]
            if not hasattr(ours.BaseContext, attr):
                setattr(ours.BaseContext, attr, method)
                FALLBACK_CONTEXT.append(f"BaseContext.{attr}")
            if not hasattr(package, attr):
                setattr(package, attr, getattr(ours._default_context, attr))
                FALLBACK_CONTEXT.append(f"{std}.{attr}")
    except BaseException as exc:
        FALLBACK_ERRORS[label] = (
            f"fallback of {label} (the stdlib's context.py) failed on top of "
            f"{package.__name__}: {type(exc).__name__}: {exc}"
        )


def _log(spec: dict[str, Any]) -> None:
    path = spec.get("log")
    if not path:
        return
    import json

    record = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "argv": list(getattr(sys, "orig_argv", sys.argv)),
        "source": SPEC_SOURCE,
        "ok": ERROR is None,
        "error": ERROR,
        "substituted": {std: module.__name__ for std, module in ACTIVE.items()},
    }
    line = (json.dumps(record) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _main() -> None:
    global SPEC, SPEC_SOURCE, ERROR
    try:
        SPEC, SPEC_SOURCE = _load_spec()
    except Exception as exc:
        ERROR = f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"treadle conformance hook: bad spec: {ERROR}\n")
        return
    if SPEC is None:
        return
    try:
        install(SPEC)
    except BaseException as exc:
        ERROR = f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"treadle conformance hook: substitution failed: {ERROR}\n")
    _log(SPEC)


_main()
