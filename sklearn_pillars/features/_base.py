"""The shared feature pass: base classes of the tile and array-context transformers, and
the batched, parallel computation of their rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..tiling import (
    check_unique_positions,
    iter_tile_batches,
    tile_positions,
    tile_size_from_width,
    unpack_tiles,
)
from ..utils.docstrings import fill_doc
from ..utils.fixes import Interval, StrOptions, check_feature_names_in
from ..utils.parallel import worker_count
from ..utils.validation import N_JOBS_CONSTRAINT
from ._context import array_context, centered_tiles, robust_z
from ._context import downsample as downsample_tiles
from ._tile import TileBatch

# Rows per joblib task when n_jobs > 1: large enough to amortise the
# process start-up and transfer, small enough to balance two or more cores.
_MIN_ROWS_PER_JOB = 2048


@fill_doc
class BaseTileFeatures(TransformerMixin, BaseEstimator):
    """Base class of tile feature transformers that join the classifier's shared pass.

    It holds the machinery (validation, X decoding, batching, parallelism)
    and defines the protocol through which
    :class:`~sklearn_pillars.LayeredPeelClassifier` computes the features of
    all its stages in one pass over X: each batch of tiles is decoded once
    and handed to every stage's :meth:`compute_rows`; each stage then gets
    the rows of the tiles it receives through :meth:`fit_rows` (in fit) or
    :meth:`finish_rows` (in predict). A subclass, the package's or yours,
    defines:

    - ``feature_names``: the output columns' names;
    - :meth:`compute_rows` ``(batch)``: the row-local numbers of a batch of
      same-shape tiles (:class:`~sklearn_pillars.features.TileBatch`), one
      row per tile;

    and may override :meth:`learn_rows` (what fit learns from those rows)
    and :meth:`finish_rows` (the features from the rows, where they need
    other tiles or the learnt state). ``fit``, ``transform`` and
    ``fit_transform`` are built from them. :meth:`compute_rows` must not
    depend on fitted state (the pass calls it before the stage is fitted).
    A stage whose features are not a subclass, or override ``fit``,
    ``transform`` or ``fit_transform``, still works: the classifier then
    calls its ``fit_transform`` and ``transform`` stage by stage.

    Parameters
    ----------
    %(tile_parameters)s

    See Also
    --------
    BaseArrayFeatures : The same for features that compare a tile with its array.
    LayeredPeelClassifier : Runs the shared pass.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import BaseTileFeatures, make_pillar_arrays
    >>> class CentreLevel(BaseTileFeatures):
    ...     feature_names = ("centre_level",)
    ...     def compute_rows(self, batch):
    ...         size = batch.tiles.shape[1]
    ...         middle = batch.tiles[:, size // 4 : -size // 4, size // 4 : -size // 4]
    ...         return middle.mean(axis=(1, 2))[:, None]
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=4, random_state=0)
    >>> CentreLevel().fit_transform(tiles.X).shape
    (16, 1)
    """

    feature_names: tuple = ()
    _row_width = None  # columns of compute_rows's output when they differ from feature_names
    _parameter_constraints = {
        "layout": [StrOptions({"tiles", "strip"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
    }

    def __init__(self, *, layout="tiles", batch_size=32, n_jobs=None):
        self.layout = layout
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    # -- the shared-pass protocol ----------------------------------------
    def compute_rows(self, batch):
        """Row-local numbers of a batch of tiles (to be defined by a subclass).

        Parameters
        ----------
        batch : TileBatch
            Same-shape tiles (``batch.tiles``, (k, h, w) uint8) and what
            several feature families share about them (computed once).

        Returns
        -------
        ndarray of shape (k, n_columns)
        """
        raise NotImplementedError(f"{type(self).__name__} must define compute_rows(batch)")

    def learn_rows(self, rows, positions):
        """Learn fit-time state from the rows of the training tiles; nothing by default.

        Parameters
        ----------
        rows : ndarray of shape (n_tiles, n_columns)
            :meth:`compute_rows` of every training tile.
        positions : ndarray of shape (n_tiles, 3)
            Their (array, row, col).
        """

    def finish_rows(self, rows, positions):
        """The features from the rows (``rows`` itself by default).

        Parameters
        ----------
        rows : ndarray of shape (n_tiles, n_columns)
        positions : ndarray of shape (n_tiles, 3)

        Returns
        -------
        ndarray of shape (n_tiles, n_features_out)
        """
        return rows

    # -- scikit-learn API ------------------------------------------------
    def fit(self, X, y=None):
        """Validate the parameters and X, and learn what the features need.

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tile-set X (see the :ref:`X layout <x_layout>`), or any 2-D numeric array
            with ``layout="strip"`` (for the transformers that have a
            ``layout`` parameter).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.

        Raises
        ------
        ValueError
            If X has no rows, holds NaN or infinities, or its rows do not
            decode to tiles.
        """
        self._validate_params()
        X = self._validate_X(X, reset=True)
        if type(self).learn_rows is BaseTileFeatures.learn_rows:  # nothing to learn: only check X
            self._check_tiles(X)
            return self
        rows, positions = self._row_features(X)
        self.learn_rows(rows, positions)
        return self

    def fit_transform(self, X, y=None):
        """Fit to X and return its features, computing them once.

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tile-set X, as for :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        ndarray of shape (n_tiles, n_features_out), float64
            The features of each tile, as ``fit(X).transform(X)``.
        """
        self._validate_params()
        X = self._validate_X(X, reset=True)
        rows, positions = self._row_features(X)
        self.learn_rows(rows, positions)
        return self.finish_rows(rows, positions)

    def transform(self, X):
        """Compute the features of each tile.

        Parameters
        ----------
        %(model_X)s

        Returns
        -------
        ndarray of shape (n_tiles, n_features_out), float64
            One row per tile, the columns named by
            :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        rows, positions = self._row_features(X)
        return self.finish_rows(rows, positions)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the input seen in ``fit``; not used otherwise
            (the output names do not depend on the input's).

        Returns
        -------
        ndarray of str objects, shape (n_features_out,)
            The feature names, in column order.
        """
        check_is_fitted(self, "n_features_in_")
        check_feature_names_in(self, input_features)
        return np.asarray(self.feature_names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # -- machinery -------------------------------------------------------
    def _validate_X(self, X, reset):
        return validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))

    def _check_tiles(self, X):
        """Check that X's rows decode to tiles, without computing features."""
        for _ in iter_tile_batches(X, self.layout, self.batch_size):
            pass

    def _row_features(self, X):
        """Row-local features of every row of X, and the rows' positions."""
        positions = tile_positions(X, self.layout)
        rows = row_parts([self.compute_rows], X, self.layout, self.batch_size, self.n_jobs)[0]
        return rows, positions

    def fit_rows(self, rows, positions, n_features_in):
        """Fit from rows computed elsewhere (the shared pass) and return the features.

        Equal to ``fit_transform`` of the tiles the rows were computed from.

        Parameters
        ----------
        rows : ndarray of shape (n_tiles, n_columns)
            :meth:`compute_rows` (or ``context_rows``) of the tiles.
        positions : ndarray of shape (n_tiles, 3)
            Their (array, row, col).
        n_features_in : int
            Columns of the X they were computed from.

        Returns
        -------
        ndarray of shape (n_tiles, n_features_out)
        """
        self._validate_params()
        self.n_features_in_ = n_features_in
        self.learn_rows(rows, positions)
        return self.finish_rows(rows, positions)


def row_parts(computes, X, layout="tiles", batch_size=32, n_jobs=None):
    """Row-local features of X for several compute functions, in one pass over X.

    Each batch of tiles is decoded once and given, as one
    :class:`~sklearn_pillars.features.TileBatch`, to every function, so what
    they share (contours, gradients, sums) is computed once. With ``n_jobs``
    > 1 and many rows, chunks of rows go to joblib workers.

    Returns
    -------
    list of ndarray
        One (n_rows, k_i) array per function.
    """
    n = X.shape[0]
    if n == 0:
        raise ValueError("X has no rows: there are no tiles to compute features of")
    n_jobs = worker_count(n_jobs)
    if n_jobs > 1 and n >= 2 * _MIN_ROWS_PER_JOB:
        n_chunks = min(n // _MIN_ROWS_PER_JOB, 4 * n_jobs)
        bounds = np.linspace(0, n, n_chunks + 1).astype(int)
        chunks = Parallel(n_jobs=n_jobs)(
            delayed(_serial_row_parts)(computes, X[a:b], layout, batch_size)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        )
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]
    return _serial_row_parts(computes, X, layout, batch_size)


def _serial_row_parts(computes, X, layout, batch_size):
    outs = None
    for index, tiles in iter_tile_batches(X, layout, batch_size):
        batch = TileBatch(tiles)
        results = [compute(batch) for compute in computes]
        if outs is None:
            outs = [np.empty((X.shape[0], r.shape[1])) for r in results]
        for out, result in zip(outs, results, strict=True):
            out[index] = result
    return outs


def array_parts(computes, X, layout="tiles", n_jobs=None, downsample=1):
    """Per-tile parts computed in the context of each tile's array, in one pass over X.

    The rows of each array index are decoded together and compared with
    their array's reference pillar (:func:`~sklearn_pillars.features.array_context`,
    built once per array); each function of ``computes`` maps that context
    to one row of numbers per tile. With ``n_jobs`` > 1, arrays are done in
    that many threads at once (NumPy, SciPy's FFT and OpenCV release the
    GIL for most of the work; an array's tiles are not copied to a process).
    With ``downsample`` > 1 the tiles are first averaged over blocks of that
    many pixels a side (:func:`~sklearn_pillars.features.downsample`).

    Returns
    -------
    list of ndarray
        One (n_rows, k_i) array per function.
    """
    if layout == "strip":
        raise ValueError(
            "features that compare the tiles of an array need X in the tile-set "
            "layout (layout='tiles'), not layout='strip'"
        )
    n = X.shape[0]
    if n == 0:
        raise ValueError("X has no rows: there are no tiles to compute features of")
    positions = tile_positions(X)
    check_unique_positions(positions)
    groups = [np.flatnonzero(positions[:, 0] == array) for array in np.unique(positions[:, 0])]

    def one_array(rows):
        where, shapes, canvas = unpack_tiles(X[rows])
        full = centered_tiles(canvas, shapes, where)
        context = array_context(
            downsample_tiles(full, downsample),
            detail=full if downsample > 1 else None,
            factor=downsample,
            sites=where[:, 1:],
        )
        return [compute(context) for compute in computes]

    workers = worker_count(n_jobs, len(groups))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one_array, groups))
    else:
        results = [one_array(rows) for rows in groups]
    outs = [np.empty((n, r.shape[1])) for r in results[0]]
    for rows, parts in zip(groups, results, strict=True):
        for out, part in zip(outs, parts, strict=True):
            out[rows] = part
    return outs


_SATURATION = 10.0


_TYPICAL = 2.0  # robust deviations within which most tiles of an array lie


@fill_doc
class BaseArrayFeatures(BaseTileFeatures):
    """Base class of features of a tile against the other tiles of its array.

    In the classifier's shared pass each array's context (photometric
    scale, reference pillar, residuals: :class:`~sklearn_pillars.features.ArrayContext`)
    is built once, from all its tiles, and handed to every stage's
    :meth:`context_rows`. A subclass defines ``feature_names`` and
    :meth:`context_rows` ``(context)`` (per-tile numbers, one row per tile
    of the array), and may override :meth:`final_rows` ``(parts,
    positions)`` (the features of one array's tiles from those numbers,
    where they need the neighbours or the grid lines). Each array's
    features are finally put on the scale of its own majority of tiles
    (:func:`~sklearn_pillars.features.robust_z`), so that they compare
    across arrays, and saturated smoothly at about 10 units
    (``10 * tanh(z / 10)``) so that clustering is not dominated by the most
    extreme tiles. Columns where only one direction means the defect
    (``_signs``) are cut at 2 deviations the other way, so that only
    deviations toward the defect stand out. Nothing
    is learnt in ``fit``: a new array is its own reference.

    Parameters
    ----------
    %(array_parameters)s

    See Also
    --------
    BaseTileFeatures : The protocol for features of each tile on its own.
    MissingContext : One of the package's subclasses.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import BaseArrayFeatures, make_pillar_arrays
    >>> class ResidualEnergy(BaseArrayFeatures):
    ...     feature_names = ("residual_energy",)
    ...     def context_rows(self, context):
    ...         return np.nanmean(context.residual**2, axis=(1, 2))[:, None]
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> ResidualEnergy().fit_transform(tiles.X).shape
    (36, 1)
    """

    _parameter_constraints = {
        "downsample": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
    }

    _signs = None  # per column: +1 (-1) keeps only deviations up (down), 0 both
    _floor = None  # per column: smallest deviation scale, in the parts' units

    def __init__(self, *, downsample=2, n_jobs=None):
        self.downsample = downsample
        self.n_jobs = n_jobs

    def context_rows(self, context):
        """Per-tile numbers of one array's tiles, given its context (for a subclass).

        Parameters
        ----------
        context : ArrayContext
            The array's tiles against its reference pillar.

        Returns
        -------
        ndarray of shape (n_tiles_of_the_array, n_columns)
        """
        raise NotImplementedError(f"{type(self).__name__} must define context_rows(context)")

    def final_rows(self, parts, positions):
        """One array's features from its tiles' :meth:`context_rows` (``parts`` by default)."""
        return parts

    def _check_tiles(self, X):
        self.check_downsample(X)
        tile_positions(X)

    def _row_features(self, X):
        self.check_downsample(X)
        parts = array_parts([self.context_rows], X, n_jobs=self.n_jobs, downsample=self.downsample)
        return parts[0], tile_positions(X)

    def check_downsample(self, X):
        """ValueError unless ``downsample`` divides the tiles of X and leaves 8 pixels a side."""
        size = tile_size_from_width(X.shape[1])
        if size % self.downsample or size // self.downsample < 8:
            raise ValueError(
                f"downsample={self.downsample} must divide the tile size {size} "
                f"and leave at least 8 pixels a side"
            )

    def _standardised(self, parts, positions):
        """One array's features in robust deviations of its tiles."""
        return robust_z(self.final_rows(parts, positions), self._floor)

    def finish_rows(self, rows, positions):
        out = None
        for array in np.unique(positions[:, 0]):
            members = np.flatnonzero(positions[:, 0] == array)
            features = self._standardised(rows[members], positions[members])
            # compress the tails: a defect many deviations out should not outweigh the
            # difference between the bulk and a defect a few deviations out
            features = _SATURATION * np.tanh(features / _SATURATION)
            if self._signs is not None:  # only deviations toward the defect stand out
                signs = np.asarray(self._signs)
                features = np.where(
                    signs != 0, signs * np.maximum(features * signs, -_TYPICAL), features
                )
            if out is None:
                out = np.empty((len(rows), features.shape[1]))
            out[members] = features
        return out


#: Methods the shared pass stands in for: a subclass that overrides one computes its
#: features its own way, stage by stage.
_PASS_METHODS = ("fit", "transform", "fit_transform")


def joins_shared_pass(features):
    """Whether the shared feature pass may compute these features.

    They may when they follow its protocol (:class:`BaseTileFeatures`), whoever wrote
    them, and leave the methods it stands in for (``fit``, ``transform``,
    ``fit_transform``) as the base defines them; otherwise the classifier fits them
    stage by stage.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_pillars import MissingContext
    >>> joins_shared_pass(MissingContext()), joins_shared_pass(StandardScaler())
    (True, False)
    """
    if not isinstance(features, BaseTileFeatures):
        return False
    cls = type(features)
    own = all(getattr(cls, m) is getattr(BaseTileFeatures, m) for m in _PASS_METHODS)
    return own and cls._row_features in (
        BaseTileFeatures._row_features,
        BaseArrayFeatures._row_features,
    )
