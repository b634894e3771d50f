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
from functools import cached_property

import cv2
import numpy as np
from scipy import fft
from scipy.ndimage import gaussian_filter1d

from .exceptions import UnevenIlluminationWarning  # noqa: F401 (also importable from here)

MISSING_NAMES = ("pillar_residual", "centre_level")
MISSING_FLOORS = (0.02, 0.02)  # contrast units
COLLAPSED_NAMES = ("below_rim", "dark_area", "centre_darkness", "median_darkness")
COLLAPSED_FLOORS = (0.01, 0.01, 0.02, 0.02)  # shares of pixels, contrast units
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
SHAPE_NAMES = (
    "offset_from_neighbours",
    "residual_rms",
    "match",
    "scale_from_neighbours",
    "elongation",
    "deformation_gain",
)
SHAPE_FLOORS = (1.0, 0.02, 0.02, 0.05, 0.02, 0.02)
"""Smallest deviation scale of each shape feature: pixels, contrast units, correlation, ..."""
_LOW_PCT, _HIGH_PCT = 5, 90  # percentiles giving an array's rim and substrate grey levels
#: Grid steps around a site whose median grey levels feed its photometric scale.
LEVEL_RADIUS = 2
#: The weakest site contrast, as a share of the strongest, that the photometric scale
#: corrects; an array with less warns (:class:`UnevenIlluminationWarning`).
MIN_CONTRAST_SHARE = 0.4
#: The weakest substrate-to-rim contrast of a site, in grey levels, below which an array
#: warns as too dark: the grey levels' rounding and the sensor noise outweigh the pillars.
MIN_SITE_CONTRAST = 5.0
#: How an :class:`UnevenIlluminationWarning` begins (the reports look for it).
UNEVEN_ILLUMINATION = "uneven or dim illumination"
_EPS = 1e-9


@dataclass
class ArrayContext:
    """One array's tiles against its reference pillar (all on the canvas grid).

    Attributes
    ----------
    tiles : ndarray of shape (n, T, T), float32
        The tiles in contrast units: 0 is the array's substrate level, -1 its
        typical pillar-rim level, after the illumination around each site is
        divided out when the sites are known (see :func:`array_context`);
        NaN where a clipped edge tile has no pixel.
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
        The array's median substrate grey level and substrate-to-rim contrast.
    contrasts : ndarray of shape (n,) or None
        Each site's substrate-to-rim contrast in grey levels, as the smooth
        illumination surface gives it (None without the sites' grid
        positions: ``contrast`` everywhere).
    detail : ndarray of shape (n, factor * T, factor * T) or None
        The tiles at full resolution in contrast units, when ``tiles`` are
        downsampled by ``factor``.
    factor : int
        Full-resolution pixels per pixel of ``tiles``.
    sample : ndarray of int or None
        The tiles the reference was built from.
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
    contrasts: np.ndarray | None = None
    detail: np.ndarray | None = None
    factor: int = 1
    sample: np.ndarray | None = None

    @cached_property
    def detail_residual(self):
        """The residuals at full resolution (``residual`` when there is no ``detail``).

        The reference is rebuilt from the full-resolution sample aligned with
        the shifts found on the downsampled tiles, so that thin lines keep
        their sharpness.
        """
        if self.detail is None:
            return self.residual
        dy, dx = self.factor * self.dy, self.factor * self.dx
        picked = self.sample
        reference = _nan_median(
            fourier_shift(_mean_filled(self.detail[picked]), -dy[picked], -dx[picked])
        )
        return self.detail - fourier_shift(reference[None], dy, dx)


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
        out[members, gy : gy + gh, gx : gx + gw] = canvas[members, :gh, :gw]
    return out


def downsample(tiles, factor):
    """Mean of each ``factor`` x ``factor`` block of pixels (NaN where a block has one).

    The canvas side must be a multiple of ``factor``.
    """
    if factor == 1:
        return tiles
    n, h, w = tiles.shape
    blocks = tiles.reshape(n, h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(2, 4), dtype=np.float32)


def register(tiles, reference, max_shift):
    """Shift of each tile's content relative to the reference, by masked correlation.

    The normalised cross-correlation of each tile with the reference over
    the tile's own pixels only (NaN outside a clipped tile is left out, not
    filled), with a Hann window that favours the pillar over the tile's
    edges.

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
    valid = np.isfinite(tiles)
    weight = valid * window
    mean = (np.where(valid, tiles, 0) * weight).sum(axis=(1, 2)) / np.maximum(
        weight.sum(axis=(1, 2)), _EPS
    )
    a = np.where(valid, tiles - mean[:, None, None], 0) * weight
    r = reference - reference.mean()

    def correlate(left, right):  # sum over x of left(x) * right(x - shift), for every shift
        spectrum = (
            fft.rfft2(left.astype(np.float32)) * np.conj(fft.rfft2(right.astype(np.float32)))[None]
        )
        corr = fft.irfft2(spectrum, s=(size, size))
        span = np.arange(-max_shift, max_shift + 1)
        return corr[:, span[:, None] % size, span[None, :] % size]  # (n, 2s+1, 2s+1)

    # weighted correlation: sum w t r over sqrt(sum w t^2 * sum w (r - rw)^2), with rw
    # the weighted mean of the reference under each tile's weights at each shift (the
    # reference's part is the same for all whole tiles)
    whole = valid.all(axis=(1, 2))
    energy = np.empty((n, 2 * max_shift + 1, 2 * max_shift + 1), np.float32)

    def reference_energy(weights):
        total = weights.sum(axis=(1, 2))[:, None, None]
        return correlate(weights, r * r) - correlate(weights, r) ** 2 / np.maximum(total, _EPS)

    if whole.any():
        energy[whole] = reference_energy(window[None])[0]
    if not whole.all():
        energy[~whole] = reference_energy(weight[~whole])
    energy = np.maximum(energy, _EPS)
    own = np.maximum((a * np.where(valid, tiles - mean[:, None, None], 0)).sum(axis=(1, 2)), _EPS)
    local = correlate(a, r) / np.sqrt(energy * own[:, None, None])
    best = local.reshape(n, -1).argmax(axis=1)
    iy, ix = np.divmod(best, 2 * max_shift + 1)
    rows = np.arange(n)
    peak = local[rows, iy, ix]

    def vertex(lower, upper):  # parabola through three samples: offset of its vertex
        curvature = lower - 2 * peak + upper
        ok = curvature < 0
        return np.where(ok, 0.5 * (lower - upper) / np.where(ok, curvature, -1.0), 0.0)

    edge = 2 * max_shift
    dy = iy + np.where(
        (iy > 0) & (iy < edge),
        vertex(local[rows, np.maximum(iy - 1, 0), ix], local[rows, np.minimum(iy + 1, edge), ix]),
        0.0,
    )
    dx = ix + np.where(
        (ix > 0) & (ix < edge),
        vertex(local[rows, iy, np.maximum(ix - 1, 0)], local[rows, iy, np.minimum(ix + 1, edge)]),
        0.0,
    )
    return dy - max_shift, dx - max_shift, peak


def local_levels(values, sites, radius=LEVEL_RADIUS):
    """Median of each site's value over the sites within ``radius`` grid steps (a square).

    Sites without a value (NaN) are left out, and so are the site's own grid
    row and column: what a whole row or column shares (a write-field line
    darkening its pillars, an image seam) does not set its own level, and
    one site's defect moves no neighbour's level much.

    Parameters
    ----------
    values : ndarray of shape (n,)
    sites : ndarray of shape (n, 2)
        Grid row and column of each value (distinct).
    radius : int

    Returns
    -------
    ndarray of shape (n,)
    """
    values = np.asarray(values, dtype=np.float64)
    rows, cols = sites[:, 0] - sites[:, 0].min(), sites[:, 1] - sites[:, 1].min()
    grid = np.full((rows.max() + 1 + 2 * radius, cols.max() + 1 + 2 * radius), np.nan)
    grid[rows + radius, cols + radius] = values
    span = 2 * radius + 1
    window = np.stack(
        [
            grid[dy : dy + rows.max() + 1, dx : dx + cols.max() + 1][rows, cols]
            for dy in range(span)
            for dx in range(span)
            if dy != radius and dx != radius  # not the site's own row or column
        ]
    )
    with _quiet_nan_warnings():
        out = np.nanmedian(window, axis=0)
    return np.where(np.isfinite(out), out, np.nanmedian(values))


def smooth_levels(values, sites, radius=LEVEL_RADIUS):
    """A quadratic surface over the grid, fitted to the local medians of ``values``.

    The local medians (:func:`local_levels`) leave defects out; the surface
    follows what varies smoothly across the array (illumination gradients,
    ramps, vignetting) and not what changes from one grid line to the next
    (image seams, write-field lines), which stays in the tiles for the line
    features to find. Fewer than 24 sites get their local medians.

    Parameters
    ----------
    values : ndarray of shape (n,)
    sites : ndarray of shape (n, 2)
        Grid row and column of each value (distinct).
    radius : int

    Returns
    -------
    ndarray of shape (n,)
    """
    medians = local_levels(values, sites, radius)
    r, c = (sites[:, 0] - sites[:, 0].mean()), (sites[:, 1] - sites[:, 1].mean())
    scale = max(np.abs(r).max(), np.abs(c).max(), 1.0)
    r, c = r / scale, c / scale
    design = np.column_stack([np.ones_like(r), r, c, r * r, r * c, c * c])
    if len(values) < 4 * design.shape[1]:
        return medians
    coef, *_ = np.linalg.lstsq(design, medians, rcond=None)
    return design @ coef


def array_context(
    tiles, max_shift=None, n_iter=1, max_reference_tiles=128, detail=None, factor=1, sites=None
):
    """Photometric scale, reference pillar, shifts and residuals of one array's tiles.

    Parameters
    ----------
    tiles : ndarray of shape (n, T, T)
        The array's tiles from :func:`centred_tiles` (NaN outside clipped tiles).
    max_shift : int, optional
        Largest pillar displacement searched, in pixels (default ``T // 6``).
    n_iter : int, default=1
        Rounds of aligning the tiles and taking their median as the reference.
    max_reference_tiles : int, default=128
        The reference and the photometric scale come from at most this many
        tiles, spread evenly over the array (whole tiles when there are
        enough): the median of a few hundred tiles is as good as that of all.
    detail : ndarray of shape (n, factor * T, factor * T), optional
        The same tiles at full resolution, when ``tiles`` were downsampled
        by ``factor``: kept (in contrast units) for what needs the detail.
    factor : int, default=1
    sites : ndarray of shape (n, 2), optional
        Grid row and column of each tile: each site is then brought to the
        photometric scale around it (:func:`smooth_levels` of each tile's
        gain and offset against the reference), which divides out uneven
        illumination; without them, every tile gets the array's median
        scale.

    Returns
    -------
    ArrayContext

    Warns
    -----
    UnevenIlluminationWarning
        With ``sites``, when a site's contrast is below
        :data:`MIN_CONTRAST_SHARE` of the strongest or below
        :data:`MIN_SITE_CONTRAST` grey levels.
    """
    tiles = np.asarray(tiles, dtype=np.float32)
    n, size = tiles.shape[0], tiles.shape[1]
    max_shift = max(1, size // 6) if max_shift is None else max_shift
    whole = np.flatnonzero(np.isfinite(tiles).all(axis=(1, 2)))
    pool = whole if len(whole) >= min(8, n) else np.arange(n)
    picked = pool[
        np.linspace(0, len(pool) - 1, min(len(pool), max_reference_tiles)).round().astype(int)
    ]
    sample = tiles[picked]
    with _quiet_nan_warnings():
        flat = sample.reshape(len(sample), -1)
        low, level = np.median(row_percentiles(flat, [_LOW_PCT, _HIGH_PCT]), axis=1)
    contrast = max(level - low, 1.0)  # grey levels; a flat image has no contrast to speak of
    normed = (tiles - level) / contrast
    sample = (sample - level) / contrast
    reference = _nan_median(sample)
    for _ in range(n_iter):
        dy, dx, _match = register(sample, reference, max_shift)
        reference = _nan_median(fourier_shift(_mean_filled(sample), -dy, -dx))
    dy, dx, match = register(normed, reference, max_shift)
    shifted = fourier_shift(reference[None], dy, dx)
    if detail is not None:
        detail = (np.asarray(detail, dtype=np.float32) - level) / contrast
    gains = None
    if sites is not None:
        # each site on the photometric scale of the sites around it: each tile's gain and
        # offset against the reference, as smooth surfaces over the grid, are divided out
        # (illumination gradients, ramps, vignetting)
        gain, offset = _tile_gains(normed, shifted)
        gains = np.maximum(smooth_levels(gain, np.asarray(sites)), 0.05)
        offsets = smooth_levels(offset, np.asarray(sites))
        _warn_uneven(gains * contrast, contrast)
        g = gains.astype(np.float32)[:, None, None]
        o = offsets.astype(np.float32)[:, None, None]
        normed = (normed - o) / g
        if detail is not None:
            detail = (detail - o) / g
    return ArrayContext(
        tiles=normed,
        reference=reference,
        shifted_reference=shifted,
        residual=normed - shifted,
        dy=dy,
        dx=dx,
        match=match,
        level=level,
        contrast=contrast,
        contrasts=None if gains is None else gains * contrast,
        detail=detail,
        factor=factor,
        sample=picked,
    )


def _tile_gains(tiles, shifted):
    """Least-squares gain and offset of each tile against the reference shifted onto it.

    Over the tile's own pixels: ``tiles ~ gain * shifted + offset``.
    """
    valid = np.isfinite(tiles)
    count = np.maximum(valid.sum(axis=(1, 2)), 1)
    t = np.where(valid, tiles, 0.0).astype(np.float64)
    r = np.where(valid, shifted, 0.0).astype(np.float64)
    t_mean = t.sum(axis=(1, 2)) / count
    r_mean = r.sum(axis=(1, 2)) / count
    dr = np.where(valid, r - r_mean[:, None, None], 0.0)
    gain = (dr * (t - t_mean[:, None, None])).sum(axis=(1, 2)) / np.maximum(
        (dr * dr).sum(axis=(1, 2)), _EPS
    )
    return gain, t_mean - gain * r_mean


def _warn_uneven(site_contrasts, contrast):
    weakest, strongest = float(np.min(site_contrasts)), float(np.max(site_contrasts))
    if weakest < MIN_CONTRAST_SHARE * strongest or weakest < MIN_SITE_CONTRAST:
        warnings.warn(
            f"{UNEVEN_ILLUMINATION}: the weakest-lit part of the array has "
            f"{weakest:.0f} grey levels of contrast, {weakest / strongest:.0%} of the "
            f"brightest part's (corrected down to {MIN_CONTRAST_SHARE:.0%} and "
            f"{MIN_SITE_CONTRAST:.0f} grey levels); the labels of its dark part are not to "
            "be trusted: flatten the illumination or image the array again",
            UnevenIlluminationWarning,
            stacklevel=4,
        )


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
    phase = (np.exp(-2j * np.pi * ky * dy) * np.exp(-2j * np.pi * kx * dx)).astype(np.complex64)
    moved = fft.irfft2(fft.rfft2(np.asarray(images, dtype=np.float32)) * phase, s=(size, size))
    return moved.astype(np.float32, copy=False)


def _mean_filled(images):
    """NaN pixels replaced by their image's mean."""
    if np.isfinite(images).all():
        return images
    with _quiet_nan_warnings():
        mean = np.nan_to_num(np.nanmean(images, axis=(1, 2), keepdims=True))
    return np.where(np.isfinite(images), images, mean)


def _small_nan_median(stack):
    """Median along the first axis of a few rows, ignoring NaN (NaN where all are)."""
    ordered = np.sort(stack, axis=0)  # NaN sort last
    count = np.isfinite(stack).sum(axis=0)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[None], axis=0)[0]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _nan_median(images, fill=None):
    """Median along the first axis ignoring NaN (fast when there is none).

    Where every value is NaN the result is ``fill``; None fills with the
    median of all the values (0 when there is none).
    """
    valid = np.isfinite(images)
    if valid.all():
        return np.median(images, axis=0)
    with _quiet_nan_warnings():
        median = np.nanmedian(images, axis=0)
    hole = ~np.isfinite(median)
    if hole.any():
        if fill is None:
            fill = np.nanmedian(images) if valid.any() else 0.0
        median[hole] = fill
    return median


def row_percentiles(values, q):
    """Percentiles ``q`` of each row of a 2-D array, ignoring NaN: shape (len(q), n_rows).

    Rows without NaN (almost all) are done in one vectorised call; NumPy's
    ``nanpercentile`` would loop over the rows.
    """
    values = np.asarray(values)
    out = np.empty((len(q), values.shape[0]))
    whole = np.isfinite(values).all(axis=1)
    if whole.any():
        out[:, whole] = np.percentile(values[whole], q, axis=1)
    for i in np.flatnonzero(~whole):
        row = values[i][np.isfinite(values[i])]
        out[:, i] = np.percentile(row, q) if row.size else np.nan
    return out


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

    With 0.8 of the reference pillar's darkest grey level as the line
    between rim and blob darkness: ``below_rim`` is the share of the tile's
    centre darker than it (a filled blob is dark where a pillar is only dark
    on its rim), ``dark_area`` the share of the whole tile (a blob is larger
    than a rim); ``centre_darkness`` and ``median_darkness`` are minus the
    first quartile and the median of the centre's grey levels (a pillar's
    light interior keeps them high).
    """
    tiles = context.tiles
    centre = _centre_window(tiles.shape[1])
    middle = tiles[:, centre, centre].reshape(len(tiles), -1)
    dark = 0.8 * float(np.min(context.reference))
    valid = np.isfinite(tiles)
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        seen = np.isfinite(middle)
        below_rim = (seen & (middle < dark)).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
        dark_area = (valid & (tiles < dark)).sum(axis=(1, 2)) / np.maximum(
            valid.sum(axis=(1, 2)), 1
        )
        quartile, median = np.nan_to_num(row_percentiles(middle, [25, 50]))
    return np.column_stack([below_rim, dark_area, -quartile, -median])


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
    pooled = np.full((len(lines), size), np.nan)
    with _quiet_nan_warnings():
        for i in range(len(lines)):
            pooled[i] = _small_nan_median(profiles[inverse == i])
        local = np.full_like(pooled, np.nan)
        inner = (lines != lines.min()) & (lines != lines.max())  # edge lines are no reference
        for i, line in enumerate(lines):
            offset = (lines - line) * side
            near = np.flatnonzero((offset > 0) & (offset <= reach) & inner)
            if len(near):
                local[i] = np.nan_to_num(_small_nan_median(pooled[near]))
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
    profiles = [_profiles(residual, band, axis) for axis in (1, 2) for band in (inner, outer)]
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


def neighbour_median(values, positions):
    """Median of ``values`` over each tile's grid neighbours (8-neighbourhood) present.

    Tiles without a neighbour get their own value.
    """
    values = np.asarray(values, dtype=np.float64)
    rows, cols = positions[:, 1], positions[:, 2]
    height, width = rows.max() + 2, cols.max() + 2
    grid = np.full((height + 1, width + 1), np.nan)
    grid[rows, cols] = values
    stack = np.stack([grid[rows + a, cols + b] for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b])
    with _quiet_nan_warnings():
        median = np.nanmedian(stack, axis=0)
    return np.where(np.isfinite(median), median, values)


SHAPE_PART_NAMES = (
    "dy",
    "dx",
    "residual_rms",
    "match",
    "log_scale",
    "elongation",
    "deformation_gain",
)
_SCALES = (0.7, 0.85, 1.0, 1.15, 1.3)
_ASPECTS = (0.75, 0.55)
_ANGLES = (0.0, 45.0, 90.0, 135.0)


def deformed_references(reference):
    """The reference pillar scaled, and stretched along four directions: templates.

    Returns
    -------
    templates : ndarray of shape (k, T, T)
    params : ndarray of shape (k, 2)
        Scale (the square root of the area ratio) and aspect (minor over
        major axis, 1 for a round pillar) of each template.
    """
    size = reference.shape[0]
    centre = (size - 1) / 2
    templates, params = [], []
    shapes = [(s, 1.0, 0.0) for s in _SCALES]
    shapes += [(s, a, t) for s in _SCALES for a in _ASPECTS for t in _ANGLES]
    for scale, aspect, angle in shapes:
        theta = np.deg2rad(angle)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        stretch = np.diag([scale / np.sqrt(aspect), scale * np.sqrt(aspect)])
        inverse = np.linalg.inv(rotation @ stretch @ rotation.T)  # template pixel -> reference
        matrix = np.hstack([inverse, (centre - inverse @ [centre, centre])[:, None]])
        templates.append(
            cv2.warpAffine(
                reference.astype(np.float32),
                matrix.astype(np.float32),
                (size, size),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
        params.append((scale, aspect))
    return np.stack(templates), np.array(params)


def best_deformation(context):
    """How the reference pillar best deforms onto each tile: size, elongation, gain.

    Each tile, moved so that its pillar is centred, is correlated (weighted
    towards the pillar, over its own pixels) with every template of
    :func:`deformed_references`. Returns three columns: the log scale at
    which round templates fit best (a parabola through the best scale and
    its neighbours, so that it varies continuously), how much better the
    best stretched template fits than the best round one (elongation), and
    how much better the best template of all fits than the undeformed
    reference.
    """
    tiles = context.tiles
    n, size = tiles.shape[0], tiles.shape[1]
    # centred on the pillar to the nearest pixel (the templates vary by 15%, a pixel is 3%)
    centred = _roll_each(tiles, -np.rint(context.dy).astype(int), -np.rint(context.dx).astype(int))
    window = np.hanning(size + 2)[1:-1].astype(np.float32)
    weight = np.where(np.isfinite(centred), window[:, None] * window[None, :], np.float32(0))
    centred = np.nan_to_num(centred, nan=0.0)
    templates, params = deformed_references(context.reference)
    if size % 2 == 0 and size >= 48:  # a pillar's size and shape show at half the resolution
        templates, centred, weight = (_halve(a) for a in (templates, centred, weight))
    flat_t = templates.reshape(len(templates), -1).T.astype(np.float64)  # (pixels, k)
    w = weight.reshape(n, -1)
    t = centred.reshape(n, -1).astype(np.float64)
    total = np.maximum(w.sum(axis=1, keepdims=True), _EPS)
    mean_t = (w * t).sum(axis=1, keepdims=True) / total
    var_t = (w * t * t).sum(axis=1, keepdims=True) - total * mean_t**2
    sum_k, sum_k2 = w @ flat_t, w @ flat_t**2
    var_k = sum_k2 - sum_k**2 / total
    cov = (w * t) @ flat_t - mean_t * sum_k
    corr = cov / np.sqrt(np.maximum(var_t * var_k, _EPS))
    rows = np.arange(n)
    round_ = corr[:, : len(_SCALES)]  # the round templates come first, by scale
    best = np.clip(round_.argmax(axis=1), 1, len(_SCALES) - 2)
    logs = np.log(_SCALES)
    lower, peak, upper = (round_[rows, best + k] for k in (-1, 0, 1))
    curvature = lower - 2 * peak + upper
    step = np.where(
        curvature < 0, 0.5 * (lower - upper) / np.where(curvature < 0, curvature, -1), 0.0
    )
    log_scale = logs[best] + np.clip(step, -1, 1) * (logs[best + 1] - logs[best - 1]) / 2
    identity = _SCALES.index(1.0)
    elongation = corr[:, len(_SCALES) :].max(axis=1) - round_.max(axis=1)
    return np.column_stack([log_scale, elongation, corr.max(axis=1) - corr[:, identity]])


def _roll_each(images, dy, dx):
    """Each image moved by its own whole-pixel (dy, dx); what comes in is NaN."""
    n, h, w = images.shape
    rows = np.arange(h)[None, :] - dy[:, None]  # source row of each output row
    cols = np.arange(w)[None, :] - dx[:, None]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    moved = images[
        np.arange(n)[:, None, None],
        np.clip(rows, 0, h - 1)[:, :, None],
        np.clip(cols, 0, w - 1)[:, None, :],
    ]
    return np.where(inside, moved, np.nan)


def _halve(images):
    """Mean of each 2 x 2 block of pixels."""
    return 0.25 * (
        images[:, ::2, ::2] + images[:, 1::2, ::2] + images[:, ::2, 1::2] + images[:, 1::2, 1::2]
    )


def shape_parts(context):
    """Per-tile shape measurements, columns :data:`SHAPE_PART_NAMES`.

    ``dy``, ``dx``: the pillar's position against the reference (pixels);
    ``residual_rms``: residual energy around the pillar; ``match``: the
    correlation with the reference; ``log_scale``, ``elongation`` and
    ``deformation_gain``: the :func:`best_deformation` of the reference to
    the tile.
    """
    tiles = context.tiles
    size = tiles.shape[1]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = (size - 1) / 2
    cy, cx = centre + context.dy, centre + context.dx
    near = (yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2 < (0.4 * size) ** 2
    res = np.where(near & np.isfinite(context.residual), context.residual, 0.0)
    rms = np.sqrt((res * res).sum(axis=(1, 2)) / np.maximum(near.sum(axis=(1, 2)), 1))
    return np.column_stack([context.dy, context.dx, rms, context.match, best_deformation(context)])


def shape_features(parts, positions):
    """Columns :data:`SHAPE_NAMES` from :func:`shape_parts` of one array's tiles.

    ``offset_from_neighbours`` is the distance of the pillar's registered
    position from the median of its grid neighbours' (among the tiles
    given), so that a slow drift of the lattice is not an offset;
    ``scale_from_neighbours`` the pillar's log scale minus its neighbours'
    median, so that pillars a little larger over a whole region are not
    irregular; the other columns are those of :func:`shape_parts`.
    """
    dy, dx = parts[:, 0], parts[:, 1]
    offset = np.hypot(dy - neighbour_median(dy, positions), dx - neighbour_median(dx, positions))
    scale = parts[:, 4] - neighbour_median(parts[:, 4], positions)
    return np.column_stack([offset, parts[:, 2], parts[:, 3], scale, parts[:, 5], parts[:, 6]])


def robust_z(features, floor=None):
    """Each column minus its median, over a robust standard deviation.

    The array's majority of tiles is its own reference: a typical tile
    scores near 0, an outlier many units away. The deviation is the larger
    of 1.4826 x the median absolute deviation and the third quartile of the
    absolute deviations over 1.1503 (both the standard deviation of a normal
    distribution; the first whatever up to half the tiles do, the second up
    to a quarter, for columns where most tiles share one value), and at
    least ``floor`` (one value per column, in the features' own units, or
    None): in an array whose tiles are all very alike, a difference too
    small to matter is not made large by dividing it by a tiny spread.
    """
    features = np.asarray(features, dtype=np.float64)
    median = np.median(features, axis=0)
    deviation = np.abs(features - median)
    scale = np.maximum.reduce(
        [
            1.4826 * np.median(deviation, axis=0),
            np.percentile(deviation, 75, axis=0) / 1.1503,
            np.full(features.shape[1], _EPS),
        ]
    )
    if floor is not None:
        scale = np.maximum(scale, floor)
    return (features - median) / scale
