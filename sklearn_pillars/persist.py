"""Saving and loading fitted models, with the package version and grid they were fitted with.

``.skops`` files (the default) are loaded with skops' safe loader: only types of
scikit-learn, NumPy and this package are accepted, so loading runs no arbitrary code.
``.joblib`` files are pickles: loading one from an untrusted source is code execution.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ._files import atomic_path
from ._version import __version__

MODEL_SUFFIXES = (".skops", ".joblib")
FORMAT = "sklearn-pillars model"


class ModelFileError(ValueError):
    """A model file that cannot be used (unknown format, untrusted content, not a model)."""


def _check_suffix(path):
    path = Path(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelFileError(
            f"{path}: a model file must end in .skops (safe to load) or .joblib (a pickle)"
        )
    return path


def save_model(model, path, *, grid_size, tile_half):
    """Save a fitted model with the package version and its tiling grid.

    Parameters
    ----------
    model : LayeredPeelClassifier
        A fitted model.
    path : path-like
        Ends in ``.skops`` (safe to load, the default choice) or ``.joblib``.
    grid_size, tile_half : int
        The grid the model was fitted with; reused when it is loaded.
    """
    path = _check_suffix(path)
    record = {"format": FORMAT, "version": __version__, "grid_size": int(grid_size),
              "tile_half": int(tile_half), "preset": getattr(model, "preset_", None),
              "model": model}
    with atomic_path(path) as tmp:
        if path.suffix == ".skops":
            import skops.io as sio

            sio.dump(record, tmp)
        else:
            import joblib

            joblib.dump(record, tmp)


def _model_types():
    """The package's estimator types that a model file may hold."""
    from . import classifier, stages, transformers

    classes = [classifier.LayeredPeelClassifier, stages.PeelStage, stages.OutlierStage,
               stages.SeparatedClusters]
    classes += [c for c in vars(transformers).values()
                if isinstance(c, type) and issubclass(c, transformers._TileFeatures)]
    return {f"{c.__module__}.{c.__qualname__}" for c in classes}


# the search trees a fitted LocalOutlierFactor holds (rebuilt from arrays, no code)
_SKLEARN_NEIGHBOUR_TYPES = ("sklearn.neighbors._kd_tree.", "sklearn.neighbors._ball_tree.",
                            "sklearn.metrics._dist_metrics.")


def _trusted_skops_types(path):
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    foreign = [t for t in untrusted if t not in _model_types()
               and not t.startswith(_SKLEARN_NEIGHBOUR_TYPES)]
    if foreign:
        raise ModelFileError(
            f"{path}: refusing to load types that are not scikit-learn's, NumPy's or "
            f"sklearn-pillars': {', '.join(foreign)}"
        )
    return untrusted


def load_model(path):
    """Load a model saved by :func:`save_model`.

    Returns
    -------
    model : LayeredPeelClassifier
    info : dict
        ``version``, ``grid_size`` and ``tile_half`` it was saved with, and
        ``preset``: the stage preset it was fitted with (None for custom
        stages, or a file that does not say).

    Warns when the model was saved by another version of sklearn-pillars.
    """
    path = _check_suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        if path.suffix == ".skops":
            import skops.io as sio

            record = sio.load(path, trusted=_trusted_skops_types(path))
        else:
            import joblib

            record = joblib.load(path)
    except ModelFileError:
        raise
    except Exception as exc:  # any decoding failure: not a model file we can read
        raise ModelFileError(f"{path}: not a readable model file ({exc})") from None
    from .classifier import LayeredPeelClassifier

    if (not isinstance(record, dict) or record.get("format") != FORMAT
            or not {"version", "grid_size", "tile_half", "model"} <= set(record)):
        raise ModelFileError(f"{path}: not an sklearn-pillars model file")
    if not (isinstance(record["model"], LayeredPeelClassifier)
            and hasattr(record["model"], "stages_")):
        raise ModelFileError(f"{path}: does not hold a fitted LayeredPeelClassifier")
    if record["version"] != __version__:
        warnings.warn(
            f"{path} was saved by sklearn-pillars {record['version']}; this is {__version__}. "
            "Refit it if its results look off.", UserWarning, stacklevel=2,
        )
    info = {key: record[key] for key in ("version", "grid_size", "tile_half")}
    info["preset"] = record.get("preset")
    return record["model"], info
