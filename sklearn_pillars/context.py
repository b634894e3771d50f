"""Old home of these names (before 0.3): kept so that old imports and saved models work.

Import them from :mod:`sklearn_pillars` or its subpackages instead."""

from .constants import *  # noqa: F403
from .exceptions import *  # noqa: F403
from .features import *  # noqa: F403
from .features import centered_tiles as centred_tiles  # noqa: F401 (its name before 0.3)
from .features import neighbor_median as neighbour_median  # noqa: F401 (its name before 0.3)
