"""The selection rules and the presets, on their own."""

import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_pillars import (
    PRESETS,
    LayeredPeelClassifier,
    NotebookGridWarning,
    OutlierStage,
    PeelStage,
    SeparatedClusters,
    make_stages,
    smallest_cluster,
)
from sklearn_pillars.peel import notebook_lattice_note, preset_of, warn_notebook_on_lattice


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=60))
def test_smallest_cluster_picks_a_cluster_of_the_fewest_tiles(labels):
    counts = Counter(labels)
    chosen = smallest_cluster(np.array(labels))
    if len(counts) < 2:
        assert chosen == []
        return
    assert len(chosen) == 1 and counts[chosen[0]] == min(counts.values())
    # ties go to the cluster seen first
    tied = [c for c in dict.fromkeys(labels) if counts[c] == min(counts.values())]
    assert chosen[0] == tied[0]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(20, 200),
    st.integers(1, 9),
    st.floats(0.0, 20.0),
    st.floats(1.0, 12.0),
    st.integers(0, 2**16),
)
def test_separated_clusters_peels_far_and_small_clusters_only(n_bulk, n_far, shift, cut, seed):
    rng = np.random.default_rng(seed)
    Z = np.r_[rng.normal(0, 1, (n_bulk, 3)), rng.normal(shift, 0.1, (n_far, 3))]
    labels = np.r_[np.zeros(n_bulk, int), np.ones(n_far, int)]
    rule = SeparatedClusters(min_distance=cut)
    chosen = rule(labels, Z)
    ids, distances = rule.distances(labels, Z)
    expected = [
        int(i)
        for i, d in zip(ids, distances, strict=True)
        if d >= cut and np.sum(labels == i) <= 0.5 * len(labels)
    ]
    assert chosen == expected
    assert 0 not in chosen  # the bulk, more than half of the tiles, is never peeled
    median = np.median(Z, axis=0)
    far = np.linalg.norm(np.median(Z[labels == 1], axis=0) - median)
    assert (1 in chosen) == (far >= cut)


def test_separated_clusters_checks_its_parameters_when_called():
    with pytest.raises(ValueError, match="min_distance"):
        SeparatedClusters(min_distance=-1)([0, 1], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="max_share"):
        SeparatedClusters(max_share=2)([0, 1], np.zeros((2, 1)))


@pytest.mark.parametrize("preset", PRESETS)
def test_a_preset_is_four_named_stages_ending_with_the_outlier_stage(preset):
    stages = make_stages(preset)
    assert [name for name, _ in stages] == ["missing", "collapsed", "stitching", "irregular"]
    assert all(isinstance(stage, PeelStage) for _, stage in stages[:-1])
    assert isinstance(stages[-1][1], OutlierStage)
    assert [stage.label for _, stage in stages[:-1]] == ["Missing", "Collapsed", "Stitching"]


@pytest.mark.parametrize("preset", PRESETS)
def test_each_call_builds_new_estimators(preset):
    first, second = make_stages(preset), make_stages(preset)
    for (_, a), (_, b) in zip(first, second, strict=True):
        assert a is not b and a.features is not b.features
    first[0][1].set_params(clusterer__n_clusters=7)
    assert make_stages(preset)[0][1].get_params()["clusterer__n_clusters"] != 7
    assert second[0][1].get_params()["clusterer__n_clusters"] != 7


def test_an_unknown_preset_is_named():
    with pytest.raises(ValueError, match=r"unknown preset 'notbook'; choose one of"):
        make_stages("notbook")


def test_preset_of_a_model():
    assert preset_of(LayeredPeelClassifier()) == "refined"
    assert preset_of(LayeredPeelClassifier("notebook")) == "notebook"
    assert preset_of(LayeredPeelClassifier(make_stages("notebook"))) is None
    assert preset_of(object()) is None


@pytest.mark.parametrize(
    ("stages", "grid_size", "warns"),
    [
        ("notebook", "auto", True),
        ("notebook", None, True),
        ("notebook", 21, False),
        ("refined", "auto", False),
        ("refined", 21, False),
    ],
)
def test_the_notebook_preset_on_found_lattices_is_warned_of(stages, grid_size, warns):
    model = LayeredPeelClassifier(stages)
    note = notebook_lattice_note(model, grid_size)
    assert (note is not None) == warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_notebook_on_lattice(model, grid_size)
    assert [w.category for w in caught] == ([NotebookGridWarning] if warns else [])
    if warns:
        assert "grid_size=21" in note
