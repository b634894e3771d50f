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
majority of tiles."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import fft

from ..constants import UNEVEN_ILLUMINATION
from ..exceptions import UnevenIlluminationWarning
from ..utils.arrays import median_of, nan_median_of

_LOW_PCT, _HIGH_PCT = 5, 90  # percentiles giving an array's rim and substrate grey levels


#: Grid steps around a site whose median grey levels feed its photometric scale.
LEVEL_RADIUS = 2


#: The weakest site contrast, as a share of the strongest, that the photometric scale
#: corrects; an array with less warns (:class:`UnevenIlluminationWarning`).
MIN_CONTRAST_SHARE = 0.4


#: The weakest substrate-to-rim contrast of a site, in grey levels, below which an array
#: warns as too dark: the grey levels' rounding and the sensor noise outweigh the pillars.
MIN_SITE_CONTRAST = 5.0


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


def centered_tiles(canvas, shapes, positions):
    """Tiles as float32 on a common canvas with the site centre at its centre, NaN elsewhere.

    A tile clipped by the image's top (left) edge belongs to the first grid
    row (column); its pixels are moved down (right) so that its site centre
    lands where every other tile's does.

    Parameters
    ----------
    canvas : ndarray of shape (n, T, T), uint8
        Tiles in the top-left corner of the canvas (:func:`~sklearn_pillars.tiling.unpack_tiles`).
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
        The array's tiles from :func:`centered_tiles` (NaN outside clipped tiles).
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
    # the full-resolution tiles on the same scale, in one pass: (detail - level - o c) / (c g)
    offsets, scales = np.zeros(n, np.float32), np.ones(n, np.float32)
    gains = None
    if sites is not None:
        # each site on the photometric scale of the sites around it: each tile's gain and
        # offset against the reference, as smooth surfaces over the grid, are divided out
        # (illumination gradients, ramps, vignetting)
        gain, offset = _tile_gains(normed, shifted)
        gains = np.maximum(smooth_levels(gain, np.asarray(sites)), 0.05)
        offset = smooth_levels(offset, np.asarray(sites))
        _warn_uneven(gains * contrast, contrast)
        offsets, scales = offset.astype(np.float32), gains.astype(np.float32)
        normed -= offsets[:, None, None]
        normed /= scales[:, None, None]
    if detail is not None:
        detail = np.array(detail, dtype=np.float32)
        detail -= (level + offsets * contrast)[:, None, None]
        detail /= (contrast * scales)[:, None, None]
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
    t = np.where(valid, tiles, np.float32(0))
    r = np.where(valid, shifted, np.float32(0))
    t_mean = t.sum(axis=(1, 2), dtype=np.float64) / count
    r_mean = r.sum(axis=(1, 2), dtype=np.float64) / count
    dr = np.where(valid, r - r_mean[:, None, None].astype(np.float32), np.float32(0))
    dt = t - t_mean[:, None, None].astype(np.float32)
    gain = np.einsum("nij,nij->n", dr, dt, dtype=np.float64) / np.maximum(
        np.einsum("nij,nij->n", dr, dr, dtype=np.float64), _EPS
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

    ``images`` of shape (m, T, T) with m equal to ``len(dy)``, or one image (1, T, T)
    or (T, T) to move to each of the shifts.
    """
    size = images.shape[-1]
    ky = np.fft.fftfreq(size)[None, :, None]
    kx = np.fft.rfftfreq(size)[None, None, :]
    dy = np.asarray(dy, dtype=np.float64)[:, None, None]
    dx = np.asarray(dx, dtype=np.float64)[:, None, None]
    spectrum = fft.rfft2(np.asarray(images, dtype=np.float32).reshape(-1, size, size))
    if len(spectrum) == 1 and len(dy) > 1:  # one image to each of the shifts
        spectrum = np.repeat(spectrum, len(dy), axis=0)
    # the phase ramp is separable: multiply by its y and x factors in turn
    spectrum *= np.exp(-2j * np.pi * ky * dy).astype(np.complex64)
    spectrum *= np.exp(-2j * np.pi * kx * dx).astype(np.complex64)
    return fft.irfft2(spectrum, s=(size, size)).astype(np.float32, copy=False)


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
        return median_of(images)
    median = nan_median_of(images)
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


def neighbor_median(values, positions):
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
