"""The LOF stage's own neighbour search gives scikit-learn's novelty scores."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from sklearn_pillars.peel import _outlier
from sklearn_pillars.peel._outlier import novelty_inconsistency


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**16),
    n_fit=st.integers(3, 300),
    n_new=st.integers(1, 200),
    dims=st.integers(1, 8),
    neighbours=st.integers(1, 60),
    duplicates=st.booleans(),
)
def test_the_scores_are_scikit_learns(seed, n_fit, n_new, dims, neighbours, duplicates):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_fit, dims))
    if duplicates:  # tiles with the same features: tied neighbours, alike in every way
        X = np.concatenate([X, X[rng.integers(0, n_fit, n_fit)]])
    # (distinct points tied with the k-th neighbour would leave the choice to the search,
    # scikit-learn's own trees and brute force differ there too; continuous features
    # do not tie)
    new = np.concatenate(
        [X[rng.integers(0, n_fit, n_new // 2)], rng.normal(size=(n_new - n_new // 2, dims)) * 3]
    )
    lof = LocalOutlierFactor(
        n_neighbors=min(neighbours, n_fit - 1), novelty=True, algorithm="kd_tree"
    ).fit(X)
    assert _outlier._euclidean_lof(lof)
    np.testing.assert_allclose(novelty_inconsistency(lof, new), -lof.score_samples(new), rtol=1e-12)


def test_the_default_lof_on_few_features_searches_a_tree(monkeypatch):
    # the refined preset's last layer: 6 features; scikit-learn picks its k-d tree
    rng = np.random.default_rng(2)
    lof = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(rng.normal(size=(500, 6)))
    built = []
    monkeypatch.setattr(_outlier, "cKDTree", lambda data: built.append(data) or cKDTree(data))
    new = rng.normal(size=(30, 6))
    np.testing.assert_allclose(novelty_inconsistency(lof, new), -lof.score_samples(new), rtol=1e-12)
    assert len(built) == 1


def test_the_queries_are_chunked_alike(monkeypatch):
    rng = np.random.default_rng(0)
    lof = LocalOutlierFactor(n_neighbors=10, novelty=True).fit(rng.normal(size=(200, 3)))
    new = rng.normal(size=(101, 3))
    whole = novelty_inconsistency(lof, new)
    monkeypatch.setattr(_outlier, "QUERY_CHUNK", 7)
    np.testing.assert_array_equal(novelty_inconsistency(lof, new), whole)


@pytest.mark.parametrize(
    "detector",
    [
        LocalOutlierFactor(n_neighbors=5, novelty=True, metric="manhattan"),
        LocalOutlierFactor(n_neighbors=5, novelty=True, p=3),
        LocalOutlierFactor(n_neighbors=5, novelty=True, algorithm="brute"),
        IsolationForest(random_state=0),
    ],
    ids=["manhattan", "p=3", "brute force", "isolation forest"],
)
def test_other_detectors_score_themselves(detector, monkeypatch):
    rng = np.random.default_rng(1)
    detector.fit(rng.normal(size=(60, 3)))
    new = rng.normal(size=(20, 3))
    expected = -detector.score_samples(new)

    def no_tree(*args, **kwargs):
        raise AssertionError("the Euclidean neighbour search was used")

    monkeypatch.setattr(_outlier, "cKDTree", no_tree)
    np.testing.assert_array_equal(novelty_inconsistency(detector, new), expected)
