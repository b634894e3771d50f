"""sklearn-pillars: fabrication defects in metasurface pillar arrays, the scikit-learn way."""

from ._version import __version__
from .classifier import LayeredPeelClassifier, predict_in_bands
from .constants import CLASSES, DEFAULT_GRID_SIZE, DEFAULT_TILE_HALF, PEEL_ORDER
from .exceptions import (
    NoLatticeError,
    NotAnArrayError,
    NotebookGridWarning,
    ResourceLimitError,
    UnevenIlluminationWarning,
)
from .io import find_array_images, read_arrays, read_image, read_labels
from .lattice import Lattice, find_lattice
from .presets import DEFAULT_PRESET, PRESETS, make_stages
from .sanity import ArrayProfile, array_profile, check_pillar_array
from .stages import OutlierStage, PeelStage, SeparatedClusters, smallest_cluster
from .streaming import ArrayResult, classify_array, fit_arrays, inspect_arrays, iter_inspect
from .synthetic import apply_conditions, make_pillar_arrays
from .tileset import TileSet, concat_tilesets
from .tiling import iter_tile_chunks, tile_array, tile_boxes
from .transformers import (
    Anisotropy,
    BaseArrayFeatures,
    BaseTileFeatures,
    CenterIntensity,
    CollapsedContext,
    ContextualFeatures,
    CurvatureIrregularity,
    DarknessArea,
    LineContext,
    MissingContext,
    NeighborDeviation,
    PillarFeatures,
    RadialDeviation,
    RotationSymmetry,
    ShapeContext,
    StitchingFeatures,
)

__all__ = [
    "__version__",
    "apply_conditions",
    "array_profile",
    "PRESETS",
    "DEFAULT_PRESET",
    "NotebookGridWarning",
    "UnevenIlluminationWarning",
    "Anisotropy",
    "ArrayProfile",
    "BaseArrayFeatures",
    "BaseTileFeatures",
    "ArrayResult",
    "CLASSES",
    "DEFAULT_GRID_SIZE",
    "DEFAULT_TILE_HALF",
    "PEEL_ORDER",
    "CenterIntensity",
    "CollapsedContext",
    "ContextualFeatures",
    "CurvatureIrregularity",
    "DarknessArea",
    "LineContext",
    "MissingContext",
    "NotAnArrayError",
    "LayeredPeelClassifier",
    "Lattice",
    "NoLatticeError",
    "NeighborDeviation",
    "OutlierStage",
    "PeelStage",
    "SeparatedClusters",
    "PillarFeatures",
    "ResourceLimitError",
    "RadialDeviation",
    "RotationSymmetry",
    "ShapeContext",
    "StitchingFeatures",
    "TileSet",
    "check_pillar_array",
    "classify_array",
    "concat_tilesets",
    "find_array_images",
    "find_lattice",
    "fit_arrays",
    "inspect_arrays",
    "iter_inspect",
    "iter_tile_chunks",
    "make_pillar_arrays",
    "make_stages",
    "predict_in_bands",
    "read_arrays",
    "read_image",
    "read_labels",
    "smallest_cluster",
    "tile_array",
    "tile_boxes",
]
