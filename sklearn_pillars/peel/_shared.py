"""The shared feature pass, and fitting or classifying from features computed elsewhere.

The classifier computes what its stages' features share once for all stages
(:func:`shared_features`); :func:`~sklearn_pillars.fit_arrays` calls the same
functions one array at a time, wherever each array is read, and fits the model from
what they return (:func:`begin_fit`, :func:`fit_from_shared`).
"""

from __future__ import annotations

from joblib import effective_n_jobs

from ..features import BaseArrayFeatures, array_parts, joins_shared_pass, row_parts
from ..tiling import tile_positions


def shared_features(features, X):
    """Row-local parts of every stage's features for all tiles in one pass, when they allow it.

    When every stage's features are tile transformers
    (:class:`~sklearn_pillars.BaseTileFeatures`, the package's or a
    user's) with the same layout, batch size and n_jobs, each batch of tiles is decoded
    once and what the stages share (contours, gradients) is computed once;
    when they are all array-context transformers
    (:class:`~sklearn_pillars.BaseArrayFeatures`), each
    array's context (photometric scale, reference pillar, residuals) is
    built once, from all of the array's tiles in X. What is not row-local
    (neighbours, pooling along grid lines, the array's robust scale, the
    mean radial profile) still runs on the tiles each stage receives. For
    the ``"notebook"`` preset's features the results are those of fitting stage by
    stage; array-context features fitted stage by stage (a custom mix of
    stages, which disables the shared pass) build each context from the
    stage's own tiles instead, which can differ slightly.
    """
    if not features or not all(joins_shared_pass(f) for f in features):
        return None
    if all(isinstance(f, BaseArrayFeatures) for f in features):
        if len({f.downsample for f in features}) != 1:
            return None
        for f in features:
            f._validate_params()
            f.check_downsample(X)
        n_jobs = max(effective_n_jobs(f.n_jobs) for f in features)
        parts = array_parts(
            [f.context_rows for f in features],
            X,
            n_jobs=n_jobs,
            downsample=features[0].downsample,
        )
        return parts, tile_positions(X)
    if any(isinstance(f, BaseArrayFeatures) for f in features):
        return None
    settings = {(f.layout, f.batch_size, f.n_jobs) for f in features}
    if len(settings) != 1:
        return None
    for f in features:
        f._validate_params()
    layout, batch_size, n_jobs = settings.pop()
    parts = row_parts([f.compute_rows for f in features], X, layout, batch_size, n_jobs)
    return parts, tile_positions(X, layout)


def _featurizer(X, rows, shared, index, fit, n_features):
    """A function giving a stage's fitted features the tiles ``rows`` of X."""
    if shared is None:
        if fit:
            return lambda features: features.fit_transform(X[rows])
        return lambda features: features.transform(X[rows])
    parts, positions = shared
    part, where = parts[index][rows], positions[rows]
    if fit:
        return lambda features: features.fit_rows(part, where, n_features)
    return lambda features: features.finish_rows(part, where)


def begin_fit(model):
    """Validate and configure the stages of a fit of ``model`` from shared features.

    The configured stages' features compute each array's shared features
    (:func:`shared_features`) wherever the array is read, and
    :func:`fit_from_shared` fits the stages from them. Nothing is set on the
    model until then, so a fit that fails on the way leaves it as it was.

    Returns
    -------
    list of (name, stage)
        The configured, unfitted stages.
    """
    return model._begin_fit()


def fit_from_shared(model, stages, shared, n_features):
    """Fit ``model``'s configured ``stages`` from the shared features of all tiles.

    ``shared`` is ``(parts, positions)``, the positions' array indices distinct
    between arrays; the result is that of ``model.fit`` on the tiles (rows of
    ``n_features`` values) they were computed from.
    """
    return model._fit_shared(stages, shared, n_features)


def classify_tiles(model, X):
    """Classes, inconsistency scores and kinds of the tiles of X, in one pass of a fitted
    ``model`` (:meth:`~sklearn_pillars.LayeredPeelClassifier.trace` without the stages'
    diagnostics)."""
    return model._route(X)
