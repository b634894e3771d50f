"""The ``sklearn-pillars`` command: fit a model, inspect arrays, write a report."""

from ..exceptions import UsageError
from ._main import main, run
from ._parser import build_parser

__all__ = ["UsageError", "build_parser", "main", "run"]
