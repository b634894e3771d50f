"""Cluster stages of the layered peel-off, and the default clusterer and outlier detector."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted, validate_data

from ..constants import MISSING
from ..utils.docstrings import fill_doc
from ..utils.fixes import Interval, StrOptions, check_feature_names_in
from ._rules import _RULES


def default_clusterer(n_clusters=3):
    """The KMeans of a :class:`PeelStage` without a ``clusterer`` and of the presets:
    ``KMeans(n_clusters, random_state=42, n_init=10)`` (the original analysis' seed)."""
    return KMeans(n_clusters=n_clusters, random_state=42, n_init=10)


def default_detector(n_neighbors=20):
    """The outlier detector of an :class:`OutlierStage` without a ``detector`` and of the
    presets: ``LocalOutlierFactor(n_neighbors, contamination="auto", novelty=True)``."""
    return LocalOutlierFactor(n_neighbors=n_neighbors, contamination="auto", novelty=True)


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


@fill_doc
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
        %(stage_fit_X)s

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
        check_feature_names_in(self, input_features)
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
        %(stage_fit_X)s

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
        %(stage_X)s

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
        %(stage_X)s

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
