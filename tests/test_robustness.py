"""Robustness to uneven illumination: each site on the photometric scale around it.

Unit tests of the smoothing behind it (``context.local_levels``,
``context.smooth_levels``, ``context._tile_gains``), a property test on
synthetic truth under drawn microscope conditions, stability on the real
arrays (skipped without ../shared) and the UnevenIlluminationWarning on its
way to the report.

Before the change, a brightness ramp (0.5x left to 1x right) over Array_1Crop
lost every Missing and Collapsed pillar, a model saved from Array_2/3 kept
0.76-0.88 of Array_1's labels under gradient 40, ramp 0.5 or vignetting 0.35,
and synthetic predictions changed on 14-22% of the tiles under gradient and
vignetting: the thresholds below fail for that behaviour, with a margin from
what the current code measures (the measured values are in the comments).
"""

import warnings

import cv2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from sklearn_pillars import (
    LayeredPeelClassifier,
    UnevenIlluminationWarning,
    apply_conditions,
    concat_tilesets,
    make_pillar_arrays,
    read_arrays,
    read_image,
    tile_array,
)
from sklearn_pillars import features as C
from sklearn_pillars.cli import main
from sklearn_pillars.features._context import _tile_gains

WARNING_TEXT = "uneven or dim illumination"
ILLUMINATION = [{"gradient": 40}, {"ramp": 0.5}, {"vignetting": 0.35}]  # synthetic.CONDITIONS
DEFECTS = ("Missing", "Collapsed")


def quick(max_examples):
    """Hypothesis settings: few examples, no deadline, the same draws every run."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None)


# -- local_levels / smooth_levels / _tile_gains -------------------------------------------

N = 15  # grid of the unit tests: 15 x 15 sites, rows and columns 0..14
ROWS, COLS = np.mgrid[0:N, 0:N]
SITES = np.column_stack([ROWS.ravel(), COLS.ravel()])
U, V = (SITES[:, 0] - 7) / 7, (SITES[:, 1] - 7) / 7  # -1..1 across the grid
QUADRATIC = np.column_stack([np.ones_like(U), U, V, U * U, U * V, V * V])
R = C.LEVEL_RADIUS
INNER = (SITES.min(axis=1) >= R) & (SITES.max(axis=1) <= N - 1 - R)  # whole windows
# ~10% of the sites, the same every run
OUTLIERS = np.sort(np.random.default_rng(0).choice(N * N, size=N * N // 10, replace=False))


def field(constant, coefficients):
    """A quadratic surface over the grid: constant + coefficients of u, v, u^2, uv, v^2."""
    return QUADRATIC @ np.r_[constant, coefficients]


coefficients = st.lists(st.floats(-0.25, 0.25), min_size=5, max_size=5)
mild_coefficients = st.lists(st.floats(-0.1, 0.1), min_size=5, max_size=5)


@quick(25)
@given(
    coefficients,
    st.integers(0, N - 1),
    st.integers(0, N - 1),
    st.lists(st.floats(-1e3, 1e3) | st.just(np.nan), min_size=2 * N - 1, max_size=2 * N - 1),
    st.floats(-5, 5),
)
def test_local_levels_are_the_median_of_the_window_outside_the_own_row_and_column(
    coef, row, col, replacement, constant
):
    values = field(1.0, coef)
    levels = C.local_levels(values, SITES)
    site = row * N + col
    own = (SITES[:, 0] == row) | (SITES[:, 1] == col)
    # anything in the site's own row and column (the site included) leaves its level alone
    changed = values.copy()
    changed[own] = replacement
    assert C.local_levels(changed, SITES)[site] == levels[site]
    # ... and so does anything beyond the window
    distance = np.abs(SITES - SITES[site]).max(axis=1)
    far = values.copy()
    far[distance > R] = 1e6
    assert C.local_levels(far, SITES)[site] == levels[site]
    # the rest of the window sets it
    window = values.copy()
    window[(distance <= R) & ~own] = constant
    assert C.local_levels(window, SITES)[site] == pytest.approx(constant)


@quick(25)
@given(st.floats(-2, 2), st.floats(-0.3, 0.3), st.floats(-0.3, 0.3))
def test_local_levels_reproduce_a_plane_where_the_window_is_whole(constant, slope_u, slope_v):
    plane = constant + slope_u * U + slope_v * V
    np.testing.assert_allclose(C.local_levels(plane, SITES)[INNER], plane[INNER], atol=1e-12)


def test_local_levels_leave_out_missing_values():
    values = np.full(N * N, 3.0)
    values[np.random.default_rng(1).random(N * N) < 0.3] = np.nan
    values[(SITES[:, 0] < 4) & (SITES[:, 1] < 4)] = np.nan  # a corner without any value
    np.testing.assert_array_equal(C.local_levels(values, SITES), 3.0)


def test_smooth_levels_is_a_quadratic_surface_and_needs_24_sites_for_it():
    rng = np.random.default_rng(2)
    values = field(1.0, rng.uniform(-0.25, 0.25, 5)) + rng.normal(0, 0.05, N * N)
    smooth = C.smooth_levels(values, SITES)
    coef, *_ = np.linalg.lstsq(QUADRATIC, smooth, rcond=None)
    np.testing.assert_allclose(QUADRATIC @ coef, smooth, atol=1e-9)  # a quadratic
    assert np.abs(smooth - values).max() > 0.05  # ... not the noisy values themselves
    few = (SITES[:, 0] < 4) & (SITES[:, 1] < 5)  # 20 sites: the local medians
    np.testing.assert_array_equal(
        C.smooth_levels(values[few], SITES[few]), C.local_levels(values[few], SITES[few])
    )


@quick(20)
@given(coefficients, st.lists(st.floats(-2, 4), min_size=len(OUTLIERS), max_size=len(OUTLIERS)))
def test_smooth_levels_shrug_off_a_tenth_of_the_sites_replaced_by_outliers(coef, replaced):
    clean = field(1.0, coef)
    corrupted = clean.copy()
    corrupted[OUTLIERS] = replaced
    shift = np.abs(C.smooth_levels(corrupted, SITES) - C.smooth_levels(clean, SITES)).max()
    # measured: at most 0.066 over 300 random and all 32 extreme coefficient sets; a least-
    # squares quadratic of the values themselves moves 0.07-0.8 (median 0.27), one of
    # local means 0.06-0.5 (median 0.21)
    assert shift <= 0.1


@quick(20)
@given(mild_coefficients, st.integers(R + 1, N - 2 - R), st.floats(0.2, 0.5), st.booleans())
def test_smooth_levels_keep_an_offset_row_out_of_that_rows_surface(coef, row, size, darker):
    # a write-field line darkens (or lightens) a whole grid row of an evenly lit array
    clean = field(1.0, coef)
    offset = -size if darker else size
    lined = clean + np.where(SITES[:, 0] == row, offset, 0.0)
    on = SITES[:, 0] == row
    smooth_clean = C.smooth_levels(clean, SITES)
    smooth_lined = C.smooth_levels(lined, SITES)
    # measured: the surface at the row moves by at most 0.074 of the offset (median 0.02);
    # a least-squares quadratic of the values themselves moves 0.12-0.15, one of local
    # means 0.12-0.14, the values themselves 1
    assert np.abs(smooth_lined - smooth_clean)[on].max() <= 0.1 * size
    # so the surface at that row is as close to the quadratic as without the line, but that
    assert np.abs(smooth_lined - clean)[on].max() <= (
        np.abs(smooth_clean - clean)[on].max() + 0.1 * size
    )


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "known limitation: smooth_levels fits its quadratic to local medians that, at the "
        "grid's edges, come from the inward sites only (the window is cut by the edge and "
        "the own row and column are left out), so the surface is pulled towards the "
        "middle: a ramp's edges and a vignetting's corners are under-corrected. Fitting the "
        "values themselves recovers any quadratic but let faint write-field columns at the "
        "border leak into the surface (leave-one-out macro-F1 0.890 -> 0.831)"
    ),
)
@pytest.mark.parametrize(
    "name",
    ["ramp 0.5-1 across the columns", "vignetting, corners at 0.15", "a tilted bowl"],
)
def test_smooth_levels_recover_a_quadratic_field_at_every_site(name):
    truth = {
        "ramp 0.5-1 across the columns": 0.75 + 0.25 * V,
        "vignetting, corners at 0.15": 1 - 0.85 * (U * U + V * V) / 2,
        "a tilted bowl": field(1.0, [0.2, -0.1, 0.15, -0.1, -0.2]),
    }[name]
    np.testing.assert_allclose(C.smooth_levels(truth, SITES), truth, atol=0.02)


@quick(25)
@given(st.integers(0, 2**32 - 1), st.integers(2, 8))
def test_tile_gains_recover_the_gain_and_offset_of_each_tile(seed, n):
    rng = np.random.default_rng(seed)
    size = 16
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    radius = np.hypot(yy, xx)
    # the reference pillar (a dark ring on substrate 0) shifted a little onto each tile
    centers = rng.uniform(3.5, 4.5, n)[:, None, None]
    shifted = -np.exp(-(((radius - centers) / 1.2) ** 2)).astype(np.float32)
    shifted += rng.normal(0, 0.05, shifted.shape).astype(np.float32)  # texture
    gain = rng.uniform(0.2, 3.0, n)
    offset = rng.uniform(-2.0, 2.0, n)
    tiles = (gain[:, None, None] * shifted + offset[:, None, None]).astype(np.float32)
    clipped = rng.random(n) < 0.5  # clipped edge tiles: NaN outside the image
    tiles[clipped, : size // 4] = np.nan
    tiles[clipped, :, -3:] = np.nan
    tiles[0, 5, 7] = np.nan
    got_gain, got_offset = _tile_gains(tiles, shifted)
    np.testing.assert_allclose(got_gain, gain, rtol=1e-4)
    np.testing.assert_allclose(got_offset, offset, atol=1e-4)


# -- synthetic truth under drawn conditions -------------------------------------------------

GRID = 15  # sites a side of the synthetic arrays (the uniform grid cuts them)


def predict_images(model, images):
    tiles = concat_tilesets(
        [tile_array(image, grid_size=GRID, name=f"test_{i}") for i, image in enumerate(images)]
    )
    return model.predict(tiles.X)


@pytest.fixture(scope="module")
def synthetic_model():
    train = make_pillar_arrays(n_arrays=2, grid_size=GRID, random_state=0)
    return LayeredPeelClassifier().fit(train.X)


@pytest.fixture(scope="module")
def synthetic_test(synthetic_model):
    """The test arrays and the model's labels of them unaltered."""
    test = make_pillar_arrays(n_arrays=2, grid_size=GRID, random_state=1)
    return test, predict_images(synthetic_model, test.array_images)


def test_synthetic_labels_find_the_defects_unaltered(synthetic_test):
    # what the property below compares with must be worth keeping: measured macro-F1 0.94
    test, labels = synthetic_test
    assert f1_score(test.y, labels, average="macro") >= 0.85
    assert set(DEFECTS) <= set(labels.tolist())


@quick(8)
@example(vignetting=0.35, gradient=40.0, noise=0.0)
@example(vignetting=0.35, gradient=40.0, noise=8.0)
@given(
    vignetting=st.floats(0, 0.35),
    gradient=st.floats(0, 40),
    noise=st.floats(0, 8),
)
@pytest.mark.slow
def test_synthetic_labels_withstand_illumination_and_noise(
    synthetic_model, synthetic_test, vignetting, gradient, noise
):
    test, labels = synthetic_test
    altered = [
        apply_conditions(
            image, vignetting=vignetting, gradient=gradient, noise=noise, random_state=0
        )
        for image in test.array_images
    ]
    changed = np.mean(predict_images(synthetic_model, altered) != labels)
    # Measured over 100 draws: with noise up to 4, at most 0.038 of the labels change
    # (0.007 but for one draw losing a whole grid line); with more noise whole grid lines
    # turn Stitching, up to 0.098 (noise 6-8; noise alone 0.04-0.09). Before the change:
    # 0.14-0.22 under gradients above 15 or vignetting above 0.2, whatever the noise.
    assert changed <= (0.05 if noise <= 4 else 0.15)


# -- the real arrays --------------------------------------------------------------------


def labels_by_site(tiles, labels):
    return dict(zip(map(tuple, tiles.positions[:, 1:].tolist()), labels.tolist(), strict=True))


def fit_predict_alone(image):
    """(site -> label) of an array classified on its own, and the warnings on the way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiles = tile_array(image)  # the lattice found
        labels = LayeredPeelClassifier().fit_predict(tiles.X)
    return labels_by_site(tiles, labels), caught


@pytest.fixture(scope="module")
def array_1(shared_array_paths):
    return read_image(shared_array_paths[0])


@pytest.fixture(scope="module")
def array_1_alone(array_1):
    return fit_predict_alone(array_1)[0]


@pytest.mark.parametrize("condition", ILLUMINATION, ids=lambda c: str(c))
def test_illumination_keeps_array_1s_missing_and_collapsed(array_1, array_1_alone, condition):
    labels, caught = fit_predict_alone(apply_conditions(array_1, **condition))
    assert not [w for w in caught if issubclass(w.category, UnevenIlluminationWarning)]
    for name in DEFECTS:
        before = {site for site, label in array_1_alone.items() if label == name}
        after = {site for site, label in labels.items() if label == name}
        # measured: 31 Missing and 31 Collapsed on the original, 30-31 each under every
        # condition, 30-31 of the original's sites kept; before the change the ramp and
        # the gradient left none of either, vignetting no Collapsed
        assert len(before) >= 20, name
        assert abs(len(after) - len(before)) <= 4, (name, len(before), len(after))
        assert len(after & before) >= 0.85 * len(before), (name, len(before & after))


def test_vignetting_to_15_percent_in_the_corners_warns(array_1):
    # measured: the weakest site's smoothed contrast is 38% of the strongest's (< 40%)
    with pytest.warns(UnevenIlluminationWarning, match=WARNING_TEXT):
        LayeredPeelClassifier().fit(tile_array(apply_conditions(array_1, vignetting=0.85)).X)


@pytest.fixture(scope="module")
def model_of_arrays_2_and_3(shared_array_paths):
    return LayeredPeelClassifier().fit(read_arrays(shared_array_paths[1:3]).X)


@pytest.mark.parametrize("condition", ILLUMINATION, ids=lambda c: str(c))
def test_a_saved_model_keeps_array_1s_labels_under_uneven_illumination(
    array_1, model_of_arrays_2_and_3, condition
):
    def labels(image):
        tiles = tile_array(image, name="Array_1Crop")
        return labels_by_site(tiles, model_of_arrays_2_and_3.predict(tiles.X))

    before, after = labels(array_1), labels(apply_conditions(array_1, **condition))
    common = before.keys() & after.keys()
    assert len(common) >= 0.95 * len(before)
    kept = np.mean([before[site] == after[site] for site in common])
    # measured: 0.923 (gradient 40), 0.952 (ramp 0.5), 0.955 (vignetting 0.35); before
    # the change 0.807, 0.764 and 0.882
    assert kept >= 0.90, kept


# -- the warning on its way to the report ---------------------------------------------


@pytest.fixture(scope="module")
def synthetic_image():
    """A synthetic 21 x 21 array (the default grid: 1134 pixels a side)."""
    return make_pillar_arrays(n_arrays=1, random_state=0).array_images[0]


def write_png(path, image):
    assert cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize("vignetting, warns", [(0.35, False), (0.85, True)])
def test_strong_vignetting_of_a_synthetic_array_warns(synthetic_image, vignetting, warns):
    # measured: the weakest site's smoothed contrast is 71% of the strongest's at 0.35,
    # 32% at 0.85 (on a 15 x 15 array, 47% at 0.85: no warning below vignetting 0.99)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiles = tile_array(apply_conditions(synthetic_image, vignetting=vignetting))
        LayeredPeelClassifier().fit(tiles.X)
    uneven = [w for w in caught if issubclass(w.category, UnevenIlluminationWarning)]
    assert bool(uneven) == warns
    assert all(WARNING_TEXT in str(w.message) for w in uneven)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    clean = write_png(
        folder / "clean.png", make_pillar_arrays(n_arrays=1, random_state=1).array_images[0]
    )
    model = folder / "model.skops"
    assert main(["fit", str(clean), "--model", str(model), "-q"]) == 0
    return model


@pytest.mark.parametrize("vignetting, warns", [(0.35, False), (0.85, True)])
def test_the_warning_reaches_the_report_of_a_saved_model(
    tmp_path, synthetic_image, saved_model, vignetting, warns
):
    png = write_png(
        tmp_path / "array.png", apply_conditions(synthetic_image, vignetting=vignetting)
    )
    out = tmp_path / "report"
    code = main(["inspect", str(png), "--model", str(saved_model), "--out", str(out), "-q"])
    assert code == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert (WARNING_TEXT in page) == warns
    # no confident yield from a dark image: the array's yield is marked uncertain
    assert ("uncertain: uneven illumination" in page) == warns


def test_the_warning_reaches_the_report_of_arrays_fitted_on_themselves(tmp_path, synthetic_image):
    png = write_png(tmp_path / "array.png", apply_conditions(synthetic_image, vignetting=0.85))
    out = tmp_path / "report"
    assert main(["inspect", str(png), "--out", str(out), "-q"]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert WARNING_TEXT in page and "uncertain: uneven illumination" in page
    # the summary's columns: each class once, then the seam and field-line sites
    assert page.count("<th>seam</th>") == 1 and page.count("<th>field</th>") == 1
