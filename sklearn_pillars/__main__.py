"""``python -m sklearn_pillars``: the sklearn-pillars command."""

from ._launcher import run

run()
