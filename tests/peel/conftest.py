"""Fixtures of the peel tests: a synthetic tile set and the notebook preset fitted on it."""

import pytest

from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays


@pytest.fixture(scope="module")
def synthetic():
    return make_pillar_arrays(n_arrays=4, grid_size=15, random_state=3)


@pytest.fixture(scope="module")
def fitted(synthetic):
    """The notebook preset, whose stages these tests look into."""
    return LayeredPeelClassifier("notebook").fit(synthetic.X)
