"""The four layers' features as scikit-learn transformers over the tile-set X."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import context as C
from . import features as F
from ._docstrings import fill_doc
from ._sklearn_compat import Interval, StrOptions, _check_feature_names_in
from .tileset import (
    check_unique_positions,
    iter_tile_batches,
    tile_positions,
    tile_size_from_width,
    unpack_tiles,
)

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
        "n_jobs": [None, Integral],
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
        X : array-like of shape (n_tiles, n_features)
            Tile-set X with as many columns as the X seen in ``fit``.

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
        _check_feature_names_in(self, input_features)
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
    n_jobs = effective_n_jobs(n_jobs)
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
        batch = F.TileBatch(tiles)
        results = [compute(batch) for compute in computes]
        if outs is None:
            outs = [np.empty((X.shape[0], r.shape[1])) for r in results]
        for out, result in zip(outs, results, strict=True):
            out[index] = result
    return outs


@fill_doc
class CenterIntensity(BaseTileFeatures):
    """Layer 1 features (Missing): grey levels of the tile's centre against its edge.

    Six columns: mean, standard deviation, minimum and maximum of the grey
    levels of the central half of the tile (half its height by half its
    width), the mean of the rest of the tile, and the difference of the two
    means. A missing pillar leaves a light centre. Nothing is learnt in
    ``fit``. These are the features of the first layer of the ``"notebook"``
    preset (its ``extract_center_intensity``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    MissingContext : Layer 1 features that compare each tile with its own array.
    PillarFeatures : All four layers' features in one pass over X.
    PeelStage : Clusters features such as these and peels the defect cluster.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, CenterIntensity
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> CenterIntensity().fit_transform(tiles.X).shape
    (441, 6)
    """

    feature_names = F.CENTER_INTENSITY_NAMES
    compute_rows = staticmethod(F.center_intensity)


@fill_doc
class DarknessArea(BaseTileFeatures):
    """Layer 2 features (Collapsed): darkness and the area of the largest dark blob.

    Five columns: mean grey level, share of pixels below 80 and below 50,
    area in pixels of the largest external contour of the inverse Otsu mask
    (the dark blob), and that area over the tile's area. A collapsed pillar
    is a large dark blob. Nothing is learnt in ``fit``. These are the
    features of the second layer of the ``"notebook"`` preset (its
    ``extract_darkness_area``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    CollapsedContext : Layer 2 features that compare each tile with its own array.
    CenterIntensity : Layer 1 features of the same preset.
    PillarFeatures : All four layers' features in one pass over X.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, DarknessArea
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> DarknessArea().fit_transform(tiles.X).shape
    (441, 5)
    """

    feature_names = F.DARKNESS_AREA_NAMES
    compute_rows = staticmethod(F.darkness_area)


@fill_doc
class StitchingFeatures(BaseTileFeatures):
    """Layer 3 features (Stitching): sharp straight lines through the tile.

    Ten columns: largest jumps of the row and column mean profiles,
    half-tile intensity splits, border strips against the centre, strongest
    Sobel row and column, and their sum as a stitching score. Nothing is
    learnt in ``fit``. These are the features of the third layer of the
    ``"notebook"`` preset (its ``extract_stitching_features``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    LineContext : Layer 3 features pooled along whole grid rows and columns.
    PillarFeatures : All four layers' features in one pass over X.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, StitchingFeatures
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> StitchingFeatures().fit_transform(tiles.X).shape
    (441, 10)
    """

    feature_names = F.STITCHING_NAMES
    compute_rows = staticmethod(F.stitching_features)


@fill_doc
class RotationSymmetry(BaseTileFeatures):
    """Layer 4 features: how much the tile changes under quarter turns.

    Four columns: mean and maximum RMS difference and mean and maximum
    SSIM dissimilarity over the six pairs of the tile's four rotations
    (by 0, 90, 180 and 270 degrees). Nothing is learnt in ``fit``. The first
    columns of :class:`~sklearn_pillars.ContextualFeatures` (the
    ``"notebook"`` preset's ``compute_rotation_symmetry``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    ContextualFeatures : These columns and four other families, in one pass.
    Anisotropy : Directionality of the tile's gradients.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, RotationSymmetry
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> RotationSymmetry().fit_transform(tiles.X).shape
    (441, 4)
    """

    feature_names = F.ROTATION_NAMES
    compute_rows = staticmethod(F.rotation_symmetry)


@fill_doc
class NeighborDeviation(BaseTileFeatures):
    """Layer 4 features: deviation from the grid neighbours present in X.

    Five columns: each tile's mean, standard deviation, blob area ratio
    and blob circularity minus the mean of those of its (up to eight)
    neighbours, and the norm of that difference. Neighbours are the rows of
    the X given with the same array index at adjacent grid sites, so a
    tile's values depend on which other tiles are passed with it: in
    :class:`~sklearn_pillars.LayeredPeelClassifier`, tiles peeled off by
    earlier layers are not neighbours. A tile without neighbours in X gets
    zeros; two rows of one array at the same site raise ValueError. With
    ``layout="strip"`` no row has neighbours. Nothing is learnt in ``fit``.
    Part of :class:`~sklearn_pillars.ContextualFeatures` (the ``"notebook"``
    preset's ``compute_neighbor_deviation``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    ContextualFeatures : These columns and four other families, in one pass.
    ShapeContext : The pillar's offset from its neighbours, among other shape features.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, NeighborDeviation
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> NeighborDeviation().fit_transform(tiles.X).shape
    (441, 5)
    """

    feature_names = F.NEIGHBOR_NAMES
    compute_rows = staticmethod(F.base_features)
    _row_width = 4

    def finish_rows(self, rows, positions):
        return F.neighbor_deviation(rows, positions)


@fill_doc
class Anisotropy(BaseTileFeatures):
    """Layer 4 features: directionality of the tile's gradients.

    Four columns: anisotropy and coherence of the structure tensor summed
    over the tile, absolute dominant orientation, and the eigenvalue ratio.
    Nothing is learnt in ``fit``. Part of
    :class:`~sklearn_pillars.ContextualFeatures` (the ``"notebook"``
    preset's ``compute_anisotropy``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    ContextualFeatures : These columns and four other families, in one pass.
    RotationSymmetry : How much the tile changes under quarter turns.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, Anisotropy
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> Anisotropy().fit_transform(tiles.X).shape
    (441, 4)
    """

    feature_names = F.ANISOTROPY_NAMES
    compute_rows = staticmethod(F.anisotropy)


@fill_doc
class CurvatureIrregularity(BaseTileFeatures):
    """Layer 4 features: irregularity of the largest blob's outline.

    Five columns: kurtosis, maximum and 95th percentile of the absolute
    curvature along the largest blob's contour, sign changes per contour
    point, and the curvature variance (zeros when the contour has fewer
    than 10 points). Nothing is learnt in ``fit``. Part of
    :class:`~sklearn_pillars.ContextualFeatures` (the ``"notebook"``
    preset's ``compute_curvature_irregularity``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    ContextualFeatures : These columns and four other families, in one pass.
    ShapeContext : Outline features that compare each pillar with its own array.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, CurvatureIrregularity
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> CurvatureIrregularity().fit_transform(tiles.X).shape
    (441, 5)
    """

    feature_names = F.CURVATURE_NAMES
    compute_rows = staticmethod(F.curvature_irregularity)


@fill_doc
class RadialDeviation(BaseTileFeatures):
    """Layer 4 features: deviation of the radial profile from the fitted mean profile.

    Four columns: norm, maximum, innermost-ring and outermost-ring absolute
    deviation of the tile's 8-ring radial mean profile from
    ``mean_profile_``, the mean profile of the tiles seen in ``fit``. So
    ``fit_transform`` compares the tiles with their own mean profile, and
    ``transform`` compares new tiles with the training tiles' one. Part of
    :class:`~sklearn_pillars.ContextualFeatures` (the ``"notebook"``
    preset's ``compute_radial_deviation``).

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    mean_profile_ : ndarray of shape (8,)
        Mean radial profile of the training tiles.
    %(fitted_input)s

    See Also
    --------
    ContextualFeatures : These columns and four other families, in one pass.
    NeighborDeviation : Deviation from the tile's grid neighbours instead of from all tiles.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, RadialDeviation
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> RadialDeviation().fit(tiles.X).mean_profile_.shape
    (8,)
    """

    feature_names = F.RADIAL_NAMES
    compute_rows = staticmethod(F.radial_profile)
    _row_width = F.N_RADIAL_BINS

    def learn_rows(self, rows, positions):
        self.mean_profile_ = rows.mean(axis=0)

    def finish_rows(self, rows, positions):
        return F.radial_deviation(rows, self.mean_profile_)


class _TileFeatureUnion(BaseTileFeatures):
    """Several feature families in one pass over X, sharing each batch's intermediates.

    Equal to a ``FeatureUnion`` of the parts, but each batch of tiles is
    decoded once and what the parts share (contours, gradients, sums) is
    computed once.
    """

    _families: tuple = ()  # (name, transformer class) pairs, in column order

    def _new_parts(self):
        params = {key: getattr(self, key) for key in ("layout", "batch_size", "n_jobs")}
        return [(name, cls(**params)) for name, cls in self._families]

    def compute_rows(self, batch):
        return np.hstack([cls.compute_rows(batch) for _, cls in self._families])

    def _split(self, rows):
        widths = [cls._row_width or len(cls.feature_names) for _, cls in self._families]
        return np.split(rows, np.cumsum(widths)[:-1], axis=1)

    def learn_rows(self, rows, positions):
        self.transformers_ = self._new_parts()
        for (_, part), part_rows in zip(self.transformers_, self._split(rows), strict=True):
            part.learn_rows(part_rows, positions)
            part.n_features_in_ = self.n_features_in_

    def finish_rows(self, rows, positions):
        return np.hstack(
            [
                part.finish_rows(part_rows, positions)
                for (_, part), part_rows in zip(self.transformers_, self._split(rows), strict=True)
            ]
        )


_CONTEXTUAL_PARTS = (
    ("rotation", RotationSymmetry),
    ("neighbor", NeighborDeviation),
    ("anisotropy", Anisotropy),
    ("curvature", CurvatureIrregularity),
    ("radial", RadialDeviation),
)


@fill_doc
class ContextualFeatures(_TileFeatureUnion):
    """Layer 4 features (Irregular): 22 contextual columns in one transformer.

    The columns of :class:`~sklearn_pillars.RotationSymmetry`,
    :class:`~sklearn_pillars.NeighborDeviation`,
    :class:`~sklearn_pillars.Anisotropy`,
    :class:`~sklearn_pillars.CurvatureIrregularity` and
    :class:`~sklearn_pillars.RadialDeviation`, in that order. It equals a
    ``FeatureUnion`` of the five, but decodes each batch once and computes
    what they share (contours, gradients, sums) once per tile. These are the
    features of the last layer of the ``"notebook"`` preset, whose
    :class:`~sklearn_pillars.OutlierStage` scores them.

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    transformers_ : list of (str, transformer)
        The five fitted parts, in column order (``"rotation"``,
        ``"neighbor"``, ``"anisotropy"``, ``"curvature"``, ``"radial"``).
    %(fitted_input)s

    See Also
    --------
    PillarFeatures : These columns after those of the first three layers.
    OutlierStage : Scores features such as these with an outlier detector.
    ShapeContext : Layer 4 features that compare each pillar with its own array.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, ContextualFeatures
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> ContextualFeatures().fit_transform(tiles.X).shape
    (441, 22)
    """

    _families = _CONTEXTUAL_PARTS
    feature_names = tuple(name for _, cls in _families for name in cls.feature_names)


@fill_doc
class PillarFeatures(_TileFeatureUnion):
    """All four layers' features, 43 columns, in one pass over X.

    The columns of :class:`~sklearn_pillars.CenterIntensity`,
    :class:`~sklearn_pillars.DarknessArea`,
    :class:`~sklearn_pillars.StitchingFeatures` and
    :class:`~sklearn_pillars.ContextualFeatures`, in that order, computed
    with one decode of each batch and shared intermediates: the fastest way
    to get every feature of every tile (for example to train a supervised
    model on labelled tiles). Neighbour and radial features use all the
    tiles given; :class:`~sklearn_pillars.LayeredPeelClassifier` instead
    computes them on the tiles left for its last layer only.

    Parameters
    ----------
    %(tile_parameters)s

    Attributes
    ----------
    transformers_ : list of (str, transformer)
        The eight fitted parts, in column order (``"center"``,
        ``"darkness"``, ``"stitching"``, then those of
        :class:`~sklearn_pillars.ContextualFeatures`).
    %(fitted_input)s

    See Also
    --------
    ContextualFeatures : The last 22 of these columns only.
    LayeredPeelClassifier : Computes each layer's features on the tiles left for it.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, PillarFeatures
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> PillarFeatures().fit_transform(tiles.X).shape
    (441, 43)
    """

    _families = (
        ("center", CenterIntensity),
        ("darkness", DarknessArea),
        ("stitching", StitchingFeatures),
        *_CONTEXTUAL_PARTS,
    )
    feature_names = tuple(name for _, cls in _families for name in cls.feature_names)


def array_parts(computes, X, layout="tiles", n_jobs=None, downsample=1):
    """Per-tile parts computed in the context of each tile's array, in one pass over X.

    The rows of each array index are decoded together and compared with
    their array's reference pillar (:func:`~sklearn_pillars.context.array_context`,
    built once per array); each function of ``computes`` maps that context
    to one row of numbers per tile. With ``n_jobs`` > 1, arrays are done in
    that many threads at once (NumPy, SciPy's FFT and OpenCV release the
    GIL for most of the work; an array's tiles are not copied to a process).
    With ``downsample`` > 1 the tiles are first averaged over blocks of that
    many pixels a side (:func:`~sklearn_pillars.context.downsample`).

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
        full = C.centred_tiles(canvas, shapes, where)
        context = C.array_context(
            C.downsample(full, downsample),
            detail=full if downsample > 1 else None,
            factor=downsample,
            sites=where[:, 1:],
        )
        return [compute(context) for compute in computes]

    workers = min(effective_n_jobs(n_jobs), len(groups))
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
    scale, reference pillar, residuals: :class:`~sklearn_pillars.context.ArrayContext`)
    is built once, from all its tiles, and handed to every stage's
    :meth:`context_rows`. A subclass defines ``feature_names`` and
    :meth:`context_rows` ``(context)`` (per-tile numbers, one row per tile
    of the array), and may override :meth:`final_rows` ``(parts,
    positions)`` (the features of one array's tiles from those numbers,
    where they need the neighbours or the grid lines). Each array's
    features are finally put on the scale of its own majority of tiles
    (:func:`~sklearn_pillars.context.robust_z`), so that they compare
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
        "n_jobs": [None, Integral],
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
        return C.robust_z(self.final_rows(parts, positions), self._floor)

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


@fill_doc
class MissingContext(BaseArrayFeatures):
    """Refined layer 1 features (Missing): is the site lighter than the array's pillars?

    Two columns (``pillar_residual``, ``centre_level``): the mean
    residual where the reference pillar lies (large when the site is bare
    substrate) and the mean of the tile's centre, each in robust standard
    deviations of its array's tiles and counted only where lighter than
    typical (darker sites are not missing pillars: deviations toward darker
    are cut at 2). Nothing is learnt in
    ``fit``: each array is its own reference (its majority of tiles), so
    the features compare across arrays.

    Parameters
    ----------
    %(array_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    CenterIntensity : Layer 1 features against fixed references.
    CollapsedContext : Refined layer 2 features.
    SeparatedClusters : The rule the refined preset peels these features' clusters with.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, MissingContext
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> MissingContext().fit_transform(tiles.X).shape
    (441, 2)
    """

    feature_names = C.MISSING_NAMES
    _signs = (1, 1)
    _floor = C.MISSING_FLOORS

    def context_rows(self, context):
        return C.missing_features(context)


@fill_doc
class CollapsedContext(BaseArrayFeatures):
    """Refined layer 2 features (Collapsed): a dark filled blob against the reference pillar.

    Four columns (``below_rim``, ``dark_area``, ``centre_darkness``,
    ``median_darkness``): the share of the tile's centre and the share of
    the whole tile darker than 0.8 of the reference pillar's darkest grey
    level (a filled blob is dark where a pillar is dark only on its rim),
    and minus the first quartile and minus the median of the centre's grey
    levels (a pillar's light interior keeps them high); each in robust
    standard deviations of its array's tiles, counted only toward darker
    (deviations toward lighter are cut at 2).
    Nothing is learnt in ``fit``: each array is its own reference.

    Parameters
    ----------
    %(array_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    DarknessArea : Layer 2 features against fixed references.
    MissingContext : Refined layer 1 features.
    SeparatedClusters : The rule the refined preset peels these features' clusters with.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, CollapsedContext
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> CollapsedContext().fit_transform(tiles.X).shape
    (441, 4)
    """

    feature_names = C.COLLAPSED_NAMES
    _signs = (1, 1, 1, 1)
    _floor = C.COLLAPSED_FLOORS

    def context_rows(self, context):
        return C.collapsed_features(context)


@fill_doc
class LineContext(BaseArrayFeatures):
    """Refined layer 3 features (Stitching): straight lines shared by a grid row or column.

    Four columns (``line``, ``sharpness``, ``line_outside``,
    ``sharpness_outside``): of the tile's grid row and column, the one that
    shares the stronger line, how strongly and how sharply its tiles'
    residuals share it against the nearby rows (columns), across the
    pillars and across the substrate between them; each in robust standard
    deviations of its array's tiles, counted only upwards (deviations
    downwards are cut at 2). Rows and columns
    are scaled separately before the stronger is taken, so a model fitted on
    horizontal lines also knows vertical ones. Nothing is learnt in ``fit``.

    :meth:`kinds` tells the two kinds of Stitching apart: a ``"seam"``
    (stitched microscope frames meet; the line crosses the substrate too)
    or a ``"field"`` line (lithography write fields meet; the line splits
    the pillars only).

    Parameters
    ----------
    seam_ratio : float, default=0.5
        A line is a seam when its strength over the substrate is at least
        this share of its strength across the pillars.
    %(array_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    StitchingFeatures : Layer 3 features of each tile on its own.
    SeparatedClusters : The rule the refined preset peels these features' clusters with.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, LineContext
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> features = LineContext().fit_transform(tiles.X)
    >>> features.shape, set(LineContext().kinds(features)) <= {"seam", "field"}
    ((441, 4), True)
    """

    feature_names = C.STRONGEST_LINE_NAMES
    _signs = (1,) * len(C.STRONGEST_LINE_NAMES)
    _parameter_constraints = {
        **BaseArrayFeatures._parameter_constraints,
        "seam_ratio": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, seam_ratio=0.5, *, downsample=2, n_jobs=None):
        super().__init__(downsample=downsample, n_jobs=n_jobs)
        self.seam_ratio = seam_ratio

    def context_rows(self, context):
        return C.line_profiles(context)

    def _standardised(self, parts, positions):
        # rows and columns each on their own scale, then the stronger of the two
        features = C.robust_z(C.line_features(parts, positions), C.LINE_FLOORS)
        return C.strongest_line(features)

    def kinds(self, features):
        """``"seam"`` or ``"field"`` for each row of this transformer's output.

        A row is a ``"seam"`` when its line and sharpness over the substrate
        (``line_outside + sharpness_outside``) are at least ``seam_ratio``
        times those across the pillars (``line + sharpness``), else a
        ``"field"`` line. Needs no fit.

        Parameters
        ----------
        features : array-like of shape (n_tiles, 4)
            Output of :meth:`transform` (or ``fit_transform``).

        Returns
        -------
        ndarray of str, shape (n_tiles,)
            ``"seam"`` or ``"field"`` for each row (also for tiles with no
            line: look at the features or the class for that).
        """
        F = np.asarray(features)
        inside, outside = F[:, 0] + F[:, 1], F[:, 2] + F[:, 3]
        return np.where(outside >= self.seam_ratio * inside, "seam", "field")


@fill_doc
class ShapeContext(BaseArrayFeatures):
    """Refined layer 4 features (Irregular): the pillar's place, size and outline.

    Six columns (``offset_from_neighbours``, ``residual_rms``, ``match``,
    ``scale_from_neighbours``, ``elongation``, ``deformation_gain``): the
    distance of the pillar's position from the median of its grid
    neighbours' (among the tiles given), the residual energy around it, its
    correlation with the array's reference pillar, the log scale at which a
    scaled reference fits it best minus its neighbours' median, how much
    better a stretched reference fits than the best round one, and how much
    better the best deformed reference fits than the undeformed one; each in
    robust standard deviations of its array's tiles, in both directions.
    Nothing is learnt in ``fit``: each array is its own reference.

    Parameters
    ----------
    %(array_parameters)s

    Attributes
    ----------
    %(fitted_input)s

    See Also
    --------
    ContextualFeatures : Layer 4 features against fixed references.
    OutlierStage : Scores features such as these with an outlier detector.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays, ShapeContext
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> ShapeContext().fit_transform(tiles.X).shape
    (441, 6)
    """

    feature_names = C.SHAPE_NAMES
    _floor = C.SHAPE_FLOORS

    def context_rows(self, context):
        return C.shape_parts(context)

    def final_rows(self, parts, positions):
        return C.shape_features(parts, positions)
