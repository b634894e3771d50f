"""Every exception and warning type lives in sklearn_pillars.exceptions; the old paths work."""

import ast
import importlib
from pathlib import Path

import pytest

import sklearn_pillars
from sklearn_pillars import exceptions

PACKAGE = Path(sklearn_pillars.__file__).parent

#: Where each type was defined before it moved (import paths that must keep working).
OLD_HOMES = {
    "NotAnArrayError": "sklearn_pillars.sanity",
    "NoLatticeError": "sklearn_pillars.lattice",
    "ResourceLimitError": "sklearn_pillars.limits",
    "ModelFileError": "sklearn_pillars.persist",
    "FolderInUseError": "sklearn_pillars.utils.files",  # a private module before 0.3
    "FolderAccessError": "sklearn_pillars.utils.files",
    "UnevenIlluminationWarning": "sklearn_pillars.context",
    "NotebookGridWarning": "sklearn_pillars.presets",
    "UsageError": "sklearn_pillars.cli",
}


def test_every_type_is_defined_in_the_exceptions_module():
    assert sorted(exceptions.__all__) == sorted(OLD_HOMES)
    for name in exceptions.__all__:
        kind = getattr(exceptions, name)
        assert issubclass(kind, Exception), name
        assert kind.__module__ == "sklearn_pillars.exceptions", name


def test_no_other_module_defines_an_exception_or_warning():
    builtin = {n for n in vars(__import__("builtins")) if n.endswith(("Error", "Warning"))}
    builtin |= {"Exception", "BaseException"}
    defined = set(exceptions.__all__)
    for path in PACKAGE.rglob("*.py"):
        if path.name == "exceptions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                assert not bases & (builtin | defined), f"{path.name} defines {node.name}"


@pytest.mark.parametrize(("name", "module"), sorted(OLD_HOMES.items()))
def test_the_old_import_paths_give_the_same_type(name, module):
    assert getattr(importlib.import_module(module), name) is getattr(exceptions, name)


def test_the_hierarchy_is_kept():
    assert issubclass(exceptions.NoLatticeError, exceptions.NotAnArrayError)
    for name in ("NotAnArrayError", "ResourceLimitError", "ModelFileError"):
        assert issubclass(getattr(exceptions, name), ValueError)
    assert issubclass(exceptions.FolderAccessError, OSError)
    assert issubclass(exceptions.FolderInUseError, RuntimeError)
    for name in ("UnevenIlluminationWarning", "NotebookGridWarning"):
        assert issubclass(getattr(exceptions, name), UserWarning)
    for name in sklearn_pillars.__all__:
        if name in exceptions.__all__:
            assert getattr(sklearn_pillars, name) is getattr(exceptions, name)
