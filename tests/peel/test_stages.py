"""PeelStage, OutlierStage and the rules they call, on their own."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_pillars import (
    CenterIntensity,
    ContextualFeatures,
    LayeredPeelClassifier,
    OutlierStage,
    PeelStage,
    smallest_cluster,
)


def test_smallest_cluster_rule():
    assert smallest_cluster(np.array([2, 2, 0, 1, 1, 0, 2])) == [0]  # tie: first seen wins
    assert smallest_cluster(np.array([5, 5, 5])) == []  # one cluster: nothing to peel


STAGE_EXPECTED_FAILURES = {}


@parametrize_with_checks(
    [
        PeelStage(CenterIntensity(layout="strip"), label=0),
        PeelStage(ContextualFeatures(layout="strip"), rule="separated", n_components=None),
        OutlierStage(CenterIntensity(layout="strip")),
        OutlierStage(ContextualFeatures(layout="strip"), threshold=2.0),
    ],
    expected_failed_checks=lambda est: STAGE_EXPECTED_FAILURES.get(type(est).__name__, {}),
)
def test_scikit_learn_check_suite_on_the_stages(estimator, check):
    check(estimator)


def test_stages_take_lists_and_name_their_output(synthetic):
    X = synthetic.X
    stage = PeelStage(CenterIntensity(), n_components=2).fit(X[:200].tolist())
    assert stage.n_features_in_ == X.shape[1]
    assert list(stage.get_feature_names_out()) == ["pca0", "pca1"]
    assert stage.transform(X[:5]).shape == (5, 2)
    unreduced = PeelStage(CenterIntensity(), n_components=None).fit(X[:200])
    names = CenterIntensity().fit(X[:10]).get_feature_names_out()
    assert list(unreduced.get_feature_names_out()) == list(names)
    assert unreduced.transform(X[:5]).shape == (5, len(names))
    np.testing.assert_array_equal(stage.peel(X[:200].tolist()), stage.peeled_)
    outliers = OutlierStage(CenterIntensity()).fit(X[:200].tolist())
    assert list(outliers.get_feature_names_out()) == list(
        CenterIntensity().fit(X[:10]).get_feature_names_out()
    )
    with pytest.raises(ValueError, match="features"):
        outliers.transform(X[:5, :-1])
    # the stages of a fitted model know their input width too
    model = LayeredPeelClassifier().fit(X)
    assert all(s.n_features_in_ == X.shape[1] for _, s in model.stages_)


def test_outlier_stage_scores_with_scikit_learns_sign(synthetic):
    X = synthetic.X[:300]
    stage = OutlierStage(CenterIntensity()).fit(X)
    normality = stage.score_samples(X)
    np.testing.assert_array_equal(normality, -stage.inconsistency(X))
    np.testing.assert_array_equal(stage.peel(X), normality < -stage.threshold_)
    # scored as novelties: the detector's own score_samples of the scaled features
    np.testing.assert_allclose(normality, stage.detector_.score_samples(stage.transform(X)))
    assert np.median(normality) == pytest.approx(-1.0, abs=0.2)


def test_outlier_stage_defaults_to_the_notebooks_lof(synthetic):
    stage = OutlierStage(CenterIntensity()).fit(synthetic.X)
    assert stage.detector_.n_neighbors == 20 and stage.detector_.novelty
    assert stage.threshold_ == 1.5


def test_bad_rules_and_clusterers_are_explained(synthetic):
    from sklearn.cluster import AgglomerativeClustering

    bad_rule = PeelStage(
        CenterIntensity(),
        KMeans(n_clusters=3, n_init=1, random_state=0),
        rule=lambda labels, Z: [99],
    )
    with pytest.raises(ValueError, match="rule returned \\[99\\]"):
        LayeredPeelClassifier([("m", bad_rule)]).fit(synthetic.X)
    mask_rule = bad_rule.set_params(rule=lambda labels, Z: labels == 0)
    with pytest.raises(ValueError, match="cluster labels"):
        LayeredPeelClassifier([("m", mask_rule)]).fit(synthetic.X)
    no_predict = PeelStage(CenterIntensity(), AgglomerativeClustering(n_clusters=3))
    with pytest.raises(TypeError, match="predict"):
        LayeredPeelClassifier([("m", no_predict)]).fit(synthetic.X)
