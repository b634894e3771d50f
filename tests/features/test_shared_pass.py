"""The shared feature pass is a documented protocol: a user's transformer that follows it
(BaseTileFeatures / BaseArrayFeatures) joins the one pass over X; one that does not still
works, stage by stage, with the same labels."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

import sklearn_pillars.features._base as shared_pass_module
from sklearn_pillars import (
    BaseArrayFeatures,
    BaseTileFeatures,
    LayeredPeelClassifier,
    StitchingFeatures,
    make_pillar_arrays,
    make_stages,
)
from sklearn_pillars.tiling import iter_tile_batches


def centre_minus_edge(tiles):
    """Mean of each tile's middle half minus the mean of its outer frame."""
    tiles = tiles.astype(np.float64)
    size = tiles.shape[1]
    middle = tiles[:, size // 4 : size - size // 4, size // 4 : size - size // 4]
    frame = np.concatenate(
        [tiles[:, :4].reshape(len(tiles), -1), tiles[:, -4:].reshape(len(tiles), -1)], axis=1
    )
    return (middle.mean(axis=(1, 2)) - frame.mean(axis=1))[:, None]


class CentreContrast(BaseTileFeatures):
    """A user's tile features that follow the protocol."""

    feature_names = ("centre_contrast",)

    def compute_rows(self, batch):
        return centre_minus_edge(batch.tiles)


class PlainCentreContrast(TransformerMixin, BaseEstimator):
    """The same features, without the protocol: decodes X itself."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        out = np.empty((len(X), 1))
        for rows, tiles in iter_tile_batches(np.asarray(X)):
            out[rows] = centre_minus_edge(tiles)
        return out


class ResidualEnergy(BaseArrayFeatures):
    """A user's array-context features that follow the protocol."""

    feature_names = ("residual_energy",)

    def context_rows(self, context):
        return np.nanmean(context.residual**2, axis=(1, 2))[:, None]


@pytest.fixture(scope="module")
def tiles():
    return make_pillar_arrays(n_arrays=2, grid_size=12, random_state=3)


def decoded_rows(monkeypatch):
    """Count the rows of X the transformers decode."""
    counter = {"rows": 0}

    def counting(X, *args, **kwargs):
        for rows, batch in iter_tile_batches(X, *args, **kwargs):
            counter["rows"] += len(rows)
            yield rows, batch

    monkeypatch.setattr(shared_pass_module, "iter_tile_batches", counting)
    return counter


def notebook_with(features):
    model = LayeredPeelClassifier(make_stages("notebook"))
    return model.set_params(stitching__features=features)


def test_a_users_tile_features_join_the_one_pass(tiles, monkeypatch):
    counter = decoded_rows(monkeypatch)
    notebook_with(CentreContrast()).fit(tiles.X)
    # one pass: every tile decoded once for all four stages
    assert counter["rows"] == len(tiles.X)
    counter["rows"] = 0
    notebook_with(StitchingFeatures()).fit(tiles.X)
    assert counter["rows"] == len(tiles.X)  # as the package's own features


def test_features_without_the_protocol_still_work_stage_by_stage(tiles, monkeypatch):
    shared = notebook_with(CentreContrast()).fit(tiles.X)
    counter = decoded_rows(monkeypatch)
    plain = notebook_with(PlainCentreContrast()).fit(tiles.X)
    assert counter["rows"] > len(tiles.X)  # each stage decodes its own tiles
    np.testing.assert_array_equal(plain.labels_, shared.labels_)
    np.testing.assert_array_equal(plain.predict(tiles.X), shared.predict(tiles.X))


def test_a_users_array_features_share_each_arrays_context(tiles, monkeypatch):
    built = {"arrays": 0}
    original = shared_pass_module.array_context

    def counting(*args, **kwargs):
        built["arrays"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(shared_pass_module, "array_context", counting)
    model = LayeredPeelClassifier(make_stages("refined"))
    model.set_params(irregular__features=ResidualEnergy()).fit(tiles.X)
    assert built["arrays"] == 2  # once per array, for all four stages
    assert set(model.labels_) <= set(model.classes_)
    # the user's features alone give what their own fit_transform gives
    features = ResidualEnergy().fit_transform(tiles.X)
    assert features.shape == (len(tiles.X), 1) and np.isfinite(features).all()


def test_a_subclass_without_compute_rows_says_what_is_missing(tiles):
    class Unfinished(BaseTileFeatures):
        feature_names = ("nothing",)

    with pytest.raises(NotImplementedError, match="Unfinished must define compute_rows"):
        Unfinished().fit_transform(tiles.X)


class CentreOverMean(BaseTileFeatures):
    """A stateful user subclass: the centre contrast over the training tiles' mean."""

    feature_names = ("centre_over_mean",)

    def __init__(self, power=1.0, *, layout="tiles", batch_size=32, n_jobs=None):
        super().__init__(layout=layout, batch_size=batch_size, n_jobs=n_jobs)
        self.power = power

    def compute_rows(self, batch):
        return centre_minus_edge(batch.tiles)

    def learn_rows(self, rows, positions):
        self.mean_ = float(np.abs(rows).mean())

    def finish_rows(self, rows, positions):
        return np.sign(rows) * (np.abs(rows) / self.mean_) ** self.power


class Cubed(StitchingFeatures):
    """Overrides transform and fit_transform: the shared pass must not stand in for them."""

    def transform(self, X):
        return super().transform(X) ** 3

    def fit_transform(self, X, y=None):
        return super().fit_transform(X) ** 3


def stage_by_stage(features):
    """The same features seen by the classifier as a foreign transformer."""

    class Foreign(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.inner_ = features.fit(X)
            self.n_features_in_ = X.shape[1]
            return self

        def transform(self, X):
            return self.inner_.transform(X)

    return Foreign()


def test_a_stateful_users_features_give_the_same_labels_shared_or_not(tiles, monkeypatch):
    shared = notebook_with(CentreOverMean(power=2.0)).fit(tiles.X)
    alone = notebook_with(stage_by_stage(CentreOverMean(power=2.0))).fit(tiles.X)
    np.testing.assert_array_equal(shared.labels_, alone.labels_)
    np.testing.assert_array_equal(shared.predict(tiles.X), alone.predict(tiles.X))
    fitted = dict(shared.stages_)["stitching"].features_
    assert fitted.mean_ > 0 and fitted.power == 2.0


def test_a_subclass_that_overrides_transform_is_computed_its_own_way(tiles, monkeypatch):
    cubed = notebook_with(Cubed()).fit(tiles.X)
    foreign = notebook_with(stage_by_stage(Cubed())).fit(tiles.X)
    np.testing.assert_array_equal(cubed.labels_, foreign.labels_)
    counter = decoded_rows(monkeypatch)
    notebook_with(Cubed()).fit(tiles.X)
    assert counter["rows"] > len(tiles.X)  # not the one pass
