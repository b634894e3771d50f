"""The lattice of a pillar array: the :class:`Lattice` type, finding it, turning the image
upright, and checking that an image shows a pillar array."""

from ..exceptions import NoLatticeError
from ._array_check import (
    DRIFT_FACTORS,
    MIN_CONTRAST,
    MIN_LATTICE_SCORE,
    SAMPLE_SITES,
    ArrayProfile,
    array_profile,
    check_pillar_array,
    drift_warnings,
)
from ._find import (
    MARGIN_SPREAD,
    MIN_CONTRAST_SHARE,
    MIN_MATCH,
    autocorrelation,
    content_box,
    find_lattice,
    flatten_illumination,
    lattice_vectors,
)
from ._lattice import (
    Lattice,
    positions_of,
)
from ._sites import (
    ACF_CROP,
    MIN_ROW_SHARE,
    mean_cell,
)
from ._warp import (
    derotate,
    reframe,
)

__all__ = [
    "NoLatticeError",
    "ACF_CROP",
    "ArrayProfile",
    "DRIFT_FACTORS",
    "Lattice",
    "MARGIN_SPREAD",
    "MIN_CONTRAST",
    "MIN_CONTRAST_SHARE",
    "MIN_LATTICE_SCORE",
    "MIN_MATCH",
    "MIN_ROW_SHARE",
    "SAMPLE_SITES",
    "array_profile",
    "autocorrelation",
    "check_pillar_array",
    "content_box",
    "derotate",
    "drift_warnings",
    "find_lattice",
    "flatten_illumination",
    "lattice_vectors",
    "mean_cell",
    "positions_of",
    "reframe",
]
