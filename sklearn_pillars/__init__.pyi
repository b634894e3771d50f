"""The public names of sklearn_pillars, each imported from the subpackage that defines it.

Read by type checkers and editors (``__all__`` re-exports the names), and by the package
itself: ``__init__.py`` reads these imports to load each name with its subpackage on first
use, as scikit-image does with its stubs. This file is the one list of the public names.
"""

from ._version import __version__
from .batch import (
    ArrayResult,
    Evaluation,
    classify_array,
    evaluate,
    fit_arrays,
    inspect_arrays,
    iter_inspect,
    predict_in_bands,
)
from .constants import (
    CLASSES,
    DEFAULT_GRID_SIZE,
    DEFAULT_PRESET,
    DEFAULT_TILE_HALF,
    PEEL_ORDER,
    PRESETS,
)
from .exceptions import (
    NoLatticeError,
    NotAnArrayError,
    NotebookGridWarning,
    ResourceLimitError,
    UnevenIlluminationWarning,
)
from .features import (
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
from .io import (
    find_array_images,
    read_image,
    read_labels,
)
from .lattice import (
    ArrayProfile,
    Lattice,
    array_profile,
    check_pillar_array,
    find_lattice,
)
from .peel import (
    LayeredPeelClassifier,
    OutlierStage,
    PeelStage,
    SeparatedClusters,
    make_stages,
    smallest_cluster,
)
from .synthetic import (
    apply_conditions,
    make_pillar_arrays,
)
from .tiling import (
    TileSet,
    concat_tilesets,
    iter_tile_chunks,
    read_arrays,
    tile_array,
    tile_boxes,
)

__all__ = [
    "__version__",
    "ArrayResult",
    "Evaluation",
    "classify_array",
    "evaluate",
    "fit_arrays",
    "inspect_arrays",
    "iter_inspect",
    "predict_in_bands",
    "CLASSES",
    "DEFAULT_GRID_SIZE",
    "DEFAULT_PRESET",
    "DEFAULT_TILE_HALF",
    "PEEL_ORDER",
    "PRESETS",
    "NoLatticeError",
    "NotAnArrayError",
    "NotebookGridWarning",
    "ResourceLimitError",
    "UnevenIlluminationWarning",
    "Anisotropy",
    "BaseArrayFeatures",
    "BaseTileFeatures",
    "CenterIntensity",
    "CollapsedContext",
    "ContextualFeatures",
    "CurvatureIrregularity",
    "DarknessArea",
    "LineContext",
    "MissingContext",
    "NeighborDeviation",
    "PillarFeatures",
    "RadialDeviation",
    "RotationSymmetry",
    "ShapeContext",
    "StitchingFeatures",
    "find_array_images",
    "read_image",
    "read_labels",
    "ArrayProfile",
    "Lattice",
    "array_profile",
    "check_pillar_array",
    "find_lattice",
    "LayeredPeelClassifier",
    "OutlierStage",
    "PeelStage",
    "SeparatedClusters",
    "make_stages",
    "smallest_cluster",
    "apply_conditions",
    "make_pillar_arrays",
    "TileSet",
    "concat_tilesets",
    "iter_tile_chunks",
    "read_arrays",
    "tile_array",
    "tile_boxes",
]
