"""Synthetic pillar arrays: determinism, rates, labels, plausibility and parameter checks;
the microscope conditions of apply_conditions and make_pillar_arrays(conditions=...)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_pillars import CLASSES, apply_conditions, make_pillar_arrays, tile_boxes
from sklearn_pillars.synthetic import CONDITIONS, DEFAULT_DEFECT_RATES
from sklearn_pillars.tiling import MAX_TILE_PITCHES, N_META, pack_tiles

DEFECTS = ("Missing", "Collapsed", "Stitching", "Irregular")
NO_DEFECTS = dict.fromkeys(DEFECTS, 0)


@pytest.fixture(scope="module")
def default_tiles():
    return make_pillar_arrays(n_arrays=3, random_state=0)


def full_tiles(tiles):
    """The full-size (unclipped) tiles as float images, and their mask."""
    size = tiles.tile_size
    full = (tiles.X[:, 3] == size) & (tiles.X[:, 4] == size)
    return tiles.X[full, N_META:].reshape(-1, size, size).astype(float), full


def centre_means(tiles, half=4):
    """Mean grey level of each full tile's centre, and that minus the tile's bright level."""
    images, full = full_tiles(tiles)
    c = tiles.tile_size // 2
    center = images[:, c - half : c + half, c - half : c + half].mean(axis=(1, 2))
    return center, center - np.percentile(images, 95, axis=(1, 2)), tiles.y[full]


def deviation_from_typical(tiles):
    """Mean absolute difference of each tile's centre from the median tile (own mean removed)."""
    images, full = full_tiles(tiles)
    c, r = tiles.tile_size // 2, 18
    centers = images[:, c - r : c + r, c - r : c + r]
    centers = centers - centers.mean(axis=(1, 2), keepdims=True)
    return np.abs(centers - np.median(centers, axis=0)).mean(axis=(1, 2)), tiles.y[full]


def assert_consistent_stitch_type(tiles):
    stitching = tiles.y == "Stitching"
    assert np.all((tiles.stitch_type != "") == stitching)
    assert set(tiles.stitch_type[stitching]) <= {"seam", "field"}


def test_same_seed_gives_same_arrays_and_other_seed_other_images():
    a, b = (make_pillar_arrays(2, grid_size=6, random_state=7) for _ in range(2))
    c = make_pillar_arrays(2, grid_size=6, random_state=np.random.RandomState(7))
    for other in (b, c):
        for x, y in zip(a.array_images, other.array_images, strict=True):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(a.X, other.X)
        np.testing.assert_array_equal(a.y, other.y)
        np.testing.assert_array_equal(a.stitch_type, other.stitch_type)
    d = make_pillar_arrays(2, grid_size=6, random_state=8)
    assert not np.array_equal(a.array_images[0], d.array_images[0])
    # consecutive arrays of one call differ too
    assert not np.array_equal(a.array_images[0], a.array_images[1])


def test_defaults_give_all_classes_both_stitch_kinds_and_near_real_shares(default_tiles):
    assert set(DEFAULT_DEFECT_RATES) | {"Good"} == set(CLASSES)
    assert len(default_tiles) == 3 * 441
    assert default_tiles.array_names == ["synthetic_0", "synthetic_1", "synthetic_2"]
    assert set(default_tiles.y) == set(CLASSES)
    assert default_tiles.y.dtype.kind == "U" and default_tiles.stitch_type.dtype.kind == "U"
    assert_consistent_stitch_type(default_tiles)
    assert set(default_tiles.stitch_type) == {"", "seam", "field"}
    share = {c: np.mean(default_tiles.y == c) for c in CLASSES}
    assert 0.03 < share["Missing"] < 0.08 and 0.03 < share["Collapsed"] < 0.08
    assert 0.6 < share["Good"] < 0.85


def test_rates_are_realised_on_average():
    rates = {"Missing": 0.1, "Collapsed": 0.05, "Stitching": 0.3, "Irregular": 0.05}
    tiles = make_pillar_arrays(12, defect_rates=rates, random_state=3)
    for name, rate in rates.items():
        tolerance = {"Stitching": 0.025, "Missing": 0.015}.get(name, 0.01)
        assert abs(np.mean(tiles.y == name) - rate) < tolerance, name
    assert_consistent_stitch_type(tiles)


@pytest.mark.parametrize("absent", DEFECTS)
def test_zero_rate_removes_exactly_that_class(absent):
    rates = dict.fromkeys(DEFECTS, 0.15) | {absent: 0}
    tiles = make_pillar_arrays(2, grid_size=15, defect_rates=rates, random_state=1)
    assert set(tiles.y) == set(CLASSES) - {absent}
    assert_consistent_stitch_type(tiles)
    if absent == "Stitching":
        assert set(tiles.stitch_type) == {""}


def test_all_rates_zero_gives_all_good_without_lines_and_lines_are_visible():
    clean = make_pillar_arrays(2, defect_rates=NO_DEFECTS, random_state=2)
    assert set(clean.y) == {"Good"} and set(clean.stitch_type) == {""}
    lined = make_pillar_arrays(2, defect_rates=NO_DEFECTS | {"Stitching": 1}, random_state=2)
    assert set(lined.y) == {"Stitching"} and set(lined.stitch_type) == {"seam", "field"}
    clean_dev, _ = deviation_from_typical(clean)
    # a lattice of identical pillars: every tile is close to the typical one...
    assert clean_dev.max() < 2.5
    # ...unless a line cuts it
    lined_dev, _ = deviation_from_typical(lined)
    kind = lined.stitch_type[full_tiles(lined)[1]]
    for name in ("seam", "field"):
        assert np.median(lined_dev[kind == name]) > 2 * np.median(clean_dev), name
        assert np.mean(lined_dev[kind == name] > clean_dev.max()) > 0.6, name


def test_defective_pillars_differ_from_good_ones(default_tiles):
    deviation, y = deviation_from_typical(default_tiles)
    good = deviation[y == "Good"]
    assert np.median(deviation[y == "Irregular"]) > 1.5 * np.median(good)
    for name in ("Missing", "Collapsed"):
        assert np.median(deviation[y == name]) > np.percentile(good, 90), name


def test_images_look_like_the_real_arrays(default_tiles):
    for image in default_tiles.array_images:
        assert image.dtype == np.uint8 and image.shape == (21 * 54, 21 * 54)
        assert 66 < image.mean() < 78  # real arrays: 71-73
        low, high = np.percentile(image, [1, 99])
        assert 35 < low < 55 and 85 < high < 100  # real: 43-50 and 92-94
        # the pillar lattice is the strongest periodicity, with the pitch of the tiles
        for profile in (image.mean(axis=0), image.mean(axis=1)):
            spectrum = np.abs(np.fft.rfft(profile))
            assert np.argmax(spectrum[3:]) + 3 == 21  # above the illumination gradient
    center, contrast, y = centre_means(default_tiles)
    median = {c: np.median(center[y == c]) for c in CLASSES}
    assert 82 < median["Missing"] < 100  # open substrate; real: ~91
    assert 65 < median["Good"] < 80  # real: ~71
    assert median["Missing"] > median["Good"] + 10 > median["Collapsed"] + 30
    assert median["Collapsed"] < 55  # real: ~43-50
    # every collapsed blob darkens its own tile centre, and none that of a neighbouring tile
    others = np.isin(y, ["Good", "Missing", "Irregular"])
    assert contrast[y == "Collapsed"].max() < contrast[others].min()


def pillar_centre(mean, pitch):
    """(dy, dx) of the pillar outline from the centre of a mean tile, from the side rims."""
    c, reach = mean.shape[0] // 2, int(0.45 * pitch)
    rows = np.arange(c - int(0.2 * pitch), c + int(0.2 * pitch) + 1)
    left = np.argmin(mean[rows, c - reach : c], axis=1) + c - reach
    right = np.argmin(mean[rows, c : c + reach], axis=1) + c
    # the rims are darkest at the bottom (oblique light), but the chord between the side
    # rims is still longest at the centre row: the vertex of a parabola in the row
    a, b, _ = np.polyfit(rows, (right - left) ** 2.0, 2)
    return -b / (2 * a) - c, np.mean(left + right) / 2 - c


@pytest.mark.parametrize(("pitch", "tile_half"), [(54, 32), (41, 20), (25, 12)])
def test_pillars_sit_at_the_tile_centres(pitch, tile_half):
    tiles = make_pillar_arrays(
        2, grid_size=7, defect_rates=NO_DEFECTS, random_state=4, pitch=pitch, tile_half=tile_half
    )
    assert tiles.array_images[0].shape == (7 * pitch, 7 * pitch)
    images, _ = full_tiles(tiles)
    dy, dx = pillar_centre(images.mean(axis=0), pitch)
    assert abs(dx) < 0.5
    assert -0.4 < dy < 0.8  # the highlight at the top moves the estimate down a little


@settings(max_examples=25, deadline=None)
@given(
    n_arrays=st.integers(1, 3),
    grid_size=st.integers(1, 5),
    tile_half=st.integers(1, 40),
    pitch=st.integers(8, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_shapes_counts_and_x_are_consistent(n_arrays, grid_size, tile_half, pitch, seed):
    tile_half = min(tile_half, MAX_TILE_PITCHES * pitch // 2)  # what check_geometry accepts
    tiles = make_pillar_arrays(
        n_arrays, grid_size, random_state=seed, tile_half=tile_half, pitch=pitch
    )
    n_sites = grid_size**2
    assert len(tiles) == n_sites * n_arrays == len(tiles.y) == len(tiles.stitch_type)
    assert tiles.tile_size == 2 * tile_half
    assert len(np.unique(tiles.positions, axis=0)) == len(tiles)
    np.testing.assert_array_equal(tiles.X[:, :3], tiles.positions)
    np.testing.assert_array_equal(tiles.X, pack_tiles(tiles.images, tiles.positions, 2 * tile_half))
    boxes = tile_boxes(grid_size * pitch, grid_size * pitch, grid_size, tile_half)
    assert len(tiles.array_images) == n_arrays
    for index, image in enumerate(tiles.array_images):
        assert image.dtype == np.uint8 and image.shape == (grid_size * pitch,) * 2
        rows = np.flatnonzero(tiles.positions[:, 0] == index)
        np.testing.assert_array_equal(tiles.boxes[rows], boxes)
        for i in rows:
            x0, y0, x1, y1 = tiles.boxes[i]
            np.testing.assert_array_equal(tiles.images[i], image[y0:y1, x0:x1])
    assert set(tiles.y) <= set(CLASSES)
    assert_consistent_stitch_type(tiles)


def affine_residual(reference, image):
    """Std of ``image`` minus its least-squares fit by gain * reference + offset + a plane."""
    rows, cols = np.indices(reference.shape)
    design = np.column_stack(
        [reference.ravel(), np.ones(reference.size), rows.ravel(), cols.ravel()]
    ).astype(float)
    target = image.ravel().astype(float)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return np.std(target - design @ coef)


def test_photometric_zero_is_the_default_and_photometry_leaves_the_content():
    default = make_pillar_arrays(3, grid_size=6, random_state=11)
    zero = make_pillar_arrays(3, grid_size=6, random_state=11, photometric=0)
    varied = make_pillar_arrays(3, grid_size=6, random_state=11, photometric=1)
    np.testing.assert_array_equal(zero.X, default.X)
    np.testing.assert_array_equal(zero.y, default.y)
    np.testing.assert_array_equal(zero.stitch_type, default.stitch_type)
    # the same pillars, defects, labels and lines; only the photometry differs
    np.testing.assert_array_equal(varied.y, default.y)
    np.testing.assert_array_equal(varied.stitch_type, default.stitch_type)
    np.testing.assert_array_equal(varied.X[:, :N_META], default.X[:, :N_META])
    other = make_pillar_arrays(3, grid_size=6, random_state=12, photometric=1)
    for plain, image, unrelated in zip(
        default.array_images, varied.array_images, other.array_images, strict=True
    ):
        assert np.mean(plain != image) > 0.5
        # up to gain, offset and gradient (and a little blur and other noise) the same image
        assert affine_residual(plain, image) < 1.5 < 3 < affine_residual(plain, unrelated)


def test_photometric_spreads_brightness_and_contrast_across_arrays():
    spread = {}
    for p in (0, 1):
        images = make_pillar_arrays(6, grid_size=12, random_state=0, photometric=p).array_images
        means = [image.mean() for image in images]
        stds = [image.std() for image in images]
        ranges = [np.subtract(*np.percentile(image, [95, 5])) for image in images]
        spread[p] = np.ptp(means), np.ptp(stds), np.ptp(ranges)
    (mean0, std0, range0), (mean1, std1, range1) = spread[0], spread[1]
    # measured: mean 2.7 -> 45.9 grey levels, std 0.79 -> 5.6, p95-p5 1 -> 19
    assert mean0 < 5 and mean1 > 20 and mean1 > 5 * mean0
    assert std1 > 3 * std0 and range1 > 3 * max(range0, 1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_arrays": 0}, "n_arrays"),
        ({"n_arrays": 1.5}, "n_arrays"),
        ({"grid_size": -1}, "grid_size"),
        ({"grid_size": True}, "grid_size"),
        ({"tile_half": 0}, "tile_half"),
        ({"pitch": 4}, "pitch"),
        ({"noise": -1.0}, "noise"),
        ({"field_period": 0.5}, "field_period"),
        ({"random_state": "seed"}, "random_state"),
        ({"defect_rates": {"Good": 0.5}}, "defect_rates"),
        ({"defect_rates": {"missing": 0.1}}, "defect_rates"),
        ({"defect_rates": {"Missing": -0.1}}, "defect_rates"),
        ({"defect_rates": {"Missing": float("nan")}}, "defect_rates"),
        ({"defect_rates": {"Missing": 0.6, "Collapsed": 0.5}}, "defect_rates"),
        ({"defect_rates": {"Stitching": 0.9}}, "defect_rates"),  # with the defaults: > 1
        ({"defect_rates": [0.1, 0.1]}, "defect_rates"),
        ({"photometric": -0.5}, "photometric"),
        ({"photometric": float("nan")}, "photometric"),
        ({"photometric": float("inf")}, "photometric"),
        ({"photometric": "1"}, "photometric"),
        ({"photometric": True}, "photometric"),
        ({"shape": (5,)}, "shape"),
        ({"shape": (1, 5)}, "shape"),
        ({"shape": (4, 0)}, "shape"),
        ({"rotation": 50}, "rotation"),
        ({"rotation": float("nan")}, "rotation"),
        ({"margin": -1}, "margin"),
        ({"margin": (1, 2)}, "margin"),
        ({"gradient": -3}, "gradient"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_pillar_arrays(**{"n_arrays": 1, "grid_size": 2, **kwargs})


def test_a_frame_keeps_the_pillars_and_labels_of_the_seed():
    """rotation, margin, gradient and a rectangular shape change the picture, not what
    is drawn where: the same random_state gives the same labels (cropped to the shape)."""
    square = make_pillar_arrays(2, grid_size=9, random_state=7)
    framed = make_pillar_arrays(
        2, grid_size=9, random_state=7, rotation=2.5, margin=1.0, gradient=30
    )
    assert np.array_equal(square.y, framed.y)
    assert np.array_equal(square.stitch_type, framed.stitch_type)
    assert square.lattices is None and len(framed.lattices) == 2
    wide = make_pillar_arrays(2, grid_size=9, random_state=7, shape=(5, 9))
    assert np.array_equal(square.y.reshape(2, 9, 9)[:, :5].ravel(), wide.y)
    assert wide.array_images[0].shape == (5 * 54, 9 * 54)
    tall = make_pillar_arrays(1, random_state=7, shape=(6, 3), margin=(1, 0, 0, 2))
    assert tall.array_images[0].shape == (7 * 54, 5 * 54)
    assert len(tall) == 18 and tall.lattices[0].shape == (6, 3)


@pytest.mark.parametrize("rotation", [0.0, 4.0])
def test_pillars_sit_at_the_tile_centres_of_a_frame(rotation):
    tiles = make_pillar_arrays(
        2,
        grid_size=7,
        defect_rates=NO_DEFECTS,
        random_state=4,
        rotation=rotation,
        margin=0.8,
        gradient=20,
    )
    images, _ = full_tiles(tiles)
    assert len(images) == 98  # the margin keeps every tile whole
    dy, dx = pillar_centre(images.mean(axis=0), 54)
    assert abs(dx) < 0.7
    assert -0.6 < dy < 1.0  # as in the square arrays, plus interpolation of the rotation


def test_a_frame_has_its_margin_of_substrate_and_its_gradient():
    tiles = make_pillar_arrays(
        1, grid_size=6, random_state=1, margin=(2, 0, 0, 0), gradient=40, noise=0
    )
    image = tiles.array_images[0].astype(float)
    margin, array = image[: 2 * 54 - 5], image[2 * 54 + 5 :]
    # the margin is flat apart from the gradient; the array is not
    assert np.std(margin - margin.mean(axis=0)) < 8 < np.std(array - array.mean(axis=0))
    plain = make_pillar_arrays(1, grid_size=6, random_state=1, margin=(2, 0, 0, 0), noise=0)
    tilt = image - plain.array_images[0]
    assert 38 <= np.ptp(tilt) <= 42  # the plane's peak to peak, rounded to grey levels


# -- apply_conditions and make_pillar_arrays(conditions=...) -------------------------------------
@pytest.fixture(scope="module")
def textured():
    """A synthetic array image: pillars, halos and lines, like the real ones."""
    return make_pillar_arrays(1, grid_size=6, random_state=5).array_images[0]


def flat(level, height=60, width=90):
    return np.full((height, width), level, np.uint8)


def test_default_conditions_leave_the_image_unchanged_in_a_new_array(textured):
    out = apply_conditions(textured, random_state=0)
    np.testing.assert_array_equal(out, textured)
    assert out.dtype == np.uint8 and not np.shares_memory(out, textured)


@settings(max_examples=40, deadline=None)
@given(
    level=st.integers(60, 190),
    height=st.integers(8, 70),
    width=st.integers(8, 70),
    gradient=st.floats(0, 40),
    ramp=st.floats(0.3, 1.0),
    vignetting=st.floats(0, 0.5),
)
def test_photometric_conditions_on_flat_images(level, height, width, gradient, ramp, vignetting):
    image = flat(level, height, width)
    tol = 0.5 + 1e-3  # rounding to grey levels (float32 arithmetic)

    tilted = apply_conditions(image, gradient=gradient).astype(float)
    assert np.all(tilted == tilted[0])  # a ramp in x only
    assert np.all(np.diff(tilted[0]) >= 0)
    assert abs(tilted[0, 0] - (level - gradient / 2)) <= tol
    assert abs(tilted[0, -1] - (level + gradient / 2)) <= tol
    assert abs(np.ptp(tilted[0]) - gradient) <= 2 * tol

    dimmed = apply_conditions(image, ramp=ramp).astype(float)
    assert np.all(dimmed == dimmed[0]) and np.all(np.diff(dimmed[0]) >= 0)
    assert abs(dimmed[0, 0] - level * ramp) <= tol and dimmed[0, -1] == level
    # right / left = 1 / ramp, within the rounding of the left edge
    assert abs(dimmed[0, -1] / dimmed[0, 0] - 1 / ramp) <= tol * level / (level * ramp - tol) ** 2

    vignetted = apply_conditions(image, vignetting=vignetting).astype(float)
    np.testing.assert_array_equal(vignetted, vignetted[::-1])  # radial: mirror symmetric
    np.testing.assert_array_equal(vignetted, vignetted[:, ::-1])
    for corner in (vignetted[0, 0], vignetted[-1, -1]):
        assert abs(corner - level * (1 - vignetting)) <= tol
    assert vignetted.max() == vignetted[height // 2, width // 2]  # brightest at the centre
    assert abs(vignetted[height // 2, width // 2] - level) <= tol + vignetting * level * 0.5 / (
        (height - 1) ** 2 / 4 + (width - 1) ** 2 / 4
    )
    # darker with the distance from the centre, along the middle row
    half_row = vignetted[height // 2, width // 2 :]
    assert np.all(np.diff(half_row) <= 0)

    # the multiplicative conditions act before the additive gradient
    both = apply_conditions(image, ramp=ramp, gradient=gradient).astype(float)
    # grey levels are clipped at 0: a dim ramp less half the gradient can fall below it
    assert abs(both[0, 0] - max(0.0, level * ramp - gradient / 2)) <= tol
    assert abs(both[0, -1] - (level + gradient / 2)) <= tol


def test_ramp_and_vignetting_of_the_conditions_table():
    image = flat(200, 101, 151)
    dimmed = apply_conditions(image, **CONDITIONS["ramp 0.5-1"]).astype(float)
    assert dimmed[:, -1].mean() / dimmed[:, 0].mean() == pytest.approx(2, abs=0.01)
    vignetted = apply_conditions(image, **CONDITIONS["vignetting 35%"]).astype(float)
    assert vignetted[0, 0] / vignetted[50, 75] == pytest.approx(0.65, abs=0.005)


def test_noise_has_the_standard_deviation_and_follows_the_seed():
    image = flat(128, 300, 300)
    out = apply_conditions(image, noise=8, random_state=3).astype(float)
    residual = out - 128
    assert abs(residual.mean()) < 0.1
    assert residual.std() == pytest.approx(8, rel=0.02)  # rounding adds 1/12 to the variance
    # white: neighbouring pixels are uncorrelated
    assert abs(np.corrcoef(residual[:, 1:].ravel(), residual[:, :-1].ravel())[0, 1]) < 0.02
    np.testing.assert_array_equal(apply_conditions(image, noise=8, random_state=3), out)
    other = apply_conditions(image, noise=8, random_state=4)
    assert np.mean(other != out) > 0.5
    # without noise the seed does not matter
    np.testing.assert_array_equal(
        apply_conditions(image, gradient=10, random_state=1),
        apply_conditions(image, gradient=10, random_state=2),
    )


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.5])
def test_blur_spreads_a_step_edge_by_sigma(sigma):
    image = np.where(np.arange(120) < 60, 40, 220).astype(np.uint8)[None, :].repeat(40, axis=0)
    out = apply_conditions(image, blur=sigma).astype(float)
    # the derivative of a blurred step is a Gaussian of that sigma
    slope = np.diff(out[20])
    x = np.arange(slope.size)
    center = np.sum(x * slope) / slope.sum()
    spread = np.sqrt(np.sum((x - center) ** 2 * slope) / slope.sum())
    assert spread == pytest.approx(sigma, abs=0.2)
    assert out.mean() == pytest.approx(image.mean(), abs=0.5)
    np.testing.assert_array_equal(apply_conditions(image, blur=0), image)


def test_jpeg_changes_the_image_a_little_and_more_at_lower_quality(textured):
    errors = {}
    for quality in (90, 40, 10):
        out = apply_conditions(textured, jpeg_quality=quality)
        assert out.shape == textured.shape and out.dtype == np.uint8
        errors[quality] = np.abs(out.astype(float) - textured).mean()
    assert 0 < errors[90] < errors[40] < errors[10]
    assert errors[40] < 3 and abs(
        apply_conditions(textured, jpeg_quality=40).mean() - textured.mean()
    ) < (0.5)


@pytest.mark.parametrize("scale", [0.5, 0.8, 1.25, 2.0])
def test_scale_resizes_and_keeps_the_periodicity(scale, textured):
    out = apply_conditions(textured, scale=scale)
    height, width = textured.shape
    assert out.shape == (round(height * scale), round(width * scale))
    assert out.mean() == pytest.approx(textured.mean(), abs=1)
    # the six pillars a row stay six periods across the resized image
    spectrum = np.abs(np.fft.rfft(out.mean(axis=0) - out.mean()))
    assert np.argmax(spectrum[3:]) + 3 == 6
    resized = apply_conditions(flat(77), scale=scale)  # a flat image stays flat
    np.testing.assert_array_equal(resized, flat(77, round(60 * scale), round(90 * scale)))


def test_conditions_table_alters_but_keeps_the_image(textured):
    assert set(CONDITIONS) == {
        "gradient 40",
        "ramp 0.5-1",
        "vignetting 35%",
        "noise sd 8",
        "blur 2",
        "jpeg 40",
        "scale 0.8",
        "scale 1.25",
    }
    for name, kwargs in CONDITIONS.items():
        out = apply_conditions(textured, **kwargs, random_state=0)
        assert out.dtype == np.uint8, name
        if out.shape == textured.shape:
            assert not np.array_equal(out, textured), name
            # the same picture: the two images are strongly correlated
            assert np.corrcoef(out.ravel(), textured.ravel())[0, 1] > 0.6, name


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"gradient": -1}, "gradient"),
        ({"gradient": float("nan")}, "gradient"),
        ({"gradient": "40"}, "gradient"),
        ({"ramp": 0}, "ramp"),
        ({"ramp": -0.5}, "ramp"),
        ({"ramp": float("inf")}, "ramp"),
        ({"vignetting": 1.0}, "vignetting"),
        ({"vignetting": -0.1}, "vignetting"),
        ({"noise": -1}, "noise"),
        ({"noise": True}, "noise"),
        ({"blur": -0.5}, "blur"),
        ({"blur": float("inf")}, "blur"),
        ({"jpeg_quality": 0}, "jpeg_quality"),
        ({"jpeg_quality": 101}, "jpeg_quality"),
        ({"jpeg_quality": 50.0}, "jpeg_quality"),
        ({"jpeg_quality": True}, "jpeg_quality"),
        ({"scale": 0}, "scale"),
        ({"scale": -1.0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"scale": 0.1}, "scale"),  # 60 x 90 -> 6 x 9: under 8 pixels a side
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_apply_conditions_bad_parameters_raise_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        apply_conditions(flat(100), **kwargs)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((20, 20, 3), np.uint8),
        np.zeros((20, 20), np.uint16),
        np.zeros((20, 20), float),
        np.zeros(20, np.uint8),
        [[0, 1], [2, 3]],
    ],
)
def test_apply_conditions_takes_2d_uint8_only(image):
    with pytest.raises(ValueError, match="image must be a 2-D uint8"):
        apply_conditions(image, gradient=10)


def test_conditions_none_or_empty_is_byte_identical_to_the_default():
    kwargs = {"n_arrays": 2, "grid_size": 6, "random_state": 7, "photometric": 0.5}
    default = make_pillar_arrays(**kwargs)
    for conditions in (None, {}):
        same = make_pillar_arrays(**kwargs, conditions=conditions)
        np.testing.assert_array_equal(same.X, default.X)
        np.testing.assert_array_equal(same.y, default.y)
        np.testing.assert_array_equal(same.stitch_type, default.stitch_type)
        for x, y in zip(same.array_images, default.array_images, strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_conditions_keep_labels_and_one_tile_per_site(condition):
    kwargs = {"n_arrays": 2, "grid_size": 7, "random_state": 3}
    plain = make_pillar_arrays(**kwargs)
    altered = make_pillar_arrays(**kwargs, conditions=CONDITIONS[condition])
    assert len(altered) == len(plain) == 2 * 49
    np.testing.assert_array_equal(altered.y, plain.y)
    np.testing.assert_array_equal(altered.stitch_type, plain.stitch_type)
    np.testing.assert_array_equal(altered.positions, plain.positions)
    scale = CONDITIONS[condition].get("scale", 1.0)
    for image, original in zip(altered.array_images, plain.array_images, strict=True):
        assert image.shape == tuple(round(side * scale) for side in original.shape)
        if scale == 1:
            assert not np.array_equal(image, original)
    # reproducible: the conditions draw from a stream seeded by random_state
    again = make_pillar_arrays(**kwargs, conditions=CONDITIONS[condition])
    np.testing.assert_array_equal(again.X, altered.X)


def test_conditions_noise_differs_between_arrays_and_seeds():
    noisy = {"noise": 8}
    tiles = make_pillar_arrays(2, grid_size=5, random_state=1, conditions=noisy)
    plain = make_pillar_arrays(2, grid_size=5, random_state=1)
    pairs = zip(tiles.array_images, plain.array_images, strict=True)
    residuals = [a.astype(float) - b for a, b in pairs]
    for residual in residuals:
        assert residual.std() == pytest.approx(8, rel=0.05)
    assert abs(np.corrcoef(residuals[0].ravel(), residuals[1].ravel())[0, 1]) < 0.05
    other = make_pillar_arrays(2, grid_size=5, random_state=2, conditions=noisy)
    assert not np.array_equal(other.X, tiles.X)


@pytest.mark.parametrize("scale", [0.8, 1.25])
@pytest.mark.parametrize("frame", [{}, {"rotation": 4.0, "margin": 0.8}])
def test_scaled_pillars_sit_at_the_tile_centres(scale, frame):
    kwargs = {"n_arrays": 2, "grid_size": 7, "defect_rates": NO_DEFECTS, "random_state": 4}
    tiles = make_pillar_arrays(**kwargs, **frame, conditions={"scale": scale})
    assert len(tiles) == 98
    images, _ = full_tiles(tiles)
    dy, dx = pillar_centre(images.mean(axis=0), 54 * scale)
    assert abs(dx) < 0.7
    assert -0.6 < dy < 1.0  # as in the unscaled arrays and frames
    if frame:  # the true lattice is scaled with the image
        plain = make_pillar_arrays(**kwargs, **frame)
        for lattice, original in zip(tiles.lattices, plain.lattices, strict=True):
            assert lattice.shape == original.shape == (7, 7)
            np.testing.assert_allclose(lattice.pitch, np.multiply(original.pitch, scale), rtol=3e-3)
    else:
        assert tiles.lattices is None
        assert tiles.array_images[0].shape == (round(7 * 54 * scale),) * 2


@pytest.mark.parametrize(
    ("conditions", "name"),
    [
        ({"noise": -1}, "noise"),
        ({"scale": 0}, "scale"),
        ({"jpeg_quality": 500}, "jpeg_quality"),
        ({"random_state": 0}, "random_state"),
        ({"contrast": 2}, "contrast"),
        ({"scale": 0.01}, "scale"),  # 2 x 54 pixels -> 1 pixel
        ([("noise", 2)], "conditions"),
    ],
)
def test_bad_conditions_raise_naming_conditions_and_the_parameter(conditions, name):
    with pytest.raises(ValueError, match="conditions") as info:
        make_pillar_arrays(1, grid_size=2, random_state=0, conditions=conditions)
    assert name in str(info.value)
