"""Tile features of the four layers, computed on batches of same-shape tiles.

Each public function takes ``tiles``, a :class:`TileBatch` or an array of
shape ``(n, h, w)`` of grey levels (uint8), and returns a float64 array of
shape ``(n, k)`` whose columns are the original notebook's, in its order.
Values equal the notebook's per-tile functions (up to floating-point
rounding) on every tile of at least 2 x 2 pixels; where the notebook would
fail or return NaN on degenerate tiles, the choice made here is documented on
the function."""

from __future__ import annotations

from functools import cached_property, lru_cache

import cv2
import numpy as np

from ..tiling import check_unique_positions

CENTER_INTENSITY_NAMES = (
    "center_mean",
    "center_std",
    "center_min",
    "center_max",
    "edge_mean",
    "center_edge_diff",
)


DARKNESS_AREA_NAMES = (
    "mean_intensity",
    "dark_ratio",
    "very_dark_ratio",
    "blob_area",
    "blob_area_ratio",
)


STITCHING_NAMES = (
    "max_row_jump",
    "max_col_jump",
    "max_jump",
    "vertical_split",
    "horizontal_split",
    "max_split",
    "edge_center_diff",
    "max_horizontal_edge",
    "max_vertical_edge",
    "stitching_score",
)


ROTATION_NAMES = (
    "rotation_rms_mean",
    "rotation_rms_max",
    "rotation_dissimilarity_mean",
    "rotation_dissimilarity_max",
)


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


BORDER = 5  # width of the border strips of the stitching features


SSIM_WIN = 7  # scikit-image's default window; tiles smaller than this score 1.0


SSIM_C1 = (0.01 * 255) ** 2


SSIM_C2 = (0.03 * 255) ** 2


_EPS = 1e-10


class TileBatch:
    """Same-shape tiles and the intermediates several features share.

    Parameters
    ----------
    tiles : ndarray of shape (n, h, w), uint8
    """

    def __init__(self, tiles):
        tiles = np.asarray(tiles)
        if tiles.ndim != 3 or tiles.dtype != np.uint8:
            raise ValueError(
                f"tiles must be a uint8 array of shape (n, h, w), got {tiles.dtype} {tiles.shape}"
            )
        self.tiles = np.ascontiguousarray(tiles)

    def __len__(self):
        return self.tiles.shape[0]

    @cached_property
    def sums(self):
        """Sum of grey levels per tile, int64."""
        return self.tiles.sum(axis=(1, 2), dtype=np.int64)

    @cached_property
    def sums_of_squares(self):
        """Sum of squared grey levels per tile, int64."""
        t = self.tiles.astype(np.int64)
        return np.einsum("nij,nij->n", t, t)

    @cached_property
    def sobel(self):
        """OpenCV's 3x3 Sobel derivatives (d/dx, d/dy) with its default border, int16."""
        p = _pad_reflect101(self.tiles)
        d = p[:, :, 2:] - p[:, :, :-2]  # x difference, then smoothed down the rows
        gx = d[:, :-2] + d[:, 2:]
        gx += d[:, 1:-1]
        gx += d[:, 1:-1]
        d = p[:, 2:, :] - p[:, :-2, :]
        gy = d[:, :, :-2] + d[:, :, 2:]
        gy += d[:, :, 1:-1]
        gy += d[:, :, 1:-1]
        return gx, gy

    @cached_property
    def largest_contours(self):
        """Per tile: the largest external contour of its Otsu mask, its area and perimeter.

        The mask is the notebook's: inverse binary Otsu threshold (dark pillar
        = foreground). Ties keep the first contour in OpenCV's order, as
        Python's ``max`` does. Tiles with no contour get ``None`` and zeros.
        """
        contours, areas, perimeters = [], np.zeros(len(self)), np.zeros(len(self))
        threshold, find, area_of = cv2.threshold, cv2.findContours, cv2.contourArea
        arc_length = cv2.arcLength
        inverse_otsu = cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU
        mode, method = cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        for i, tile in enumerate(self.tiles):
            found = find(threshold(tile, 0, 255, inverse_otsu)[1], mode, method)[0]
            best, best_area = None, 0.0
            for contour in found:
                a = area_of(contour)
                if best is None or a > best_area:
                    best, best_area = contour, a
            contours.append(best)
            areas[i] = best_area
            if best is not None:
                perimeters[i] = arc_length(best, True)
        return contours, areas, perimeters


def _pad_reflect101(tiles):
    """Pad each tile by one pixel as OpenCV's default border does (reflect-101), int16."""
    n, h, w = tiles.shape
    p = np.empty((n, h + 2, w + 2), np.int16)
    p[:, 1:-1, 1:-1] = tiles
    p[:, 0, 1:-1] = tiles[:, 1 if h > 1 else 0]
    p[:, -1, 1:-1] = tiles[:, -2 if h > 1 else 0]
    p[:, :, 0] = p[:, :, 2 if w > 1 else 1]
    p[:, :, -1] = p[:, :, -3 if w > 1 else 1]
    return p


def as_batch(tiles):
    return tiles if isinstance(tiles, TileBatch) else TileBatch(tiles)


def _center_window(size):
    """Start and length of the middle half along one axis (at least one pixel)."""
    return size // 4, max(1, size // 2)


def center_intensity(tiles):
    """Layer 1: grey levels of the tile's central half against the rest.

    Columns: :data:`CENTER_INTENSITY_NAMES`. Tiles 1 pixel high or wide,
    whose central half is empty in the notebook, use a 1-pixel-wide centre;
    where the centre covers the whole tile the edge mean equals the centre
    mean.
    """
    batch = as_batch(tiles)
    n, h, w = batch.tiles.shape
    y0, ch = _center_window(h)
    x0, cw = _center_window(w)
    center = batch.tiles[:, y0 : y0 + ch, x0 : x0 + cw]
    c = center.astype(np.int64)
    m = ch * cw
    c_sum = c.sum(axis=(1, 2))
    c_sq = np.einsum("nij,nij->n", c, c)
    mean_c = c_sum / m
    std_c = np.sqrt(np.maximum(c_sq * m - c_sum * c_sum, 0) / (m * m))
    n_edge = h * w - m
    mean_e = (batch.sums - c_sum) / n_edge if n_edge else mean_c
    return np.column_stack(
        [mean_c, std_c, center.min(axis=(1, 2)), center.max(axis=(1, 2)), mean_e, mean_c - mean_e]
    ).astype(np.float64)


def darkness_area(tiles):
    """Layer 2: overall darkness and the area of the largest dark blob.

    Columns: :data:`DARKNESS_AREA_NAMES`; the blob is the largest external
    contour of the inverse Otsu mask (``cv2.contourArea``).
    """
    batch = as_batch(tiles)
    n, h, w = batch.tiles.shape
    size = h * w
    dark = np.count_nonzero((batch.tiles < 80).reshape(n, -1), axis=1)
    very_dark = np.count_nonzero((batch.tiles < 50).reshape(n, -1), axis=1)
    area = batch.largest_contours[1]
    return np.column_stack([batch.sums / size, dark / size, very_dark / size, area, area / size])


def _line_sums(images):
    """Row and column sums of each float32 image, as float64.

    float32 sums of integers are exact below 2**24: exact here for lines of up
    to 16,000 pixels of at most 1,020 (Sobel) or 65,000 of grey levels. BLAS
    makes the row sums nearly free.
    """
    n, h, w = images.shape
    rows = (images.reshape(n * h, w) @ np.ones(w, np.float32)).reshape(n, h)
    return rows.astype(np.float64), images.sum(axis=1, dtype=np.float32).astype(np.float64)


def stitching_features(tiles):
    """Layer 3: sharp straight lines, from intensity profiles, halves, borders and Sobel.

    Columns: :data:`STITCHING_NAMES`. Where the notebook takes the mean of an
    empty region (tiles 1 pixel high or wide), the half split is 0 and the
    central region is at least one pixel.
    """
    batch = as_batch(tiles)
    t = batch.tiles
    n, h, w = t.shape
    row_sums, col_sums = _line_sums(t.astype(np.float32))
    row_profile, col_profile = row_sums / w, col_sums / h
    max_row_jump = np.abs(np.diff(row_profile, axis=1)).max(axis=1) if h > 1 else np.zeros(n)
    max_col_jump = np.abs(np.diff(col_profile, axis=1)).max(axis=1) if w > 1 else np.zeros(n)

    def split(sums, size, other):
        """|mean of the first half - mean of the second| along one axis."""
        if size < 2:
            return np.zeros(n)
        half = size // 2
        first = sums[:, :half].sum(axis=1) / (half * other)
        second = sums[:, half:].sum(axis=1) / ((size - half) * other)
        return np.abs(first - second)

    vertical_split = split(row_sums, h, w)
    horizontal_split = split(col_sums, w, h)

    def strip_mean(sums, stop, other):
        return sums.sum(axis=1) / (stop * other)

    bh, bw = min(BORDER, h), min(BORDER, w)
    top = strip_mean(row_sums[:, :bh], bh, w)
    bottom = strip_mean(row_sums[:, h - bh :], bh, w)
    left = strip_mean(col_sums[:, :bw], bw, h)
    right = strip_mean(col_sums[:, w - bw :], bw, h)
    y0, y1 = h // 4, max(3 * h // 4, h // 4 + 1)
    x0, x1 = w // 4, max(3 * w // 4, w // 4 + 1)
    center = t[:, y0:y1, x0:x1].sum(axis=(1, 2), dtype=np.int64) / ((y1 - y0) * (x1 - x0))
    edge_center = np.max(np.abs(np.stack([top, bottom, left, right]) - center), axis=0)

    gx, gy = (np.abs(g.astype(np.float32)) for g in batch.sobel)
    max_horizontal_edge = _line_sums(gy)[0].max(axis=1) / w
    max_vertical_edge = _line_sums(gx)[1].max(axis=1) / h

    max_jump = np.maximum(max_row_jump, max_col_jump)
    max_split = np.maximum(vertical_split, horizontal_split)
    score = max_jump + max_split + edge_center
    return np.column_stack(
        [
            max_row_jump,
            max_col_jump,
            max_jump,
            vertical_split,
            horizontal_split,
            max_split,
            edge_center,
            max_horizontal_edge,
            max_vertical_edge,
            score,
        ]
    )


def _window_sums(images):
    """Sums over every SSIM window fully inside each image: int32, exact.

    ``images`` is (n, s, s) of uint8 or uint16; the result is (n, s - 6, s - 6).
    Windows that straddle two stacked images are computed and dropped.
    """
    n, s, _ = images.shape
    sums = cv2.boxFilter(
        images.reshape(n * s, s),
        cv2.CV_32S,
        (SSIM_WIN, SSIM_WIN),
        normalize=False,
        borderType=cv2.BORDER_REPLICATE,
    )
    pad = SSIM_WIN // 2
    return np.ascontiguousarray(sums.reshape(n, s, s)[:, pad : s - pad, pad : s - pad])


def _mean_ssim(sx, sxx, sxy, turns, half_only=False):
    """Mean SSIM of each image with itself turned ``turns`` quarter turns.

    From exact window sums of x, x**2 and x * turned(x): the sums of the
    turned image are the turned sums of x. scikit-image's formula (uniform
    window, sample covariance) is rearranged so that everything but the two
    constants is an exact integer. With ``half_only`` (half turns, even map
    side) the map is symmetric under the half turn and only its top half is
    averaged. Temporaries are reused (``out=``): fresh ones of this size cost
    a page fault per 4 kB.
    """
    n_win = SSIM_WIN * SSIM_WIN
    c1 = SSIM_C1 * n_win * n_win
    c2 = SSIM_C2 * n_win * (n_win - 1)
    rows = slice(0, sx.shape[1] // 2) if half_only else slice(None)
    # contiguous operands let every ufunc below run as one flat loop
    sy, syy = (np.ascontiguousarray(np.rot90(a, turns, axes=(1, 2))[:, rows]) for a in (sx, sxx))
    sx, sxx, sxy = (np.ascontiguousarray(a[:, rows]) for a in (sx, sxx, sxy))
    i1, i2, i3 = (np.empty(sx.shape, np.int32) for _ in range(3))
    f1, f2, f3 = (np.empty(sx.shape) for _ in range(3))
    # Window sums and their products stay below 2**31. Ints become floats by a
    # plain cast followed by a float op: faster than one mixed-type op.
    np.multiply(sx, sy, out=i1)
    np.multiply(sxy, n_win, out=i2)
    i2 -= i1  # n_win * sxy - sx * sy = n_win * (n_win - 1) * covariance
    i1 *= 2
    i2 *= 2
    np.copyto(f1, i1)
    f1 += c1
    np.copyto(f2, i2)
    f2 += c2
    f1 *= f2  # numerator
    np.add(sxx, syy, out=i2)
    i2 *= n_win
    np.multiply(sx, sx, out=i1)
    np.multiply(sy, sy, out=i3)
    i2 -= i1
    i2 -= i3  # n_win * (n_win - 1) * (variance x + variance y)
    i1 += i3
    np.copyto(f2, i1)
    f2 += c1
    np.copyto(f3, i2)
    f3 += c2
    f2 *= f3  # denominator
    f1 /= f2
    n, size = f1.shape[0], f1[0].size
    # a per-row sum (not BLAS) keeps the result independent of the batch size
    return f1.reshape(n, size).sum(axis=1) / size


def rotation_symmetry(tiles):
    """Layer 4: dissimilarity of the tile's top-left square with its 90/180/270 degree turns.

    Columns: :data:`ROTATION_NAMES` (mean and max RMS difference and
    1 - SSIM over the six pairs of the four rotations). Turning both images
    of a pair changes neither RMS nor SSIM, so the six pairs take only two
    distinct values: a quarter turn (four pairs) and a half turn (two).
    Squares smaller than the 7-pixel SSIM window score SSIM 1.0, as in the
    notebook.
    """
    batch = as_batch(tiles)
    n, h, w = batch.tiles.shape
    s = min(h, w)
    x = np.ascontiguousarray(batch.tiles[:, :s, :s], dtype=np.uint16)
    # products of grey levels fit in uint16; their sums give the RMS exactly:
    # mean((x - y)**2) = 2 * (sum(x * x) - sum(x * y)) / s**2 for a turned copy y
    squares = x * x
    quarter = x * np.rot90(x, 1, axes=(1, 2))
    half = x * x[:, ::-1, ::-1]
    sum_sq = squares.sum(axis=(1, 2), dtype=np.int64)
    rms1 = np.sqrt(2 * (sum_sq - quarter.sum(axis=(1, 2), dtype=np.int64)) / (s * s))
    rms2 = np.sqrt(2 * (sum_sq - half.sum(axis=(1, 2), dtype=np.int64)) / (s * s))
    if s >= SSIM_WIN:
        sx, sxx = _window_sums(x), _window_sums(squares)
        ssim1 = _mean_ssim(sx, sxx, _window_sums(quarter), 1)
        ssim2 = _mean_ssim(sx, sxx, _window_sums(half), 2, half_only=sx.shape[1] % 2 == 0)
    else:
        ssim1 = ssim2 = np.ones(n)
    return np.column_stack(
        [
            (4 * rms1 + 2 * rms2) / 6,
            np.maximum(rms1, rms2),
            1 - (4 * ssim1 + 2 * ssim2) / 6,
            1 - np.minimum(ssim1, ssim2),
        ]
    )


def base_features(tiles):
    """Per-tile features compared with the grid neighbours in :func:`neighbor_deviation`.

    Columns: mean, standard deviation, largest-blob area / tile size,
    circularity ``4 pi area / perimeter**2`` of that blob (0 without one).
    """
    batch = as_batch(tiles)
    n, h, w = batch.tiles.shape
    size = h * w
    mean = batch.sums / size
    std = np.sqrt(np.maximum(batch.sums_of_squares * size - batch.sums * batch.sums, 0)) / size
    _, area, perimeter = batch.largest_contours
    with np.errstate(divide="ignore", invalid="ignore"):
        circularity = np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, 0.0)
    return np.column_stack([mean, std, area / size, circularity])


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
