"""The last stage of the peel-off: an outlier detector splits the tiles left into
Irregular and Good."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ..constants import GOOD, IRREGULAR
from ..utils.docstrings import fill_doc
from ..utils.fixes import Interval
from ._stages import _prepare, _Stage, default_detector


@fill_doc
class OutlierStage(_Stage):
    """The last layer: features, scaling and an outlier detector; outliers get ``label``.

    Fitting standardises the features of the tiles it is given (NaN and
    infinities replaced by 0 first), fits the detector and marks the tiles
    whose inconsistency (minus the detector's normality score) exceeds
    ``threshold_``. A detector with an ``n_neighbors`` parameter gets at
    most ``n - 1`` neighbours for ``n`` tiles, and at most ``n // 2`` for
    more than 40 tiles. New tiles are scored as novelties. With fewer than
    2 tiles the stage is skipped and marks nothing.

    A stage is a transformer: :meth:`transform` gives the tiles in the space
    the detector works in, and :meth:`peel` tells which tiles it marks.

    Parameters
    ----------
    features : transformer
        Features of the tiles (for example
        :class:`~sklearn_pillars.ContextualFeatures`, as in the ``"notebook"``
        preset).
    detector : estimator, default=None
        An outlier detector with ``fit`` and ``score_samples`` (higher =
        more normal), and an ``offset_`` cut unless ``threshold`` is given;
        cloned in ``fit``. None means
        ``LocalOutlierFactor(n_neighbors=20, contamination="auto")``. A
        detector with a ``novelty`` parameter (``LocalOutlierFactor``) is
        fitted with ``novelty=True``, so that new tiles can be scored; the
        training tiles' scores are still its ``negative_outlier_factor_``
        (each tile's score without itself as a neighbour, as
        ``fit_predict`` gives).
    label : str, default="Irregular"
        Class of outliers.
    inlier_label : str, default="Good"
        Class of the other tiles.
    threshold : float or None, default=None
        Inconsistency above which a tile is an outlier; None takes the
        detector's own cut (``-offset_``: 1.5 for LOF with
        ``contamination="auto"``).

    Attributes
    ----------
    features_, scaler_, detector_ : fitted estimators
        The fitted steps (``scaler_`` and ``detector_`` are None when the
        stage was skipped).
    inconsistency_ : ndarray of shape (n_train,)
        Inconsistency score of the training tiles (with LOF, the local
        outlier factor: about 1 for typical tiles, larger for inconsistent
        ones); minus the detector's normality score.
    threshold_ : float
        Tiles whose inconsistency is above it are outliers (``threshold``,
        or the detector's cut: 1.5 for ``contamination="auto"``); NaN when
        the stage was skipped.
    peeled_ : ndarray of bool, shape (n_train,)
        The training outliers.
    embedding_ : ndarray of shape (n_train, n_features_out)
        Scaled features of the training tiles; no columns when the stage
        was skipped.
    skipped_ : str or None
        Why the stage scored nothing (fewer than 2 tiles).
    %(fitted_input)s

    See Also
    --------
    PeelStage : A layer that clusters the tiles and peels clusters off.
    LayeredPeelClassifier : Chains stages; an OutlierStage must be the last.
    ContextualFeatures : The features the ``"notebook"`` preset scores here.

    Examples
    --------
    >>> from sklearn_pillars import ContextualFeatures, OutlierStage, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> stage = OutlierStage(ContextualFeatures()).fit(tiles.X)
    >>> stage.transform(tiles.X).shape  # the 22 features, standardised
    (36, 22)
    >>> scores = stage.score_samples(tiles.X)  # higher = more normal
    >>> bool((stage.peel(tiles.X) == (-scores > stage.threshold_)).all())
    True
    """

    def __init__(
        self, features, detector=None, *, label=IRREGULAR, inlier_label=GOOD, threshold=None
    ):
        self.features = features
        self.detector = detector
        self.label = label
        self.inlier_label = inlier_label
        self.threshold = threshold

    _parameter_constraints = {
        "features": [object],
        "detector": [None, object],
        "label": [object],
        "inlier_label": [object],
        "threshold": [None, Interval(Real, None, None, closed="neither")],
    }

    def fit(self, X, y=None):
        """Score the tiles of X and mark the outliers.

        Parameters
        ----------
        %(stage_fit_X)s

        Returns
        -------
        self : object
            The fitted stage.
        """
        return self._fit_tiles(X)

    def _fit(self, n, featurize):
        """Fit on n tiles; ``featurize(features_)`` fits the features and returns them."""
        self._validate_params()
        detector = default_detector() if self.detector is None else clone(self.detector)
        if "novelty" in detector.get_params():
            detector.set_params(novelty=True)
        self.features_ = clone(self.features)
        self.skipped_ = None
        if n < 2:
            self.skipped_ = f"{n} tile(s) left: nothing to compare with, none marked"
            self.scaler_ = self.detector_ = None
            self.threshold_ = np.nan
            self.inconsistency_ = np.full(n, np.nan)
            self.embedding_ = np.zeros((n, 0))
            self.peeled_ = np.zeros(n, dtype=bool)
            if n:
                featurize(self.features_)
            return self
        self.scaler_ = StandardScaler()
        Z = self.scaler_.fit_transform(_prepare(featurize(self.features_)))
        if "n_neighbors" in detector.get_params():
            # at most n - 1; for more than 40 tiles at most half of them, since LOF with
            # every tile as a neighbour of every other scores them all alike
            cap = n - 1 if n <= 40 else n // 2
            detector.set_params(n_neighbors=min(detector.get_params()["n_neighbors"], cap))
        self.detector_ = detector.fit(Z)
        self.threshold_ = (
            -float(detector.offset_) if self.threshold is None else float(self.threshold)
        )
        if hasattr(detector, "negative_outlier_factor_"):
            self.inconsistency_ = -detector.negative_outlier_factor_
        else:
            self.inconsistency_ = -detector.score_samples(Z)
        self.embedding_ = Z
        self.peeled_ = self.inconsistency_ > self.threshold_
        return self

    def transform(self, X):
        """The tiles' scaled features (the space the detector works in).

        Parameters
        ----------
        %(stage_X)s

        Returns
        -------
        ndarray of shape (n_tiles, n_features_out)
            The features, standardised by ``scaler_`` (unscaled when the
            stage was skipped).
        """
        check_is_fitted(self, "peeled_")
        X = self._validate_X(X, reset=False)
        F = _prepare(self.features_.transform(X))
        return F if self.scaler_ is None else self.scaler_.transform(F)

    def score_samples(self, X):
        """Normality of new tiles (scored as novelties): the higher, the more normal.

        The detector's ``score_samples``, scikit-learn's sign (about -1 for a
        typical tile with LOF); tiles scoring below ``-threshold_`` are
        outliers. NaN for every tile when the stage was skipped.

        Parameters
        ----------
        %(stage_X)s

        Returns
        -------
        ndarray of shape (n_tiles,)
            The detector's ``score_samples`` of the scaled features.
        """
        return -self.inconsistency(X)

    def inconsistency(self, X):
        """Inconsistency of new tiles: minus :meth:`score_samples`, the higher the odder.

        The score the report shows, on the scale of ``inconsistency_`` and
        ``threshold_`` (about 1 for a typical tile with LOF).

        Parameters
        ----------
        %(stage_X)s

        Returns
        -------
        ndarray of shape (n_tiles,)
            Minus the detector's ``score_samples``; NaN for every tile when
            the stage was skipped.
        """
        check_is_fitted(self, "peeled_")
        X = self._validate_X(X, reset=False)
        return self._score(X.shape[0], lambda features: features.transform(X))[1]

    def peel(self, X):
        """Which tiles of X are outliers (inconsistency above ``threshold_``).

        Parameters
        ----------
        %(stage_X)s

        Returns
        -------
        ndarray of bool, shape (n_tiles,)
            True for the outliers; all False when the stage was skipped.
        """
        return self.inconsistency(X) > self.threshold_

    def _score(self, n, featurize):
        """Scaled features and inconsistency of n new tiles (None and NaN if skipped)."""
        if self.detector_ is None or n == 0:
            return None, np.full(n, np.nan)
        Z = self.scaler_.transform(_prepare(featurize(self.features_)))
        return Z, novelty_inconsistency(self.detector_, Z)

    def _training_outcome(self):
        return Bunch(
            embedding=self.embedding_ if self.detector_ is not None else None,
            clusters=None,
            scores=self.inconsistency_,
            kinds=None,
            peeled=self.peeled_,
        )

    def _outcome(self, n, featurize, fit):
        """Fit on (``fit=True``) or score n tiles; what the stage saw and decided."""
        if fit:
            return self._fit(n, featurize)._training_outcome()
        Z, scores = self._score(n, featurize)
        return Bunch(
            embedding=Z, clusters=None, scores=scores, kinds=None, peeled=scores > self.threshold_
        )


#: New tiles whose neighbours are looked up at a time (bounds the (tiles, neighbours) arrays).
QUERY_CHUNK = 8192


def novelty_inconsistency(detector, Z):
    """Minus ``detector.score_samples(Z)``.

    For a fitted :class:`~sklearn.neighbors.LocalOutlierFactor` (novelty) with
    the Euclidean metric that searches a k-d tree (few features), the
    neighbours come from SciPy's ``cKDTree`` (5 times faster than
    scikit-learn's at 100 neighbours in 6 dimensions), ``QUERY_CHUNK`` tiles at
    a time, and the score from scikit-learn's formula: the mean ratio of the
    neighbours' local reachability densities to the tile's. The neighbours'
    distances are the same, so are the scores (to rounding). Any other
    detector scores itself (brute force, scikit-learn's choice for many
    features, beats any tree there).
    """
    if not _euclidean_lof(detector) or len(Z) == 0:
        return -detector.score_samples(Z)
    reference = detector._fit_X
    k = detector.n_neighbors_
    tree = cKDTree(reference)
    scores = np.empty(len(Z))
    for start in range(0, len(Z), QUERY_CHUNK):
        chunk = np.asarray(Z[start : start + QUERY_CHUNK], dtype=np.float64)
        distances, neighbours = tree.query(chunk, k=k)
        distances = distances.reshape(len(chunk), k)
        neighbours = neighbours.reshape(len(chunk), k)
        # reachability distance: at least the neighbour's own k-distance
        reach = np.maximum(distances, detector._distances_fit_X_[neighbours, k - 1])
        density = 1.0 / (reach.mean(axis=1) + 1e-10)
        scores[start : start + QUERY_CHUNK] = (detector._lrd[neighbours] / density[:, None]).mean(
            axis=1
        )
    return scores


def _euclidean_lof(detector):
    """Whether ``detector`` is a fitted novelty LOF searching a k-d tree on the Euclidean
    metric, whose private state :func:`novelty_inconsistency` reads."""
    if type(detector) is not LocalOutlierFactor or not detector.novelty:
        return False
    euclidean = detector.metric in ("euclidean", "l2") or (
        detector.metric == "minkowski" and detector.p == 2
    )
    if getattr(detector, "_fit_method", None) != "kd_tree":
        return False
    state = ("_fit_X", "_distances_fit_X_", "_lrd", "n_neighbors_")
    return (
        euclidean
        and not detector.metric_params
        and all(hasattr(detector, name) for name in state)
        and isinstance(detector._fit_X, np.ndarray)
    )
