"""The layered peel-off: cluster rules, stages, presets, :class:`LayeredPeelClassifier`,
and saving and loading fitted models."""

from ._classifier import (
    LayeredPeelClassifier,
)
from ._outlier import (
    OutlierStage,
)
from ._persist import (
    FORMAT,
    MODEL_SUFFIXES,
    check_model_tile_half,
    check_tiles_fit_model,
    load_model,
    save_model,
    warn_grid_mismatch,
)
from ._presets import (
    make_stages,
    notebook_lattice_note,
    preset_of,
    warn_notebook_on_lattice,
)
from ._rules import (
    SeparatedClusters,
    smallest_cluster,
)
from ._shared import (
    begin_fit,
    classify_tiles,
    fit_from_shared,
    shared_features,
)
from ._stages import (
    PeelStage,
    default_clusterer,
    default_detector,
)

__all__ = [
    "begin_fit",
    "classify_tiles",
    "fit_from_shared",
    "shared_features",
    "FORMAT",
    "LayeredPeelClassifier",
    "MODEL_SUFFIXES",
    "OutlierStage",
    "PeelStage",
    "SeparatedClusters",
    "check_model_tile_half",
    "warn_grid_mismatch",
    "check_tiles_fit_model",
    "default_clusterer",
    "default_detector",
    "load_model",
    "make_stages",
    "notebook_lattice_note",
    "preset_of",
    "save_model",
    "smallest_cluster",
    "warn_notebook_on_lattice",
]
