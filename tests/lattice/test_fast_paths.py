"""The faster ways find_lattice and the input check compute things (issue 21) give what the
plain ways give: the same values, or within rounding; and the lattice does not depend on
how its first guess was made."""

import warnings

import cv2
import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from sklearn_pillars import make_pillar_arrays
from sklearn_pillars.lattice import _array_check, _find, _sites, find_lattice
from sklearn_pillars.utils.arrays import integer_percentiles, median_of, nan_median_of

from .test_lattice import frame, rms


def float_stacks(elements):
    """Stacks (n, h, w) of small float32 or float64 images with values from ``elements``."""
    return st.tuples(st.integers(1, 9), st.integers(1, 5), st.integers(1, 5)).flatmap(
        lambda shape: arrays(st.sampled_from([np.float32, np.float64]), shape, elements=elements)
    )


@settings(max_examples=60, deadline=None)
@given(stack=float_stacks(st.floats(-1e3, 1e3, width=32)))
def test_median_of_is_numpys_median(stack):
    median = median_of(stack)
    expected = np.median(stack, axis=0)
    assert median.dtype == expected.dtype
    np.testing.assert_array_equal(median, expected)


@settings(max_examples=60, deadline=None)
@given(
    stack=float_stacks(
        st.one_of(st.floats(-1e3, 1e3, width=32), st.sampled_from([np.nan, np.inf, -np.inf]))
    )
)
def test_nan_median_of_is_numpys_nanmedian(stack):
    median = nan_median_of(stack)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        expected = np.nanmedian(stack, axis=0)
    assert median.dtype == expected.dtype
    np.testing.assert_array_equal(median, expected)


@settings(max_examples=40, deadline=None)
@given(
    values=arrays(
        st.sampled_from([np.uint8, np.uint16]),
        st.integers(1, 400),
        elements=st.integers(0, 255),
    ),
    q=st.lists(st.floats(0, 100), min_size=1, max_size=4),
)
def test_percentiles_of_integers_are_numpys(values, q):
    values = values * (1 if values.dtype == np.uint8 else 257)
    np.testing.assert_allclose(
        integer_percentiles(values, q), np.percentile(values, q), rtol=0, atol=1e-9
    )


def test_percentiles_of_other_types_fall_back_to_numpy():
    values = np.array([0.5, -3.0, 7.25, 2.0])
    np.testing.assert_array_equal(
        integer_percentiles(values, [1, 50, 99]), np.percentile(values, [1, 50, 99])
    )


@pytest.mark.parametrize("sigma", [0.5, 1.5, 3.0])
def test_smoothed_crops_are_scipys_gaussian_filter(sigma):
    crops = np.random.default_rng(0).normal(100, 30, (7, 48, 48)).astype(np.float32)
    expected = ndimage.gaussian_filter(crops, (0, sigma, sigma))
    np.testing.assert_allclose(_array_check._smoothed(crops, sigma), expected, atol=1e-3)


def _feature_size_padded_twice(crops):
    """The pillar size as computed before issue 21, the crops padded to twice their side
    (its crossing of a half interpolated between whole radii since)."""
    flat = crops - crops.mean(axis=(1, 2), keepdims=True)
    k = crops.shape[1]
    spectrum = np.abs(scipy.fft.rfft2(flat, s=(2 * k, 2 * k))) ** 2
    acf = scipy.fft.irfft2(spectrum.mean(axis=0), s=(2 * k, 2 * k))
    if acf[0, 0] <= 0:
        return 0.0
    acf = scipy.fft.fftshift(acf / acf[0, 0])
    yy, xx = np.indices(acf.shape) - k
    radius = np.hypot(yy, xx).astype(np.int64).ravel()
    profile = np.bincount(radius, acf.ravel()) / np.maximum(np.bincount(radius), 1)
    below = np.flatnonzero(profile[: k // 2 + 1] < 0.5)
    if not below.size:
        return float(k)
    j = below[0]
    return 2 * (j - 1 + np.interp(0.5, profile[j - 1 : j + 1][::-1], [1.0, 0.0]))


@pytest.mark.parametrize("side", [5, 16, 24, 31, 48])
@pytest.mark.parametrize("blur", [0.0, 1.0, 4.0])
def test_the_feature_size_needs_only_half_a_crop_of_padding(side, blur):
    rng = np.random.default_rng(side)
    crops = rng.normal(0, 1, (20, side, side)).astype(np.float32)
    if blur:
        crops = ndimage.gaussian_filter(crops, (0, blur, blur)).astype(np.float32)
    assert _array_check._feature_size(crops) == pytest.approx(
        _feature_size_padded_twice(crops), abs=1e-3
    )


@pytest.mark.parametrize("side", [12, 24, 48])
@pytest.mark.parametrize("radius_share", [0.2, 0.35, 0.45])
def test_the_feature_size_of_large_pillars_is_that_of_the_full_padding(side, radius_share):
    # a disk filling most of its crop: an autocorrelation too little padded wraps onto it
    rng = np.random.default_rng(side)
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
    disk = (np.hypot(yy, xx) < radius_share * side).astype(np.float32)
    crops = disk[None] * 100 + rng.normal(0, 1, (10, side, side)).astype(np.float32)
    assert _array_check._feature_size(crops) == pytest.approx(
        _feature_size_padded_twice(crops), abs=1e-3
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    size=st.tuples(st.integers(12, 60), st.integers(12, 60)),
    side=st.integers(3, 11),
)
def test_match_template_is_opencvs_normalised_correlation(seed, size, side):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.normal(0, 40, size), 1.0).astype(np.float32)
    template = image[:side, :side].copy() + rng.normal(0, 5, (side, side)).astype(np.float32)
    ours = _sites.match_template(image, template)
    theirs = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_match_template_scores_windows_without_variance_zero():
    image = np.full((30, 30), 7.0, np.float32)
    image[:, 20:] = np.random.default_rng(0).normal(0, 10, (30, 10))
    template = np.random.default_rng(1).normal(0, 1, (5, 5)).astype(np.float32)
    scores = _sites.match_template(image, template)
    assert np.all(scores[:, :10] == 0) and np.all(np.isfinite(scores))
    assert np.all(_sites.match_template(image, np.ones((5, 5), np.float32)) == 0)


def test_flattening_removes_a_quadratic_illumination():
    height, width = 300, 410
    v, u = np.mgrid[0:height, 0:width]
    u, v = u / width - 0.5, v / height - 0.5
    light = 120 + 40 * u - 25 * v + 60 * u * u - 30 * u * v + 45 * v * v
    pattern = 20 * np.sin(u * 40) * np.cos(v * 35)
    flat = _find.flatten_illumination(np.clip(light + pattern, 0, 255).astype(np.float32))
    assert flat.dtype == np.float32 and flat.shape == (height, width)
    assert np.abs(flat - (pattern - pattern.mean())).max() < 2.0  # vs 60 of illumination


@pytest.mark.parametrize("seed", [0, 1])
def test_the_sites_do_not_depend_on_how_the_first_guess_was_made(seed, monkeypatch):
    image, truth = frame(grid=12, pitch=48, rotation=1.5, margin=(0.5, 1, 0.3, 0.8), seed=seed)
    quarter = find_lattice(image)
    monkeypatch.setattr(_find, "SEED_FACTORS", ())  # the first guess at full resolution
    full = find_lattice(image)
    assert quarter.shape == full.shape == truth.shape[:2]
    # the two agree far better than either agrees with the truth
    assert rms(quarter.centers, full.centers) < 0.25
    assert abs(rms(quarter.centers, truth) - rms(full.centers, truth)) < 0.1


def test_pillars_too_close_for_a_downsampled_guess_are_found_at_full_resolution(monkeypatch):
    tiles = make_pillar_arrays(
        1, grid_size=30, pitch=14, tile_half=7, rotation=0.5, derotate=False, random_state=3
    )
    image, truth = tiles.array_images[0], tiles.lattices[0].centers
    tried = []
    search = _find._pillars_of_mean_cell

    def spy(flat, min_pitch, max_pitch, *rest, **options):
        tried.append(flat.shape)
        return search(flat, min_pitch, max_pitch, *rest, **options)

    monkeypatch.setattr(_find, "_pillars_of_mean_cell", spy)
    lattice = find_lattice(image)
    assert lattice.shape == (30, 30)
    assert rms(lattice.centers, truth) < 1.5
    # at a quarter its pitch is 3.5 px, at a half 7: both too fine to trust
    assert tried[-1] == image.shape and len(tried) == 3


def test_flattening_a_sliver_of_an_image_does_not_fail():
    for shape in [(1, 40), (2, 2), (3, 500)]:
        flat = _find.flatten_illumination(np.arange(np.prod(shape), dtype=np.uint8).reshape(shape))
        assert flat.shape == shape and np.isfinite(flat).all()
