"""The refined preset's array-context feature families as transformers over the tile-set X."""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..utils.docstrings import fill_doc
from ..utils.fixes import Interval
from ._base import BaseArrayFeatures
from ._context import robust_z
from ._lines import LINE_FLOORS, STRONGEST_LINE_NAMES, line_features, line_profiles, strongest_line
from ._pillar import (
    COLLAPSED_FLOORS,
    COLLAPSED_NAMES,
    MISSING_FLOORS,
    MISSING_NAMES,
    collapsed_features,
    missing_features,
)
from ._shape import SHAPE_FLOORS, SHAPE_NAMES, shape_features, shape_parts


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

    feature_names = MISSING_NAMES
    _signs = (1, 1)
    _floor = MISSING_FLOORS

    def context_rows(self, context):
        return missing_features(context)


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

    feature_names = COLLAPSED_NAMES
    _signs = (1, 1, 1, 1)
    _floor = COLLAPSED_FLOORS

    def context_rows(self, context):
        return collapsed_features(context)


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

    feature_names = STRONGEST_LINE_NAMES
    _signs = (1,) * len(STRONGEST_LINE_NAMES)
    _parameter_constraints = {
        **BaseArrayFeatures._parameter_constraints,
        "seam_ratio": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, seam_ratio=0.5, *, downsample=2, n_jobs=None):
        super().__init__(downsample=downsample, n_jobs=n_jobs)
        self.seam_ratio = seam_ratio

    def context_rows(self, context):
        return line_profiles(context)

    def _standardised(self, parts, positions):
        # rows and columns each on their own scale, then the stronger of the two
        features = robust_z(line_features(parts, positions), LINE_FLOORS)
        return strongest_line(features)

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

    feature_names = SHAPE_NAMES
    _floor = SHAPE_FLOORS

    def context_rows(self, context):
        return shape_parts(context)

    def final_rows(self, parts, positions):
        return shape_features(parts, positions)
