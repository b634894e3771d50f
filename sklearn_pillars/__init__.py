"""sklearn-pillars: fabrication defects in metasurface pillar arrays, the scikit-learn way."""

from ._version import __version__
from .classifier import (
    SEED_STAGES,
    LayeredPeelClassifier,
    OutlierStage,
    PeelStage,
    predict_in_bands,
    smallest_cluster,
)
from .io import read_arrays, read_image, read_labels
from .synthetic import make_pillar_arrays
from .tileset import CLASSES, TileSet, concat_tilesets
from .tiling import iter_tile_chunks, tile_array, tile_boxes
from .transformers import (
    Anisotropy,
    CenterIntensity,
    ContextualFeatures,
    CurvatureIrregularity,
    DarknessArea,
    NeighborDeviation,
    PillarFeatures,
    RadialDeviation,
    RotationSymmetry,
    StitchingFeatures,
)

__all__ = [
    "__version__",
    "SEED_STAGES",
    "Anisotropy",
    "CLASSES",
    "CenterIntensity",
    "ContextualFeatures",
    "CurvatureIrregularity",
    "DarknessArea",
    "LayeredPeelClassifier",
    "NeighborDeviation",
    "OutlierStage",
    "PeelStage",
    "PillarFeatures",
    "RadialDeviation",
    "RotationSymmetry",
    "StitchingFeatures",
    "TileSet",
    "concat_tilesets",
    "iter_tile_chunks",
    "make_pillar_arrays",
    "predict_in_bands",
    "read_arrays",
    "read_image",
    "read_labels",
    "smallest_cluster",
    "tile_array",
    "tile_boxes",
]
