"""``python -m sklearn_pillars``: the sklearn-pillars command."""

from .cli import run

run()
