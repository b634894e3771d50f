"""Finding the pillar lattice of an image: grid size, pitch, origin, rotation, site centres.

:func:`find_lattice` works from the image's periodicity alone, so that a
frame needs neither cropping to the array nor a known grid size:

1. the illumination is flattened (a quadratic surface is subtracted);
2. a first guess comes from the image downsampled 4 or 2 times (or at full
   resolution when its pillars are too close for that, :func:`_first_pillars`):
   the two lattice vectors are the shortest independent peaks of the image's
   autocorrelation, refined by a least-squares fit to the peaks of the first
   few neighbour shells; the image folded onto one unit cell gives a mean cell,
   whose pillar is the brightest point or half a cell from it, whichever the
   cell's edges draw circles around (:func:`_cell_center`); matched around
   every candidate site, the mean cell finds the first pillars;
3. at full resolution, those pillars aligned give a sharp cell that centres a
   new template on the pillar (stitched frames out of step blur the mean
   cell); the median of the patches around them is that template;
4. the template is matched around every candidate site; the sites where it
   matches well are the pillars, and a robust least-squares fit to the
   positions of those the template fits around whole gives the lattice
   (origin and vectors), three rounds; the cell aligned on the pillars found
   then centres the sites once more, so that they depend on the image, not on
   the first guess;
5. the array is the block of sites whose rows and columns mostly hold
   something, a pillar or a defect (rows and columns of substrate around it
   are trimmed, and so are edge rows and columns with a site whose centre
   lies outside the image);
6. each site's centre is the lattice position moved by the median offset of
   the pillars measured in its 3 x 3 neighbourhood: it follows shifts shared
   by neighbours (a stitching seam, lens distortion) but not a single
   missing, collapsed or off-centre pillar."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import cv2
import numpy as np

from ..exceptions import NoLatticeError
from ..io import read_image, to_grey
from ..utils.files import display_name
from ._array_check import MIN_CONTRAST
from ._lattice import Lattice, _fit_lattice, _look_up, _offset_field, _pitch_and_angle, positions_of
from ._sites import (
    _CELL_BINS,
    ACF_CROP,
    _aligned_cell,
    _array_extent,
    _candidate_sites,
    _cell_center,
    _empty_gap,
    _inside_extent,
    _local_contrast,
    _match_sites,
    _median_patches,
    _padded,
    _parabola_offsets,
    _template_side,
    match_template,
    mean_cell,
)

#: A site holds a pillar when the mean pillar matches there at least this well (NCC).
MIN_MATCH = 0.5


#: A site that matches the mean pillar poorly (but at least half as well as
#: :data:`MIN_MATCH`) still holds something, a defect rather than substrate, when its
#: local contrast is at least this share of the pillars' median.
MIN_CONTRAST_SHARE = 0.5


def find_lattice(image, *, min_pitch=8, max_pitch=None):
    """Find the lattice of pillar sites in an array image.

    Parameters
    ----------
    image : str, path-like or ndarray
        An image file, or a grey (H, W) or colour (H, W, 3|4) uint8 or
        uint16 array.
    min_pitch : float, default=8
        Smallest site spacing (pixels) to look for.
    max_pitch : float, optional
        Largest site spacing to look for; default a third of the image's
        shorter side (at least three sites a side).

    Returns
    -------
    Lattice
        The sites found: their refined centres, the lattice vectors, pitch
        and shape (rows, columns).

    Raises
    ------
    NoLatticeError
        When the image shows no periodic lattice of pillars (noise, a blank
        frame, a photograph of something else) or is too small to hold one;
        the message names the file when ``image`` is one.
    ValueError
        For ``min_pitch`` and ``max_pitch`` that leave no pitch to look for.

    See Also
    --------
    tile_array : Cuts tiles around the sites found, with ``grid_size="auto"``.
    read_arrays : The same for image files.
    Lattice : The lattice returned.

    Examples
    --------
    >>> from sklearn_pillars import find_lattice, make_pillar_arrays
    >>> image = make_pillar_arrays(n_arrays=1, grid_size=9, random_state=0).array_images[0]
    >>> lattice = find_lattice(image)
    >>> lattice.shape, [round(p) for p in lattice.pitch]
    ((9, 9), [54, 54])
    """

    name = None
    if isinstance(image, (str, os.PathLike)):
        name, grey = display_name(image), read_image(image)
    else:
        grey = to_grey(image)
    try:
        return _find_lattice_within_margins(grey, min_pitch, max_pitch)
    except NoLatticeError as error:
        if name is None:
            raise
        raise NoLatticeError(f"{name}: {error}") from None


#: Grey levels a row or column at the image's edge may span and still be margin: one level
#: of padding (a letterbox, a frame pasted on black), give or take a compression artefact.
MARGIN_SPREAD = 4


def content_box(grey):
    """``(top, bottom, left, right)`` of ``grey`` inside its padding: the uniform margins
    at its edges (rows or columns whose grey levels span at most :data:`MARGIN_SPREAD`) of
    a level outside the rest of the image's 1st-99th percentiles.

    The whole image when it has none. A uniform margin at a level the image shows
    elsewhere (a noiseless substrate around the array) is kept: its step into the
    array is no larger than the array's own.
    """
    height, width = grey.shape
    edges = (grey[0], grey[-1], grey[:, 0], grey[:, -1])
    if all(int(edge.max()) - int(edge.min()) > MARGIN_SPREAD for edge in edges):
        return 0, height, 0, width
    spread = [
        cv2.reduce(grey, axis, cv2.REDUCE_MAX).ravel().astype(np.int16)
        - cv2.reduce(grey, axis, cv2.REDUCE_MIN).ravel()
        for axis in (1, 0)  # along each row, along each column
    ]
    rows, cols = (np.flatnonzero(s > MARGIN_SPREAD) for s in spread)
    if len(rows) == 0 or len(cols) == 0:
        return 0, height, 0, width
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    low, high = np.percentile(grey[top:bottom:4, left:right:4], [1, 99])
    levels = {  # each margin's level (its outermost line's median)
        "top": np.median(grey[0]) if top else None,
        "bottom": np.median(grey[-1]) if bottom < height else None,
        "left": np.median(grey[:, 0]) if left else None,
        "right": np.median(grey[:, -1]) if right < width else None,
    }
    padding = {
        side: level is not None and not low <= level <= high for side, level in levels.items()
    }
    return (
        top if padding["top"] else 0,
        bottom if padding["bottom"] else height,
        left if padding["left"] else 0,
        right if padding["right"] else width,
    )


def _find_lattice_within_margins(grey, min_pitch, max_pitch):
    """:func:`find_lattice` of a grey image, looked for inside its uniform margins (where
    the step to the margin would look like a row of defects) and placed in the image."""
    top, bottom, left, right = content_box(grey)
    if (bottom - top, right - left) == grey.shape:
        return _find_lattice(grey, min_pitch, max_pitch)
    inner = _find_lattice(np.ascontiguousarray(grey[top:bottom, left:right]), min_pitch, max_pitch)
    shift = np.array([left, top], dtype=float)
    return replace(
        inner,
        origin=tuple(float(v) for v in np.asarray(inner.origin) + shift),
        centers=inner.centers + shift,
        image_shape=grey.shape,
    )


def _find_lattice(grey, min_pitch, max_pitch):
    """:func:`find_lattice` of a grey image."""
    height, width = grey.shape
    sized_by_image = max_pitch is None
    if max_pitch is None:
        max_pitch = min(height, width) / 3
        if max_pitch <= min_pitch:
            raise NoLatticeError(
                f"no periodic pillar lattice found: an image of {height} x {width} pixels is "
                f"too small to hold 3 x 3 sites at least min_pitch={min_pitch} pixels apart"
            )
    if not 0 < min_pitch < max_pitch:
        raise ValueError(
            f"need 0 < min_pitch < max_pitch, got min_pitch={min_pitch!r}, "
            f"max_pitch={max_pitch!r} (image of {height} x {width} pixels)"
        )
    low, high = np.percentile(grey[::4, ::4], [1, 99])  # as check_pillar_array's contrast
    if high - low < MIN_CONTRAST:
        raise NoLatticeError(
            f"no periodic pillar lattice found: the image is blank: its grey levels span only "
            f"{high - low:.0f} (1st to 99th percentile, at least {MIN_CONTRAST:.0f} needed)"
        )
    flat = flatten_illumination(grey)
    lattice, (between, finer) = _lattice_from(flat, min_pitch, max_pitch, sized_by_image)
    if _fits(lattice, between):
        return lattice
    # The pillars sit poorly on it, or between its sites too: a line across the image can
    # pull an autocorrelation peak onto the ridge it makes. The lattice of the pillars
    # between, then the next bases of the peaks.
    tried = [lattice]
    for rank in range(1, MAX_BASIS_RANK + 1):
        try:
            if _on_its_sites(lattice):  # pillars between its sites: a finer lattice
                lattice, (between, finer) = _lattice_from(
                    flat, min_pitch, max_pitch, sized_by_image, vectors=finer
                )
            else:
                lattice, (between, finer) = _lattice_from(
                    flat, min_pitch, max_pitch, sized_by_image, rank
                )
        except NoLatticeError:
            break
        if _fits(lattice, between):
            return lattice
        tried.append(lattice)
    best = min(tried, key=lambda found: found.residual / min(found.pitch))
    raise NoLatticeError(
        "no periodic pillar lattice found: the pillars sit off (or between the sites of) "
        f"every lattice tried (the closest: {best}; a residual of at most "
        f"{MAX_RESIDUAL_SHARE:.0%} of the pitch expected). A line or scratch across the array "
        "can do this: a uniform grid cuts any crop (grid_size=N, --grid N)"
    )


def _on_its_sites(lattice):
    """Whether the pillars sit closely on ``lattice``'s sites."""
    return lattice.residual <= MAX_RESIDUAL_SHARE * min(lattice.pitch)


def _fits(lattice, between):
    """Whether the pillars sit on ``lattice``: closely, and not between its sites too
    (``between``: :func:`_between_sites_match`, against the pillars' median match)."""
    pillars = lattice.matches[lattice.matches >= MIN_MATCH]
    return _on_its_sites(lattice) and between < MAX_BETWEEN_SHARE * np.median(pillars)


#: Most root-mean-square distance of the pillars to the lattice found, as a share of its
#: pitch (the arrays measured: at most 0.03) for the lattice to be taken.
MAX_RESIDUAL_SHARE = 0.1

#: Most median template match between sites (a half or a third of the way to the next),
#: as a share of the pillars' median match, for the lattice to be taken: pillars there
#: match as well as at the sites (the arrays measured: at most 0.55 of it).
MAX_BETWEEN_SHARE = 0.85

#: Alternative bases of the autocorrelation's peaks tried when the first fits poorly.
MAX_BASIS_RANK = 3


def _lattice_from(flat, min_pitch, max_pitch, sized_by_image, rank=0, vectors=None):
    """:func:`find_lattice` of a flattened image, from the ``rank``-th basis of its
    autocorrelation's peaks (:func:`lattice_vectors`), or from ``vectors``; with
    :func:`_between_sites_match`."""
    height, width = flat.shape
    try:
        if vectors is None:
            vectors, origin, seen = _first_pillars(flat, min_pitch, max_pitch, rank)
        else:
            vectors, origin, seen = _pillars_of_mean_cell(
                flat, min_pitch, max_pitch, vectors=vectors
            )
    except NoLatticeError as error:
        if not sized_by_image or min(height, width) >= SMALL_SIDE or "repeat" not in str(error):
            raise
        raise NoLatticeError(
            f"{error} (in an image of {height} x {width} pixels, periods up to a third of its "
            "side are sought: fewer than 3 x 3 pillars are too few to find a lattice in; a "
            "uniform grid cuts any crop: grid_size=N, --grid N)"
        ) from None
    # The first pillars came from a cell folded over the centre of the image (blurred
    # where stitched frames are out of step), at a lower resolution. Those pillars aligned
    # give a sharp cell; its pillar may lie a little (or half a cell) away, which moves
    # every site alike. Its pillars' median is the template from now on.
    first_cell = _aligned_cell(flat, seen, vectors, most=FIRST_CELL_SITES)
    correction = vectors.T @ (_cell_center(first_cell) / _CELL_BINS - 0.5)
    origin = origin + correction
    template = _median_patches(flat, seen + correction, _template_side(vectors))
    padded, pad = _padded(flat, template.shape)
    scores = match_template(padded, template)
    field = None
    for _ in range(3):  # a better lattice finds more of the pillars
        index, positions = _candidate_sites(origin, vectors, (height, width))
        predicted = positions if field is None else positions + _look_up(field, index)
        found, match = _match_sites(scores, predicted, template.shape, pad, vectors)
        pillars = match >= MIN_MATCH
        if pillars.sum() < 4:
            raise NoLatticeError(
                "no periodic pillar lattice found: the image's period does not look like pillars"
            )
        whole = _whole(found, pillars, template.shape[0] // 2, (height, width))
        origin, vectors = _fit_lattice(index[whole], found[whole])
        positions = origin + index[:, 1:2] * vectors[0] + index[:, 0:1] * vectors[1]
        field = _offset_field(index[whole], found[whole] - positions[whole])
    # The template was centred on the first pillars, placed roughly; centred again on the
    # pillars it found, the sites depend on the image, not on the first guess.
    shift = _recentring(flat, found[whole], vectors)
    origin, positions, found = origin + shift, positions + shift, found + shift
    # A row of defects (a write-field line through every pillar, collapsed pillars) at
    # the array's edge matches the mean pillar poorly but is no substrate: the array
    # is the block of sites that hold something, pillar or defect.
    contrast = _local_contrast(flat, positions + _look_up(field, index), vectors)
    occupied = pillars | (
        (contrast >= MIN_CONTRAST_SHARE * np.median(contrast[pillars])) & (match >= MIN_MATCH / 2)
    )
    (r0, r1), (c0, c1) = _array_extent(index, occupied)
    (r0, r1), (c0, c1) = _inside_extent((r0, r1), (c0, c1), origin, vectors, field, (height, width))
    gap = _empty_gap(index, occupied, (r0, r1), (c0, c1))
    if gap is not None:
        what, first, last = gap
        raise NoLatticeError(
            f"the image holds more than one array: {what} {first + 1}-{last + 1} of the "
            f"{r1 - r0 + 1} x {c1 - c0 + 1} sites found hold no pillars, a gap between arrays "
            "(crop each array into an image of its own)"
        )
    rows, cols = r1 - r0 + 1, c1 - c0 + 1
    if rows < 2 or cols < 2:
        raise NoLatticeError("no periodic pillar lattice found: fewer than 2 x 2 pillars")
    origin = origin + c0 * vectors[0] + r0 * vectors[1]
    rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
    sites = np.stack([rr.ravel(), cc.ravel()], axis=1)
    centers = positions_of(origin, vectors, rows, cols) + _look_up(field, sites).reshape(
        rows, cols, 2
    )
    matches = np.zeros((rows, cols))
    inside = (index[:, 0] >= r0) & (index[:, 0] <= r1) & (index[:, 1] >= c0) & (index[:, 1] <= c1)
    at = index[inside] - (r0, c0)
    matches[at[:, 0], at[:, 1]] = match[inside]
    at = index[inside & pillars] - (r0, c0)
    error = found[inside & pillars] - centers[at[:, 0], at[:, 1]]
    squared = np.sort(np.sum(error**2, axis=1))
    residual = float(np.sqrt(np.mean(squared[: max(1, int(0.9 * len(squared)))])))
    lattice = Lattice(
        shape=(int(rows), int(cols)),
        **_pitch_and_angle(vectors),
        origin=(float(origin[0]), float(origin[1])),
        vectors=vectors,
        centers=centers,
        residual=residual,
        matches=matches,
        image_shape=(height, width),
    )
    return lattice, _between_sites_match(scores, pad, centers, vectors)


def _between_sites_match(scores, pad, centers, vectors):
    """The median template match a half and a third of the way between neighbouring
    sites, along each vector, whichever is highest: high when pillars sit there too (the
    lattice found is every second or third row or column of the array's). Returns it
    and the vectors with that vector divided accordingly."""
    reach = max(1, int(0.1 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1]))))
    offsets = np.arange(-reach, reach + 1)
    height, width = scores.shape
    best, finer = 0.0, vectors
    for parts in (2, 3):
        for which, sites in ((0, centers[:, :-1]), (1, centers[:-1, :])):
            points = (sites + vectors[which] / parts).reshape(-1, 2)
            if len(points) == 0:
                continue
            ix = np.rint(points[:, 0]).astype(int) + pad
            iy = np.rint(points[:, 1]).astype(int) + pad
            xs = np.clip(ix[:, None, None] + offsets[None, None, :], 0, width - 1)
            ys = np.clip(iy[:, None, None] + offsets[None, :, None], 0, height - 1)
            median = float(np.median(scores[ys, xs].reshape(len(points), -1).max(axis=1)))
            if median > best:
                best, finer = median, vectors.copy()
                finer[which] = vectors[which] / parts
    return best, finer


#: Side (pixels) under which an image that shows no lattice is told it may hold too few
#: pillars (3 x 3 pillars 80 px apart need 240).
SMALL_SIDE = 256


#: Most pillars in the first aligned cell (the last one, which places the sites, has
#: up to ``ALIGNED_SITES``): it only needs to find the pillar within a quarter cell.
FIRST_CELL_SITES = 160


#: Downsampling factors tried for the first pillars, coarsest first (see
#: :func:`_first_pillars`).
SEED_FACTORS = (4, 2)


#: Shortest lattice step (pixels of the downsampled image) for a downsampled search to
#: be trusted: below it the pillars are too few pixels apart to be told from aliases.
MIN_SEED_PITCH = 8


def _first_pillars(flat, min_pitch, max_pitch, rank=0):
    """The lattice vectors, a pillar's position and the pillars found by the mean cell
    of ``flat``: a first guess, to be refined at full resolution.

    The search runs on ``flat`` downsampled by the largest factor of
    :data:`SEED_FACTORS` that keeps ``min_pitch`` at 2 pixels or more and
    finds a step of at least :data:`MIN_SEED_PITCH` pixels there (it costs a
    small fraction of a full-resolution search), else at full resolution,
    whose refusals (:class:`NoLatticeError`) are the ones raised.

    Returns
    -------
    vectors : ndarray of shape (2, 2)
    origin : ndarray of shape (2,)
        ``(x, y)`` of a pillar.
    pillars : ndarray of shape (n, 2)
        ``(x, y)`` of the pillars found whole in the image (at least 4).
    """
    height, width = flat.shape
    for factor in SEED_FACTORS:
        if min_pitch / factor < 2 or min(height, width) // factor < 3 * MIN_SEED_PITCH:
            continue
        small = cv2.resize(
            flat[: height - height % factor, : width - width % factor],
            (width // factor, height // factor),
            interpolation=cv2.INTER_AREA,
        )
        try:
            vectors, origin, pillars = _pillars_of_mean_cell(
                small, min_pitch / factor, max_pitch / factor, rank
            )
        except NoLatticeError:
            continue
        if min(np.hypot(*vectors[0]), np.hypot(*vectors[1])) >= MIN_SEED_PITCH:
            # pixel j of the small image averages pixels factor * j .. factor * j + factor - 1
            shift = (factor - 1) / 2
            return factor * vectors, factor * origin + shift, factor * pillars + shift
    return _pillars_of_mean_cell(flat, min_pitch, max_pitch, rank)


def _pillars_of_mean_cell(flat, min_pitch, max_pitch, rank=0, vectors=None):
    """:func:`_first_pillars` at the resolution of ``flat`` (with ``vectors``, if given)."""
    if vectors is None:
        vectors = lattice_vectors(flat, min_pitch, max_pitch, rank=rank)
    template, phase = mean_cell(flat, vectors)
    padded, pad = _padded(flat, template.shape)
    scores = match_template(padded, template)
    index, positions = _candidate_sites(phase, vectors, flat.shape)
    found, match = _match_sites(scores, positions, template.shape, pad, vectors)
    pillars = match >= MIN_MATCH
    if pillars.sum() < 4:
        raise NoLatticeError(
            "no periodic pillar lattice found: the image's period does not look like pillars"
        )
    return vectors, phase, found[_whole(found, pillars, template.shape[0] // 2, flat.shape)]


def _recentring(flat, pillars, vectors):
    """The shift (x, y) that centres the sites on the pillars at ``pillars``: the position
    of the pillar in their aligned cell (:func:`_cell_center`), when it lies within a
    quarter cell of the centre (else none: the cell's pillar is another candidate than
    the one the sites were placed on)."""
    offset = _cell_center(_aligned_cell(flat, pillars, vectors)) / _CELL_BINS - 0.5
    return vectors.T @ offset if np.abs(offset).max() <= 0.25 else np.zeros(2)


def _whole(found, pillars, half, image_shape):
    """The ``pillars`` found where a template ``2 * half + 1`` wide fits in the image (all
    of them if fewer than 4 do): where it overlaps the image's edge, its match leans inward."""
    height, width = image_shape
    whole = pillars & np.all(
        (found >= half) & (found <= (width - 1 - half, height - 1 - half)), axis=1
    )
    return whole if whole.sum() >= 4 else pillars


def flatten_illumination(grey):
    """``grey`` as float32 less its best-fitting quadratic surface (the illumination)."""
    height, width = grey.shape
    step = max(1, int(math.sqrt(grey.size / 40_000)))  # fit on about 40,000 pixels
    v, u = np.meshgrid(
        np.arange(0, height, step) / height - 0.5,
        np.arange(0, width, step) / width - 0.5,
        indexing="ij",
    )
    u, v = u.ravel(), v.ravel()
    basis = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
    sample = grey[::step, ::step].ravel().astype(float)
    # the normal equations (6 x 6): least squares, for samples too few to fix every term
    c = np.linalg.lstsq(basis.T @ basis, basis.T @ sample, rcond=None)[0].astype(np.float32)
    # c0 + c1 u + c2 v + c3 u^2 + c4 u v + c5 v^2 = v (c2 + c4 u) + (c0 + c1 u + c3 u^2) + c5 v^2
    u = (np.arange(width, dtype=np.float32) / width - 0.5)[None, :]
    v = (np.arange(height, dtype=np.float32) / height - 0.5)[:, None]
    surface = cv2.gemm(v, c[2] + c[4] * u, 1.0, None, 0.0)  # an outer product
    surface += c[0] + c[1] * u + c[3] * u * u
    surface += c[5] * v * v
    return cv2.subtract(grey, surface, dtype=cv2.CV_32F)


def autocorrelation(image, reach):
    """Normalised autocorrelation of ``image`` (its mean removed) at lags up to ``reach``.

    Returns a ``(2 * reach + 1)`` square, lag (0, 0) at its centre. Each lag
    is divided by the number of pixel pairs it compares and by the variance,
    so a perfectly periodic image has 1 at every lattice vector. The image is
    padded by ``reach`` only, which keeps the correlation from wrapping around.
    """
    height, width = image.shape
    reach = int(min(reach, height - 1, width - 1))
    size = (cv2.getOptimalDFTSize(height + reach), cv2.getOptimalDFTSize(width + reach))
    padded = np.zeros(size, np.float32)
    padded[:height, :width] = image - image.mean()
    spectrum = cv2.dft(padded)
    acf = cv2.idft(
        cv2.mulSpectrums(spectrum, spectrum, 0, conjB=True),
        flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE,
    )
    lags = np.arange(-reach, reach + 1)
    window = acf[np.ix_(lags % size[0], lags % size[1])].astype(float)
    window /= np.outer(height - np.abs(lags), width - np.abs(lags))
    return window / max(window[reach, reach], 1e-12)


#: Percentiles (this one and 100 less it) the detail is clipped to when no lattice shows
#: in it as it is: a line across the image, at an extreme, flattened.
CLIP_PERCENT = 5


def lattice_vectors(flat, min_pitch, max_pitch, *, rank=0):
    """The two lattice vectors of ``flat`` (a (2, 2) array: along a row, along a column).

    ``rank`` 0 gives the basis of the shortest strong autocorrelation peak and
    the shortest one not collinear with it; 1, 2, ... the next distinct bases
    of pairs of strong peaks, for when the first fits the pillars poorly (a
    line across the image adds a ridge to the autocorrelation, which can pull
    a peak onto it).

    Raises
    ------
    NoLatticeError
        When the autocorrelation has no strong peak between ``min_pitch`` and
        ``max_pitch`` from the origin, or has no basis of that rank.
    """
    height, width = flat.shape
    top, left = max(0, (height - ACF_CROP) // 2), max(0, (width - ACF_CROP) // 2)
    crop = flat[top : top + ACF_CROP, left : left + ACF_CROP]
    # Without what varies more slowly than the smallest pitch (uneven pillar density
    # where many are missing, mottled substrate), the lattice's peaks stand out.
    reach = int(min(max_pitch * 2.5, min(crop.shape) * 2 / 3))
    detail = crop - cv2.GaussianBlur(crop, (0, 0), 2 * min_pitch)
    try:
        return _vectors_of(detail, min_pitch, max_pitch, reach, rank)
    except NoLatticeError:
        if rank:
            raise
        # A scratch or a line across the array (a few % of the pixels, at an extreme)
        # makes a ridge of the autocorrelation along it, which can hide the lattice's
        # other direction: the pixels clipped to their percentiles, once more.
        low, high = np.percentile(detail[::2, ::2], [CLIP_PERCENT, 100 - CLIP_PERCENT])
        try:
            return _vectors_of(np.clip(detail, low, high), min_pitch, max_pitch, reach, rank)
        except NoLatticeError:
            pass
        raise


def _vectors_of(detail, min_pitch, max_pitch, reach, rank=0):
    """:func:`lattice_vectors` of the detail of its crop, from its autocorrelation."""
    window = autocorrelation(detail, reach)
    reach = window.shape[0] // 2
    peaks = _local_maxima(window, size=max(3, int(min_pitch / 2) | 1))
    lags = np.stack([peaks[1], peaks[0]], axis=1) - reach
    heights = window[peaks]
    length = np.hypot(lags[:, 0], lags[:, 1])
    usable = (length >= min_pitch) & (length <= max_pitch) & (heights > 0.15)
    if not usable.any():
        raise NoLatticeError(
            "no periodic pillar lattice found: the image does not repeat "
            f"with a period of {min_pitch:g}-{max_pitch:g} pixels"
        )
    strong = usable & (heights >= 0.6 * heights[usable].max())
    order = np.argsort(length[strong])
    candidates = lags[strong][order].astype(float)
    bases = _bases(candidates, rank + 1)
    if not bases:
        raise NoLatticeError(
            "no periodic pillar lattice found: the image repeats along "
            "one direction only (lines, not pillars)"
        )
    if len(bases) <= rank:
        raise NoLatticeError(f"no periodic pillar lattice found: no basis of rank {rank}")
    basis = _canonical(_refine_vectors(window, reach, bases[rank]))
    for vector in basis:
        # A lattice's pattern shifted by half a step is unlike itself; stripes, or a
        # gradient, are alike all along their direction.
        at = np.rint(vector).astype(int) + reach
        half = np.rint(vector / 2).astype(int) + reach
        if window[at[1], at[0]] - window[half[1], half[0]] < 0.1:
            raise NoLatticeError(
                "no periodic pillar lattice found: the image does not "
                "repeat in two directions (stripes or a smooth gradient?)"
            )
    return basis


#: Candidates (shortest first) the first vector of the alternative bases is drawn from.
BASIS_CANDIDATES = 12


def _bases(candidates, most):
    """Up to ``most`` distinct reduced bases from pairs of non-collinear ``candidates``
    (lags, shortest first), in the order of the pairs: the first is the shortest
    candidate with the shortest one not collinear with it."""
    bases, seen = [], set()
    for i, first in enumerate(candidates[:BASIS_CANDIDATES]):
        for second in candidates[i + 1 :]:
            cross = abs(first[0] * second[1] - first[1] * second[0])
            if cross <= 0.5 * np.hypot(*first) * np.hypot(*second):
                continue
            basis = _reduced(np.array([first, second]))
            key = tuple(np.rint(_canonical(basis)).astype(int).ravel())
            if key not in seen:
                seen.add(key)
                bases.append(basis)
                if len(bases) == most:
                    return bases
    return bases


def _local_maxima(values, size):
    """Row and column indices of the strict-ish local maxima of ``values`` in ``size`` windows."""
    kernel = np.ones((size, size), np.uint8)
    dilated = cv2.dilate(values.astype(np.float32), kernel)
    return np.nonzero(values.astype(np.float32) >= dilated)


def _reduced(basis):
    """The Lagrange-Gauss reduction of a 2-D lattice basis: its two shortest vectors."""
    a, b = basis
    for _ in range(32):
        if a @ a > b @ b:
            a, b = b, a
        mu = round((a @ b) / (a @ a))
        if mu == 0:
            break
        b = b - mu * a
    return np.array([a, b])


def _canonical(basis):
    """Order and sign a basis: first the step along a row (x > 0), then down a column (y > 0)."""
    a, b = basis
    if abs(a[0]) * np.hypot(*b) < abs(b[0]) * np.hypot(*a):  # b is the more horizontal one
        a, b = b, a
    a = a if a[0] > 0 else -a
    b = b if b[1] > 0 else -b
    return np.array([a, b], dtype=float)


def _refine_vectors(acf, center, basis):
    """Least-squares lattice vectors from the sub-pixel autocorrelation peaks near
    ``k * a + l * b`` for small ``k``, ``l``."""
    size = acf.shape[0]
    ks, ls = np.mgrid[-3:4, -3:4]
    ks, ls = ks.ravel(), ls.ravel()
    keep = (ks != 0) | (ls != 0)
    ks, ls = ks[keep], ls[keep]
    expected = ks[:, None] * basis[0] + ls[:, None] * basis[1]
    ix, iy = (np.rint(expected).astype(int) + center).T
    inside = (ix >= 2) & (ix < size - 2) & (iy >= 2) & (iy < size - 2)
    ix, iy, ks, ls = ix[inside], iy[inside], ks[inside], ls[inside]
    steps = np.arange(-2, 3)
    patches = acf[(iy[:, None] + steps)[:, :, None], (ix[:, None] + steps)[:, None, :]]
    dy, dx = np.divmod(patches.reshape(len(ix), -1).argmax(axis=1), 5)
    px, py = ix + dx - 2, iy + dy - 2
    inside = (px >= 1) & (px < size - 1) & (py >= 1) & (py < size - 1)
    px, py, ks, ls = px[inside], py[inside], ks[inside], ls[inside]
    if len(px) < 4:
        return basis
    sx = _parabola_offsets(acf[py, px - 1], acf[py, px], acf[py, px + 1])
    sy = _parabola_offsets(acf[py - 1, px], acf[py, px], acf[py + 1, px])
    points = np.stack([px + sx - center, py + sy - center], axis=1)
    coeffs = np.stack([ks, ls], axis=1).astype(float)
    solution, *_ = np.linalg.lstsq(coeffs, points, rcond=None)
    return solution
