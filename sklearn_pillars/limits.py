"""Old home of these names (before 0.3): kept so that old imports and saved models work.

Import them from :mod:`sklearn_pillars` or its subpackages instead."""

from .constants import NOTEBOOK_PRESET, REFINED_PRESET  # noqa: F401
from .exceptions import *  # noqa: F403
from .io import ImageHeader, read_image_header  # noqa: F401
from .report import FIGURE_PIXELS  # noqa: F401
from .tiling import *  # noqa: F403
from .utils.memory import (  # noqa: F401
    check_memory,
    default_max_memory,
    format_size,
    machine_memory,
    parse_size,
)
