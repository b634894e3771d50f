"""The notebook's layer-4 (contextual) tile functions: deviation from the grid neighbours,
gradient anisotropy, outline curvature, radial profile; batched as in :mod:`._tile`."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..tiling import check_unique_positions
from ._tile import _EPS, as_batch

NEIGHBOR_NAMES = (
    "neighbor_dev_mean",
    "neighbor_dev_std",
    "neighbor_dev_area_ratio",
    "neighbor_dev_circularity",
    "neighbor_dev_norm",
)


ANISOTROPY_NAMES = ("anisotropy", "coherence", "orientation", "eigenvalue_ratio")


CURVATURE_NAMES = (
    "curvature_kurtosis",
    "curvature_max",
    "curvature_p95",
    "curvature_zero_crossings",
    "curvature_var",
)


RADIAL_NAMES = ("radial_dev_norm", "radial_dev_max", "radial_dev_center", "radial_dev_outer")


N_RADIAL_BINS = 8


_NEIGHBOR_OFFSETS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]


def neighbor_deviation(base, positions):
    """Layer 4: deviation of each tile's base features from its grid neighbours' mean.

    Parameters
    ----------
    base : ndarray of shape (n, 4)
        :func:`base_features` of the tiles.
    positions : ndarray of shape (n, 3)
        Array index, row, column. A tile's neighbours are the tiles given
        with the same array index at one of the eight adjacent sites.

    Returns
    -------
    ndarray of shape (n, 5)
        The four deviations and their Euclidean norm (zeros without
        neighbours). Columns: :data:`NEIGHBOR_NAMES`.
    """
    positions = np.asarray(positions, dtype=np.int64)
    n = len(base)
    lo = positions.min(axis=0) - 1 if n else np.zeros(3, np.int64)
    span = positions.max(axis=0) - lo + 2 if n else np.ones(3, np.int64)
    rel = positions - lo

    def key(a, r, c):
        return (a * span[1] + r) * span[2] + c

    keys = key(rel[:, 0], rel[:, 1], rel[:, 2])
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if n and (np.diff(sorted_keys) == 0).any():
        check_unique_positions(positions)
    total = np.zeros_like(base)
    count = np.zeros(n, dtype=np.int64)
    # accumulate in the notebook's neighbour order, so sums round alike
    for dr, dc in _NEIGHBOR_OFFSETS:
        wanted = key(rel[:, 0], rel[:, 1] + dr, rel[:, 2] + dc)
        at = np.minimum(np.searchsorted(sorted_keys, wanted), max(n - 1, 0))
        found = sorted_keys[at] == wanted if n else np.zeros(0, bool)
        total[found] += base[order[at[found]]]
        count += found
    has = count > 0
    deviation = np.zeros_like(base)
    deviation[has] = base[has] - total[has] / count[has, None]
    return np.column_stack([deviation, np.linalg.norm(deviation, axis=1)])


def anisotropy(tiles):
    """Layer 4: anisotropy of the structure tensor of the whole tile.

    Columns: :data:`ANISOTROPY_NAMES`. The notebook smooths the gradient
    products with a Gaussian (sigma 2, reflecting border) before summing
    them; such a filter preserves the sum of an image, so the sums of the
    products are used directly (equal up to rounding).
    """
    batch = as_batch(tiles)
    gx, gy = batch.sobel
    gx = gx.astype(np.float64)
    gy = gy.astype(np.float64)
    ixx = np.einsum("nij,nij->n", gx, gx)
    iyy = np.einsum("nij,nij->n", gy, gy)
    ixy = np.einsum("nij,nij->n", gx, gy)
    trace = ixx + iyy
    det = ixx * iyy - ixy**2
    root = np.sqrt(np.maximum(0, trace**2 - 4 * det))
    has = trace > 0
    lambda1 = np.where(has, (trace + root) / 2, 0.0)
    lambda2 = np.where(has, (trace - root) / 2, 0.0)
    aniso = np.where(has, (lambda1 - lambda2) / (lambda1 + lambda2 + _EPS), 0.0)
    orientation = 0.5 * np.arctan2(2 * ixy, ixx - iyy)
    return np.column_stack([aniso, aniso**2, np.abs(orientation), lambda1 / (lambda2 + _EPS)])


def _segment_gradient(values, starts, ends):
    """``np.gradient`` of each segment of a concatenation (unit spacing, one-sided at ends)."""
    grad = np.empty_like(values)
    grad[1:-1] = (values[2:] - values[:-2]) / 2.0
    grad[starts] = values[starts + 1] - values[starts]
    grad[ends] = values[ends] - values[ends - 1]
    return grad


def _lerp_percentile(sorted_values, starts, lengths, q):
    """numpy's default (linear) percentile of each sorted segment."""
    index = q / 100 * (lengths - 1)
    below = np.floor(index).astype(np.int64)
    above = np.minimum(below + 1, lengths - 1)
    t = index - below
    a, b = sorted_values[starts + below], sorted_values[starts + above]
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def curvature_irregularity(tiles, min_points=10):
    """Layer 4: statistics of the curvature along the largest blob's contour.

    Columns: :data:`CURVATURE_NAMES` (kurtosis, max, 95th percentile of
    ``|kappa|``, sign changes per point, variance of ``kappa``). Zeros for
    tiles without a contour of at least ``min_points`` points.
    """
    batch = as_batch(tiles)
    contours = batch.largest_contours[0]
    out = np.zeros((len(batch), 5))
    use = [i for i, c in enumerate(contours) if c is not None and len(c) >= min_points]
    if not use:
        return out
    points = [contours[i].reshape(-1, 2) for i in use]
    lengths = np.array([len(p) for p in points])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ends = starts + lengths - 1
    xy = np.concatenate(points).astype(np.float64)
    dx = _segment_gradient(xy[:, 0], starts, ends)
    dy = _segment_gradient(xy[:, 1], starts, ends)
    ddx = _segment_gradient(dx, starts, ends)
    ddy = _segment_gradient(dy, starts, ends)
    kappa = (dx * ddy - dy * ddx) / ((dx**2 + dy**2) ** 1.5 + _EPS)
    k_abs = np.abs(kappa)

    def seg_mean(v):
        return np.add.reduceat(v, starts) / lengths

    kurtosis = seg_mean(k_abs**4) / (seg_mean(k_abs**2) ** 2 + _EPS) - 3
    # sort within contours in one go: the key keeps each contour's values in [i, i + 1)
    segment = np.repeat(np.arange(len(use)), lengths)
    sorted_abs = k_abs[np.argsort(segment + k_abs / (2 * k_abs.max() + 1.0))]
    p95 = _lerp_percentile(sorted_abs, starts, lengths, 95)
    changes = np.diff(np.sign(kappa)) != 0
    changes[ends[:-1]] = False  # pairs that straddle two contours
    crossings = np.add.reduceat(np.append(changes, False), starts) / lengths
    centered = kappa - np.repeat(seg_mean(kappa), lengths)
    variance = seg_mean(centered * centered)
    out[use] = np.column_stack(
        [kurtosis, np.maximum.reduceat(k_abs, starts), p95, crossings, variance]
    )
    return out


@lru_cache(maxsize=64)
def _radial_bins(h, w, n_bins=N_RADIAL_BINS):
    """One-hot (h*w, n_bins) float32 matrix of each pixel's radial bin, and bin sizes."""
    cy, cx = h // 2, w // 2
    y, x = np.ogrid[:h, :w]
    r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
    edges = np.linspace(0, np.sqrt(cx**2 + cy**2), n_bins + 1)
    onehot = np.stack([(r >= edges[i]) & (r < edges[i + 1]) for i in range(n_bins)], axis=-1)
    onehot = onehot.reshape(h * w, n_bins)
    weights, counts = onehot.astype(np.float32), onehot.sum(axis=0)
    weights.flags.writeable = counts.flags.writeable = False  # shared through the cache
    return weights, counts


def radial_profile(tiles, n_bins=N_RADIAL_BINS):
    """Mean grey level in ``n_bins`` rings around the tile centre (0 for an empty ring).

    Returns an array of shape (n, n_bins).
    """
    batch = as_batch(tiles)
    n, h, w = batch.tiles.shape
    onehot, counts = _radial_bins(h, w, n_bins)
    # float32 sums of grey levels are exact up to 65,793 pixels a ring
    sums = batch.tiles.reshape(n, h * w).astype(np.float32) @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums.astype(np.float64) / counts, 0.0)


def radial_deviation(profiles, mean_profile):
    """Layer 4: deviation of each radial profile from a reference mean profile.

    Columns: :data:`RADIAL_NAMES` (norm, largest absolute, innermost and
    outermost ring deviation).
    """
    deviation = profiles - mean_profile
    a = np.abs(deviation)
    return np.column_stack([np.linalg.norm(deviation, axis=1), a.max(axis=1), a[:, 0], a[:, -1]])
