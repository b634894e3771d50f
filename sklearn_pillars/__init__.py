"""sklearn-pillars: fabrication defects in metasurface pillar arrays, the scikit-learn way.

The public names, listed with their subpackages in ``__init__.pyi``, load with the
subpackage that defines them, on first use (as scikit-image's do): ``import
sklearn_pillars`` alone imports neither NumPy nor scikit-learn, so the command can
listen for Ctrl-C before it loads them.
"""

import ast
import importlib
from pathlib import Path

from ._version import __version__


def _public_names():
    """{public name: the subpackage that defines it}, from the imports of ``__init__.pyi``."""
    stub = Path(__file__).with_name("__init__.pyi").read_text(encoding="utf-8")
    return {
        alias.name: node.module
        for node in ast.parse(stub).body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module != "_version"
        for alias in node.names
    }


_HOME = _public_names()

__all__ = ["__version__", *_HOME]


def __getattr__(name):
    """A public name (loading its subpackage), or a subpackage or module of this package."""
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value
        return value
    if not name.startswith("__"):
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
