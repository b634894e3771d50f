"""LayeredPeelClassifier: seed-exact by default, composable, robust."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_pillars import (
    CLASSES,
    PRESETS,
    CenterIntensity,
    LayeredPeelClassifier,
    PeelStage,
    make_pillar_arrays,
    make_stages,
    read_arrays,
)
from sklearn_pillars.tiling import pack_tiles

from ..conftest import SHARED_LABELS


def test_reproduces_the_notebook_on_the_shared_arrays(shared_array_paths):
    labels = SHARED_LABELS / "seed_labels.csv"
    tiles = read_arrays(shared_array_paths[:3], grid_size=21, labels=labels)
    predicted = LayeredPeelClassifier(stages="notebook").fit_predict(tiles.X)
    disagree = [
        name for name, a, b in zip(tiles.tile_names, predicted, tiles.y, strict=True) if a != b
    ]
    assert not disagree, f"differs from the notebook on {len(disagree)} tiles: {disagree[:5]}"


def test_a_saved_model_classifies_an_unseen_array(shared_array_paths, tmp_path):
    train = read_arrays(shared_array_paths[:3])
    new = read_arrays(shared_array_paths[3])
    model = LayeredPeelClassifier().fit(train.X)
    expected = model.predict(new.X)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(new.X), expected)
    assert set(expected) <= set(CLASSES)
    # the new array has defects of the kinds learned: not everything is Good
    assert 0.5 < np.mean(expected == "Good") < 0.99


def test_labels_and_fitted_attributes(fitted, synthetic):
    assert list(fitted.classes_) == sorted(CLASSES)
    assert fitted.labels_.shape == (len(synthetic),)
    assert set(fitted.labels_) <= set(CLASSES)
    assert [name for name, _ in fitted.stages_] == [
        "missing",
        "collapsed",
        "stitching",
        "irregular",
    ]
    # each stage sees exactly the tiles the earlier stages left
    rows = fitted.stage_rows_
    assert len(rows["missing"]) == len(synthetic)
    for earlier, later, label in [
        ("missing", "collapsed", "Missing"),
        ("collapsed", "stitching", "Collapsed"),
        ("stitching", "irregular", "Stitching"),
    ]:
        left = np.setdiff1d(rows[earlier], rows[later])
        assert (fitted.labels_[left] == label).all()
        assert not np.isin(fitted.labels_[rows[later]], [label]).any()
    missing = dict(fitted.stages_)["missing"]
    assert missing.cluster_sizes_.sum() == len(synthetic)
    assert missing.embedding_.shape == (len(synthetic), 5)
    assert missing.explained_variance_ratio_.shape == (5,)
    assert (
        missing.peeled_.sum()
        == missing.cluster_sizes_[np.isin(missing.cluster_ids_, missing.selected_clusters_)].sum()
    )
    # the inconsistency score exists exactly for the tiles of the last stage
    scored = np.isfinite(fitted.inconsistency_)
    np.testing.assert_array_equal(np.flatnonzero(scored), rows["irregular"])


def test_finds_the_synthetic_defects(fitted, synthetic):
    # the seed's algorithm on clean synthetic data: Missing and Collapsed come out well
    for label in ("Missing", "Collapsed"):
        truth, found = synthetic.y == label, fitted.labels_ == label
        recall = (truth & found).sum() / truth.sum()
        assert recall > 0.8, (label, recall)


def test_predict_follows_the_fitted_path(fitted, synthetic):
    predicted = fitted.predict(synthetic.X)
    # the cluster stages assign the training tiles as at fit
    for label in ("Missing", "Collapsed", "Stitching"):
        np.testing.assert_array_equal(predicted == label, fitted.labels_ == label)
    scores = fitted.score_samples(synthetic.X)
    reached = np.isin(predicted, ["Irregular", "Good"])
    assert np.isnan(scores[~reached]).all() and np.isfinite(scores[reached]).all()
    threshold = dict(fitted.stages_)["irregular"].threshold_
    assert threshold == 1.5
    np.testing.assert_array_equal(predicted[reached] == "Irregular", scores[reached] < -threshold)


def test_score_samples_has_scikit_learns_sign(fitted, synthetic):
    # higher is more normal, as LocalOutlierFactor.score_samples: Good tiles score above
    # every Irregular one, and the inconsistency the report shows is minus the score
    X = synthetic.X
    normality, result = fitted.score_samples(X), fitted.trace(X)
    good, irregular = result.labels == "Good", result.labels == "Irregular"
    assert good.sum() > 50 and irregular.sum() > 0
    assert normality[good].min() > normality[irregular].max()
    assert np.median(normality[good]) == pytest.approx(-1.0, abs=0.2)
    np.testing.assert_array_equal(normality, -result.scores)
    training = fitted.score_samples(X)[good & (fitted.labels_ == "Good")]
    np.testing.assert_allclose(np.median(training), -np.nanmedian(fitted.inconsistency_), rtol=0.2)


def test_fit_predict_is_deterministic(synthetic):
    first = LayeredPeelClassifier().fit_predict(synthetic.X)
    np.testing.assert_array_equal(LayeredPeelClassifier().fit_predict(synthetic.X), first)


def test_nested_parameters_and_clone(synthetic):
    model = LayeredPeelClassifier("notebook")
    params = model.get_params()
    assert params["missing__clusterer__n_clusters"] == 3
    assert params["irregular__detector__n_neighbors"] == 20
    model.set_params(missing__clusterer__n_clusters=4, irregular__detector__n_neighbors=10)
    # the preset itself is never modified
    assert dict(make_stages("notebook"))["missing"].clusterer.n_clusters == 3
    assert LayeredPeelClassifier("notebook").get_params()["missing__clusterer__n_clusters"] == 3
    copy = clone(model)
    assert copy.get_params()["missing__clusterer__n_clusters"] == 4
    fitted = copy.fit(synthetic.X)
    assert len(dict(fitted.stages_)["missing"].cluster_sizes_) == 4


def test_stages_can_be_dropped_reordered_and_replaced(synthetic):
    stages = make_stages("notebook")
    no_outliers = LayeredPeelClassifier(stages[:2]).fit(synthetic.X)
    assert set(no_outliers.labels_) <= {"Missing", "Collapsed", "Good"}
    assert list(no_outliers.classes_) == ["Collapsed", "Good", "Missing"]
    largest = PeelStage(
        CenterIntensity(),
        KMeans(n_clusters=2, random_state=0, n_init=3),
        rule=lambda labels, Z: [np.bincount(labels).argmax()],
        label="Bulk",
    )
    custom = LayeredPeelClassifier([("bulk", largest)]).fit(synthetic.X)
    assert (custom.labels_ == "Bulk").mean() >= 0.5
    with pytest.raises(ValueError, match="must be the last stage"):
        LayeredPeelClassifier([stages[3], stages[0]]).fit(synthetic.X)
    with pytest.raises(TypeError, match="PeelStage or an OutlierStage"):
        LayeredPeelClassifier([("x", KMeans())]).fit(synthetic.X)
    mixed = [stages[0], ("n", PeelStage(CenterIntensity(), label=7))]
    with pytest.raises(ValueError, match="all strings or all integers"):
        LayeredPeelClassifier(mixed).fit(synthetic.X)


@pytest.mark.slow
def test_pipeline_grid_search_and_cross_val_predict(synthetic):
    groups = synthetic.positions[:, 0]
    pipe = Pipeline([("peel", LayeredPeelClassifier())])
    np.testing.assert_array_equal(
        pipe.fit(synthetic.X).predict(synthetic.X),
        LayeredPeelClassifier().fit(synthetic.X).predict(synthetic.X),
    )
    # the notebook preset peels its smallest cluster whatever the count, so the count matters
    search = GridSearchCV(
        LayeredPeelClassifier("notebook"),
        {"missing__clusterer__n_clusters": [2, 3, 4]},
        scoring="f1_macro",
        cv=GroupKFold(n_splits=2),
    )
    search.fit(synthetic.X, synthetic.y, groups=groups)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and len(set(np.round(scores, 9))) > 1  # the grid matters
    best = search.best_params_["missing__clusterer__n_clusters"]
    assert scores[[2, 3, 4].index(best)] == scores.max()
    assert search.best_estimator_.get_params()["missing__clusterer__n_clusters"] == best
    predicted = cross_val_predict(
        LayeredPeelClassifier(), synthetic.X, synthetic.y, groups=groups, cv=GroupKFold(n_splits=2)
    )
    assert predicted.shape == synthetic.y.shape and set(predicted) <= set(CLASSES)


def test_joblib_round_trip_on_an_unseen_synthetic_array(tmp_path):
    train = make_pillar_arrays(n_arrays=2, grid_size=15, random_state=11)
    new = make_pillar_arrays(n_arrays=1, grid_size=15, random_state=12)
    model = LayeredPeelClassifier().fit(train.X)
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict(new.X), model.predict(new.X))
    np.testing.assert_array_equal(loaded.score_samples(new.X), model.score_samples(new.X))


def test_score_is_accuracy_against_class_names(fitted, synthetic):
    y = fitted.predict(synthetic.X).copy()
    wrong = np.arange(len(y)) % 4 == 0  # a quarter of the labels made wrong
    y[wrong] = np.where(y[wrong] == "Good", "Missing", "Good")
    assert fitted.score(synthetic.X, y) == pytest.approx(1 - wrong.mean())
    assert fitted.score(synthetic.X, np.zeros(len(synthetic), int)) == 0.0


def uniform_tiles(n, value=90):
    images = [np.full((16, 16), value, np.uint8)] * n
    positions = [[0, 1 + i // 4, 1 + i % 4] for i in range(n)]
    return pack_tiles(images, positions, 16)


def test_a_single_tile_is_left_good_with_warnings():
    with pytest.warns(UserWarning, match="stage 'missing': 1 tile"):
        labels = LayeredPeelClassifier().fit_predict(uniform_tiles(1))
    assert list(labels) == ["Good"]


def test_fewer_tiles_than_clusters():
    with pytest.warns(UserWarning, match="fewer than the 3 clusters"):
        model = LayeredPeelClassifier().fit(uniform_tiles(2))
    assert list(model.labels_) == ["Good", "Good"]
    assert list(model.predict(uniform_tiles(3))) == ["Good"] * 3


def test_identical_tiles_are_not_peeled():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KMeans: fewer distinct clusters than asked
        labels = LayeredPeelClassifier().fit_predict(uniform_tiles(30))
    assert set(labels) == {"Good"}


def test_an_array_without_defects_does_not_crash():
    clean = make_pillar_arrays(
        n_arrays=1,
        grid_size=12,
        random_state=5,
        defect_rates={"Missing": 0, "Collapsed": 0, "Stitching": 0, "Irregular": 0},
    )
    model = LayeredPeelClassifier("notebook").fit(clean.X)
    assert model.labels_.shape == (144,) and set(model.labels_) <= set(CLASSES)
    # documented: the notebook's rule always peels each stage's smallest cluster
    for name, stage in model.stages_[:3]:
        assert stage.peeled_.sum() == stage.cluster_sizes_.min(), name
    # the default preset peels a cluster only when it stands apart: a clean array keeps
    # (almost) all its tiles
    default = LayeredPeelClassifier().fit(clean.X)
    assert np.mean(default.labels_ != "Good") <= 0.01


def test_bad_input(fitted, synthetic):
    with pytest.raises(ValueError, match="not the tile-set layout"):
        LayeredPeelClassifier().fit(np.zeros((10, 7)))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(synthetic.X[:, :-1])
    X = synthetic.X.copy()
    X[3, 100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LayeredPeelClassifier().fit(X)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LayeredPeelClassifier().fit(synthetic.X, synthetic.y[:-1])


def _numeric_seed_stages():
    """The seed's stages with integer labels: the check suite compares predictions numerically."""
    stages = [
        (name, stage.set_params(label=i)) for i, (name, stage) in enumerate(make_stages("notebook"))
    ]
    stages[-1][1].set_params(inlier_label=len(stages))
    return stages


@parametrize_with_checks(
    [LayeredPeelClassifier(_numeric_seed_stages(), layout="strip")],
    expected_failed_checks=lambda est: {
        "check_classifiers_one_label": "unsupervised: the classes come from the stages, "
        "not from y, so a one-label y is not predicted back",
        "check_classifiers_classes": "unsupervised: classes_ are the stages' labels, "
        "not the classes of y",
    },
)
def test_scikit_learn_check_suite(estimator, check):
    check(estimator)


def test_the_shared_feature_pass_changes_nothing(synthetic):
    shared = LayeredPeelClassifier("notebook").fit(synthetic.X)
    # different batch sizes disable the shared pass: every stage computes its own features
    separate = (
        LayeredPeelClassifier("notebook")
        .set_params(missing__features__batch_size=7)
        .fit(synthetic.X)
    )
    np.testing.assert_array_equal(separate.labels_, shared.labels_)
    np.testing.assert_allclose(separate.inconsistency_, shared.inconsistency_, rtol=1e-12)
    new = make_pillar_arrays(n_arrays=1, grid_size=15, random_state=21)
    np.testing.assert_array_equal(separate.predict(new.X), shared.predict(new.X))
    np.testing.assert_allclose(
        separate.score_samples(new.X), shared.score_samples(new.X), rtol=1e-12
    )


@pytest.mark.parametrize("preset", ["notebook", "refined"])
def test_no_model_shares_a_stage_of_a_preset(preset, synthetic):
    model = LayeredPeelClassifier(preset)
    model.named_stages.missing.set_params(label="Oops")
    assert LayeredPeelClassifier(preset).named_stages.missing.label == "Missing"
    assert set(LayeredPeelClassifier(preset).fit(synthetic.X).classes_) == set(CLASSES)
    model.set_params(missing__clusterer__n_clusters=7)
    assert model.get_params()["missing__clusterer__n_clusters"] == 7
    assert LayeredPeelClassifier(preset).get_params()["missing__clusterer__n_clusters"] == 3
    assert make_stages(preset)[0][1].clusterer.n_clusters == 3
    other = LayeredPeelClassifier(preset).fit(synthetic.X)
    assert dict(other.stages_)["missing"] is not dict(model.fit(synthetic.X).stages_)["missing"]
    assert len(dict(model.stages_)["missing"].cluster_sizes_) == 7
    assert other.preset_ == preset and model.preset_ is None
    mine = [("m", PeelStage(CenterIntensity(), KMeans(n_clusters=3)))]
    LayeredPeelClassifier(mine).set_params(m__clusterer__n_clusters=5)
    assert mine[0][1].clusterer.n_clusters == 5  # user-given stages are set, as in Pipeline


def test_predict_uses_the_fitted_labels(synthetic):
    model = LayeredPeelClassifier().fit(synthetic.X)
    model.set_params(irregular__inlier_label="AcceptableTile")
    assert set(model.predict(synthetic.X)) <= set(model.classes_)


def test_duplicate_positions_are_refused(synthetic):
    doubled = np.vstack([synthetic.X, synthetic.X])  # the same array index twice
    for preset in PRESETS:
        with pytest.raises(ValueError, match="same position"):
            LayeredPeelClassifier(preset).fit(doubled)


def test_random_state_reaches_the_clusterers(synthetic):
    seeded = LayeredPeelClassifier(random_state=42).fit(synthetic.X)
    np.testing.assert_array_equal(seeded.labels_, LayeredPeelClassifier().fit(synthetic.X).labels_)
    other = LayeredPeelClassifier(random_state=7).fit(synthetic.X)
    assert all(stage.clusterer_.random_state == 7 for _, stage in other.stages_[:3])
    np.testing.assert_array_equal(
        LayeredPeelClassifier(random_state=7).fit_predict(synthetic.X), other.labels_
    )


@pytest.mark.parametrize("chunk_rows", [1, 4, 15])
def test_predict_in_bands_equals_predict_on_the_whole_array(fitted, chunk_rows):
    from sklearn_pillars import predict_in_bands, tile_array

    new = make_pillar_arrays(n_arrays=1, grid_size=15, random_state=30)
    whole = fitted.trace(tile_array(new.array_images[0], grid_size=15).X)
    banded = predict_in_bands(fitted, new.array_images[0], grid_size=15, chunk_rows=chunk_rows)
    np.testing.assert_array_equal(banded.labels.ravel(), whole.labels)
    np.testing.assert_allclose(banded.scores.ravel(), whole.scores, rtol=1e-12)


def test_bands_without_a_halo_would_differ(fitted):
    from sklearn_pillars import iter_tile_chunks, tile_array

    new = make_pillar_arrays(n_arrays=1, grid_size=15, random_state=30)
    whole = fitted.score_samples(tile_array(new.array_images[0], grid_size=15).X)
    bands = np.concatenate(
        [fitted.score_samples(b.X) for b in iter_tile_chunks(new.array_images[0], 15, chunk_rows=3)]
    )
    # the halo matters: without it the band-edge tiles lose neighbours
    assert not np.allclose(np.nan_to_num(bands), np.nan_to_num(whole))


def test_refined_predict_in_bands_is_exact_when_a_band_holds_the_array():
    from sklearn_pillars import predict_in_bands, tile_array

    model = LayeredPeelClassifier("refined").fit(
        make_pillar_arrays(n_arrays=2, grid_size=15, random_state=3).X
    )
    image = make_pillar_arrays(n_arrays=1, grid_size=15, random_state=30).array_images[0]
    whole = model.trace(tile_array(image, grid_size=15).X)
    banded = predict_in_bands(model, image, grid_size=15, chunk_rows=15)
    np.testing.assert_array_equal(banded.labels.ravel(), whole.labels)
    np.testing.assert_allclose(banded.scores.ravel(), whole.scores, rtol=1e-9)


@pytest.mark.slow
def test_refined_nested_parameters_are_searchable(synthetic):
    groups = synthetic.positions[:, 0]
    model = LayeredPeelClassifier("refined")
    params = model.get_params()
    assert params["stitching__rule__min_distance"] == 4.0
    assert params["irregular__threshold"] == 2.5
    grid = {"stitching__rule__min_distance": [4.0, 1e6]}  # 1e6: the stage never peels
    search = GridSearchCV(model, grid, scoring="f1_macro", cv=GroupKFold(n_splits=2))
    search.fit(synthetic.X, synthetic.y, groups=groups)
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > scores[1]  # finding the lines is worth something on this data
    assert search.best_params_ == {"stitching__rule__min_distance": 4.0}
    never = clone(model).set_params(stitching__rule__min_distance=1e6).fit(synthetic.X)
    assert not (never.labels_ == "Stitching").any()
    assert model.stages == "refined"  # the searched copies had stages of their own


@pytest.mark.parametrize("random_state", range(4))
def test_refined_on_a_small_array(random_state):
    """An 8 x 8 array: with few tiles in many clusters, the typical tile is still the reference."""
    tiles = make_pillar_arrays(n_arrays=1, grid_size=8, random_state=random_state)
    labels = LayeredPeelClassifier("refined").fit_predict(tiles.X)
    assert np.mean(labels == tiles.y) >= 0.9


def test_refined_refuses_the_strip_layout_clearly():
    X = np.random.default_rng(0).random((20, 7))
    with pytest.raises(ValueError, match="stage 'missing' .*MissingContext.*tile-set layout"):
        LayeredPeelClassifier("refined", layout="strip").fit(X)
