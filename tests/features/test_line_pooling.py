"""The line features' vectorised pooling and band means (issue 21) give what a loop over
grid lines and NumPy's nanmean over a copy of the band give; the Fourier shift of one
image to many shifts."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_pillars.features import fourier_shift
from sklearn_pillars.features._context import _small_nan_median
from sklearn_pillars.features._lines import _bands, _pooled, _profiles


def _pooled_by_loop(profiles, site, margin, side, reach=3):
    """What ``_pooled`` computed before issue 21: one grid line at a time, then blanked."""
    lines, inverse = np.unique(site, return_inverse=True)
    inverse = inverse.ravel()
    size = profiles.shape[1]
    pooled = np.full((len(lines), size), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(len(lines)):
            pooled[i] = _small_nan_median(profiles[inverse == i])
        local = np.full_like(pooled, np.nan)
        inner = (lines != lines.min()) & (lines != lines.max())
        for i, line in enumerate(lines):
            offset = (lines - line) * side
            near = np.flatnonzero((offset > 0) & (offset <= reach) & inner)
            if len(near):
                local[i] = np.nan_to_num(_small_nan_median(pooled[near]))
    pooled = pooled - local
    blank = ~np.isfinite(pooled)
    if margin:
        kernel = np.ones(2 * margin + 1)
        blank = np.stack([np.convolve(row, kernel, mode="same") > 0 for row in blank])
    blank[:, :margin] = blank[:, size - margin :] = True
    outer = (3 * size) // 8
    blank[lines == lines.min(), :outer] = True
    blank[lines == lines.max(), size - outer :] = True
    pooled[blank] = np.nan
    return pooled, inverse


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(3, 200),
    size=st.integers(8, 40),
    n_lines=st.integers(1, 24),
    side=st.sampled_from([-1, 1]),
    margin=st.integers(0, 3),
    holes=st.floats(0, 0.3),
)
def test_pooling_is_the_loop_over_lines(seed, n, size, n_lines, side, margin, holes):
    rng = np.random.default_rng(seed)
    profiles = rng.normal(size=(n, size)).astype(np.float32)
    profiles[rng.random(profiles.shape) < holes] = np.nan
    site = rng.integers(1, n_lines + 1, n)
    pooled, inverse = _pooled(profiles, site, margin, side)
    reference, reference_inverse = _pooled_by_loop(profiles, site, margin, side)
    np.testing.assert_array_equal(inverse, reference_inverse)
    np.testing.assert_array_equal(pooled, reference)  # NaN where the reference has NaN
    assert pooled.dtype == reference.dtype


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), size=st.sampled_from([16, 32, 48, 64]), clipped=st.booleans())
def test_band_means_are_nanmeans_of_the_band(seed, size, clipped):
    rng = np.random.default_rng(seed)
    residual = rng.normal(size=(20, size, size)).astype(np.float32)
    if clipped:
        residual[rng.integers(0, 20, 4), : size // 4, :] = np.nan
    for band in _bands(size):
        for axis in (1, 2):
            part = residual[:, :, band] if axis == 1 else residual[:, band, :]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                expected = np.nanmean(part, axis=3 - axis)
            np.testing.assert_allclose(_profiles(residual, band, axis), expected, atol=1e-6)


def test_one_image_is_shifted_to_each_shift_given_as_a_2d_array_or_a_stack():
    image = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32)
    dy, dx = np.array([0.0, 1.0, -2.0]), np.array([0.0, 0.0, 3.0])
    from_2d, from_stack = fourier_shift(image, dy, dx), fourier_shift(image[None], dy, dx)
    assert from_2d.shape == from_stack.shape == (3, 16, 16)
    np.testing.assert_allclose(from_2d, from_stack)
    np.testing.assert_allclose(from_2d[0], image, atol=1e-5)
    np.testing.assert_allclose(from_2d[2], np.roll(image, (-2, 3), axis=(0, 1)), atol=1e-4)
