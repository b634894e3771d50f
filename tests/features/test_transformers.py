"""The eight feature transformers and ContextualFeatures."""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_pillars import (
    Anisotropy,
    CenterIntensity,
    ContextualFeatures,
    CurvatureIrregularity,
    DarknessArea,
    NeighborDeviation,
    PillarFeatures,
    RadialDeviation,
    RotationSymmetry,
    StitchingFeatures,
    make_pillar_arrays,
    read_arrays,
)
from sklearn_pillars.tiling import pack_tiles

from .. import reference_features as ref
from .. import seed_notebook

ALL = [
    CenterIntensity,
    DarknessArea,
    StitchingFeatures,
    RotationSymmetry,
    NeighborDeviation,
    Anisotropy,
    CurvatureIrregularity,
    RadialDeviation,
    ContextualFeatures,
    PillarFeatures,
]
WIDTHS = {
    CenterIntensity: 6,
    DarknessArea: 5,
    StitchingFeatures: 10,
    RotationSymmetry: 4,
    NeighborDeviation: 5,
    Anisotropy: 4,
    CurvatureIrregularity: 5,
    RadialDeviation: 4,
    ContextualFeatures: 22,
    PillarFeatures: 43,
}

# The notebook's function for each transformer, called on its list of tile records.
SEED_CALLS = {
    CenterIntensity: lambda f, t: f["extract_center_intensity"](t),
    DarknessArea: lambda f, t: f["extract_darkness_area"](t),
    StitchingFeatures: lambda f, t: f["extract_stitching_features"](t),
    RotationSymmetry: lambda f, t: f["compute_rotation_symmetry"](t),
    NeighborDeviation: lambda f, t: f["compute_neighbor_deviation"](t, None),
    Anisotropy: lambda f, t: f["compute_anisotropy"](t),
    CurvatureIrregularity: lambda f, t: f["compute_curvature_irregularity"](t),
    RadialDeviation: lambda f, t: f["compute_radial_deviation"](t),
}
SEED_CALLS[ContextualFeatures] = lambda f, t: np.hstack(
    [
        SEED_CALLS[c](f, t)
        for c in (
            RotationSymmetry,
            NeighborDeviation,
            Anisotropy,
            CurvatureIrregularity,
            RadialDeviation,
        )
    ]
)
SEED_CALLS[PillarFeatures] = lambda f, t: np.hstack(
    [
        SEED_CALLS[c](f, t)
        for c in (CenterIntensity, DarknessArea, StitchingFeatures, ContextualFeatures)
    ]
)

REFERENCE = {
    CenterIntensity: lambda ims, pos: ref.per_tile(ref.center_intensity, ims),
    DarknessArea: lambda ims, pos: ref.per_tile(ref.darkness_area, ims),
    StitchingFeatures: lambda ims, pos: ref.per_tile(ref.stitching, ims),
    RotationSymmetry: lambda ims, pos: ref.per_tile(ref.rotation, ims),
    NeighborDeviation: lambda ims, pos: ref.neighbor(ims, [tuple(p) for p in pos]),
    Anisotropy: lambda ims, pos: ref.per_tile(ref.anisotropy, ims),
    CurvatureIrregularity: lambda ims, pos: ref.per_tile(ref.curvature, ims),
    RadialDeviation: lambda ims, pos: ref.radial(ims),
    ContextualFeatures: lambda ims, pos: ref.contextual(ims, [tuple(p) for p in pos]),
}
REFERENCE[PillarFeatures] = lambda ims, pos: np.hstack(
    [
        REFERENCE[c](ims, pos)
        for c in (CenterIntensity, DarknessArea, StitchingFeatures, ContextualFeatures)
    ]
)


@pytest.fixture(scope="module")
def shared_tiles(shared_array_paths):
    return read_arrays(shared_array_paths)


@pytest.fixture(scope="module")
def seed_functions():
    if not seed_notebook.available():
        pytest.skip("../shared/seed notebook is not present")
    return seed_notebook.load_functions()


@pytest.fixture(scope="module")
def synthetic():
    return make_pillar_arrays(n_arrays=2, grid_size=9, random_state=7)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.slow
def test_equals_the_notebook_on_the_shared_arrays(cls, shared_tiles, seed_functions):
    expected = SEED_CALLS[cls](seed_functions, seed_notebook.tile_dicts(shared_tiles))
    got = cls().fit_transform(shared_tiles.X)
    assert got.shape == (len(shared_tiles), WIDTHS[cls])
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "cls",
    [NeighborDeviation, RadialDeviation, ContextualFeatures, PillarFeatures],
    ids=lambda c: c.__name__,
)
@pytest.mark.slow
def test_equals_the_notebook_on_remaining_tiles(cls, shared_tiles, seed_functions):
    # as in layer 4: tiles peeled by earlier layers are gone, and are not neighbours
    keep = (np.arange(len(shared_tiles)) * 7919) % 11 > 2
    remaining = shared_tiles[keep]
    expected = SEED_CALLS[cls](seed_functions, seed_notebook.tile_dicts(remaining))
    np.testing.assert_allclose(cls().fit_transform(remaining.X), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_equals_the_slow_reference_on_synthetic_tiles(cls, synthetic):
    expected = REFERENCE[cls](synthetic.images, synthetic.positions)
    np.testing.assert_allclose(cls().fit_transform(synthetic.X), expected, rtol=1e-6, atol=1e-6)


def random_tiles_x(seed, n, max_side=64, tile_size=64, kinds=("noise", "constant")):
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        h, w = rng.integers(1, max_side + 1, size=2)
        kind = kinds[i % len(kinds)]
        if kind == "noise":
            images.append(rng.integers(0, 256, (h, w), dtype=np.uint8))
        else:
            images.append(np.full((h, w), rng.choice([0, 255, rng.integers(256)]), np.uint8))
    positions = np.column_stack([np.zeros(n, int), np.arange(n) // 5 + 1, np.arange(n) % 5 + 1])
    return images, positions, pack_tiles(images, positions, tile_size)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_equals_the_slow_reference_on_random_shapes(cls):
    # tiles of at least 2 x 2 pixels, where the notebook's formulas are defined
    images, positions, X = random_tiles_x(3, 30, kinds=("noise",))
    images = [im if min(im.shape) >= 2 else np.zeros((2, 3), np.uint8) for im in images]
    X = pack_tiles(images, positions, 64)
    np.testing.assert_allclose(
        cls().fit_transform(X), REFERENCE[cls](images, positions), rtol=1e-6, atol=1e-6
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    max_side=st.integers(1, 16),
    constant=st.booleans(),
)
def test_any_tiles_give_finite_features_without_warnings(seed, n, max_side, constant):
    kinds = ("constant",) if constant else ("noise", "constant")
    _, _, X = random_tiles_x(seed, n, max_side=max_side, tile_size=16, kinds=kinds)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cls in ALL:
            out = cls().fit_transform(X)
            assert out.shape == (n, WIDTHS[cls])
            assert np.isfinite(out).all(), cls.__name__


@pytest.mark.parametrize("value", [0, 255, 97])
def test_uniform_tiles(value):
    X = pack_tiles([np.full((64, 64), value, np.uint8)] * 3, [[0, 1, c] for c in (1, 2, 3)], 64)
    center = CenterIntensity().fit_transform(X)
    np.testing.assert_array_equal(center[:, [0, 2, 3, 4]], value)
    np.testing.assert_array_equal(center[:, [1, 5]], 0)
    np.testing.assert_array_equal(StitchingFeatures().fit_transform(X), 0)
    np.testing.assert_array_equal(RotationSymmetry().fit_transform(X), 0)
    np.testing.assert_array_equal(NeighborDeviation().fit_transform(X), 0)
    dark = DarknessArea().fit_transform(X)
    np.testing.assert_array_equal(dark[:, 1], value < 80)


def test_single_pixel_tiles_are_defined():
    X = pack_tiles(
        [np.array([[40]], np.uint8), np.array([[200]], np.uint8)], [[0, 1, 1], [0, 1, 2]], 64
    )
    center = CenterIntensity().fit_transform(X)
    np.testing.assert_array_equal(center[:, 0], [40, 200])
    np.testing.assert_array_equal(center[:, 4], center[:, 0])  # no edge: edge mean = centre mean
    for cls in ALL:
        assert np.isfinite(cls().fit_transform(X)).all()


def test_radial_deviation_uses_the_training_profile(synthetic):
    first = synthetic[synthetic.positions[:, 0] == 0]
    second = synthetic[synthetic.positions[:, 0] == 1]
    model = RadialDeviation().fit(first.X)
    np.testing.assert_allclose(
        model.mean_profile_, np.mean([ref.radial_profile(im) for im in first.images], axis=0)
    )
    np.testing.assert_allclose(
        model.transform(second.X), ref.radial(second.images, model.mean_profile_)
    )
    contextual = ContextualFeatures().fit(first.X)
    np.testing.assert_allclose(
        dict(contextual.transformers_)["radial"].mean_profile_, model.mean_profile_
    )
    np.testing.assert_allclose(contextual.transform(second.X)[:, -4:], model.transform(second.X))


def test_neighbours_are_the_tiles_given(synthetic):
    model = NeighborDeviation().fit(synthetic.X)
    whole = model.transform(synthetic.X)
    alone = np.vstack([model.transform(synthetic.X[i : i + 1]) for i in range(5)])
    np.testing.assert_array_equal(alone, 0)  # a tile passed alone has no neighbours
    assert np.abs(whole[:5]).sum() > 0
    # a second array with the same positions is not a neighbour
    doubled = np.vstack([synthetic.X, synthetic.X])
    doubled[len(synthetic) :, 0] += 2
    np.testing.assert_array_equal(model.transform(doubled)[: len(synthetic)], whole)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_batch_size_does_not_change_the_result(cls, synthetic):
    expected = cls().fit_transform(synthetic.X)
    np.testing.assert_array_equal(cls(batch_size=7).fit_transform(synthetic.X), expected)
    np.testing.assert_array_equal(cls(batch_size=1).fit_transform(synthetic.X), expected)


@pytest.mark.slow
def test_n_jobs_gives_the_same_features():
    tiles = make_pillar_arrays(n_arrays=11, grid_size=21, random_state=1)  # 4851 tiles
    sequential = ContextualFeatures().fit_transform(tiles.X)
    np.testing.assert_array_equal(ContextualFeatures(n_jobs=2).fit_transform(tiles.X), sequential)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_scikit_learn_conventions(cls, synthetic):
    est = cls()
    with pytest.raises(NotFittedError):
        est.transform(synthetic.X)
    X = synthetic.X.copy()
    out = est.fit(X).transform(X)
    np.testing.assert_array_equal(X, synthetic.X)  # input untouched
    names = est.get_feature_names_out()
    assert len(names) == out.shape[1] == len(set(names))
    assert est.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), out)
    np.testing.assert_array_equal(clone(est).fit_transform(X), out)
    frame = cls().set_output(transform="pandas").fit_transform(X)
    assert list(frame.columns) == list(names)
    np.testing.assert_array_equal(frame.to_numpy(), out)


def test_feature_names_are_the_notebooks_columns():
    X = pack_tiles([np.zeros((4, 4), np.uint8)], [[0, 1, 1]], 4)
    assert list(CenterIntensity().fit(X).get_feature_names_out()) == [
        "center_mean",
        "center_std",
        "center_min",
        "center_max",
        "edge_mean",
        "center_edge_diff",
    ]
    names = ContextualFeatures().fit(X).get_feature_names_out()
    assert names[0] == "rotation_rms_mean" and names[-1] == "radial_dev_outer"


@pytest.mark.parametrize(
    "params, match",
    [
        ({"layout": "grid"}, "layout"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_jobs": "two"}, "n_jobs"),
    ],
)
def test_bad_parameters_are_named(params, match, synthetic):
    with pytest.raises(ValueError, match=match):
        CenterIntensity(**params).fit(synthetic.X)


def test_bad_x_is_explained(synthetic):
    with pytest.raises(ValueError, match="not the tile-set layout.*layout='strip'"):
        CenterIntensity().fit(np.zeros((3, 10)))
    X = synthetic.X.copy()
    X[0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CenterIntensity().fit(X)
    with pytest.raises(ValueError, match="0 sample"):
        CenterIntensity().fit(synthetic.X[:0])
    model = CenterIntensity().fit(synthetic.X)
    with pytest.raises(ValueError, match="features"):
        model.transform(synthetic.X[:, :-1])


@parametrize_with_checks([cls(layout="strip") for cls in ALL])
def test_scikit_learn_check_suite(estimator, check):
    check(estimator)
