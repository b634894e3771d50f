"""sklearn-pillars: fabrication defects in metasurface pillar arrays, the scikit-learn way.

The public names load with the subpackage that defines them, on first use (as
scikit-image's do): ``import sklearn_pillars`` alone imports neither NumPy nor
scikit-learn, so the command can listen for Ctrl-C before it loads them.
"""

import importlib

from ._version import __version__

#: The public names, by the subpackage that defines them.
_PUBLIC_NAMES = {
    "batch": (
        "ArrayResult",
        "Evaluation",
        "classify_array",
        "evaluate",
        "fit_arrays",
        "inspect_arrays",
        "iter_inspect",
        "predict_in_bands",
    ),
    "constants": (
        "CLASSES",
        "DEFAULT_GRID_SIZE",
        "DEFAULT_PRESET",
        "DEFAULT_TILE_HALF",
        "PEEL_ORDER",
        "PRESETS",
    ),
    "exceptions": (
        "NoLatticeError",
        "NotAnArrayError",
        "NotebookGridWarning",
        "ResourceLimitError",
        "UnevenIlluminationWarning",
    ),
    "features": (
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
    ),
    "io": ("find_array_images", "read_image", "read_labels"),
    "lattice": ("ArrayProfile", "Lattice", "array_profile", "check_pillar_array", "find_lattice"),
    "peel": (
        "LayeredPeelClassifier",
        "OutlierStage",
        "PeelStage",
        "SeparatedClusters",
        "make_stages",
        "smallest_cluster",
    ),
    "synthetic": ("apply_conditions", "make_pillar_arrays"),
    "tiling": (
        "TileSet",
        "concat_tilesets",
        "iter_tile_chunks",
        "read_arrays",
        "tile_array",
        "tile_boxes",
    ),
}
_HOME = {name: package for package, names in _PUBLIC_NAMES.items() for name in names}

__all__ = ["__version__", *_HOME]


def __getattr__(name):
    """A public name (loading its subpackage), or a subpackage or module of this package."""
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value
        return value
    if not name.startswith("__"):
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
