"""The stages of the layered peel-off: a cluster stage, an outlier stage and their rules."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docstrings import fill_doc
from ._sklearn_compat import Interval, StrOptions, _check_feature_names_in
from .constants import GOOD, IRREGULAR, MISSING


def default_clusterer(n_clusters=3):
    """The KMeans of a :class:`PeelStage` without a ``clusterer`` and of the presets:
    ``KMeans(n_clusters, random_state=42, n_init=10)`` (the original analysis' seed)."""
    return KMeans(n_clusters=n_clusters, random_state=42, n_init=10)


def default_detector(n_neighbors=20):
    """The outlier detector of an :class:`OutlierStage` without a ``detector`` and of the
    presets: ``LocalOutlierFactor(n_neighbors, contamination="auto", novelty=True)``."""
    return LocalOutlierFactor(n_neighbors=n_neighbors, contamination="auto", novelty=True)


def smallest_cluster(cluster_labels, embedding=None):
    """The default selection rule of a cluster stage: the cluster with the fewest tiles.

    Ties go to the cluster that appears first in ``cluster_labels`` (as with
    ``min`` over a ``collections.Counter``). When the tiles fall into a
    single cluster there is nothing to tell apart, and no cluster is chosen.
    Otherwise a cluster is always chosen, whether or not its tiles hold a
    defect. This is the rule of the ``"notebook"`` preset
    (``rule="smallest"`` of :class:`~sklearn_pillars.PeelStage`).

    Parameters
    ----------
    cluster_labels : ndarray of shape (n_tiles,)
        Cluster of each tile.
    embedding : ndarray of shape (n_tiles, n_components), default=None
        The tiles' scaled, reduced features (unused by this rule; accepted so
        that every rule is called alike).

    Returns
    -------
    list of int
        The chosen cluster: one label, or none when there is a single
        cluster.

    See Also
    --------
    SeparatedClusters : Peels only the clusters that lie far from the bulk.
    PeelStage : Calls a rule on its training tiles' clusters.

    Examples
    --------
    >>> from sklearn_pillars import smallest_cluster
    >>> smallest_cluster([0, 0, 2, 1, 1, 2, 0])
    [2]
    >>> smallest_cluster([3, 3, 3])
    []
    """
    ids, first, counts = np.unique(cluster_labels, return_index=True, return_counts=True)
    if len(ids) < 2:
        return []
    order = np.argsort(first, kind="stable")  # order of first appearance
    ids, counts = ids[order], counts[order]
    return [int(ids[np.argmin(counts)])]


class SeparatedClusters(BaseEstimator):
    """A selection rule that peels only clusters lying far from the bulk of the tiles.

    A cluster is chosen when the median of its tiles lies at least
    ``min_distance`` from the median of all the tiles (the typical tile, as
    long as defects are fewer than half), in the units of the space the
    tiles were clustered in. With
    features on a common scale, such as the refined preset's robust
    deviations from each array's typical tile, the rule reads "the typical
    tile of this cluster is at least ``min_distance`` deviations away from
    the typical tile": tiles that are all alike split into neighbouring
    clusters a couple of deviations apart, so an array without the defect
    loses nothing, while a cluster of defects lies far out.

    Parameters
    ----------
    min_distance : float, default=6.0
        Distance between the medians of a cluster and of all the tiles from
        which the cluster is peeled.
    max_share : float, default=0.5
        A cluster holding more than this share of the tiles is never peeled.

    See Also
    --------
    smallest_cluster : The rule that always peels the smallest cluster.
    PeelStage : Calls the rule on its training tiles' clusters.
    make_stages : The ``"refined"`` preset peels every cluster stage with this rule.

    Notes
    -----
    An instance is called as ``rule(cluster_labels, embedding)`` and returns
    the list of chosen cluster labels (possibly empty); it has no fitted
    state. The parameters are validated on each call (an invalid one raises
    ``InvalidParameterError``, a ValueError).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = np.r_[rng.normal(0, 1, (95, 2)), rng.normal(12, 1, (5, 2))]
    >>> labels = np.r_[np.zeros(95, int), np.ones(5, int)]
    >>> SeparatedClusters()(labels, Z)
    [1]
    >>> Z = rng.normal(0, 1, (100, 2))
    >>> SeparatedClusters()((Z[:, 0] > 1).astype(int), Z)
    []
    """

    _parameter_constraints = {
        "min_distance": [Interval(Real, 0, None, closed="left")],
        "max_share": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, min_distance=6.0, max_share=0.5):
        self.min_distance = min_distance
        self.max_share = max_share

    def distances(self, cluster_labels, embedding):
        """Distance of each cluster's median from the median of all the tiles.

        Parameters
        ----------
        cluster_labels : array-like of shape (n_tiles,)
            Cluster of each tile.
        embedding : array-like of shape (n_tiles, n_components)
            The tiles in the space they were clustered in.

        Returns
        -------
        ids : ndarray of shape (n_clusters,)
            The cluster labels found, sorted.
        distances : ndarray of shape (n_clusters,)
            Euclidean distance of each cluster's (per-coordinate) median from
            that of all the tiles.
        """
        Z = np.asarray(embedding, dtype=np.float64)
        cluster_labels = np.asarray(cluster_labels)
        ids = np.unique(cluster_labels)
        centre = np.median(Z, axis=0)
        medians = np.array([np.median(Z[cluster_labels == i], axis=0) for i in ids])
        return ids, np.linalg.norm(medians - centre, axis=1)

    def __call__(self, cluster_labels, embedding):
        """The clusters to peel: far enough out, and not too large.

        Parameters
        ----------
        cluster_labels : array-like of shape (n_tiles,)
            Cluster of each tile.
        embedding : array-like of shape (n_tiles, n_components)
            The tiles in the space they were clustered in.

        Returns
        -------
        list of int
            The labels of the clusters whose median lies at least
            ``min_distance`` from all the tiles' and that hold at most
            ``max_share`` of the tiles; possibly empty.
        """
        self._validate_params()
        cluster_labels = np.asarray(cluster_labels)
        ids, distances = self.distances(cluster_labels, embedding)
        counts = np.array([np.sum(cluster_labels == i) for i in ids])
        chosen = (distances >= self.min_distance) & (counts <= self.max_share * counts.sum())
        return [int(i) for i in ids[chosen]]


_RULES = {"smallest": lambda: smallest_cluster, "separated": SeparatedClusters}


def _prepare(features_out):
    """The features with NaN and infinities replaced by 0, before scaling."""
    return np.nan_to_num(
        np.asarray(features_out, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0
    )


def _kinds(features, features_out):
    """The kind of defect of each tile, when the features tell kinds apart (else None)."""
    kinds = getattr(features, "kinds", None)
    return None if kinds is None else np.asarray(kinds(features_out), dtype=object)


def _n_clusters(clusterer):
    params = clusterer.get_params(deep=False)
    for key in ("n_clusters", "n_components"):
        if isinstance(params.get(key), Integral):
            return params[key]
    return 1


class _Stage(TransformerMixin, BaseEstimator):
    """What both kinds of stage share: input checks, tags and output names.

    A stage transforms tiles into the scaled (and, for a cluster stage,
    reduced) features its clusterer or detector works in.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _validate_X(self, X, reset):
        return validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))

    def _fit_tiles(self, X):
        """``fit`` on X itself: check it, then fit the features and the rest on it."""
        self._validate_params()
        X = self._validate_X(X, reset=True)
        return self._fit(X.shape[0], lambda features: features.fit_transform(X))

    def fit_transform(self, X, y=None):
        """Fit, and return the training tiles in the space the stage works in.

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tiles in the layout the features read (see the :ref:`X layout <x_layout>`).
        y : None
            Ignored.

        Returns
        -------
        ndarray of shape (n_tiles, n_features_out)
            ``embedding_`` (the space the clusterer or detector was fitted
            in); ``transform(X)`` when the stage was skipped.
        """
        self.fit(X, y)
        if self.embedding_ is not None and self.embedding_.shape[1]:
            return self.embedding_
        return self.transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of :meth:`transform`.

        The features' own names when the stage does not reduce them, else
        ``pca0``, ``pca1``, ... (as scikit-learn's ``PCA``).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the input seen in ``fit``; not used otherwise.

        Returns
        -------
        ndarray of str objects, shape (n_features_out,)
            The names, in column order.
        """
        check_is_fitted(self, "n_features_in_")
        _check_feature_names_in(self, input_features)
        pca = getattr(self, "pca_", None)
        if pca is not None:
            return np.asarray([f"pca{i}" for i in range(pca.n_components_)], dtype=object)
        return np.asarray(self.features_.get_feature_names_out(), dtype=object)


@fill_doc
class PeelStage(_Stage):
    """One layer of the peel-off: features, scaling, PCA, clustering, a rule, a label.

    Fitting clusters the tiles it is given and chooses the defect
    cluster(s) with ``rule``; the tiles in them are *peeled*: they get
    ``label`` and leave the tiles passed to later stages. New tiles are
    assigned to the fitted clusters (``clusterer.predict``) and peeled when
    their cluster was chosen. NaN and infinite features are replaced by 0
    before scaling. When fewer tiles than clusters asked for are given, the
    stage is skipped: it peels nothing and says why in ``skipped_``.

    A stage is a transformer: :meth:`transform` gives the tiles in the space
    the clusterer works in, and :meth:`peel` tells which tiles it peels.

    Parameters
    ----------
    features : transformer
        Features of the tiles (for example :class:`~sklearn_pillars.CenterIntensity`).
    clusterer : estimator, default=None
        A clusterer with ``fit_predict`` and ``predict`` (cloned in ``fit``);
        None means ``KMeans(n_clusters=3, random_state=42, n_init=10)``, the
        clusterer of the ``"notebook"`` preset.
    rule : "smallest", "separated" or callable, default="smallest"
        Which clusters are the defect: ``"smallest"`` the cluster with the
        fewest tiles (:func:`~sklearn_pillars.smallest_cluster`, which always
        peels something when there are two clusters or more),
        ``"separated"`` the clusters that stand clearly apart
        (:class:`~sklearn_pillars.SeparatedClusters` with its defaults). A
        callable, such as a :class:`~sklearn_pillars.SeparatedClusters`
        instance (whose parameters are then
        searchable as ``<stage>__rule__min_distance``), is called as
        ``rule(cluster_labels, embedding)`` with the training tiles' cluster
        labels and their reduced features, and returns the chosen cluster
        label(s) (an int or a sequence, possibly empty).
    label : str or int, default="Missing"
        The class given to peeled tiles (any name: a new stage can add a
        class of its own).
    n_components : int or None, default=5
        PCA components kept after scaling, at most the number of features
        and of tiles (``min(n_components, n_features, n_tiles)``); None
        skips the PCA.
    scale : bool, default=True
        Standardise the features (``StandardScaler``) before the PCA and the
        clustering. False keeps features that are already
        on a meaningful common scale, such as the refined preset's robust
        deviations, so that the rule can judge distances in their units.

    Attributes
    ----------
    features_, scaler_, pca_, clusterer_ : fitted estimators
        The fitted steps (``scaler_`` is None without scaling, ``pca_``
        without PCA; all but ``features_`` are None when the stage was
        skipped).
    kinds_ : ndarray of str or None
        Kind of defect of each training tile, when the features tell kinds
        apart (they have a ``kinds(features_out)`` method); else None.
    cluster_labels_ : ndarray of shape (n_train,)
        Cluster of each training tile.
    cluster_sizes_ : ndarray of shape (n_clusters_found,)
        Training tiles per cluster label, for the labels in ``cluster_ids_``.
    cluster_ids_ : ndarray
        The cluster labels found.
    selected_clusters_ : ndarray of int
        The chosen (peeled) clusters.
    embedding_ : ndarray of shape (n_train, n_components)
        The training tiles' scaled, reduced features (for scatter plots);
        no columns when the stage was skipped.
    explained_variance_ratio_ : ndarray or None
        PCA explained variance ratio; None without PCA or when the stage
        was skipped.
    peeled_ : ndarray of bool, shape (n_train,)
        Which training tiles were peeled.
    skipped_ : str or None
        Why the stage peeled nothing without clustering (too few tiles).
    %(fitted_input)s

    See Also
    --------
    OutlierStage : The last layer, which marks outliers instead of clusters.
    LayeredPeelClassifier : Chains stages, each fitted on the tiles left.
    SeparatedClusters : A rule that peels only clusters far from the bulk.

    Examples
    --------
    >>> from sklearn_pillars import CenterIntensity, PeelStage, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> stage = PeelStage(CenterIntensity(), label="Missing").fit(tiles.X)
    >>> stage.transform(tiles.X).shape  # scaled and reduced to 5 components
    (36, 5)
    >>> bool((stage.peel(tiles.X) == stage.peeled_).all())
    True
    """

    def __init__(
        self,
        features,
        clusterer=None,
        *,
        rule="smallest",
        label=MISSING,
        n_components=5,
        scale=True,
    ):
        self.features = features
        self.clusterer = clusterer
        self.rule = rule
        self.label = label
        self.n_components = n_components
        self.scale = scale

    _parameter_constraints = {
        "features": [object],
        "clusterer": [None, object],
        "rule": [StrOptions(set(_RULES)), callable],
        "label": [object],
        "n_components": [None, Interval(Integral, 1, None, closed="left")],
        "scale": ["boolean"],
    }

    def _rule(self):
        if isinstance(self.rule, str):
            return _RULES[self.rule]()
        return self.rule

    def fit(self, X, y=None):
        """Cluster the tiles of X and choose the cluster(s) to peel.

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tiles in the layout the features read (see the :ref:`X layout <x_layout>`).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted stage.

        Raises
        ------
        TypeError
            If the clusterer lacks ``fit_predict`` or ``predict``.
        ValueError
            If the rule returns labels that are not among the clusters found
            (or booleans).
        """
        return self._fit_tiles(X)

    def _fit(self, n, featurize):
        """Fit on n tiles; ``featurize(features_)`` fits the features and returns them."""
        self._validate_params()
        clusterer = default_clusterer() if self.clusterer is None else clone(self.clusterer)
        if not (hasattr(clusterer, "fit_predict") and hasattr(clusterer, "predict")):
            raise TypeError(
                f"the clusterer of a PeelStage needs fit_predict and predict (to "
                f"assign new tiles); {type(clusterer).__name__} lacks one"
            )
        self.skipped_ = None
        self.features_ = clone(self.features)
        if n < max(2, _n_clusters(clusterer)):
            self.skipped_ = (
                f"{n} tile(s) left, fewer than the {_n_clusters(clusterer)} "
                "clusters asked for: no tile peeled"
            )
            self._set_empty(n)
            if n:
                featurize(self.features_)
            return self
        F = featurize(self.features_)
        self.kinds_ = _kinds(self.features_, F)
        Z = self._embed_fit(_prepare(F))
        self.clusterer_ = clusterer
        self.cluster_labels_ = np.asarray(clusterer.fit_predict(Z))
        self.cluster_ids_, self.cluster_sizes_ = np.unique(self.cluster_labels_, return_counts=True)
        chosen = np.atleast_1d(np.asarray(self._rule()(self.cluster_labels_, Z)))
        if chosen.dtype == bool or not np.isin(chosen, self.cluster_ids_).all():
            raise ValueError(
                f"rule returned {chosen.tolist()}: it must return cluster labels "
                f"among those found, {self.cluster_ids_.tolist()}"
            )
        self.selected_clusters_ = chosen.astype(self.cluster_labels_.dtype)
        self.embedding_ = Z
        self.peeled_ = np.isin(self.cluster_labels_, self.selected_clusters_)
        return self

    def _set_empty(self, n):
        self.scaler_ = self.pca_ = self.clusterer_ = self.kinds_ = None
        self.cluster_labels_ = np.zeros(n, dtype=int)
        self.cluster_ids_ = self.cluster_sizes_ = np.zeros(0, dtype=int)
        self.selected_clusters_ = np.zeros(0, dtype=int)
        self.embedding_ = np.zeros((n, 0))
        self.explained_variance_ratio_ = None
        self.peeled_ = np.zeros(n, dtype=bool)

    def _embed_fit(self, F):
        self.scaler_ = StandardScaler() if self.scale else None
        Z = F if self.scaler_ is None else self.scaler_.fit_transform(F)
        self.pca_ = None
        self.explained_variance_ratio_ = None
        if self.n_components is not None:
            k = min(self.n_components, Z.shape[1], Z.shape[0])
            self.pca_ = PCA(n_components=k)
            with np.errstate(invalid="ignore", divide="ignore"):
                Z = self.pca_.fit_transform(Z)
            self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        return Z

    def transform(self, X):
        """The tiles' scaled, reduced features (the space the clusterer works in).

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tiles with as many columns as the X seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_tiles, n_features_out)
            The features, scaled and reduced by the fitted steps (not
            scaled without ``scaler_``, not reduced without ``pca_``).
        """
        check_is_fitted(self, "peeled_")
        X = self._validate_X(X, reset=False)
        return self._embed(self.features_.transform(X))

    def _embed(self, features):
        Z = _prepare(features)
        if self.scaler_ is not None:
            Z = self.scaler_.transform(Z)
        return Z if self.pca_ is None else self.pca_.transform(Z)

    def peel(self, X):
        """Which tiles of X fall in a chosen cluster.

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tiles with as many columns as the X seen in ``fit``.

        Returns
        -------
        ndarray of bool, shape (n_tiles,)
            True for the tiles the fitted clusterer assigns to a chosen
            cluster; all False when the stage was skipped.
        """
        check_is_fitted(self, "peeled_")
        X = self._validate_X(X, reset=False)
        return self._assign(X.shape[0], lambda features: features.transform(X)).peeled

    def _assign(self, n, featurize):
        """What the stage makes of n new tiles (no embedding, no peel if it was skipped)."""
        if self.clusterer_ is None or n == 0:
            return Bunch(
                embedding=None,
                clusters=None,
                scores=None,
                kinds=None,
                peeled=np.zeros(n, dtype=bool),
            )
        F = featurize(self.features_)
        Z = self._embed(F)
        clusters = self.clusterer_.predict(Z)
        return Bunch(
            embedding=Z,
            clusters=clusters,
            scores=None,
            kinds=_kinds(self.features_, F),
            peeled=np.isin(clusters, self.selected_clusters_),
        )

    def _training_outcome(self):
        fitted = self.clusterer_ is not None
        return Bunch(
            embedding=self.embedding_ if fitted else None,
            clusters=self.cluster_labels_ if fitted else None,
            scores=None,
            kinds=self.kinds_,
            peeled=self.peeled_,
        )

    def _outcome(self, n, featurize, fit):
        """Fit on (``fit=True``) or route n tiles; what the stage saw and decided."""
        if fit:
            return self._fit(n, featurize)._training_outcome()
        return self._assign(n, featurize)


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
        X : array-like of shape (n_tiles, n_features)
            Tiles in the layout the features read (see the :ref:`X layout <x_layout>`).
        y : None
            Ignored.

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
        X : array-like of shape (n_tiles, n_features)
            Tiles with as many columns as the X seen in ``fit``.

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
        X : array-like of shape (n_tiles, n_features)
            Tiles with as many columns as the X seen in ``fit``.

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
        X : array-like of shape (n_tiles, n_features)
            Tiles with as many columns as the X seen in ``fit``.

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
        X : array-like of shape (n_tiles, n_features)
            Tiles with as many columns as the X seen in ``fit``.

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
        return Z, -self.detector_.score_samples(Z)

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
