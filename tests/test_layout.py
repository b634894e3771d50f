"""The package's layout, read from its code: subpackages by job, imports in one direction.

Every import of one ``sklearn_pillars`` module by another is found with :mod:`ast`
(inside functions too). The subpackages form layers: each imports only from the
layers below it, so there is no import cycle; no module imports another
subpackage's private module; and imports sit at module level, except those of
optional extras and of platform modules.
"""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

import sklearn_pillars

PACKAGE = Path(sklearn_pillars.__file__).parent

#: Bottom to top: a subpackage (or top-level module) imports only from the layers before it.
LAYERS = [
    {"_version", "exceptions", "constants"},
    {"utils"},
    {"io"},
    {"lattice"},
    {"tiling"},
    {"features", "synthetic"},
    {"peel"},
    {"report"},
    {"batch"},
    {"cli"},
    {"_launcher"},
    {"__init__", "__main__"},
]
#: Old homes of public names (before 0.3): they re-export and nothing in the package uses them.
COMPAT_MODULES = {
    "classifier",
    "context",
    "limits",
    "persist",
    "presets",
    "report_stream",
    "sanity",
    "stages",
    "streaming",
    "tileset",
    "transformers",
}
#: The only imports allowed inside functions, each with a comment saying why: the
#: optional extras [cli] (skops, matplotlib, tqdm) and [dask], and POSIX-only fcntl.
LAZY_IMPORTS = {"skops", "matplotlib", "tqdm", "dask", "distributed", "fcntl"}
#: The command's launcher loads the command in its function, after its signal handlers.
LAUNCHER_IMPORT = ("_launcher.py", "sklearn_pillars.cli")


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path):
    return path.name == "__init__.py"


def imports(path):
    """(imported module, line, inside a function) of every import in the file at ``path``."""
    return [(target, line, inside) for target, line, inside, _ in imports_and_names(path)]


def imports_and_names(path):
    """(imported module, line, inside a function, name or None) of every import at ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")
    base = here if is_package(path) else here[:-1]
    nested = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(fn)
    }
    found = []
    for node in ast.walk(tree):
        inside = id(node) in nested
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, inside, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - node.level + 1]
                target = ".".join(parent + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                # ``from package import submodule`` imports the submodule
                candidate = f"{target}.{alias.name}"
                try:
                    spec = importlib.util.find_spec(candidate)
                except (ImportError, ValueError):
                    spec = None
                found.append(
                    (
                        candidate if spec else target,
                        node.lineno,
                        inside,
                        None if spec else alias.name,
                    )
                )
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def part_of(module):
    """The layer name of a ``sklearn_pillars`` module: its subpackage or top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer(part):
    return next(i for i, names in enumerate(LAYERS) if part in names)


def internal_imports():
    for path in MODULES:
        source = module_name(path)
        for target, line, inside in imports(path):
            if target == "sklearn_pillars" or target.startswith("sklearn_pillars."):
                yield path, source, target, line, inside


def test_every_module_belongs_to_a_layer_or_is_an_old_home():
    parts = {part_of(module_name(p)) for p in MODULES}
    known = set().union(*LAYERS) | COMPAT_MODULES
    assert parts <= known, parts - known
    assert len(MODULES) > 60  # the walk sees the subpackages


def test_imports_go_down_the_layers_so_there_is_no_cycle():
    upward = []
    for path, source, target, line, _ in internal_imports():
        src, dst = part_of(source), part_of(target)
        if src in COMPAT_MODULES or src == dst:
            continue
        if dst in COMPAT_MODULES or layer(dst) >= layer(src):
            upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not upward, upward


def test_no_module_imports_a_cycle_inside_its_subpackage():
    graph = {}
    for _, source, target, _, _ in internal_imports():
        graph.setdefault(source, set()).add(target)
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", " -> ".join([*trail, node])
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ imports its own modules: that edge is not a cycle
            if not nxt.startswith(node + "."):
                visit(nxt, [*trail, node])
        state[node] = "done"

    for node in sorted(graph):
        if part_of(node) not in COMPAT_MODULES:
            visit(node, [])


def test_no_module_imports_another_subpackages_private_module():
    found = []
    for path, source, target, line, _ in internal_imports():
        private = [p for p in target.split(".")[1:] if p.startswith("_")]
        # the package's own top-level modules may use its private top-level modules
        own = len(target.split(".")) == 2 and part_of(source) in {"__init__", "__main__"}
        if (
            private
            and part_of(source) != part_of(target)
            and part_of(target) != "_version"
            and not own
        ):
            found.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not found, found


def test_no_module_imports_its_own_package():
    # ``from ..batch import x`` inside batch runs batch/__init__, which imports this module
    found = [
        f"{path.relative_to(PACKAGE)}:{line} imports {target}"
        for path, source, target, line, _ in internal_imports()
        if not is_package(path)
        and part_of(source) == part_of(target)
        and target == f"sklearn_pillars.{part_of(source)}"
    ]
    assert not found, found


def test_no_private_name_crosses_a_subpackage():
    """Neither imported (``from ..x import _name``) nor used as an attribute (``obj._name``)
    where only another subpackage defines it."""
    defined = {}  # private attribute or method name -> the parts that define it
    for path in MODULES:
        part = part_of(module_name(path))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        defined.setdefault(item.name, set()).add(part)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                defined.setdefault(node.attr, set()).add(part)
    found = []
    for path in MODULES:
        part = part_of(module_name(path))
        if part in COMPAT_MODULES:
            continue
        where = path.relative_to(PACKAGE)
        for target, line, _, name in imports_and_names(path):
            if (
                name
                and private(name)
                and target.startswith("sklearn_pillars")
                and part_of(target) not in {part, "_version"}
            ):
                found.append(f"{where}:{line} imports {name} from {target}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Attribute) and private(node.attr)):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}:
                continue
            owners = defined.get(node.attr, set())
            if owners and part not in owners:
                found.append(f"{where}:{node.lineno} uses .{node.attr} of {sorted(owners)}")
    assert not found, found


def private(name):
    return name.startswith("_") and not name.startswith("__")


def test_imports_sit_at_module_level():
    inside = []
    for path in MODULES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for target, line, nested in imports(path):
            if not nested or (path.name, target) == LAUNCHER_IMPORT:
                continue
            # the line itself or the one above says why: an optional extra or POSIX only
            said = " ".join(lines[line - 2 : line]).lower()
            why = "optional extra" in said or "posix only" in said
            if target.split(".")[0] not in LAZY_IMPORTS or not why:
                inside.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not inside, inside


@pytest.mark.parametrize("old", sorted(COMPAT_MODULES))
def test_old_homes_give_the_same_objects(old):
    module = importlib.import_module(f"sklearn_pillars.{old}")
    names = [name for name in dir(module) if not name.startswith("_")]
    assert names
    for name in names:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if home and home.startswith("sklearn_pillars"):
            own = getattr(value, "__qualname__", name)  # an old name may alias a new one
            assert getattr(importlib.import_module(home), own) is value, name


def test_the_analysis_above_sees_real_edges():
    # a broken walk that found no imports would pass every test above
    edges = {(part_of(s), part_of(t)) for _, s, t, _, _ in internal_imports()}
    assert {
        ("batch", "peel"),
        ("peel", "features"),
        ("tiling", "lattice"),
        ("lattice", "io"),
    } <= edges
