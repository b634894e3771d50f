"""The layered peel-off: the notebook's four layers as one scikit-learn meta-estimator."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import accuracy_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .tileset import tile_positions
from .transformers import (
    CenterIntensity,
    ContextualFeatures,
    DarknessArea,
    StitchingFeatures,
    row_parts,
)

GOOD = "Good"


def smallest_cluster(cluster_labels, embedding=None):
    """The notebook's selection rule: the cluster with the fewest tiles.

    Ties go to the cluster that appears first in ``cluster_labels`` (as with
    ``min`` over a ``collections.Counter``). When the tiles fall into a
    single cluster there is nothing to tell apart, and no cluster is chosen.

    Parameters
    ----------
    cluster_labels : ndarray of shape (n_tiles,)
        Cluster of each tile.
    embedding : ndarray of shape (n_tiles, n_components), optional
        The tiles' scaled, reduced features (unused by this rule).

    Returns
    -------
    list of int
        The chosen cluster(s).
    """
    ids, first, counts = np.unique(cluster_labels, return_index=True, return_counts=True)
    if len(ids) < 2:
        return []
    order = np.argsort(first, kind="stable")  # order of first appearance
    ids, counts = ids[order], counts[order]
    return [int(ids[np.argmin(counts)])]


_RULES = {"smallest": smallest_cluster}


def _prepare(features_out):
    """The notebook replaces NaN and infinities by 0 before scaling."""
    return np.nan_to_num(np.asarray(features_out, dtype=np.float64), nan=0.0, posinf=0.0,
                         neginf=0.0)


def _n_clusters(clusterer):
    params = clusterer.get_params(deep=False)
    for key in ("n_clusters", "n_components"):
        if isinstance(params.get(key), Integral):
            return params[key]
    return 1


class PeelStage(BaseEstimator):
    """One layer of the peel-off: features, scaling, PCA, clustering, a rule, a label.

    Fitting clusters the tiles it is given and chooses the defect
    cluster(s) with ``rule``; the tiles in them are *peeled*: they get
    ``label`` and leave the tiles passed to later stages. New tiles are
    assigned to the fitted clusters (``clusterer.predict``) and peeled when
    their cluster was chosen.

    Parameters
    ----------
    features : transformer
        Features of the tiles (for example :class:`~sklearn_pillars.CenterIntensity`).
    clusterer : estimator, default=None
        A clusterer with ``fit_predict`` and ``predict``; None means the
        notebook's ``KMeans(n_clusters=3, random_state=42, n_init=10)``.
    rule : "smallest" or callable, default="smallest"
        Which clusters are the defect. A callable is called as
        ``rule(cluster_labels, embedding)`` with the training tiles' cluster
        labels and their reduced features, and returns the chosen cluster
        label(s) (an int or a sequence, possibly empty).
    label : str or int, default="Missing"
        The class given to peeled tiles (any name: a new stage can add a
        class of its own).
    n_components : int or None, default=5
        PCA components kept after scaling, at most the number of features
        (the notebook's ``min(5, n_features)``); None skips the PCA.

    Attributes
    ----------
    features_, scaler_, pca_, clusterer_ : fitted estimators
        The fitted steps (``pca_`` is None without PCA, ``clusterer_`` None
        when the stage was skipped).
    cluster_labels_ : ndarray of shape (n_train,)
        Cluster of each training tile.
    cluster_sizes_ : ndarray of shape (n_clusters_found,)
        Training tiles per cluster label, for the labels in ``cluster_ids_``.
    cluster_ids_ : ndarray
        The cluster labels found.
    selected_clusters_ : ndarray of int
        The chosen (peeled) clusters.
    embedding_ : ndarray of shape (n_train, n_components)
        The training tiles' scaled, reduced features (for scatter plots).
    explained_variance_ratio_ : ndarray or None
        PCA explained variance ratio.
    peeled_ : ndarray of bool, shape (n_train,)
        Which training tiles were peeled.
    skipped_ : str or None
        Why the stage peeled nothing without clustering (too few tiles).
    """

    def __init__(self, features, clusterer=None, *, rule="smallest", label="Missing",
                 n_components=5):
        self.features = features
        self.clusterer = clusterer
        self.rule = rule
        self.label = label
        self.n_components = n_components

    _parameter_constraints = {
        "features": [object],
        "clusterer": [None, object],
        "rule": [StrOptions(set(_RULES)), callable],
        "label": [object],
        "n_components": [None, Interval(Integral, 1, None, closed="left")],
    }

    def _rule(self):
        return _RULES[self.rule] if isinstance(self.rule, str) else self.rule

    def fit(self, X, y=None):
        """Cluster the tiles of X and choose the cluster(s) to peel."""
        return self._fit(X.shape[0], lambda features: features.fit_transform(X))

    def _fit(self, n, featurize):
        """Fit on n tiles; ``featurize(features_)`` fits the features and returns them."""
        self._validate_params()
        clusterer = (KMeans(n_clusters=3, random_state=42, n_init=10)
                     if self.clusterer is None else clone(self.clusterer))
        if not (hasattr(clusterer, "fit_predict") and hasattr(clusterer, "predict")):
            raise TypeError(f"the clusterer of a PeelStage needs fit_predict and predict (to "
                            f"assign new tiles); {type(clusterer).__name__} lacks one")
        self.skipped_ = None
        self.features_ = clone(self.features)
        if n < max(2, _n_clusters(clusterer)):
            self.skipped_ = (f"{n} tile(s) left, fewer than the {_n_clusters(clusterer)} "
                             "clusters asked for: no tile peeled")
            self._set_empty(n)
            if n:
                featurize(self.features_)
            return self
        Z = self._embed_fit(_prepare(featurize(self.features_)))
        self.clusterer_ = clusterer
        self.cluster_labels_ = np.asarray(clusterer.fit_predict(Z))
        self.cluster_ids_, self.cluster_sizes_ = np.unique(self.cluster_labels_,
                                                           return_counts=True)
        chosen = np.atleast_1d(np.asarray(self._rule()(self.cluster_labels_, Z)))
        if chosen.dtype == bool or not np.isin(chosen, self.cluster_ids_).all():
            raise ValueError(f"rule returned {chosen.tolist()}: it must return cluster labels "
                             f"among those found, {self.cluster_ids_.tolist()}")
        self.selected_clusters_ = chosen.astype(self.cluster_labels_.dtype)
        self.embedding_ = Z
        self.peeled_ = np.isin(self.cluster_labels_, self.selected_clusters_)
        return self

    def _set_empty(self, n):
        self.scaler_ = self.pca_ = self.clusterer_ = None
        self.cluster_labels_ = np.zeros(n, dtype=int)
        self.cluster_ids_ = self.cluster_sizes_ = np.zeros(0, dtype=int)
        self.selected_clusters_ = np.zeros(0, dtype=int)
        self.embedding_ = np.zeros((n, 0))
        self.explained_variance_ratio_ = None
        self.peeled_ = np.zeros(n, dtype=bool)

    def _embed_fit(self, F):
        self.scaler_ = StandardScaler()
        Z = self.scaler_.fit_transform(F)
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
        """The tiles' scaled, reduced features (the space the clusterer works in)."""
        check_is_fitted(self, "peeled_")
        return self._embed(self.features_.transform(X))

    def _embed(self, features):
        Z = self.scaler_.transform(_prepare(features))
        return Z if self.pca_ is None else self.pca_.transform(Z)

    def peel(self, X):
        """Which tiles of X fall in a chosen cluster: bool array of shape (n,)."""
        check_is_fitted(self, "peeled_")
        return self._assign(X.shape[0], lambda features: features.transform(X))[2]

    def _assign(self, n, featurize):
        """Embedding, cluster and peel decision of n new tiles (None, None, False if skipped)."""
        if self.clusterer_ is None or n == 0:
            return None, None, np.zeros(n, dtype=bool)
        Z = self._embed(featurize(self.features_))
        clusters = self.clusterer_.predict(Z)
        return Z, clusters, np.isin(clusters, self.selected_clusters_)


class OutlierStage(BaseEstimator):
    """The last layer: features, scaling and an outlier detector; outliers get ``label``.

    Parameters
    ----------
    features : transformer
        Features of the tiles (the notebook: :class:`~sklearn_pillars.ContextualFeatures`).
    detector : estimator, default=None
        An outlier detector with ``fit`` and ``score_samples`` (higher =
        more normal) and an ``offset_`` cut; None means the notebook's
        ``LocalOutlierFactor(n_neighbors=20, contamination="auto")``. A
        ``LocalOutlierFactor`` is fitted with ``novelty=True``, so that new
        tiles can be scored; its training labels are still those of
        ``fit_predict`` (from ``negative_outlier_factor_``), as in the notebook.
    label : str, default="Irregular"
        Class of outliers.
    inlier_label : str, default="Good"
        Class of the other tiles.

    Attributes
    ----------
    features_, scaler_, detector_ : fitted estimators
    inconsistency_ : ndarray of shape (n_train,)
        Inconsistency score of the training tiles (the notebook's LOF
        score: about 1 for typical tiles, larger for inconsistent ones).
    threshold_ : float
        Tiles scoring above it are outliers (1.5 for ``contamination="auto"``).
    peeled_ : ndarray of bool
        The training outliers.
    embedding_ : ndarray of shape (n_train, n_features)
        Scaled features of the training tiles.
    skipped_ : str or None
        Why the stage scored nothing (fewer than 2 tiles).
    """

    def __init__(self, features, detector=None, *, label="Irregular", inlier_label=GOOD):
        self.features = features
        self.detector = detector
        self.label = label
        self.inlier_label = inlier_label

    _parameter_constraints = {
        "features": [object],
        "detector": [None, object],
        "label": [object],
        "inlier_label": [object],
    }

    def fit(self, X, y=None):
        """Score the tiles of X and mark the outliers."""
        return self._fit(X.shape[0], lambda features: features.fit_transform(X))

    def _fit(self, n, featurize):
        """Fit on n tiles; ``featurize(features_)`` fits the features and returns them."""
        self._validate_params()
        detector = (LocalOutlierFactor(n_neighbors=20, contamination="auto")
                    if self.detector is None else clone(self.detector))
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
            detector.set_params(n_neighbors=min(detector.get_params()["n_neighbors"], n - 1))
        self.detector_ = detector.fit(Z)
        self.threshold_ = -float(detector.offset_)
        if hasattr(detector, "negative_outlier_factor_"):
            self.inconsistency_ = -detector.negative_outlier_factor_
        else:
            self.inconsistency_ = -detector.score_samples(Z)
        self.embedding_ = Z
        self.peeled_ = self.inconsistency_ > self.threshold_
        return self

    def inconsistency(self, X):
        """Inconsistency score of new tiles (scored as novelties); NaN if skipped."""
        check_is_fitted(self, "peeled_")
        return self._score(X.shape[0], lambda features: features.transform(X))[1]

    def _score(self, n, featurize):
        """Scaled features and inconsistency of n new tiles (None and NaN if skipped)."""
        if self.detector_ is None or n == 0:
            return None, np.full(n, np.nan)
        Z = self.scaler_.transform(_prepare(featurize(self.features_)))
        return Z, -self.detector_.score_samples(Z)


def _seed_stages():
    def kmeans():
        return KMeans(n_clusters=3, random_state=42, n_init=10)

    return (
        ("missing", PeelStage(CenterIntensity(), kmeans(), label="Missing")),
        ("collapsed", PeelStage(DarknessArea(), kmeans(), label="Collapsed")),
        ("stitching", PeelStage(StitchingFeatures(), kmeans(), label="Stitching")),
        ("irregular", OutlierStage(
            ContextualFeatures(),
            LocalOutlierFactor(n_neighbors=20, contamination="auto", novelty=True),
            label="Irregular",
        )),
    )


SEED_STAGES = _seed_stages()


_SHAREABLE = {CenterIntensity, DarknessArea, StitchingFeatures, ContextualFeatures,
              *(cls for _, cls in ContextualFeatures._parts)}


def _diagnostics(name, stage, rows, embedding, clusters, peeled, scores):
    outlier = isinstance(stage, OutlierStage)
    return Bunch(
        name=name, label=stage.label, kind="outliers" if outlier else "clusters", rows=rows,
        embedding=embedding, clusters=clusters,
        selected=None if outlier else stage.selected_clusters_, peeled=peeled, scores=scores,
        threshold=stage.threshold_ if outlier else None,
        explained_variance_ratio=None if outlier else stage.explained_variance_ratio_,
        skipped=stage.skipped_,
    )
"""The notebook's four layers: the default ``stages`` of :class:`LayeredPeelClassifier`."""


class LayeredPeelClassifier(ClassifierMixin, _BaseComposition):
    """Classify pillar tiles by peeling defect layers off one after another.

    The default stages are the original notebook's, exactly: CenterIntensity
    features clustered in 3 (KMeans after scaling and PCA), the smallest
    cluster is ``Missing``; the same on DarknessArea over the remaining tiles
    (``Collapsed``), then on StitchingFeatures (``Stitching``); finally
    ContextualFeatures scored by Local Outlier Factor over the tiles left:
    outliers are ``Irregular``, the rest ``Good``. Learning is unsupervised:
    ``y`` is ignored by ``fit`` and used only by ``score``.

    Like the notebook, every cluster stage peels its smallest cluster even
    when the tiles hold no defect of its kind (an array without defects
    still loses its smallest clusters); only a stage whose tiles all fall in
    one cluster, or that gets fewer tiles than clusters, peels nothing (with
    a warning). Tiles passed in one X are neighbours of each other when they
    share an array index, so fit and predict one set of arrays at a time.

    Parameters
    ----------
    stages : sequence of (str, stage) tuples, default=SEED_STAGES
        The layers in order: :class:`PeelStage` instances, then optionally a
        final :class:`OutlierStage` (without one, the tiles left are
        ``"Good"``). Nested parameters are set as ``<stage>__<param>``, e.g.
        ``missing__clusterer__n_clusters``. Stages can be dropped,
        reordered, added or replaced; the classes are the stages' labels
        (all strings, or all integers) and the last stage's inlier label.
    layout : {"tiles", "strip"} or None, default=None
        When set, the ``layout`` of every stage's features (see
        ``docs/design.md``); None leaves the stages' own setting.
    n_jobs : int or None, default=None
        When set, the ``n_jobs`` of every stage's features.
    random_state : int, RandomState instance or None, default=None
        When set, the ``random_state`` of every stage's clusterer and detector
        that has one; None leaves the stages' own (42, the notebook's, by
        default). Fits are deterministic for a fixed value.

    Attributes
    ----------
    classes_ : ndarray
        The classes, sorted: the five of :data:`~sklearn_pillars.CLASSES`
        with the default stages.
    labels_ : ndarray of str, shape (n_train,)
        Class of each training tile (the notebook's output).
    inconsistency_ : ndarray of shape (n_train,)
        Inconsistency score of each training tile that reached the last
        stage; NaN for tiles peeled earlier.
    stages_ : list of (str, fitted stage)
        The fitted stages, with their diagnostics (``cluster_sizes_``,
        ``selected_clusters_``, ``explained_variance_ratio_``,
        ``embedding_``, ...).
    stage_rows_ : dict of str to ndarray of int
        The training rows each stage was fitted on.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=2, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> sorted(set(model.labels_)) <= list(model.classes_)
    True
    >>> model.predict(tiles.X[:5]).shape
    (5,)
    """

    _parameter_constraints = {
        "stages": [list, tuple],
        "layout": [None, StrOptions({"tiles", "strip"})],
        "n_jobs": [None, Integral],
        "random_state": [None, "random_state"],
    }

    def __init__(self, stages=SEED_STAGES, *, layout=None, n_jobs=None, random_state=None):
        self.stages = stages
        self.layout = layout
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- nested parameters, as in sklearn.pipeline.Pipeline ------------------
    def get_params(self, deep=True):
        return self._get_params("stages", deep=deep)

    def set_params(self, **params):
        shared = {id(stage) for _, stage in SEED_STAGES}
        if any("__" in key for key in params) and any(
                id(stage) in shared for _, stage in self.stages):
            # never modify the module's default stages (also when taken as a slice or
            # list of SEED_STAGES): nested parameters go to this instance's copies
            self.stages = [(name, clone(stage) if id(stage) in shared else stage)
                           for name, stage in self.stages]
        self._set_params("stages", **params)
        return self

    @property
    def named_stages(self):
        """The stages by name (unfitted)."""
        return Bunch(**dict(self.stages))

    # -- fitting -----------------------------------------------------------------
    def _validate_stages(self):
        names = [name for name, _ in self.stages]
        self._validate_names(names)
        for i, (name, stage) in enumerate(self.stages):
            if not isinstance(stage, (PeelStage, OutlierStage)):
                raise TypeError(f"stage {name!r} must be a PeelStage or an OutlierStage, "
                                f"got {type(stage).__name__}")
            if isinstance(stage, OutlierStage) and i != len(self.stages) - 1:
                raise ValueError(f"the OutlierStage {name!r} must be the last stage")
        labels = self._class_labels()
        kinds = {type(label).__name__ for label in labels}
        if not (all(isinstance(v, str) for v in labels)
                or all(isinstance(v, Integral) and not isinstance(v, bool) for v in labels)):
            raise ValueError(f"stage labels must be all strings or all integers, got {kinds}: "
                             f"{labels}")

    def _inlier_label(self):
        last = self.stages[-1][1] if self.stages else None
        return last.inlier_label if isinstance(last, OutlierStage) else GOOD

    def _class_labels(self):
        labels = [stage.label for _, stage in self.stages] + [self._inlier_label()]
        return list(dict.fromkeys(labels))

    def _configured(self, stage, seed):
        stage = clone(stage)
        overrides = {key: value for key, value in
                     (("layout", self.layout), ("n_jobs", self.n_jobs)) if value is not None}
        if overrides:
            supported = stage.features.get_params(deep=False)
            stage.features.set_params(**{k: v for k, v in overrides.items() if k in supported})
        for key in ("clusterer", "detector"):
            inner = getattr(stage, key, None)
            if seed is not None and inner is not None and "random_state" in inner.get_params():
                stage.set_params(**{key: clone(inner).set_params(random_state=seed)})
        return stage

    def _validate_X(self, X, reset):
        return validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))

    def fit(self, X, y=None):
        """Fit the stages one after another on the tiles each receives.

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tile-set X (``TileSet.X``).
        y : None
            Ignored (unsupervised).

        Returns
        -------
        self
        """
        self._validate_params()
        self._validate_stages()
        if y is None:
            X = self._validate_X(X, reset=True)
        else:  # unused, but a y that does not fit X is a mistake worth reporting
            X, y = validate_data(self, X, y, reset=True, dtype=(np.float64, np.float32))
            check_classification_targets(y)
        n = X.shape[0]
        labels = np.full(n, self._inlier_label(), dtype=object)
        inconsistency = np.full(n, np.nan)
        remaining = np.arange(n)
        seed = self.random_state
        if seed is not None and not isinstance(seed, Integral):  # a RandomState: draw an int
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        stages = [(name, self._configured(stage, seed)) for name, stage in self.stages]
        shared = self._shared_features([stage.features for _, stage in stages], X)
        self.stages_, self.stage_rows_ = [], {}
        for i, (name, stage) in enumerate(stages):
            stage._fit(len(remaining), self._featurizer(X, remaining, shared, i, fit=True))
            if stage.skipped_:
                warnings.warn(f"stage {name!r}: {stage.skipped_}", UserWarning, stacklevel=2)
            self.stages_.append((name, stage))
            self.stage_rows_[name] = remaining
            labels[remaining[stage.peeled_]] = stage.label
            if isinstance(stage, OutlierStage):
                inconsistency[remaining] = stage.inconsistency_
            remaining = remaining[~stage.peeled_]
        self.classes_ = np.array(sorted(self._class_labels()))
        self.inlier_label_ = self._inlier_label()
        self.labels_ = labels.astype(self.classes_.dtype)
        self.inconsistency_ = inconsistency
        return self

    @staticmethod
    def _shared_features(features, X):
        """Row-local features of every stage for all tiles in one pass, when they allow it.

        When every stage's features are the package's tile transformers with
        the same layout, batch size and n_jobs, each batch of tiles is decoded
        once and what the stages share (contours, gradients) is computed once.
        Features are row-local until their last step (neighbours, mean radial
        profile), which still runs on the tiles each stage receives, so the
        results are those of fitting stage by stage.
        """
        # only the package's own transformers: a subclass may override transform
        if not features or not all(type(f) in _SHAREABLE for f in features):
            return None
        settings = {(f.layout, f.batch_size, f.n_jobs) for f in features}
        if len(settings) != 1:
            return None
        for f in features:
            f._validate_params()
        layout, batch_size, n_jobs = settings.pop()
        parts = row_parts([f._compute for f in features], X, layout, batch_size, n_jobs)
        return parts, tile_positions(X, layout)

    @staticmethod
    def _featurizer(X, rows, shared, index, fit):
        """A function giving a stage's fitted features the tiles ``rows`` of X."""
        if shared is None:
            if fit:
                return lambda features: features.fit_transform(X[rows])
            return lambda features: features.transform(X[rows])
        parts, positions = shared
        part, where = parts[index][rows], positions[rows]
        if fit:
            return lambda features: features._fit_rows(part, where, X.shape[1])
        return lambda features: features._finish(part, where)

    def fit_predict(self, X, y=None):
        """Fit and return the training tiles' classes (``labels_``)."""
        return self.fit(X, y).labels_

    # -- prediction --------------------------------------------------------------
    def _route(self, X, trace=None):
        """Classes and inconsistency of new tiles, each following the fitted path.

        With a list as ``trace``, each stage's diagnostics are appended to it.
        """
        check_is_fitted(self, "stages_")
        X = self._validate_X(X, reset=False)
        n = X.shape[0]
        labels = np.full(n, self.inlier_label_, dtype=object)
        inconsistency = np.full(n, np.nan)
        remaining = np.arange(n)
        shared = self._shared_features([stage.features_ for _, stage in self.stages_], X)
        for i, (name, stage) in enumerate(self.stages_):
            featurize = self._featurizer(X, remaining, shared, i, fit=False)
            clusters = scores = None
            if isinstance(stage, OutlierStage):
                Z, scores = stage._score(len(remaining), featurize)
                inconsistency[remaining] = scores
                peeled = scores > stage.threshold_
            else:
                Z, clusters, peeled = stage._assign(len(remaining), featurize)
            if trace is not None:
                trace.append(_diagnostics(name, stage, remaining, Z, clusters, peeled, scores))
            labels[remaining[peeled]] = stage.label
            remaining = remaining[~peeled]
        return labels.astype(self.classes_.dtype), inconsistency

    def trace(self, X):
        """Classes, inconsistency scores and per-stage diagnostics of new tiles, in one pass.

        Returns
        -------
        Bunch
            ``labels`` (as :meth:`predict`), ``scores`` (as
            :meth:`score_samples`) and ``stages`` (as :meth:`stage_diagnostics`).
        """
        stages = []
        labels, scores = self._route(X, trace=stages)
        return Bunch(labels=labels, scores=scores, stages=stages)

    def stage_diagnostics(self, X=None):
        """What each stage saw and decided, for plots and reports.

        Parameters
        ----------
        X : array-like, optional
            New tiles, sent down the fitted path as in :meth:`predict`. None
            gives the training tiles' diagnostics (the fit's own clusters
            and scores).

        Returns
        -------
        list of Bunch, one per stage, with
            ``name``, ``label``, ``kind`` ("clusters" or "outliers"),
            ``rows`` (rows of X that reached the stage), ``embedding``
            (their scaled, reduced features; None if the stage was skipped),
            ``clusters`` (cluster of each, cluster stages), ``selected``
            (chosen clusters), ``peeled`` (bool per row), ``scores`` and
            ``threshold`` (outlier stage), ``explained_variance_ratio``,
            ``skipped`` (why the stage did nothing, or None).
        """
        check_is_fitted(self, "stages_")
        if X is not None:
            return self.trace(X).stages
        out = []
        for name, stage in self.stages_:
            outlier = isinstance(stage, OutlierStage)
            fitted = stage.detector_ if outlier else stage.clusterer_
            out.append(_diagnostics(
                name, stage, self.stage_rows_[name],
                stage.embedding_ if fitted is not None else None,
                None if outlier or fitted is None else stage.cluster_labels_,
                stage.peeled_, stage.inconsistency_ if outlier else None,
            ))
        return out

    def predict(self, X):
        """Classify new tiles with the fitted stages (an unseen array, for example).

        Each tile follows the fitted path: a stage's clusterer assigns it to
        a cluster and the cluster chosen at fit decides whether it is peeled;
        the last stage scores it as a novelty. Neighbour features are those
        of the tiles of X that reach the last stage. On the training tiles
        themselves this gives ``labels_`` for the cluster stages; the last
        stage may differ on a few tiles, since a novelty's neighbours do not
        include itself (``labels_`` keep the notebook's fit-time scores).

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)

        Returns
        -------
        ndarray of str, shape (n_tiles,)
        """
        return self._route(X)[0]

    def score_samples(self, X):
        """Inconsistency score of new tiles: higher is more irregular.

        The last stage's score (the notebook's LOF score, about 1 for a
        typical tile; above the stage's ``threshold_``, 1.5 by default, is
        Irregular). Tiles peeled by an earlier stage are not scored: NaN.
        Note the sign: scikit-learn's outlier detectors score the other way
        round (higher = more normal). There is deliberately no
        ``decision_function``: for a classifier, scikit-learn reads it as one
        score per class.
        """
        return self._route(X)[1]

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against the class labels in ``y``.

        ``y`` is converted to the type of the classes (text by default), so
        labels that are not among ``classes_`` never match.
        """
        y_pred = self.predict(X)
        return accuracy_score(np.asarray(y).astype(y_pred.dtype), y_pred,
                              sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        # unsupervised: the classes are the stages' labels whatever y holds
        tags.classifier_tags.poor_score = True
        return tags


def predict_in_bands(model, image, grid_size=21, tile_half=32, *, chunk_rows=64,
                     name="array"):
    """Classify a large array image band by band, with the results of the whole image.

    Only one band of tiles is in memory at a time. Each band is cut with a
    one-row halo (:func:`~sklearn_pillars.iter_tile_chunks`), so every tile
    has all its grid neighbours and gets exactly what ``model.predict``
    would give it in one X of the whole array.

    Parameters
    ----------
    model : LayeredPeelClassifier
        A fitted model.
    image : ndarray
        The array image (as for :func:`~sklearn_pillars.tile_array`).
    grid_size, tile_half, name
        As for :func:`~sklearn_pillars.tile_array`.
    chunk_rows : int, default=64
        Grid rows classified per band.

    Returns
    -------
    Bunch
        ``labels`` (grid_size, grid_size) array of classes and ``scores``
        (grid_size, grid_size) inconsistency scores (NaN where not scored),
        indexed by 0-based row and column.
    """
    from .tiling import iter_tile_chunks

    check_is_fitted(model, "stages_")
    labels = np.empty((grid_size, grid_size), dtype=model.classes_.dtype)
    scores = np.full((grid_size, grid_size), np.nan)
    bands = iter_tile_chunks(image, grid_size, tile_half, chunk_rows=chunk_rows, halo=1,
                             name=name)
    for index, band in enumerate(bands):
        result = model.trace(band.X)
        rows, cols = band.positions[:, 1] - 1, band.positions[:, 2] - 1
        core = (rows >= index * chunk_rows) & (rows < (index + 1) * chunk_rows)
        labels[rows[core], cols[core]] = result.labels[core]
        scores[rows[core], cols[core]] = result.scores[core]
    return Bunch(labels=labels, scores=scores)
