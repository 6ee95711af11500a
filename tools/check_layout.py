"""Check that the monorepo keeps its layout rules.

    python tools/check_layout.py            # the tree this file lives in
    python tools/check_layout.py --root DIR # another tree (the tests use copies)

Runs on Python 3.11+ (tomllib) with ``packaging`` (hatch's own venv has it:
``.dev/venv/bin/python tools/check_layout.py``), best on the newest Python (it knows the
standard library's modules from ``sys.stdlib_module_names``). Prints one line per problem
and exits 1 when there is any, else prints a one-line summary and exits 0.

What it checks, for every ``packages/<x>/`` (the umbrella ``packages/treadle/`` has its
own rules):

* names: ``project.name`` is ``treadle-<x>``; the sources are
  ``src/treadle/<leaf>/__init__.py`` (leaf = x with '-' as '_') with ``py.typed`` beside
  it; ``treadle`` is a PEP 420 namespace (no ``src/treadle/__init__.py``, nothing else
  directly under ``src/treadle``); the wheel target is ``packages = ["src/treadle"]``;
* metadata: README.md and LICENSE, a static version, classifiers with ``Typing :: Typed``
  and every ``Python :: 3.1x`` from the requires-python floor to 3.14;
* tests: a ``tests/`` folder with a test file and no ``__init__.py``;
* the dependency graph between members is the one in DESIGN.md (``DESIGN_GRAPH`` below,
  restricted to the members that exist), has no cycle, and every sibling pin admits the
  sibling's version in the tree;
* every ``treadle.<y>`` import in a member's sources is the member itself or a declared
  dependency (an optional one, from an extra, is allowed too: it must be guarded);
* the root pyproject.toml lists every member in ``tool.mypy.mypy_path``,
  ``tool.hatch.envs.solo.sources`` and the solo matrix ``pkg``;
* every public ``__init__.py`` has an ``__all__`` whose names are all defined there;
* the layering (DESIGN.md, "Layers"): outside ``src/treadle/<leaf>/_native.py`` a member's
  sources test no ``sys.version_info`` (or ``sys.hexversion``), import no private stdlib
  module (``_thread``), import no private name from a stdlib module
  (``from threading import _shutdown``) and read no private attribute of a name bound to
  the stdlib (``threading._active``, ``std_threading.Thread._bootstrap``, also through
  ``getattr`` with a literal name); dunders are public. And only ``thread-core`` touches
  the private names of the stdlib's ``threading`` and ``_thread`` (``threading._active``,
  ``_thread._shutdown``), in its ``_native.py``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PackagingRequirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # pragma: no cover
    sys.exit(
        "tools/check_layout.py needs `packaging`: run it with hatch's own Python "
        "(.dev/venv/bin/python, which `bash tools/dev` sets up) or `pip install packaging`"
    )

ROOT = Path(__file__).resolve().parent.parent
UMBRELLA = "treadle"
NEWEST_MINOR = 14  # the newest CPython 3.x every package declares support for

# DESIGN.md's table, as data: folder -> (required siblings, {extra: optional siblings}).
DESIGN_GRAPH: dict[str, tuple[frozenset[str], dict[str, frozenset[str]]]] = {
    "thread-core": (frozenset(), {}),
    "contextvars": (frozenset(), {}),
    "threading": (frozenset({"thread-core", "contextvars"}), {}),
    "queue": (frozenset({"threading"}), {}),
    "sched": (frozenset({"threading"}), {}),
    "subprocess": (frozenset({"threading"}), {}),
    "multiprocessing": (frozenset({"threading", "queue"}), {}),
    "interpreters": (frozenset({"threading", "queue"}), {}),
    "futures": (
        frozenset({"threading", "queue", "contextvars"}),
        {
            "process": frozenset({"multiprocessing"}),
            "interpreters": frozenset({"interpreters"}),
        },
    ),
}

# ---------------------------------------------------------------------------------------
# Versions, specifiers and requirements: PEP 440 and PEP 508, by `packaging`
# ---------------------------------------------------------------------------------------


def specifier_admits(specifier: str, version_text: str) -> bool:
    """Whether ``version_text`` satisfies every clause of ``specifier`` (PEP 440).

    Pre-releases are admitted when the clauses admit them (``<V`` still excludes V's own
    pre-releases, as PEP 440 says). Raises ValueError for an invalid specifier or version.
    """
    return SpecifierSet(specifier).contains(Version(version_text), prereleases=True)


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return str(canonicalize_name(name))


@dataclass(frozen=True)
class Requirement:
    """A dependency string split into name, extras, specifier and marker."""

    text: str
    name: str
    extras: tuple[str, ...]
    specifier: str
    marker: str
    url: str

    @classmethod
    def parse(cls, text: str) -> Requirement:
        """Parse ``text`` (PEP 508); raise ValueError when it is not a requirement."""
        try:
            req = PackagingRequirement(text)
        except InvalidRequirement as exc:
            raise ValueError(f"cannot parse requirement {text!r}: {exc}") from exc
        return cls(
            text,
            canonical_name(req.name),
            tuple(sorted(req.extras)),
            str(req.specifier),
            str(req.marker or ""),
            req.url or "",
        )


# ---------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------


def leaf_of(folder: str) -> str:
    """The import leaf of a member folder: ``thread-core`` -> ``thread_core``."""
    return folder.replace("-", "_")


if sys.version_info >= (3, 11):
    import tomllib

    def load_toml(path: Path) -> dict[str, Any]:
        """Read a TOML file (raises ValueError when it is not valid TOML)."""
        with path.open("rb") as stream:
            return tomllib.load(stream)

else:  # pragma: no cover

    def load_toml(path: Path) -> dict[str, Any]:
        """Python 3.10 has no TOML parser in its standard library."""
        raise SystemExit("the repository tools need Python 3.11 or newer (they use tomllib)")


def _table(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """``data[k1][k2]...`` when every step is a table, else an empty dict."""
    current: Any = data
    for key in keys:
        if not isinstance(current, Mapping):
            return {}
        current = current.get(key, {})
    return dict(current) if isinstance(current, Mapping) else {}


@dataclass
class Member:
    """One ``packages/<folder>`` distribution, as its pyproject declares it."""

    folder: str
    path: Path
    pyproject: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def leaf(self) -> str:
        """Import leaf under ``treadle``."""
        return leaf_of(self.folder)

    @property
    def is_umbrella(self) -> bool:
        """Whether this is the code-less ``treadle`` distribution."""
        return self.folder == UMBRELLA

    @property
    def dist(self) -> str:
        """Expected distribution name."""
        return UMBRELLA if self.is_umbrella else f"treadle-{self.folder}"

    @property
    def project(self) -> dict[str, Any]:
        """The ``[project]`` table."""
        return _table(self.pyproject, "project")

    @property
    def version(self) -> str | None:
        """The static version, if any."""
        value = self.project.get("version")
        return value if isinstance(value, str) else None

    @property
    def requires_python(self) -> str:
        """``project.requires-python`` (empty when missing)."""
        value = self.project.get("requires-python", "")
        return value if isinstance(value, str) else ""

    def requirements(self) -> list[Requirement]:
        """Parsed ``project.dependencies`` (unparsable entries are recorded as problems)."""
        return self._parse_list(self.project.get("dependencies", []), "dependencies")

    def optional_requirements(self) -> dict[str, list[Requirement]]:
        """Parsed ``project.optional-dependencies`` per extra."""
        table = self.project.get("optional-dependencies", {})
        if not isinstance(table, Mapping):
            return {}
        return {
            str(extra): self._parse_list(items, f"optional-dependencies.{extra}")
            for extra, items in table.items()
        }

    def _parse_list(self, items: object, where: str) -> list[Requirement]:
        if not isinstance(items, list):
            return []
        parsed = []
        for item in items:
            try:
                parsed.append(Requirement.parse(str(item)))
            except ValueError as exc:
                self.problems.append(f"project.{where}: {exc}")
        return parsed


def discover(root: Path) -> tuple[list[Member], list[str]]:
    """Every ``packages/*/`` holding a pyproject.toml, plus problems found on the way."""
    members: list[Member] = []
    problems: list[str] = []
    packages = root / "packages"
    if not packages.is_dir():
        return members, [f"{packages}: no packages/ folder"]
    for path in sorted(packages.iterdir()):
        if not path.is_dir() or path.name.startswith((".", "_")):
            continue
        where = f"packages/{path.name}"
        pyproject = path / "pyproject.toml"
        if not pyproject.is_file():
            problems.append(f"{where}: no pyproject.toml")
            continue
        try:
            data = load_toml(pyproject)
        except ValueError as exc:  # tomllib.TOMLDecodeError
            problems.append(f"{where}/pyproject.toml: invalid TOML: {exc}")
            continue
        members.append(Member(path.name, path, data))
    return members, problems


def sibling_name_to_folder(name: str) -> str | None:
    """``treadle-queue`` -> ``queue``; ``treadle`` -> the umbrella; else None."""
    name = canonical_name(name)
    if name == UMBRELLA:
        return UMBRELLA
    if name.startswith("treadle-"):
        return name.removeprefix("treadle-")
    return None


# ---------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------


def _floor_minor(requires_python: str) -> int | None:
    """The lowest 3.x minor admitted by a ``>=3.x`` clause."""
    match = re.search(r">=\s*3\.(\d+)", requires_python)
    return int(match.group(1)) if match else None


def check_member_files(member: Member) -> Iterator[str]:
    """Names, namespace, py.typed, README/LICENSE, classifiers, wheel target, tests."""
    project = member.project
    name = project.get("name")
    if name != member.dist:
        yield f"project.name is {name!r}, expected {member.dist!r} (from the folder name)"
    if member.version is None:
        yield "project.version must be a static string (pins are checked against it)"
    else:
        try:
            Version(member.version)
        except ValueError as exc:
            yield f"project.version: {exc}"
    for required in ("README.md", "LICENSE"):
        if not (member.path / required).is_file():
            yield f"missing {required}"
    if member.is_umbrella:
        return

    src = member.path / "src" / "treadle"
    leaf_dir = src / member.leaf
    if not (leaf_dir / "__init__.py").is_file():
        yield f"missing src/treadle/{member.leaf}/__init__.py"
    if not (leaf_dir / "py.typed").is_file():
        yield f"missing src/treadle/{member.leaf}/py.typed"
    if (src / "__init__.py").exists():
        yield "src/treadle/__init__.py must not exist: treadle is a PEP 420 namespace"
    if (src / "py.typed").exists():
        yield "src/treadle/py.typed must not exist: py.typed belongs in the leaf package"
    if src.is_dir():
        for entry in sorted(src.iterdir()):
            if entry.name in (member.leaf, "__init__.py", "py.typed", "__pycache__"):
                continue
            yield (
                f"src/treadle/{entry.name} must not exist: only src/treadle/{member.leaf}/ "
                "belongs in this distribution"
            )

    classifiers = project.get("classifiers", [])
    if not isinstance(classifiers, list):
        classifiers = []
    if "Typing :: Typed" not in classifiers:
        yield "classifiers lack 'Typing :: Typed'"
    floor = _floor_minor(member.requires_python)
    if floor is None:
        yield f"project.requires-python {member.requires_python!r} has no '>=3.x' floor"
    else:
        for minor in range(floor, NEWEST_MINOR + 1):
            classifier = f"Programming Language :: Python :: 3.{minor}"
            if classifier not in classifiers:
                yield f"classifiers lack {classifier!r}"
        for classifier in classifiers:
            match = re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", str(classifier))
            if match and int(match.group(1)) < floor:
                yield f"classifier {classifier!r} is below requires-python {floor}"

    wheel = _table(member.pyproject, "tool", "hatch", "build", "targets", "wheel")
    if wheel.get("packages") != ["src/treadle"]:
        yield (
            '[tool.hatch.build.targets.wheel] must say packages = ["src/treadle"], '
            f"found {wheel.get('packages')!r}"
        )

    tests = member.path / "tests"
    if not tests.is_dir():
        yield "missing tests/ folder"
    else:
        if not any(tests.rglob("test_*.py")) and not any(tests.rglob("*_test.py")):
            yield "tests/ holds no test_*.py file"
        if (tests / "__init__.py").exists():
            yield "tests/__init__.py must not exist (tests run with --import-mode=importlib)"


def check_umbrella(umbrella: Member, others: list[Member]) -> Iterator[str]:
    """The code-less ``treadle`` distribution depends on every other member."""
    code = [
        p.relative_to(umbrella.path).as_posix()
        for p in umbrella.path.rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    if code:
        yield f"the umbrella distribution has no code, found {', '.join(sorted(code))}"
    declared: dict[str, Requirement] = {}
    for req in umbrella.requirements():
        folder = sibling_name_to_folder(req.name)
        if folder is not None:
            declared[folder] = req
    for other in others:
        if other.folder not in declared:
            yield f"the umbrella does not depend on {other.dist}"
    known = {m.folder for m in others}
    for folder in sorted(set(declared) - known):
        yield f"the umbrella depends on {declared[folder].name}, which is not in packages/"


def _design_edges(existing: set[str]) -> dict[str, tuple[set[str], dict[str, set[str]]]]:
    result: dict[str, tuple[set[str], dict[str, set[str]]]] = {}
    for folder, (required, extras) in DESIGN_GRAPH.items():
        if folder not in existing:
            continue
        opt = {extra: set(deps) & existing for extra, deps in extras.items()}
        result[folder] = (set(required) & existing, {e: d for e, d in opt.items() if d})
    return result


def _design_closure(
    design: Mapping[str, tuple[set[str], dict[str, set[str]]]], folder: str
) -> set[str]:
    """What DESIGN.md's required edges install along with *folder*, transitively."""
    seen: set[str] = set()
    todo = list(design.get(folder, (set(), {}))[0])
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            todo.extend(design.get(item, (set(), {}))[0])
    return seen


def _names(folders: Iterable[str]) -> str:
    return ", ".join(f"treadle-{f}" for f in sorted(folders)) or "(none)"


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


@dataclass
class Graph:
    """The sibling dependencies each member declares."""

    required: dict[str, set[str]] = field(default_factory=dict)
    optional: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def all_edges(self) -> dict[str, set[str]]:
        """Required and optional edges together."""
        edges: dict[str, set[str]] = {}
        for folder, deps in self.required.items():
            edges[folder] = set(deps)
            for opt in self.optional.get(folder, {}).values():
                edges[folder] |= opt
        return edges

    def closure(self, folder: str) -> set[str]:
        """Every member installed along with ``folder`` (its required deps, transitively)."""
        seen: set[str] = set()
        todo = list(self.required.get(folder, ()))
        while todo:
            item = todo.pop()
            if item not in seen:
                seen.add(item)
                todo.extend(self.required.get(item, ()))
        return seen


def check_graph(members: list[Member]) -> tuple[Graph, list[str]]:
    """Declared sibling deps against DESIGN.md, cycles, and pins against in-tree versions."""
    problems: list[str] = []
    by_folder = {m.folder: m for m in members}
    leaves = [m for m in members if not m.is_umbrella]
    existing = {m.folder for m in leaves}
    design = _design_edges(existing)
    graph = Graph()

    def sibling(member: Member, req: Requirement, where: str) -> str | None:
        folder = sibling_name_to_folder(req.name)
        if folder is None:
            return None
        prefix = f"packages/{member.folder}: {where}"
        other = by_folder.get(folder)
        if other is None or other.is_umbrella:
            problems.append(f"{prefix} names {req.name}, which is not a member in packages/")
            return None
        if req.url:
            problems.append(f"{prefix} {req.name} must be pinned by version, not by URL")
        elif not req.specifier:
            problems.append(f"{prefix} {req.name} has no version pin")
        elif other.version is not None:
            try:
                if not specifier_admits(req.specifier, other.version):
                    problems.append(
                        f"{prefix} pin {req.text!r} does not admit the "
                        f"in-tree version {other.version} of packages/{folder}"
                    )
            except ValueError as exc:
                problems.append(f"{prefix} pin {req.text!r}: {exc}")
        return folder

    for member in members:
        required: set[str] = set()
        for req in member.requirements():
            folder = sibling(member, req, "dependencies")
            if folder is not None:
                required.add(folder)
                if req.extras and not member.is_umbrella:
                    for extra in req.extras:
                        extra_deps = design.get(folder, (set(), {}))[1].get(extra, set())
                        required |= extra_deps
        optional: dict[str, set[str]] = {}
        for extra, reqs in member.optional_requirements().items():
            for req in reqs:
                folder = sibling(member, req, f"optional-dependencies.{extra}")
                if folder is not None:
                    optional.setdefault(extra, set()).add(folder)
        if member.is_umbrella:
            continue
        graph.required[member.folder] = required
        graph.optional[member.folder] = optional
        where = f"packages/{member.folder}"
        if member.folder not in DESIGN_GRAPH:
            problems.append(
                f"{where}: not in DESIGN.md's table (add it there and to DESIGN_GRAPH in "
                "tools/check_layout.py)"
            )
            continue
        want_required, want_optional = design[member.folder]
        # A member may also name what its DESIGN.md dependencies bring along anyway (queue
        # imports treadle.thread_core, which it gets through treadle-threading): declaring
        # such an edge adds nothing to what is installed, and keeps "imports only what it
        # declares" true. Anything outside that closure breaks the layering.
        allowed = want_required | _design_closure(design, member.folder)
        if not want_required <= required <= allowed:
            also = allowed - want_required
            problems.append(
                f"{where}: dependencies on siblings are {_names(required)}, DESIGN.md says "
                f"{_names(want_required)}" + (f" (and may add {_names(also)})" if also else "")
            )
        # An extra comes with the feature it installs (futures' [process] arrives with the
        # process pool, after treadle-multiprocessing): one DESIGN.md does not list, or a
        # listed one naming other siblings, is the error; one not declared yet is not.
        if any(
            extra not in want_optional or deps != want_optional[extra]
            for extra, deps in optional.items()
        ):
            have = "; ".join(f"[{e}] {_names(d)}" for e, d in sorted(optional.items()))
            want = "; ".join(f"[{e}] {_names(d)}" for e, d in sorted(want_optional.items()))
            problems.append(
                f"{where}: optional sibling dependencies are {have or '(none)'}, "
                f"DESIGN.md says {want or '(none)'}"
            )

    cycle = find_cycle(graph.all_edges())
    if cycle:
        problems.append("dependency cycle: " + " -> ".join(f"treadle-{f}" for f in cycle))
    return graph, problems


def _imported_leaves(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, leaf) for every import of ``treadle.<leaf>`` in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "treadle" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "treadle":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:
                for alias in node.names:
                    yield node.lineno, alias.name


def check_imports(member: Member, graph: Graph) -> Iterator[str]:
    """Imports of sibling packages in src/ (and tests/) match the declarations."""
    leaf_to_folder = {leaf_of(f): f for f in DESIGN_GRAPH} | {leaf_of(f): f for f in graph.required}
    required = graph.required.get(member.folder, set())
    optional = set().union(*graph.optional.get(member.folder, {}).values())
    for part, allowed in (
        ("src", required),
        ("tests", required | graph.closure(member.folder)),
    ):
        base = member.path / part
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(member.path).as_posix()
            try:
                tree = ast.parse(path.read_bytes(), filename=str(path))
            except SyntaxError as exc:
                yield f"{rel}: syntax error: {exc.msg} (line {exc.lineno})"
                continue
            for line, leaf in _imported_leaves(tree):
                if leaf == member.leaf:
                    continue
                folder = leaf_to_folder.get(leaf, leaf.replace("_", "-"))
                if folder in allowed or folder in optional:
                    continue
                yield (
                    f"{rel}:{line}: imports treadle.{leaf} but treadle-{folder} is not a "
                    "declared dependency"
                )


def _blocks(node: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement blocks nested directly in a compound statement."""
    for name in ("body", "orelse", "finalbody"):
        block = getattr(node, name, None)
        if isinstance(block, list):
            yield [child for child in block if isinstance(child, ast.stmt)]
    for handler in getattr(node, "handlers", None) or ():
        if isinstance(handler, ast.ExceptHandler):
            yield handler.body
    for case in getattr(node, "cases", None) or ():
        if isinstance(case, ast.match_case):
            yield case.body


def _bound_names(statements: list[ast.stmt]) -> tuple[set[str], bool]:
    """Names bound at module level (recursing into if/try/with/for), and a star flag."""
    names: set[str] = set()
    star = False

    def targets(node: ast.expr) -> Iterator[str]:
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Tuple | ast.List):
            for elt in node.elts:
                yield from targets(elt)
        elif isinstance(node, ast.Starred):
            yield from targets(node.value)

    def walk(body: list[ast.stmt]) -> None:
        nonlocal star
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "*":
                        star = True
                    else:
                        names.add(alias.asname or alias.name)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    names.update(targets(target))
            elif isinstance(node, ast.AugAssign):
                names.update(targets(node.target))
            elif isinstance(node, ast.AnnAssign):
                if node.value is not None:
                    names.update(targets(node.target))
            else:
                # Compound statements: if/for/while/with/try/match bind in their blocks.
                if isinstance(node, ast.For | ast.AsyncFor):
                    names.update(targets(node.target))
                elif isinstance(node, ast.With | ast.AsyncWith):
                    for item in node.items:
                        if item.optional_vars is not None:
                            names.update(targets(item.optional_vars))
                for block in _blocks(node):
                    walk(block)

    walk(statements)
    return names, star


def _dunder_all(tree: ast.Module) -> list[str] | None:
    """The strings listed in ``__all__`` (None when there is no ``__all__``)."""
    found: list[str] | None = None
    for node in ast.walk(tree):
        value: ast.expr | None = None
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ) or (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "__all__"
        ):
            value, found = node.value, []
        elif (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "__all__"
        ):
            value = node.value
            found = found or []
        if value is None or found is None:
            continue
        if isinstance(value, ast.List | ast.Tuple):
            found.extend(
                elt.value
                for elt in value.elts
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str)
            )
    return found


def check_dunder_all(member: Member) -> Iterator[str]:
    """Every public ``__init__.py`` under src/treadle has ``__all__`` naming defined names."""
    src = member.path / "src"
    if not src.is_dir():
        return
    for init in sorted(src.rglob("__init__.py")):
        rel_parts = init.relative_to(src).parts
        if any(part.startswith("_") for part in rel_parts[:-1]):
            continue  # a private package
        rel = init.relative_to(member.path).as_posix()
        try:
            tree = ast.parse(init.read_bytes(), filename=str(init))
        except SyntaxError as exc:
            yield f"{rel}: syntax error: {exc.msg} (line {exc.lineno})"
            continue
        exported = _dunder_all(tree)
        if exported is None:
            yield f"{rel}: no __all__"
            continue
        defined, star = _bound_names(tree.body)
        if star:
            continue
        for name in exported:
            if name not in defined:
                yield f"{rel}: __all__ lists {name!r}, which the module does not define"
        duplicates = sorted({n for n in exported if exported.count(n) > 1})
        if duplicates:
            yield f"{rel}: __all__ lists {', '.join(duplicates)} more than once"


# ---------------------------------------------------------------------------------------
# Layering: interpreter internals and version tests in _native.py only
# ---------------------------------------------------------------------------------------

NATIVE_MODULE = "_native.py"
THREAD_OWNER = "thread-core"  # the one member that touches the stdlib's thread internals
THREAD_MODULES = ("threading", "_thread")
VERSION_NAMES = ("sys.version_info", "sys.hexversion")
# Private modules newer than the Python this may run on (sys.stdlib_module_names is the
# running interpreter's list).
_NEWER_STDLIB = frozenset({"_interpreters", "_interpqueues", "_interpchannels"})
STDLIB = frozenset(sys.stdlib_module_names) | _NEWER_STDLIB


def _is_private(name: str) -> bool:
    """``_x`` and ``__x`` are private; ``__x__`` is not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_stdlib(dotted: str) -> bool:
    return dotted.split(".", maxsplit=1)[0] in STDLIB


def _stdlib_bindings(tree: ast.AST) -> dict[str, str]:
    """Names bound by imports from the stdlib anywhere in ``tree`` -> what they stand for.

    ``import threading as t`` -> ``t: threading``; ``import os.path`` -> ``os: os``;
    ``from threading import Thread as T`` -> ``T: threading.Thread``.
    """
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_stdlib(alias.name):
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        bound[top] = top
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and _is_stdlib(node.module)
        ):
            for alias in node.names:
                if alias.name != "*":
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _dotted(node: ast.expr, bound: Mapping[str, str]) -> str | None:
    """``a.b.c`` as the stdlib dotted name it reads (through ``bound``), or None."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in bound:
        return None
    return ".".join([bound[node.id], *reversed(attrs)])


def _private_stdlib_uses(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """(line, stdlib dotted name, what) for every private stdlib name ``tree`` touches."""
    bound = _stdlib_bindings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_stdlib(alias.name) and any(map(_is_private, alias.name.split("."))):
                    yield node.lineno, alias.name, f"imports {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not _is_stdlib(node.module):
                continue
            if any(map(_is_private, node.module.split("."))):
                first = next((a.name for a in node.names if _is_private(a.name)), None)
                name = node.module if first is None else f"{node.module}.{first}"
                yield node.lineno, name, f"imports from {node.module}"
                continue
            for alias in node.names:
                if _is_private(alias.name):
                    name = f"{node.module}.{alias.name}"
                    yield node.lineno, name, f"imports {alias.name} from {node.module}"
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            inner = node.value
            while isinstance(inner, ast.Attribute) and not _is_private(inner.attr):
                inner = inner.value
            if isinstance(inner, ast.Attribute):
                continue  # reported at the first private part of the chain
            used = _dotted(node, bound)
            if used is not None:
                yield node.lineno, used, f"uses {used}"
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            func, (obj, attr) = node.func, node.args[:2]
            owner = _dotted(obj, bound)
            literal = attr.value if isinstance(attr, ast.Constant) else None
            if (
                isinstance(func, ast.Name)
                and func.id in ("getattr", "setattr", "hasattr", "delattr")
                and owner is not None
                and isinstance(literal, str)
                and _is_private(literal)
            ):
                yield node.lineno, f"{owner}.{literal}", f"uses {owner}.{literal} ({func.id})"


def _version_tests(tree: ast.AST) -> Iterator[int]:
    """Lines that read ``sys.version_info`` or ``sys.hexversion``."""
    bound = _stdlib_bindings(tree)
    for node in ast.walk(tree):
        read: list[str | None]
        if isinstance(node, ast.ImportFrom):
            read = [f"{node.module}.{a.name}" for a in node.names] if node.level == 0 else []
        elif isinstance(node, ast.Attribute | ast.Name):
            read = [_dotted(node, bound)]
        else:
            continue
        if any(name in VERSION_NAMES for name in read):
            yield node.lineno


def check_layering(member: Member) -> Iterator[str]:
    """Version tests and private stdlib names only in ``_native.py`` (DESIGN.md, Layers)."""
    src = member.path / "src"
    if member.is_umbrella or not src.is_dir():
        return
    native = src / "treadle" / member.leaf / NATIVE_MODULE
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(member.path).as_posix()
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except SyntaxError:
            continue  # check_imports reports it
        found: list[tuple[int, str]] = []
        if path != native:
            found += [
                (line, "tests the Python version (sys.version_info belongs in _native.py)")
                for line in sorted(set(_version_tests(tree)))
            ]
        for line, name, what in _private_stdlib_uses(tree):
            top, *rest = name.split(".")
            thread_internal = top in THREAD_MODULES and any(map(_is_private, rest))
            if thread_internal and member.folder != THREAD_OWNER:
                found.append(
                    (line, f"{what}: only treadle-thread-core touches the stdlib's thread "
                     "internals (in its _native.py)")
                )  # fmt: skip
            elif path != native:
                found.append((line, f"{what}, a private stdlib name (it belongs in _native.py)"))
        for line, message in sorted(dict.fromkeys(found)):
            yield f"{rel}:{line}: {message}"


def _norm_path(text: str) -> str:
    return Path(text).as_posix().removeprefix("./").rstrip("/")


def check_root(root: Path, members: list[Member]) -> Iterator[str]:
    """The root pyproject's member lists match packages/*."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        yield "pyproject.toml: missing at the root"
        return
    try:
        data = load_toml(pyproject)
    except ValueError as exc:  # tomllib.TOMLDecodeError
        yield f"pyproject.toml: invalid TOML: {exc}"
        return
    leaves = [m for m in members if not m.is_umbrella]
    folders = {m.folder for m in leaves}

    mypy_path = _table(data, "tool", "mypy").get("mypy_path", [])
    if isinstance(mypy_path, str):
        mypy_path = [p for p in re.split(r"[,:]", mypy_path) if p]
    listed = {_norm_path(str(p)) for p in mypy_path}
    for member in leaves:
        if f"packages/{member.folder}/src" not in listed:
            yield f"pyproject.toml: tool.mypy.mypy_path lacks packages/{member.folder}/src"
    for entry in sorted(listed):
        match = re.fullmatch(r"packages/([^/]+)/src", entry)
        if match and match.group(1) not in folders:
            yield f"pyproject.toml: tool.mypy.mypy_path lists {entry}, which does not exist"

    solo = _table(data, "tool", "hatch", "envs", "solo")
    sources = solo.get("sources", {})
    sources = sources if isinstance(sources, Mapping) else {}
    by_name = {canonical_name(str(k)): v for k, v in sources.items()}
    for member in leaves:
        source = by_name.get(member.dist)
        if source is None:
            yield f"pyproject.toml: tool.hatch.envs.solo.sources lacks {member.dist}"
            continue
        path = source.get("path") if isinstance(source, Mapping) else source
        if not isinstance(path, str) or _norm_path(path) != f"packages/{member.folder}":
            yield (
                f"pyproject.toml: tool.hatch.envs.solo.sources.{member.dist} should point at "
                f"./packages/{member.folder}, found {source!r}"
            )
    for name in sorted(by_name):
        folder = sibling_name_to_folder(name)
        if folder is not None and folder != UMBRELLA and folder not in folders:
            yield f"pyproject.toml: tool.hatch.envs.solo.sources lists {name}, not in packages/"

    matrix = solo.get("matrix", [])
    pkgs: set[str] = set()
    if isinstance(matrix, list):
        for entry in matrix:
            if isinstance(entry, Mapping) and isinstance(entry.get("pkg"), list):
                pkgs.update(str(p) for p in entry["pkg"])
    for member in leaves:
        if member.folder not in pkgs:
            yield f"pyproject.toml: the solo matrix pkg lacks {member.folder!r}"
    for pkg in sorted(pkgs - folders):
        yield f"pyproject.toml: the solo matrix pkg lists {pkg!r}, not in packages/"


def check(root: Path) -> list[str]:
    """Every problem found in the tree at ``root`` (empty when the layout is right)."""
    members, problems = discover(root)
    leaves = [m for m in members if not m.is_umbrella]
    for member in members:
        where = f"packages/{member.folder}"
        problems.extend(f"{where}: {p}" for p in check_member_files(member))
        problems.extend(f"{where}: {p}" for p in check_dunder_all(member))
    graph, graph_problems = check_graph(members)
    problems.extend(graph_problems)
    for member in leaves:
        problems.extend(f"packages/{member.folder}/{p}" for p in check_imports(member, graph))
        problems.extend(f"packages/{member.folder}/{p}" for p in check_layering(member))
    for member in members:
        if member.is_umbrella:
            problems.extend(f"packages/treadle: {p}" for p in check_umbrella(member, leaves))
        problems.extend(f"packages/{member.folder}: {p}" for p in member.problems)
    problems.extend(check_root(root, members))
    return list(dict.fromkeys(problems))  # one line per problem, in order


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to check")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    problems = check(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layout: {len(problems)} problem(s) in {root}", file=sys.stderr)
        return 1
    members, _ = discover(root)
    print(f"check_layout: ok ({len(members)} distribution(s) in {root / 'packages'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
