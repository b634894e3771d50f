"""The layered peel-off: stages that each take one defect class off the tiles, as one estimator.

Each stage of :class:`LayeredPeelClassifier` sees only the tiles the stages
before it left: a cluster stage peels the cluster(s) it chooses off as its
class; the last stage of the presets scores the tiles left with an outlier
detector (outliers Irregular, the rest Good). The ``"notebook"`` preset's
four layers reproduce the original analysis notebook's labels exactly."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.metrics import accuracy_score
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..constants import DEFAULT_PRESET, GOOD, PRESETS
from ..utils.docstrings import fill_doc
from ..utils.fixes import BaseComposition, StrOptions
from ..utils.validation import N_JOBS_CONSTRAINT
from ._outlier import OutlierStage
from ._presets import make_stages
from ._shared import _featurizer, shared_features
from ._stages import PeelStage


def _diagnostics(name, stage, rows, outcome):
    outlier = isinstance(stage, OutlierStage)
    return Bunch(
        name=name,
        label=stage.label,
        kind="outliers" if outlier else "clusters",
        rows=rows,
        embedding=outcome.embedding,
        clusters=outcome.clusters,
        selected=None if outlier else stage.selected_clusters_,
        peeled=outcome.peeled,
        scores=outcome.scores,
        kinds=outcome.kinds,
        threshold=stage.threshold_ if outlier else None,
        explained_variance_ratio=None if outlier else stage.explained_variance_ratio_,
        skipped=stage.skipped_,
    )


@fill_doc
class LayeredPeelClassifier(ClassifierMixin, BaseComposition):
    """Classify pillar tiles by peeling defect layers off one after another.

    Each stage computes features of the tiles it receives, clusters them
    and peels the defect cluster(s) off with a class label; the last stage
    scores the tiles left with an outlier detector: outliers are
    ``Irregular``, the rest ``Good``. Learning is unsupervised: ``y`` is
    ignored by ``fit`` and used only by ``score``.

    Two presets name complete stage lists (:func:`~sklearn_pillars.make_stages`):

    - ``"refined"`` (the default): features that are comparable between
      arrays (each array's own majority of tiles is its reference),
      stitching lines pooled along whole grid rows and columns, pillar-shape
      descriptors for the last layer, and a rule that peels a cluster only
      when it stands clearly apart (:class:`~sklearn_pillars.SeparatedClusters`).
      Made for tiles cut around the sites of a found lattice (the default of
      :func:`~sklearn_pillars.read_arrays` and the other readers).
    - ``"notebook"``: the four layers of the original analysis notebook,
      reproducing its labels exactly on its uniform grid (``grid_size=21``):
      CenterIntensity, DarknessArea and StitchingFeatures each clustered in
      3 by KMeans after scaling and PCA, the smallest cluster peeled; then
      ContextualFeatures scored by Local Outlier Factor. Every cluster stage
      peels its smallest cluster even when its tiles hold no defect of its
      kind, so a clean array loses its smallest clusters, and which cluster
      is smallest depends on the tiling: on tiles of a found lattice its
      labels are unreliable (the readers that take a model warn).

    Tiles passed in one X are neighbours of each other when they share an
    array index, so fit and predict one set of arrays at a time.

    Parameters
    ----------
    stages : "refined", "notebook" or sequence of (str, stage) tuples, default="refined"
        A preset name, or the layers in order:
        :class:`~sklearn_pillars.PeelStage` instances, then optionally a
        final :class:`~sklearn_pillars.OutlierStage` (without one, the
        tiles left are ``"Good"``). A preset's stages are built afresh for
        each model, so no two models share a stage. Nested parameters are
        set as ``<stage>__<param>``, e.g. ``missing__clusterer__n_clusters``
        (setting one on a preset turns ``stages`` into that preset's list).
        Stages can be dropped, reordered, added or replaced; the classes are
        the stages' labels (all strings, or all integers) and the last
        stage's inlier label.
    layout : {"tiles", "strip"} or None, default=None
        When set, the ``layout`` of every stage's features (see the
        :ref:`X layout <x_layout>`); None leaves the stages' own setting.
    n_jobs : int or None, default=None
        When set, the ``n_jobs`` of every stage's features.
    random_state : int, RandomState instance or None, default=None
        When set, the ``random_state`` of every stage's clusterer and detector
        that has one (a RandomState instance draws one integer for all of
        them); None leaves the stages' own (42 in both presets). Fits are
        deterministic for a fixed value.

    Attributes
    ----------
    preset_ : str or None
        The preset the model was fitted with, None for a stage list.
    classes_ : ndarray
        The classes, sorted: the five of :data:`~sklearn_pillars.CLASSES`
        with the default stages.
    inlier_label_ : str or int
        The class of the tiles no stage peels: the last stage's
        ``inlier_label``, or ``"Good"`` without an outlier stage.
    labels_ : ndarray of str, shape (n_train,)
        Class of each training tile (for the ``"notebook"`` preset on the
        uniform grid, the original notebook's labels).
    inconsistency_ : ndarray of shape (n_train,)
        Inconsistency score of each training tile that reached the last
        stage (minus scikit-learn's normality score: the higher, the more
        irregular); NaN for tiles peeled earlier.
    kinds_ : ndarray of str, shape (n_train,)
        Kind of defect of each training tile where a stage tells kinds apart
        (``"seam"`` or ``"field"`` for Stitching with the refined preset);
        ``""`` elsewhere.
    stages_ : list of (str, fitted stage)
        The fitted stages, with their diagnostics (``cluster_sizes_``,
        ``selected_clusters_``, ``explained_variance_ratio_``,
        ``embedding_``, ...).
    stage_rows_ : dict of str to ndarray of int
        The training rows each stage was fitted on.
    %(fitted_input)s

    See Also
    --------
    make_stages : The stage lists of the presets, to change and pass as ``stages``.
    PeelStage : A cluster stage.
    OutlierStage : The outlier stage that ends the default stage lists.
    fit_arrays : Fit on many array images without holding all their tiles.

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
        "stages": [StrOptions(set(PRESETS)), list, tuple],
        "layout": [None, StrOptions({"tiles", "strip"})],
        "n_jobs": N_JOBS_CONSTRAINT,
        "random_state": [None, "random_state"],
    }

    def __init__(self, stages=DEFAULT_PRESET, *, layout=None, n_jobs=None, random_state=None):
        self.stages = stages
        self.layout = layout
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- nested parameters, as in sklearn.pipeline.Pipeline ------------------
    def get_params(self, deep=True):
        out = self._get_params("stages", deep=deep)
        if deep and self._is_preset():  # a preset's stages, as if listed
            for name, stage in self._stage_list():
                out[name] = stage
                out.update(
                    {f"{name}__{key}": value for key, value in stage.get_params(deep=True).items()}
                )
        return out

    def set_params(self, **params):
        if "stages" in params:
            self.stages = params.pop("stages")
        if self._is_preset() and params.keys() - self.get_params(deep=False).keys():
            # a stage or a nested parameter: this model gets the preset's stages of its own
            self.stages = self._stage_list()
        self._set_params("stages", **params)
        return self

    def _is_preset(self):
        return isinstance(self.stages, str) and self.stages in PRESETS

    def _stage_list(self):
        """The stages: a preset's built afresh, or the list given."""
        if isinstance(self.stages, str):
            return make_stages(self.stages)
        return list(self.stages)

    @property
    def named_stages(self):
        """The stages by name (unfitted; for a preset, a fresh copy of its stages).

        Returns
        -------
        Bunch
            Each stage under its name, e.g. ``named_stages.missing``.
        """
        return Bunch(**dict(self._stage_list()))

    # -- fitting -----------------------------------------------------------------
    def _validate_stages(self, stages):
        if not stages:
            raise ValueError(
                "stages is empty: a model with no stages would call every tile Good; give "
                f"a preset ({', '.join(repr(p) for p in PRESETS)}) or (name, stage) pairs"
            )
        names = [name for name, _ in stages]
        self._validate_names(names)
        for i, (name, stage) in enumerate(stages):
            if not isinstance(stage, (PeelStage, OutlierStage)):
                raise TypeError(
                    f"stage {name!r} must be a PeelStage or an OutlierStage, "
                    f"got {type(stage).__name__}"
                )
            if isinstance(stage, OutlierStage) and i != len(stages) - 1:
                raise ValueError(f"the OutlierStage {name!r} must be the last stage")
        labels = self._class_labels(stages)
        kinds = {type(label).__name__ for label in labels}
        if not (
            all(isinstance(v, str) for v in labels)
            or all(isinstance(v, Integral) and not isinstance(v, bool) for v in labels)
        ):
            raise ValueError(
                f"stage labels must be all strings or all integers, got {kinds}: {labels}"
            )

    @staticmethod
    def _inlier_label(stages):
        last = stages[-1][1] if stages else None
        return last.inlier_label if isinstance(last, OutlierStage) else GOOD

    def _class_labels(self, stages):
        labels = [stage.label for _, stage in stages] + [self._inlier_label(stages)]
        return list(dict.fromkeys(labels))

    def _configured(self, name, stage, seed):
        stage = clone(stage)
        overrides = {
            key: value
            for key, value in (("layout", self.layout), ("n_jobs", self.n_jobs))
            if value is not None
        }
        if overrides:
            supported = stage.features.get_params(deep=False)
            if self.layout == "strip" and "layout" not in supported:
                raise ValueError(
                    f"layout='strip': the features of stage {name!r} "
                    f"({type(stage.features).__name__}) compare the tiles of an array and "
                    "need X in the tile-set layout"
                )
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
        y : array-like of shape (n_tiles,) or None
            Ignored (unsupervised); when given, it is checked to be class
            labels of the length of X.

        Returns
        -------
        self : object
            The fitted model.

        Raises
        ------
        TypeError
            If a stage is neither a PeelStage nor an OutlierStage.
        ValueError
            If there are no stages, an OutlierStage is not last, two stages share a name, the
            labels mix strings and integers, or X (or y) is invalid.
        """
        self._validate_params()
        stages = self._stage_list()
        self._validate_stages(stages)
        if y is None:
            X = self._validate_X(X, reset=True)
        else:  # unused, but a y that does not fit X is a mistake worth reporting
            X, y = validate_data(self, X, y, reset=True, dtype=(np.float64, np.float32))
            check_classification_targets(y)
        self._set_up(self._configure(stages))
        self.labels_, self.inconsistency_, self.kinds_ = self._peel(X, fit=True)
        return self

    def _configure(self, stages):
        """Clones of the stages with the model's layout, n_jobs and random_state applied."""
        seed = self.random_state
        if seed is not None and not isinstance(seed, Integral):  # a RandomState: draw an int
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        return [(name, self._configured(name, stage, seed)) for name, stage in stages]

    def _set_up(self, stages):
        """The fitted attributes that come before the data, from the configured stages."""
        self.preset_ = self.stages if isinstance(self.stages, str) else None
        self.inlier_label_ = self._inlier_label(stages)
        self.classes_ = np.array(sorted(self._class_labels(stages)))
        self.stages_, self.stage_rows_ = stages, {}

    def _begin_fit(self):
        """Validate and configure the stages of a fit from shared features.

        For :func:`~sklearn_pillars.fit_arrays`: the configured stages'
        features compute each array's shared features
        (:func:`shared_features`) wherever the array is read, and
        :meth:`_fit_shared` fits the stages from them. Nothing is set on the
        model until then, so a fit that fails on the way leaves it as it was.
        """
        self._validate_params()
        stages = self._stage_list()
        self._validate_stages(stages)
        return self._configure(stages)

    def _fit_shared(self, stages, shared, n_features):
        """Fit the configured stages from the shared features of all tiles, not their pixels.

        ``shared`` is ``(parts, positions)``, positions' array indices
        distinct between arrays; the result is that of :meth:`fit` on the
        tiles they were computed from.
        """
        self._set_up(stages)
        self.n_features_in_ = n_features
        self.labels_, self.inconsistency_, self.kinds_ = self._peel(
            None, fit=True, shared=shared, n_features=n_features
        )
        return self

    def _peel(self, X, fit, trace=None, shared=None, n_features=None):
        """Send the tiles of X through the stages, fitting them first when ``fit``.

        Returns the classes, the inconsistency scores and the stage kinds of
        the tiles; with a list as ``trace``, each stage's diagnostics are
        appended to it. With ``shared`` (the tiles' shared features, computed
        already) X is not needed.
        """
        if shared is None:
            shared = shared_features(
                [stage.features if fit else stage.features_ for _, stage in self.stages_], X
            )
            n, n_features = X.shape
        else:
            n = len(shared[1])
        if fit:
            _warn_few_tiles(self.stages_, n)
        labels = np.full(n, self.inlier_label_, dtype=object)
        inconsistency = np.full(n, np.nan)
        kinds = np.full(n, "", dtype=object)
        remaining = np.arange(n)
        for i, (name, stage) in enumerate(self.stages_):
            featurize = _featurizer(X, remaining, shared, i, fit, n_features)
            outcome = stage._outcome(len(remaining), featurize, fit)
            if fit:
                stage.n_features_in_ = n_features
                if stage.skipped_:
                    warnings.warn(f"stage {name!r}: {stage.skipped_}", UserWarning, stacklevel=3)
                self.stage_rows_[name] = remaining
            if trace is not None:
                trace.append(_diagnostics(name, stage, remaining, outcome))
            peeled = remaining[outcome.peeled]
            labels[peeled] = stage.label
            if outcome.get("kinds") is not None:
                kinds[peeled] = outcome.kinds[outcome.peeled]
            if outcome.scores is not None:
                inconsistency[remaining] = outcome.scores
            remaining = remaining[~outcome.peeled]
        return labels.astype(self.classes_.dtype), inconsistency, kinds.astype(str)

    def fit_predict(self, X, y=None):
        """Fit and return the training tiles' classes (``labels_``).

        Parameters
        ----------
        X : array-like of shape (n_tiles, n_features)
            Tile-set X (``TileSet.X``).
        y : None
            Ignored (unsupervised).

        Returns
        -------
        ndarray of shape (n_tiles,)
            The class of each tile, ``labels_``.
        """
        return self.fit(X, y).labels_

    # -- prediction --------------------------------------------------------------
    def _route(self, X, trace=None):
        """Classes, inconsistency and kinds of new tiles, each following the fitted path."""
        check_is_fitted(self, "stages_")
        return self._peel(self._validate_X(X, reset=False), fit=False, trace=trace)

    def trace(self, X):
        """Classes, inconsistency scores and per-stage diagnostics of new tiles, in one pass.

        Parameters
        ----------
        %(model_X)s

        Returns
        -------
        Bunch
            ``labels`` (as :meth:`predict`), ``scores`` (the
            inconsistency: minus :meth:`score_samples`, the higher the more
            irregular; NaN where not scored), ``kinds`` (the kind of defect where a
            stage tells kinds apart, such as ``"seam"`` or ``"field"`` for
            Stitching with the refined preset; ``""`` elsewhere) and
            ``stages`` (as :meth:`stage_diagnostics`).
        """
        stages = []
        labels, scores, kinds = self._route(X, trace=stages)
        return Bunch(labels=labels, scores=scores, kinds=kinds, stages=stages)

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
        return [
            _diagnostics(name, stage, self.stage_rows_[name], stage._training_outcome())
            for name, stage in self.stages_
        ]

    def predict(self, X):
        """Classify new tiles with the fitted stages (an unseen array, for example).

        Each tile follows the fitted path: a stage's clusterer assigns it to
        a cluster and the cluster chosen at fit decides whether it is peeled;
        the last stage scores it as a novelty. Neighbour features are those
        of the tiles of X that reach the last stage. On the training tiles
        themselves this gives ``labels_`` for the cluster stages; the last
        stage may differ on a few tiles, since a novelty's neighbours do not
        include itself (``labels_`` keep the fit-time scores, in which a
        training tile is not its own neighbour).

        Parameters
        ----------
        %(model_X)s

        Returns
        -------
        ndarray of shape (n_tiles,)
            The class of each tile, of the dtype of ``classes_`` (str with
            the default stages).
        """
        return self._route(X)[0]

    def score_samples(self, X):
        """Normality score of new tiles: the higher, the more normal.

        Scikit-learn's sign, as ``LocalOutlierFactor.score_samples``: the
        last stage's detector score, about -1 for a typical tile. A tile
        scoring below ``-threshold_`` of the last stage (-1.5 for the
        ``"notebook"`` preset's LOF) is Irregular. Tiles peeled by an
        earlier stage are not scored: NaN.
        The report's *inconsistency* is minus this score (``trace(X).scores``,
        ``inconsistency_``).

        There is no ``decision_function``: scikit-learn reads a classifier's
        one as a score per class (``n_tiles x n_classes``), and only the last
        stage scores tiles.

        Parameters
        ----------
        %(model_X)s

        Returns
        -------
        ndarray of shape (n_tiles,), float64
            The normality score; NaN where not scored.
        """
        return -self._route(X)[1]

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against the class labels in ``y``.

        ``y`` is converted to the type of the classes (text by default), so
        labels that are not among ``classes_`` never match.

        Parameters
        ----------
        %(model_X)s
        y : array-like of shape (n_tiles,)
            The true class of each tile (``TileSet.y``).
        sample_weight : array-like of shape (n_tiles,), default=None
            Weights of the tiles.

        Returns
        -------
        float
            The (weighted) share of tiles whose predicted class is ``y``.
        """
        y_pred = self.predict(X)
        return accuracy_score(
            np.asarray(y).astype(y_pred.dtype), y_pred, sample_weight=sample_weight
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        # unsupervised: the classes are the stages' labels whatever y holds
        tags.classifier_tags.poor_score = True
        return tags


#: Fewest tiles a model is fitted on without a warning (a 5 x 5 array): every peel stage
#: calls one of its clusters or more defects, whether or not any tile is one, and fewer
#: tiles than this make clusters of a tile or two.
MIN_FIT_TILES = 25


def _warn_few_tiles(stages, n):
    """Warn when ``n`` tiles are too few for the peel stages to cluster."""
    if n < MIN_FIT_TILES and any(isinstance(stage, PeelStage) for _, stage in stages):
        warnings.warn(
            f"fitting on {n} tiles: too few to cluster ({MIN_FIT_TILES} at least, a 5 x 5 "
            "array), so the stages may call good pillars defects; fit on more arrays, or "
            "classify with a model fitted on them",
            UserWarning,
            stacklevel=4,
        )
