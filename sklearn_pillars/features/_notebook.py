"""The notebook's feature families as transformers over the tile-set X."""

from __future__ import annotations

import numpy as np

from ..utils.docstrings import fill_doc
from ._base import BaseTileFeatures
from ._contextual import (
    ANISOTROPY_NAMES,
    CURVATURE_NAMES,
    N_RADIAL_BINS,
    NEIGHBOR_NAMES,
    RADIAL_NAMES,
    anisotropy,
    curvature_irregularity,
    neighbor_deviation,
    radial_deviation,
    radial_profile,
)
from ._tile import (
    CENTER_INTENSITY_NAMES,
    DARKNESS_AREA_NAMES,
    ROTATION_NAMES,
    STITCHING_NAMES,
    base_features,
    center_intensity,
    darkness_area,
    rotation_symmetry,
    stitching_features,
)


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

    feature_names = CENTER_INTENSITY_NAMES
    compute_rows = staticmethod(center_intensity)


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

    feature_names = DARKNESS_AREA_NAMES
    compute_rows = staticmethod(darkness_area)


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

    feature_names = STITCHING_NAMES
    compute_rows = staticmethod(stitching_features)


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

    feature_names = ROTATION_NAMES
    compute_rows = staticmethod(rotation_symmetry)


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

    feature_names = NEIGHBOR_NAMES
    compute_rows = staticmethod(base_features)
    _row_width = 4

    def finish_rows(self, rows, positions):
        return neighbor_deviation(rows, positions)


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

    feature_names = ANISOTROPY_NAMES
    compute_rows = staticmethod(anisotropy)


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

    feature_names = CURVATURE_NAMES
    compute_rows = staticmethod(curvature_irregularity)


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

    feature_names = RADIAL_NAMES
    compute_rows = staticmethod(radial_profile)
    _row_width = N_RADIAL_BINS

    def learn_rows(self, rows, positions):
        self.mean_profile_ = rows.mean(axis=0)

    def finish_rows(self, rows, positions):
        return radial_deviation(rows, self.mean_profile_)


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
