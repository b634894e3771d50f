"""Saving and loading fitted models, with the package version and grid they were fitted with.

``.skops`` files (the default) are loaded with skops' safe loader: only types of
scikit-learn, NumPy and this package are accepted, so loading runs no arbitrary code.
``.joblib`` files are pickles: loading one runs whatever code it holds, so
:func:`load_model` refuses them unless told ``trusted=True``."""

from __future__ import annotations

import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .. import features
from .._version import __version__
from ..constants import DEFAULT_TILE_HALF
from ..exceptions import ModelFileError
from ..lattice import ArrayProfile
from ..tiling import N_META, tile_size_from_width
from ..utils.files import atomic_path, display_name
from ..utils.fixes import NEIGHBOR_TREE_MODULES
from ..utils.validation import check_positive_int
from ._classifier import LayeredPeelClassifier
from ._outlier import OutlierStage
from ._rules import SeparatedClusters
from ._stages import PeelStage

#: The suffixes a model file may have: ``.skops`` (loaded safely) and ``.joblib`` (a pickle).
MODEL_SUFFIXES = (".skops", ".joblib")


#: The ``format`` entry of a model file's record, which :func:`load_model` checks.
FORMAT = "sklearn-pillars model"


def _check_suffix(path):
    path = Path(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelFileError(
            f"{path}: a model file must end in .skops (safe to load) or .joblib (a pickle)"
        )
    return path


def save_model(model, path, *, grid_size="auto", tile_half=DEFAULT_TILE_HALF, profiles=None):
    """Save a fitted model with the package version and its tiling grid.

    The file records, next to the model, the sklearn-pillars version, the
    grid and tile size it was fitted with, its preset and the statistics of
    its training arrays: :func:`load_model` returns them, and
    :func:`~sklearn_pillars.inspect_arrays` and ``sklearn-pillars inspect
    --model`` reuse them. The file is written atomically: an error leaves no
    partial file at ``path``.

    Parameters
    ----------
    model : LayeredPeelClassifier
        A fitted model.
    path : path-like
        Ends in ``.skops`` (safe to load, the default choice) or ``.joblib``.
    grid_size : int or "auto", default="auto"
        The grid the model was fitted with (``"auto"``: found in each
        image); reused when it is loaded.
    tile_half : int, default=32
        The tiles' half-size the model was fitted with.
    profiles : sequence of ArrayProfile, optional
        Statistics of the arrays it was fitted on (``TileSet.array_profiles``):
        arrays inspected with it later are compared with them
        (:func:`~sklearn_pillars.sanity.drift_warnings`: a pitch more than
        10% off warns). Their median pitch is also recorded as ``pitch``.

    Raises
    ------
    ModelFileError
        If ``path`` ends in neither ``.skops`` nor ``.joblib``.
    TypeError
        If ``model`` is not a :class:`~sklearn_pillars.LayeredPeelClassifier`.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If ``grid_size`` or ``tile_half`` is not a positive integer, or
        ``tile_half`` does not give the tiles the model was fitted on.

    See Also
    --------
    load_model : Load the model and what was recorded with it.
    sklearn_pillars.fit_arrays : Fit a model on many array images first.
    sklearn_pillars.inspect_arrays : Classify array images with a saved model.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays
    >>> from sklearn_pillars.persist import load_model, save_model
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "pillars.skops")
    ...     save_model(model, path, grid_size=6, tile_half=32)
    ...     loaded, info = load_model(path)
    >>> info["grid_size"], info["tile_half"], info["preset"]
    (6, 32, 'refined')
    >>> bool((loaded.predict(tiles.X) == model.predict(tiles.X)).all())
    True
    """

    path = _check_suffix(path)
    if not isinstance(model, LayeredPeelClassifier):
        raise TypeError(
            f"save_model saves a fitted LayeredPeelClassifier, got {type(model).__name__}"
        )
    try:
        check_is_fitted(model, "stages_")
    except NotFittedError:
        raise NotFittedError("save_model needs a fitted model: call fit first") from None
    if not (isinstance(grid_size, str) and grid_size == "auto"):
        grid_size = check_positive_int(grid_size, "grid_size")
    tile_half = check_positive_int(tile_half, "tile_half")
    profiles = [p.as_dict() if isinstance(p, ArrayProfile) else dict(p) for p in profiles or []]
    pitches = [p["pitch"] for p in profiles if "pitch" in p]
    if model.layout == "tiles" or (model.layout is None and model.preset_ is not None):
        check_tiles_fit_model(model, tile_half)
    record = {
        "format": FORMAT,
        "version": __version__,
        "grid_size": grid_size,
        "tile_half": tile_half,
        "preset": getattr(model, "preset_", None),
        "profiles": profiles,
        "pitch": float(np.median(pitches)) if pitches else None,
        "model": model,
    }
    with atomic_path(path) as tmp:
        if path.suffix == ".skops":
            import skops.io as sio  # optional extra [cli]

            sio.dump(record, tmp)
        else:
            joblib.dump(record, tmp)


def _model_types():
    """The package's estimator types a model file may hold, under their module paths of now
    and of before 0.3 (where models saved then name them; those modules still export them)."""
    families = {
        "sklearn_pillars.classifier": [LayeredPeelClassifier],
        "sklearn_pillars.stages": [PeelStage, OutlierStage, SeparatedClusters],
        "sklearn_pillars.transformers": [
            c
            for c in vars(features).values()
            if isinstance(c, type) and issubclass(c, features.BaseTileFeatures)
        ],
    }
    types = set()
    for old_home, classes in families.items():
        for c in classes:
            types |= {f"{c.__module__}.{c.__qualname__}", f"{old_home}.{c.__qualname__}"}
    return types


def _trusted_skops_types(path):
    import skops.io as sio  # optional extra [cli]

    untrusted = sio.get_untrusted_types(file=path)
    foreign = [
        t for t in untrusted if t not in _model_types() and not t.startswith(NEIGHBOR_TREE_MODULES)
    ]
    if foreign:
        raise ModelFileError(
            f"{path}: refusing to load types that are not scikit-learn's, NumPy's or "
            f"sklearn-pillars': {', '.join(foreign)}"
        )
    return untrusted


def check_tiles_fit_model(model, tile_half):
    """ValueError unless ``model`` (fitted on tile-set X) classifies tiles of side
    ``2 * tile_half``."""
    width = getattr(model, "n_features_in_", None)
    if width is not None and width != (2 * tile_half) ** 2 + N_META:
        side = tile_size_from_width(width)
        raise ValueError(
            f"tile_half={tile_half} cuts tiles of {2 * tile_half} px, but the model "
            f"classifies tiles of {side} px (tile_half={side // 2}): it was fitted on "
            f"rows of {width} values"
        )


def check_model_tile_half(tile_half, info):
    """ValueError unless ``tile_half`` is None or the saved model's (``info``: :func:`load_model`).

    A model classifies tiles of its own size, on grids of any size.
    """
    if tile_half is not None and tile_half != info["tile_half"]:
        raise ValueError(
            f"tile_half={tile_half} differs from the saved model's "
            f"{info['tile_half']}: a model classifies tiles of its own size"
        )


def warn_grid_mismatch(grid_size, info, option="grid_size", stacklevel=3):
    """Warn when tiles are cut on another kind of grid than the saved model's.

    A model fitted on tiles cut around found lattices (``"auto"``) and used
    on a uniform grid, or the reverse, sees tiles placed otherwise on their
    pillars than those it learned, and labels them otherwise. ``grid_size``
    None (the model's) says nothing; ``option`` names the setting.
    """
    saved = info.get("grid_size")
    if grid_size is None or saved is None or (grid_size == "auto") == (saved == "auto"):
        return
    if saved == "auto":
        learned = "tiles cut around each image's found lattice (grid 'auto')"
        now = f"{option} {grid_size} cuts a uniform grid"
    else:
        learned = f"tiles of a uniform {saved} x {saved} grid"
        now = f"{option} auto cuts around each image's found lattice"
    warnings.warn(
        f"the model was fitted on {learned}; {now}, whose tiles sit otherwise on the "
        f"pillars: expect other labels than the model's own grid gives (leave {option} out "
        "to use it)",
        UserWarning,
        stacklevel=stacklevel,
    )


def load_model(path, *, trusted=False):
    """Load a model saved by :func:`save_model`, with what was recorded with it.

    A ``.skops`` file is loaded with skops' safe loader, accepting only the
    types of scikit-learn, NumPy and sklearn-pillars: loading it runs no
    code of the file's. A ``.joblib`` file is a pickle and is loaded only
    with ``trusted=True``.

    Parameters
    ----------
    path : path-like
        A ``.skops`` file (loaded safely) or a ``.joblib`` file.
    trusted : bool, default=False
        Load a ``.joblib`` file. It is a pickle: loading it runs whatever code
        it holds, so pass True only for a file you made yourself.

    Returns
    -------
    model : LayeredPeelClassifier
        The fitted model.
    info : dict
        ``version``, ``grid_size`` (an int, or ``"auto"``) and ``tile_half``
        it was saved with, ``preset``: the stage preset it was fitted with
        (None for custom stages, or a file that does not say), ``profiles``:
        statistics of the arrays it was fitted on (empty when not recorded),
        and ``pitch``: their median lattice pitch in pixels (None when not
        recorded).

    Raises
    ------
    ModelFileError
        For a path that ends in neither ``.skops`` nor ``.joblib``, a
        ``.joblib`` file without ``trusted=True``, a folder, a ``.skops``
        file holding types that are not scikit-learn's, NumPy's or
        sklearn-pillars', and a file that is not a readable sklearn-pillars
        model holding a fitted :class:`~sklearn_pillars.LayeredPeelClassifier`.
    FileNotFoundError
        If there is no file at ``path``.

    Warns
    -----
    UserWarning
        When the model was saved by another version of sklearn-pillars.

    See Also
    --------
    save_model : Save a fitted model.
    ModelFileError : The error for a file that cannot be used.
    sklearn_pillars.sanity.drift_warnings : Compare new arrays with ``info["profiles"]``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays
    >>> from sklearn_pillars.persist import load_model, save_model
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "pillars.skops")
    ...     save_model(model, path, grid_size="auto", tile_half=32)
    ...     loaded, info = load_model(path)
    >>> type(loaded).__name__, info["grid_size"], info["profiles"], info["pitch"]
    ('LayeredPeelClassifier', 'auto', [], None)
    """
    path = _check_suffix(path)
    name = display_name(path)
    if path.suffix == ".joblib" and not trusted:
        raise ModelFileError(
            f"{name}: refusing to load a .joblib model: it is a pickle, and loading a pickle "
            "runs whatever code it holds. Load it only if you made it yourself "
            "(--trust-model, or load_model(..., trusted=True)); save models as .skops, "
            "which load safely"
        )
    if path.is_dir():
        raise ModelFileError(f"{name}: is a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no such file")
    try:
        if path.suffix == ".skops":
            import skops.io as sio  # optional extra [cli]

            record = sio.load(path, trusted=_trusted_skops_types(path))
        else:
            record = joblib.load(path)
    except ModelFileError:
        raise
    except Exception as exc:  # any decoding failure: not a model file we can read
        raise ModelFileError(f"{name}: not a readable model file ({exc})") from None

    ran = " (it was unpickled: any code it held has run)" if path.suffix == ".joblib" else ""
    if (
        not isinstance(record, dict)
        or record.get("format") != FORMAT
        or not {"version", "grid_size", "tile_half", "model"} <= set(record)
    ):
        raise ModelFileError(f"{name}: not an sklearn-pillars model file{ran}")
    if not (
        isinstance(record["model"], LayeredPeelClassifier) and hasattr(record["model"], "stages_")
    ):
        raise ModelFileError(f"{name}: does not hold a fitted LayeredPeelClassifier{ran}")
    if record["version"] != __version__:
        warnings.warn(
            f"{path} was saved by sklearn-pillars {record['version']}; this is {__version__}. "
            "Refit it if its results look off.",
            UserWarning,
            stacklevel=2,
        )
    info = {key: record[key] for key in ("version", "grid_size", "tile_half")}
    info["preset"] = record.get("preset")
    info["pitch"] = record.get("pitch")
    profiles = record.get("profiles")
    info["profiles"] = list(profiles) if isinstance(profiles, list) else []
    return record["model"], info
