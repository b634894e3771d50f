"""Old home of these names (before 0.3): kept so that old imports and saved models work.

Import them from :mod:`sklearn_pillars` or its subpackages instead."""

from .batch import *  # noqa: F403
from .peel import *  # noqa: F403
