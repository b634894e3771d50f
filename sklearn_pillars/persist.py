"""Old home of these names (before 0.3): kept so that old imports and saved models work.

Import them from :mod:`sklearn_pillars` or its subpackages instead."""

from .exceptions import *  # noqa: F403
from .peel import *  # noqa: F403
from .peel import check_model_tile_half as check_tile_half  # noqa: F401 (its name before 0.2)
from .utils.fixes import NEIGHBOR_TREE_MODULES as NEIGHBOUR_TREE_MODULES  # noqa: F401
