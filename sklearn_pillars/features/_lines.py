"""Refined line features: straight lines shared by a whole grid row or column (stitching
seams and write-field lines), pooled over the row or column."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ._context import _EPS, _quiet_nan_warnings, _small_nan_median

LINE_NAMES = (
    "row_line",
    "col_line",
    "row_sharpness",
    "col_sharpness",
    "row_line_outside",
    "col_line_outside",
    "row_sharpness_outside",
    "col_sharpness_outside",
)


LINE_FLOORS = (0.01, 0.01, 0.015, 0.015, 0.01, 0.01, 0.015, 0.015)
"""Smallest deviation scale of each line feature, in contrast units (see :func:`robust_z`)."""


STRONGEST_LINE_NAMES = ("line", "sharpness", "line_outside", "sharpness_outside")


def _bands(size):
    """Index arrays of the pillar band (centre) and the substrate band (outer edges)."""
    half = max(1, (3 * size) // 16)
    inner = np.arange(size // 2 - half, size // 2 + half)
    edge = max(1, (5 * size) // 32)
    outer = np.r_[np.arange(edge), np.arange(size - edge, size)]
    return inner, outer


def _profiles(residual, band, axis, whole=None):
    """Mean residual along lines of one direction, over the pixels of ``band`` across them.

    axis 1: profile along y of horizontal lines (mean over the columns in
    ``band``); axis 2: profile along x of vertical lines. ``whole``, if
    known, marks the tiles without NaN.
    """
    across = 3 - axis
    if whole is None:
        whole = np.isfinite(residual).all(axis=(1, 2))
    # Tiles without NaN (nearly all): sums over the band's runs of adjacent pixels, views
    # of the residual (no copy); the others by nanmean over a copy of the band.
    runs = np.split(band, np.flatnonzero(np.diff(band) != 1) + 1)
    spans = [slice(run[0], run[-1] + 1) for run in runs]
    cut = (lambda span: residual[:, :, span]) if axis == 1 else (lambda span: residual[:, span, :])
    out = sum(cut(span).sum(axis=across) for span in spans) / np.float32(len(band))
    if not whole.all():
        part = residual[~whole][:, :, band] if axis == 1 else residual[~whole][:, band, :]
        with _quiet_nan_warnings():
            out[~whole] = np.nanmean(part, axis=across)
    return out


def _pooled(profiles, site, margin, side, reach=3):
    """Per grid line (row or column): what its tiles share that the nearby lines do not.

    The median profile of each line's tiles, minus the median of those of
    the lines up to ``reach`` sites away on one ``side`` (-1: lower
    indices, +1: higher), which removes what changes slowly across the
    array (illumination, focus, the pillars' drift). Positions within
    ``margin`` pixels of the canvas edge or of a position without data are
    blanked (NaN): a line there only grazes the tile. The first and last
    lines face the image border, where the pillars lack their outer
    neighbours: the outer 3/8 of their profiles is blanked too. A line
    without a neighbour on that side gets NaN.

    Returns the pooled profiles (one per distinct ``site``) and, for each
    tile, the index of its line.
    """
    lines, inverse = np.unique(site, return_inverse=True)
    inverse = inverse.ravel()
    size = profiles.shape[1]
    # each line's profiles stacked, NaN below the shorter lines' (the medians skip NaN)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(lines))
    rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    stack = np.full((counts.max(), len(lines), size), np.nan, dtype=profiles.dtype)
    stack[rank, inverse[order]] = profiles[order]
    pooled = _small_nan_median(stack).astype(float)
    # the lines up to ``reach`` away on one side, edge lines left out (they are no reference)
    inner = (lines != lines.min()) & (lines != lines.max())
    offset = (lines[None, :] - lines[:, None]) * side
    near = (offset > 0) & (offset <= reach) & inner[None, :]
    neighbours = np.where(near.T[:, :, None], pooled[:, None, :], np.nan)
    local = np.nan_to_num(_small_nan_median(neighbours))
    local[~near.any(axis=1)] = np.nan
    pooled = pooled - local
    blank = ~np.isfinite(pooled)
    if margin:  # widen every gap in the data by the margin: a clipped tile's edge is an edge
        kernel = np.ones(2 * margin + 1)
        blank = np.stack([np.convolve(row, kernel, mode="same") > 0 for row in blank])
    blank[:, :margin] = blank[:, size - margin :] = True
    # the outermost lines face the image border: their pillars miss the neighbours'
    # halo on that side, which no nearby line shares; only their inner part counts
    outer = (3 * size) // 8
    blank[lines == lines.min(), :outer] = True
    blank[lines == lines.max(), size - outer :] = True
    pooled[blank] = np.nan
    return pooled, inverse


def _detrended(profiles):
    """Each profile minus its least-squares straight line over its finite values (NaN kept)."""
    valid = np.isfinite(profiles)
    x = np.broadcast_to(np.arange(profiles.shape[1], dtype=float), profiles.shape)
    count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    x_mean = np.where(valid, x, 0).sum(axis=1, keepdims=True) / count
    y_mean = np.where(valid, profiles, 0).sum(axis=1, keepdims=True) / count
    dx = np.where(valid, x - x_mean, 0)
    slope = (dx * np.where(valid, profiles - y_mean, 0)).sum(axis=1, keepdims=True) / np.maximum(
        (dx * dx).sum(axis=1, keepdims=True), _EPS
    )
    return np.where(valid, profiles - y_mean - slope * (x - x_mean), np.nan)


def _sharp(pooled, sigma=3.0):
    """The profiles minus their Gaussian-smoothed selves: narrow features only (NaN kept).

    The smoothing is normalised over the positions with data, so that the
    end of the data is not a feature.
    """
    valid = np.isfinite(pooled)
    values = np.where(valid, pooled, 0.0)
    weight = gaussian_filter1d(valid.astype(float), sigma, axis=1, mode="constant")
    smooth = gaussian_filter1d(values, sigma, axis=1, mode="constant") / np.maximum(weight, _EPS)
    return np.where(valid, pooled - smooth, np.nan)


def line_profiles(context):
    """Each tile's residual profiles across lines: (n, 4 * T) float64.

    In order: along y over the pillar band (horizontal lines), along y over
    the substrate band, along x over the pillar band (vertical lines), along
    x over the substrate band; each about its own mean. From the
    full-resolution residuals when the context has them: a line 1-2 pixels
    wide is blurred by downsampling.
    """
    residual = context.detail_residual
    inner, outer = _bands(residual.shape[1])
    whole = np.isfinite(residual).all(axis=(1, 2))
    profiles = [
        _profiles(residual, band, axis, whole) for axis in (1, 2) for band in (inner, outer)
    ]
    # each profile about its own mean: a tile a little brighter or darker as a whole is
    # no line, and would move which tile gives the median of a grid line's pixel
    with _quiet_nan_warnings():
        profiles = [p - np.nanmean(p, axis=1, keepdims=True) for p in profiles]
    return np.hstack(profiles).astype(np.float64)


def line_features(profiles, positions, margin=None):
    """Columns :data:`LINE_NAMES`: straight lines shared by a whole grid row or column.

    The residuals of the tiles of one grid row share their y coordinates
    (the tiles of a row are cut at the same height), so a horizontal line
    crossing the row lies at the same place in all of them while the rest
    of each residual is not shared. For every grid row (column) the median
    of its tiles' residual profiles keeps what the whole row (column)
    shares, and the same of the nearby rows (columns) on one side is
    subtracted, so that what changes slowly across the array does not
    count (see ``_pooled``). Each statistic is the smaller of those against
    either side: a line differs from its neighbours on both sides, while
    the edge between two stitched frames, which are brighter, shifted or
    blurred as a whole, differs from one side only.

    ``row_line`` / ``col_line``: the standard deviation of that profile of
    the tile's grid row (column) across the pillar band; ``*_sharpness``:
    its largest narrow feature (a line is 1-3 pixels wide, what varies
    slowly is not a line); ``*_outside``: the same over the substrate between
    pillars (a stitching seam shows there, a write-field line does not).

    Parameters
    ----------
    profiles : ndarray of shape (n, 4 * T)
        From :func:`line_profiles`, for the tiles of one array.
    positions : ndarray of shape (n, 3)
        Their positions.
    margin : int, optional
        A line closer than this to a tile's edge only grazes it (default
        ``T // 8``, 8 pixels for 64-pixel tiles).
    """
    size = profiles.shape[1] // 4
    margin = max(1, size // 8) if margin is None else margin
    parts = profiles.reshape(len(profiles), 4, size)
    columns = {}
    for axis, name in ((1, "row"), (2, "col")):
        for band, suffix in ((0, ""), (1, "_outside")):
            sides = [
                _pooled(parts[:, 2 * (axis - 1) + band], positions[:, axis], margin, side)
                for side in (-1, 1)
            ]  # a line differs from both sides, a frame's edge from one
            line = sides[0][1]
            compared = [np.isfinite(pooled).any(axis=1) for pooled, _ in sides]
            one_sided = compared[0] != compared[1]
            spread, sharp = [], []
            for pooled, _ in sides:
                # a line compared with one side only (near the array's edge) keeps a slow
                # ramp that the other side would have removed: a ramp is not a line
                pooled = np.where(one_sided[:, None], _detrended(pooled), pooled)
                with _quiet_nan_warnings():
                    spread.append(np.nanstd(pooled, axis=1))
                    sharp.append(np.nanmax(np.abs(_sharp(pooled)), axis=1))
            with _quiet_nan_warnings():
                spread, sharp = (np.nan_to_num(np.nanmin(v, axis=0)) for v in (spread, sharp))
            columns[f"{name}_line{suffix}"] = spread[line]
            columns[f"{name}_sharpness{suffix}"] = sharp[line]
    return np.column_stack([columns[name] for name in LINE_NAMES])


def strongest_line(features):
    """Columns :data:`STRONGEST_LINE_NAMES`: of each tile's row and column, the stronger line.

    From the columns of :func:`line_features`, those of the direction
    (row or column) whose line and sharpness add up to more. Lines of either
    direction then lie along the same axes, so that a model fitted on
    arrays with horizontal lines knows vertical ones too.
    """
    F = np.asarray(features)
    col = {name: F[:, i] for i, name in enumerate(LINE_NAMES)}
    row = col["row_line"] + col["row_sharpness"] >= col["col_line"] + col["col_sharpness"]
    return np.column_stack(
        [np.where(row, col[f"row_{name}"], col[f"col_{name}"]) for name in STRONGEST_LINE_NAMES]
    )
