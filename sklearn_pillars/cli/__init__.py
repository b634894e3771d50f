"""The ``sklearn-pillars`` command: fit a model, inspect arrays, write a report."""

from ..exceptions import UsageError
from ._commands import Progress, cmd_evaluate, cmd_fit, cmd_inspect
from ._main import main, run
from ._parser import DESCRIPTION, EPILOG, MAX_COUNT, build_parser
from ._signals import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Terminated,
    checkpoint,
)

__all__ = [
    "DESCRIPTION",
    "EPILOG",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "MAX_COUNT",
    "Progress",
    "Terminated",
    "UsageError",
    "build_parser",
    "checkpoint",
    "cmd_evaluate",
    "cmd_fit",
    "cmd_inspect",
    "main",
    "run",
]
