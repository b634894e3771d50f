"""Array context: the tiles of one array compared with that array's own typical pillar.

Every function here works on all the tiles of one array at once, as wafer
inspection's "array mode" compares each cell of a periodic pattern with the
others. :func:`array_context` brings the tiles to a common photometric scale
(the array's own substrate and pillar-rim grey levels), builds the array's
reference pillar (the median of the tiles after aligning them) and gives
each tile's residual against the reference shifted onto it. The feature
functions then describe each tile by what its residual shows, in units of
the array's own contrast, so that they compare across arrays of another
brightness, contrast or focus:

- :func:`missing_features` and :func:`collapsed_features`: how much lighter
  or darker than the reference pillar the site is, and how;
- :func:`line_features`: straight lines shared by a whole grid row or column
  (stitching seams and write-field lines), pooled over the row or column;
- :func:`shape_features`: the pillar's position, size and outline against
  the reference and its grid neighbours.

:func:`robust_z` finally puts each column on the scale of the array's own
majority of tiles.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

MISSING_NAMES = ("pillar_residual", "centre_level")
COLLAPSED_NAMES = ("below_darkest", "below_rim", "dark_area", "centre_darkness")
LINE_NAMES = (
    "row_line", "col_line", "row_line_outside", "col_line_outside", "row_step", "col_step",
    "row_agreement", "col_agreement",
)
SHAPE_NAMES = (
    "offset_from_neighbours", "residual_rms", "match", "dark_area", "size", "elongation",
)
_LOW_PCT, _HIGH_PCT = 5, 90  # percentiles giving an array's rim and substrate grey levels
_EPS = 1e-9


@dataclass
class ArrayContext:
    """One array's tiles against its reference pillar (all on the canvas grid).

    Attributes
    ----------
    tiles : ndarray of shape (n, T, T), float32
        The tiles in contrast units: 0 is the array's substrate level, -1 its
        typical pillar-rim level; NaN where a clipped edge tile has no pixel.
    reference : ndarray of shape (T, T)
        The array's reference pillar, centred.
    shifted_reference : ndarray of shape (n, T, T)
        The reference moved onto each tile's pillar.
    residual : ndarray of shape (n, T, T)
        ``tiles - shifted_reference`` (NaN where the tile is).
    dy, dx : ndarray of shape (n,)
        Position of each tile's pillar relative to the reference, in pixels.
    match : ndarray of shape (n,)
        Normalised correlation of each tile with the reference at that shift.
    level, contrast : float
        The array's substrate grey level and its substrate-to-rim contrast.
    """

    tiles: np.ndarray
    reference: np.ndarray
    shifted_reference: np.ndarray
    residual: np.ndarray
    dy: np.ndarray
    dx: np.ndarray
    match: np.ndarray
    level: float
    contrast: float


def centred_tiles(canvas, shapes, positions):
    """Tiles as float32 on a common canvas with the site centre at its centre, NaN elsewhere.

    A tile clipped by the image's top (left) edge belongs to the first grid
    row (column); its pixels are moved down (right) so that its site centre
    lands where every other tile's does.

    Parameters
    ----------
    canvas : ndarray of shape (n, T, T), uint8
        Tiles in the top-left corner of the canvas (:func:`~sklearn_pillars.tileset.unpack_tiles`).
    shapes : ndarray of shape (n, 2)
        True height and width of each tile.
    positions : ndarray of shape (n, 3)
        Array index, 1-based grid row and column.
    """
    n, size = canvas.shape[0], canvas.shape[1]
    out = np.full((n, size, size), np.nan, dtype=np.float32)
    h, w = shapes[:, 0], shapes[:, 1]
    oy = np.where((positions[:, 1] == 1) & (h < size), size - h, 0)
    ox = np.where((positions[:, 2] == 1) & (w < size), size - w, 0)
    keys = np.stack([h, w, oy, ox], axis=1)
    groups, inverse = np.unique(keys, axis=0, return_inverse=True)
    for g, (gh, gw, gy, gx) in enumerate(groups):
        members = np.flatnonzero(inverse.ravel() == g)
        out[members, gy:gy + gh, gx:gx + gw] = canvas[members, :gh, :gw]
    return out


def _filled(images):
    """Images minus their mean, NaN set to 0 (neutral for correlation)."""
    mean = np.nanmean(images, axis=(-2, -1), keepdims=True)
    return np.nan_to_num(images - np.nan_to_num(mean), nan=0.0)


def register(tiles, reference, max_shift):
    """Shift of each tile's content relative to the reference, by windowed cross-correlation.

    Returns
    -------
    dy, dx : ndarray of shape (n,)
        Sub-pixel shifts within ``max_shift`` pixels.
    match : ndarray of shape (n,)
        Normalised correlation at the best shift (1 for a perfect copy).
    """
    n, size = tiles.shape[0], tiles.shape[1]
    window = np.hanning(size + 2)[1:-1].astype(np.float32)
    window = window[:, None] * window[None, :]
    a = _filled(tiles) * window
    r = _filled(reference) * window
    spectrum = np.fft.rfft2(a) * np.conj(np.fft.rfft2(r))[None]
    corr = np.fft.irfft2(spectrum, s=(size, size))
    span = np.arange(-max_shift, max_shift + 1)
    local = corr[:, span[:, None] % size, span[None, :] % size]  # (n, 2s+1, 2s+1)
    best = local.reshape(n, -1).argmax(axis=1)
    iy, ix = np.divmod(best, 2 * max_shift + 1)
    rows = np.arange(n)
    peak = local[rows, iy, ix]

    def vertex(lower, upper):  # parabola through three samples: offset of its vertex
        curvature = lower - 2 * peak + upper
        ok = curvature < 0
        return np.where(ok, 0.5 * (lower - upper) / np.where(ok, curvature, -1.0), 0.0)

    edge = 2 * max_shift
    dy = iy + np.where((iy > 0) & (iy < edge), vertex(local[rows, np.maximum(iy - 1, 0), ix],
                                                      local[rows, np.minimum(iy + 1, edge), ix]),
                       0.0)
    dx = ix + np.where((ix > 0) & (ix < edge), vertex(local[rows, iy, np.maximum(ix - 1, 0)],
                                                      local[rows, iy, np.minimum(ix + 1, edge)]),
                       0.0)
    norm = np.sqrt((a * a).sum(axis=(1, 2)) * (r * r).sum()) + _EPS
    return dy - max_shift, dx - max_shift, peak / norm


def array_context(tiles, max_shift=None, n_iter=2, max_reference_tiles=160):
    """Photometric scale, reference pillar, shifts and residuals of one array's tiles.

    Parameters
    ----------
    tiles : ndarray of shape (n, T, T)
        The array's tiles from :func:`centred_tiles` (NaN outside clipped tiles).
    max_shift : int, optional
        Largest pillar displacement searched, in pixels (default ``T // 6``).
    n_iter : int, default=2
        Rounds of aligning the tiles and taking their median as the reference.
    max_reference_tiles : int, default=160
        The reference and the photometric scale come from at most this many
        tiles, spread evenly over the array (whole tiles when there are
        enough): the median of a few hundred tiles is as good as that of all.

    Returns
    -------
    ArrayContext
    """
    tiles = np.asarray(tiles, dtype=np.float32)
    n, size = tiles.shape[0], tiles.shape[1]
    max_shift = max(1, size // 6) if max_shift is None else max_shift
    whole = np.flatnonzero(np.isfinite(tiles).all(axis=(1, 2)))
    pool = whole if len(whole) >= min(8, n) else np.arange(n)
    sample = tiles[pool[np.linspace(0, len(pool) - 1, min(len(pool), max_reference_tiles))
                        .round().astype(int)]]
    with _quiet_nan_warnings():
        flat = sample.reshape(len(sample), -1)
        low = float(np.median(np.nanpercentile(flat, _LOW_PCT, axis=1)))
        level = float(np.median(np.nanpercentile(flat, _HIGH_PCT, axis=1)))
    contrast = max(level - low, 1.0)  # grey levels; a flat image has no contrast to speak of
    normed = (tiles - level) / contrast
    sample = (sample - level) / contrast
    reference = _nan_median(sample)
    for _ in range(n_iter):
        dy, dx, _match = register(sample, reference, max_shift)
        reference = _nan_median(fourier_shift(_mean_filled(sample), -dy, -dx))
    dy, dx, match = register(normed, reference, max_shift)
    shifted = fourier_shift(reference[None], dy, dx)
    return ArrayContext(tiles=normed, reference=reference, shifted_reference=shifted,
                        residual=normed - shifted, dy=dy, dx=dx, match=match, level=level,
                        contrast=contrast)


def fourier_shift(images, dy, dx):
    """Move images by sub-pixel (dy, dx) with the Fourier shift theorem (wrapping around).

    ``images`` of shape (m, T, T) with m equal to ``len(dy)``, or 1 to move one
    image to each of the shifts.
    """
    size = images.shape[-1]
    ky = np.fft.fftfreq(size)[None, :, None]
    kx = np.fft.rfftfreq(size)[None, None, :]
    dy = np.asarray(dy, dtype=np.float64)[:, None, None]
    dx = np.asarray(dx, dtype=np.float64)[:, None, None]
    phase = np.exp(-2j * np.pi * (ky * dy + kx * dx))
    moved = np.fft.irfft2(np.fft.rfft2(images) * phase, s=(size, size))
    return moved.astype(np.float32)


def _mean_filled(images):
    """NaN pixels replaced by their image's mean."""
    if np.isfinite(images).all():
        return images
    with _quiet_nan_warnings():
        mean = np.nan_to_num(np.nanmean(images, axis=(1, 2), keepdims=True))
    return np.where(np.isfinite(images), images, mean)


def _nan_median(images):
    """Pixel-wise median over the images, ignoring NaN; pixels never seen get the overall median."""
    valid = np.isfinite(images)
    if valid.all():
        return np.median(images, axis=0)
    with _quiet_nan_warnings():
        median = np.nanmedian(images, axis=0)
    hole = ~np.isfinite(median)
    if hole.any():
        median[hole] = np.nanmedian(images) if valid.any() else 0.0
    return median


@contextmanager
def _quiet_nan_warnings():
    """Silence NumPy's warnings about all-NaN slices (they give NaN, which is handled)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _centre_window(size):
    quarter = size // 4
    return slice(quarter, size - quarter)


def _pillar_mask(context):
    """Where each tile's shifted reference is darker than half its depth: the pillar's place."""
    ref = context.shifted_reference
    depth = np.min(context.reference)
    return ref < 0.5 * depth


def _masked_mean(values, mask):
    values = np.where(mask & np.isfinite(values), values, 0.0)
    count = (mask & np.isfinite(values)).sum(axis=(1, 2))
    return values.sum(axis=(1, 2)) / np.maximum(count, 1)


def missing_features(context):
    """Columns :data:`MISSING_NAMES`: is there a pillar at the site?

    ``pillar_residual`` is the mean residual where the reference has its
    pillar (large and positive when the site is bare substrate),
    ``centre_level`` the mean of the tile's centre, in contrast units.
    """
    centre = _centre_window(context.tiles.shape[1])
    with _quiet_nan_warnings():
        level = np.nanmean(context.tiles[:, centre, centre], axis=(1, 2))
    return np.column_stack([_masked_mean(context.residual, _pillar_mask(context)), level])


def collapsed_features(context):
    """Columns :data:`COLLAPSED_NAMES`: is the site a dark filled blob?

    With the reference pillar's darkest grey level as the unit:
    ``below_darkest`` and ``below_rim`` are the shares of the tile's centre
    darker than that level and than 0.8 of it (a filled blob is dark where a
    pillar is only dark on its rim), ``dark_area`` the share of the whole
    tile darker than 0.8 of it (a blob is larger than a rim), and
    ``centre_darkness`` minus the centre's first quartile (a pillar's light
    interior keeps it high).
    """
    tiles = context.tiles
    centre = _centre_window(tiles.shape[1])
    middle = tiles[:, centre, centre].reshape(len(tiles), -1)
    darkest = float(np.min(context.reference))
    valid = np.isfinite(tiles)
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        seen = np.isfinite(middle)
        count = np.maximum(seen.sum(axis=1), 1)
        below_darkest = (seen & (middle < darkest)).sum(axis=1) / count
        below_rim = (seen & (middle < 0.8 * darkest)).sum(axis=1) / count
        dark_area = ((valid & (tiles < 0.8 * darkest)).sum(axis=(1, 2))
                     / np.maximum(valid.sum(axis=(1, 2)), 1))
        quartile = np.nan_to_num(np.nanpercentile(middle, 25, axis=1))
    return np.column_stack([below_darkest, below_rim, dark_area, -quartile])


def _bands(size):
    """Index arrays of the pillar band (centre) and the substrate band (outer edges)."""
    half = max(1, (3 * size) // 16)
    inner = np.arange(size // 2 - half, size // 2 + half)
    edge = max(1, (5 * size) // 32)
    outer = np.r_[np.arange(edge), np.arange(size - edge, size)]
    return inner, outer


def _profiles(residual, band, axis):
    """Mean residual along lines of one direction, over the pixels of ``band`` across them.

    axis 1: profile along y of horizontal lines (mean over the columns in
    ``band``); axis 2: profile along x of vertical lines.
    """
    with _quiet_nan_warnings():
        if axis == 1:
            return np.nanmean(residual[:, :, band], axis=2)
        return np.nanmean(residual[:, band, :], axis=1)


def _pooled(profiles, site, margin):
    """Per grid line (row or column): median profile of its tiles, with its edges blanked.

    Returns the pooled profiles (one per distinct ``site``) and, for each
    tile, the index of its line. Positions within ``margin`` pixels of the
    canvas edge or of a position without data are NaN: a line there only
    grazes the tile.
    """
    lines, inverse = np.unique(site, return_inverse=True)
    inverse = inverse.ravel()
    size = profiles.shape[1]
    pooled = np.full((len(lines), size), np.nan)
    for i in range(len(lines)):
        with _quiet_nan_warnings():
            pooled[i] = np.nanmedian(profiles[inverse == i], axis=0)
    blank = ~np.isfinite(pooled)
    blank[:, :margin] = blank[:, size - margin:] = True
    if margin:
        # widen every gap by the margin: a clipped tile's edge is an edge too
        kernel = np.ones(2 * margin + 1)
        blank = np.stack([np.convolve(b, kernel, mode="same") > 0 for b in blank])
    pooled[blank] = np.nan
    return pooled, inverse


def line_profiles(context):
    """Each tile's residual profiles across lines: (n, 4 * T) float64.

    In order: along y over the pillar band (horizontal lines), along y over
    the substrate band, along x over the pillar band (vertical lines), along
    x over the substrate band.
    """
    inner, outer = _bands(context.residual.shape[1])
    return np.hstack([_profiles(context.residual, band, axis)
                      for axis in (1, 2) for band in (inner, outer)]).astype(np.float64)


def line_features(profiles, positions, margin=None):
    """Columns :data:`LINE_NAMES`: straight lines shared by a whole grid row or column.

    The residuals of the tiles of one grid row share their y coordinates
    (the tiles of a row are cut at the same height), so a horizontal line
    crossing the row lies at the same place in all of them while the rest
    of each residual is not shared. For every grid row (column) the median
    of its tiles' residual profiles keeps what the whole row (column)
    shares; pillars that all sit a little off do not show, since the
    residual is taken against the reference moved onto each pillar.

    ``row_line`` / ``col_line``: standard deviation of the pooled profile of
    the tile's grid row (column) across the pillar band; ``*_outside``: the
    same over the substrate between pillars (a stitching seam shows there, a
    write-field line does not); ``*_step``: the largest jump between
    neighbouring positions of the pooled profile (sharpness); ``*_agreement``:
    correlation of the tile's own profile with its row's (column's) pooled
    one.

    Parameters
    ----------
    profiles : ndarray of shape (n, 4 * T)
        From :func:`line_profiles`, for the tiles of one array.
    positions : ndarray of shape (n, 3)
        Their positions.
    margin : int, optional
        A line closer than this to a tile's edge only grazes it (default
        ``3 * T // 32``, 6 pixels for 64-pixel tiles).
    """
    size = profiles.shape[1] // 4
    margin = max(1, (3 * size) // 32) if margin is None else margin
    parts = profiles.reshape(len(profiles), 4, size)
    columns = {}
    for axis, name in ((1, "row"), (2, "col")):
        site = positions[:, axis]
        for band, suffix in ((0, ""), (1, "_outside")):
            own = parts[:, 2 * (axis - 1) + band]
            pooled, line = _pooled(own, site, margin)
            with _quiet_nan_warnings():
                spread = np.nanstd(pooled, axis=1)
            columns[f"{name}_line{suffix}"] = np.nan_to_num(spread)[line]
            if suffix:
                continue
            with _quiet_nan_warnings():
                step = np.nanmax(np.abs(np.diff(pooled, axis=1)), axis=1)
            columns[f"{name}_step"] = np.nan_to_num(step)[line]
            shared = pooled[line]
            ok = np.isfinite(own) & np.isfinite(shared)
            a = np.where(ok, own - _row_mean(own, ok), 0.0)
            b = np.where(ok, shared - _row_mean(shared, ok), 0.0)
            columns[f"{name}_agreement"] = (a * b).sum(1) / (
                np.sqrt((a * a).sum(1) * (b * b).sum(1)) + _EPS)
    return np.column_stack([columns[name] for name in LINE_NAMES])


def _row_mean(values, ok):
    return (np.where(ok, values, 0.0).sum(1) / np.maximum(ok.sum(1), 1))[:, None]


def neighbour_median(values, positions):
    """Median of ``values`` over each tile's grid neighbours (8-neighbourhood) present.

    Tiles without a neighbour get their own value.
    """
    values = np.asarray(values, dtype=np.float64)
    rows, cols = positions[:, 1], positions[:, 2]
    height, width = rows.max() + 2, cols.max() + 2
    grid = np.full((height + 1, width + 1), np.nan)
    grid[rows, cols] = values
    stack = np.stack([grid[rows + a, cols + b] for a in (-1, 0, 1) for b in (-1, 0, 1)
                      if a or b])
    with _quiet_nan_warnings():
        median = np.nanmedian(stack, axis=0)
    return np.where(np.isfinite(median), median, values)


SHAPE_PART_NAMES = ("dy", "dx", "residual_rms", "match", "dark_area", "size", "elongation")


def shape_parts(context):
    """Per-tile shape measurements, columns :data:`SHAPE_PART_NAMES`.

    ``dy``, ``dx``: the pillar's position against the reference (pixels);
    ``residual_rms``: residual energy around the pillar; ``match``: the
    correlation with the reference; ``dark_area``, ``size`` and
    ``elongation``: area (share of the tile), radius of gyration (pixels)
    and axis ratio (1 = round) of the tile's dark pixels near the pillar.
    """
    tiles = context.tiles
    size = tiles.shape[1]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = (size - 1) / 2
    cy, cx = centre + context.dy[:, None, None], centre + context.dx[:, None, None]
    near = (yy - cy) ** 2 + (xx - cx) ** 2 < (0.4 * size) ** 2
    res = np.where(near & np.isfinite(context.residual), context.residual, 0.0)
    rms = np.sqrt((res * res).sum(axis=(1, 2)) / np.maximum(near.sum(axis=(1, 2)), 1))
    darkest = float(np.min(context.reference))
    dark = near & np.where(np.isfinite(tiles), tiles < 0.5 * darkest, False)
    weight = dark.astype(np.float64)
    area = weight.sum(axis=(1, 2))
    total = np.maximum(area, 1)
    my = (weight * yy).sum(axis=(1, 2)) / total
    mx = (weight * xx).sum(axis=(1, 2)) / total
    dy, dx = yy - my[:, None, None], xx - mx[:, None, None]
    syy = (weight * dy * dy).sum(axis=(1, 2)) / total
    sxx = (weight * dx * dx).sum(axis=(1, 2)) / total
    sxy = (weight * dx * dy).sum(axis=(1, 2)) / total
    half_trace, root = (syy + sxx) / 2, np.sqrt(((syy - sxx) / 2) ** 2 + sxy ** 2)
    major, minor = half_trace + root, np.maximum(half_trace - root, 0)
    return np.column_stack([
        context.dy, context.dx, rms, context.match, area / (size * size), np.sqrt(syy + sxx),
        np.sqrt(minor / np.maximum(major, _EPS)),
    ])


def shape_features(parts, positions):
    """Columns :data:`SHAPE_NAMES` from :func:`shape_parts` of one array's tiles.

    ``offset_from_neighbours`` is the distance of the pillar's position from
    the median position of its grid neighbours' pillars (among the tiles
    given), so that a slow drift of the lattice is not an offset; the other
    columns are those of :func:`shape_parts`.
    """
    dy, dx = parts[:, 0], parts[:, 1]
    offset = np.hypot(dy - neighbour_median(dy, positions), dx - neighbour_median(dx, positions))
    return np.column_stack([offset, parts[:, 2:]])


def robust_z(features, floor=1e-3):
    """Each column minus its median, over a robust standard deviation.

    The array's majority of tiles is its own reference: a typical tile
    scores near 0, an outlier many units away. The deviation is the larger
    of 1.4826 x the median absolute deviation and the 10-90 percentile
    range over 2.563 (both equal the standard deviation of a normal
    distribution; the second holds for columns where most tiles share one
    value), and at least ``floor`` times the column's typical magnitude.
    """
    features = np.asarray(features, dtype=np.float64)
    median = np.median(features, axis=0)
    mad = 1.4826 * np.median(np.abs(features - median), axis=0)
    low, high = np.percentile(features, [10, 90], axis=0)
    magnitude = np.median(np.abs(features), axis=0) + np.mean(np.abs(features - median), axis=0)
    scale = np.maximum(np.maximum(mad, (high - low) / 2.563), np.maximum(floor * magnitude, _EPS))
    return (features - median) / scale
