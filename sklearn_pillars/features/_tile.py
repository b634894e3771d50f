"""The notebook's tile features of layers 1-3 and its rotation symmetry, on batches of
same-shape tiles (layer 4's other families: :mod:`._contextual`).

Each public function takes ``tiles``, a :class:`TileBatch` or an array of
shape ``(n, h, w)`` of grey levels (uint8), and returns a float64 array of
shape ``(n, k)`` whose columns are the original notebook's, in its order.
Values equal the notebook's per-tile functions (up to floating-point
rounding) on every tile of at least 2 x 2 pixels; where the notebook would
fail or return NaN on degenerate tiles, the choice made here is documented on
the function."""

from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np

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
