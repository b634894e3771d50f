"""Finding the pillar lattice of an image: grid size, pitch, origin, rotation, site centres.

:func:`find_lattice` works from the image's periodicity alone, so that a
frame needs neither cropping to the array nor a known grid size:

1. the illumination is flattened (a quadratic surface is subtracted);
2. the two lattice vectors are the shortest independent peaks of the
   image's autocorrelation, refined by a least-squares fit to the peaks of
   the first few neighbour shells;
3. the image is folded onto one unit cell; in the mean cell the pillar is
   the brightest point or half a cell from it, whichever the cell's edges
   draw circles around (:func:`_cell_centre`); the median of the patches
   around the pillars is the template of a pillar;
4. the template is matched around every candidate site; the pillars where
   it matches well, aligned, give a sharp cell that re-centres the
   template (stitched frames out of step blur the first one); matched
   again, the sites where it matches well are the pillars, and a robust
   least-squares fit to the positions of those the template fits around
   whole gives the lattice (origin and vectors);
5. the array is the block of sites whose rows and columns mostly hold
   something, a pillar or a defect (rows and columns of substrate around it
   are trimmed, and so are edge rows and columns with a site whose centre
   lies outside the image);
6. each site's centre is the lattice position moved by the median offset of
   the pillars measured in its 3 x 3 neighbourhood: it follows shifts shared
   by neighbours (a stitching seam, lens distortion) but not a single
   missing, collapsed or off-centre pillar.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .exceptions import NoLatticeError  # noqa: F401 (also importable from here)
from .sanity import MIN_CONTRAST

__all__ = ["Lattice", "NoLatticeError", "derotate", "find_lattice"]

#: Largest square (pixels a side) of the image's centre used for the autocorrelation.
ACF_CROP = 1024
#: A site holds a pillar when the mean pillar matches there at least this well (NCC).
MIN_MATCH = 0.5
#: Smallest share of a grid row or column that must hold pillars.
MIN_ROW_SHARE = 0.5
#: A site that matches the mean pillar poorly (but at least half as well as
#: :data:`MIN_MATCH`) still holds something, a defect rather than substrate, when its
#: local contrast is at least this share of the pillars' median.
MIN_CONTRAST_SHARE = 0.5


@dataclass(frozen=True, eq=False)
class Lattice:
    """A lattice of pillar sites found in an image (see :func:`find_lattice`).

    Coordinates are pixels, ``x`` to the right and ``y`` down, with the
    centre of the top-left pixel at (0, 0). Site ``(r, c)`` (0-based, as
    ``centers[r, c]``) is the tile at 1-based grid row ``r + 1`` and column
    ``c + 1`` of a :class:`~sklearn_pillars.TileSet`; ``str(lattice)``
    names site (0, 0) "site (1, 1)" accordingly. A frozen dataclass:
    :meth:`warped` and :func:`derotate` return new lattices.

    Attributes
    ----------
    shape : tuple of int
        Number of rows and columns of sites.
    pitch : tuple of float
        Site spacing along a row (x) and along a column (y), in pixels.
    angle : float
        Rotation of the rows, in degrees counter-clockwise as displayed.
    origin : tuple of float
        ``(x, y)`` of the lattice position of site (0, 0), the top-left one.
    vectors : ndarray of shape (2, 2)
        The step to the next column (row 0) and to the next row (row 1), as
        ``(x, y)``.
    centers : ndarray of shape (rows, cols, 2)
        Refined ``(x, y)`` of every site.
    residual : float
        Root mean square distance (pixels) of the measured pillar centres to
        the refined centres, over the closest 90% of the pillars (the rest
        may be defects, off-centre by design).
    matches : ndarray of shape (rows, cols)
        How well the mean pillar matches at each site (normalised
        cross-correlation, 1 at best); low at missing pillars. All 1 for a
        lattice of known centres (:meth:`from_centers`).
    image_shape : tuple of int
        Height and width of the image.
    turned : float
        The lattice's rotation in the original image, in degrees
        counter-clockwise, when the image was turned upright to hold this
        lattice (:func:`derotate` turns it clockwise by as much); 0 when it
        was not.
    scaled : float
        The magnification of the original image in this lattice's image
        (pitch here over pitch there), when the image was brought to the
        tiles' pitch (``tile_array(..., rescale=)``); 1.0 when it was not.
    warp : ndarray of shape (2, 3) or None
        The affine map (OpenCV's convention) from the original image's
        coordinates to this lattice's image, when it was turned upright or
        magnified; None when it was not. ``cv2.invertAffineTransform(warp)`` maps back, e.g.
        the tile boxes and centres to the original file's pixels.

    See Also
    --------
    find_lattice : Find the lattice of an image.
    tile_array : Cut tiles around its sites (``lattice=``).
    TileSet : Holds the lattice of each array (``lattices``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import Lattice
    >>> rows, cols = np.mgrid[:3, :4]
    >>> centers = np.stack([5 + 10.0 * cols, 5 + 10.0 * rows], axis=-1)
    >>> lattice = Lattice.from_centers(centers, image_shape=(30, 40))
    >>> lattice.shape, [round(p, 6) for p in lattice.pitch], lattice.centers.shape
    ((3, 4), [10.0, 10.0], (3, 4, 2))
    >>> print(lattice)  # doctest: +ELLIPSIS
    3 x 4 sites, pitch 10.00 x 10.00 px, rotated ... deg, site (1, 1) at (5.0, 5.0), ...
    """

    shape: tuple
    pitch: tuple
    angle: float
    origin: tuple
    vectors: np.ndarray = field(repr=False)
    centers: np.ndarray = field(repr=False)
    residual: float
    matches: np.ndarray = field(repr=False)
    image_shape: tuple = field(repr=False)
    turned: float = 0.0
    scaled: float = 1.0
    warp: np.ndarray | None = field(default=None, repr=False)

    def positions(self):
        """The lattice position (x, y) of every site, before refinement.

        ``origin + c * vectors[0] + r * vectors[1]`` for site ``(r, c)``: where
        a perfect lattice puts the sites. :attr:`centers` are these moved by
        the offsets measured around each site.

        Returns
        -------
        ndarray of shape (rows, cols, 2)
            ``(x, y)`` of every site, as ``centers``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_pillars import Lattice
        >>> rows, cols = np.mgrid[:3, :4]
        >>> centers = np.stack([5 + 10.0 * cols, 5 + 10.0 * rows], axis=-1)
        >>> lattice = Lattice.from_centers(centers, image_shape=(30, 40))
        >>> lattice.positions()[2, 3].round(6).tolist()
        [35.0, 25.0]
        """
        return positions_of(np.asarray(self.origin), self.vectors, *self.shape)

    @classmethod
    def from_centers(cls, centers, image_shape):
        """The lattice of known site centres (a design, or a synthetic frame's truth).

        Parameters
        ----------
        centers : array-like of shape (rows, cols, 2)
            ``(x, y)`` of every site, rows and columns as in the image.
        image_shape : tuple of int
            Height and width of the image.

        Returns
        -------
        Lattice
            With the least-squares lattice through the centres, ``residual``
            their RMS distance to it and ``matches`` all 1.

        Raises
        ------
        ValueError
            If ``centers`` is not of shape (rows, cols, 2) with at least 2
            rows and 2 columns.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_pillars import Lattice
        >>> rows, cols = np.mgrid[:5, :5]
        >>> centers = np.stack([10 + 20.0 * cols, 10 + 24.0 * rows], axis=-1)
        >>> lattice = Lattice.from_centers(centers, image_shape=(120, 100))
        >>> [round(p, 6) for p in lattice.pitch], round(lattice.residual, 6)
        ([20.0, 24.0], 0.0)
        """
        centers = np.asarray(centers, dtype=float)
        if centers.ndim != 3 or centers.shape[2] != 2 or min(centers.shape[:2]) < 2:
            raise ValueError(
                f"centers must have shape (rows, cols, 2) with at least 2 rows "
                f"and columns, got {centers.shape}"
            )
        rows, cols = centers.shape[:2]
        rr, cc = np.mgrid[:rows, :cols]
        index = np.stack([rr.ravel(), cc.ravel()], axis=1)
        origin, vectors = _fit_lattice(index, centers.reshape(-1, 2), cut=np.inf)  # all sites
        error = centers - positions_of(origin, vectors, rows, cols)
        return cls(
            shape=(rows, cols),
            **_pitch_and_angle(vectors),
            origin=(float(origin[0]), float(origin[1])),
            vectors=vectors,
            centers=centers,
            residual=float(np.sqrt(np.mean(np.sum(error**2, axis=-1)))),
            matches=np.ones((rows, cols)),
            image_shape=tuple(int(v) for v in image_shape),
        )

    def warped(self, matrix, image_shape):
        """The lattice moved by an affine map into another image.

        ``origin``, ``vectors`` and ``centers`` are mapped (and ``pitch`` and
        ``angle`` recomputed from the vectors); ``shape``, ``residual``,
        ``matches``, ``turned``, ``scaled`` and ``warp`` are kept as they are.

        Parameters
        ----------
        matrix : array-like of shape (2, 3)
            The affine map from this lattice's image to the new one, in
            OpenCV's convention (as ``cv2.getRotationMatrix2D`` returns it):
            ``(x, y)`` goes to ``matrix @ (x, y, 1)``.
        image_shape : tuple of int
            Height and width of the new image.

        Returns
        -------
        Lattice
            A new lattice; this one is unchanged.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_pillars import Lattice
        >>> rows, cols = np.mgrid[:3, :4]
        >>> centers = np.stack([5 + 10.0 * cols, 5 + 10.0 * rows], axis=-1)
        >>> lattice = Lattice.from_centers(centers, image_shape=(30, 40))
        >>> shifted = lattice.warped([[1, 0, 2], [0, 1, 3]], (40, 50))
        >>> shifted.centers[0, 0].round(6).tolist(), shifted.image_shape
        ([7.0, 8.0], (40, 50))
        """
        matrix = np.asarray(matrix, dtype=float)
        linear, shift = matrix[:, :2], matrix[:, 2]
        vectors = self.vectors @ linear.T
        return replace(
            self,
            origin=tuple(float(v) for v in linear @ np.asarray(self.origin) + shift),
            vectors=vectors,
            centers=self.centers @ linear.T + shift,
            **_pitch_and_angle(vectors),
            image_shape=tuple(int(v) for v in image_shape),
        )

    def __str__(self):
        rotation = (
            f"rotated {self.turned:+.2f} deg (turned upright)"
            if self.turned
            else f"rotated {self.angle:+.2f} deg"
        )
        magnified = f" (image magnified {self.scaled:.2f}x)" if self.scaled != 1.0 else ""
        return (
            f"{self.shape[0]} x {self.shape[1]} sites, pitch {self.pitch[0]:.2f} x "
            f"{self.pitch[1]:.2f} px{magnified}, {rotation}, site (1, 1) at "
            f"({self.origin[0]:.1f}, {self.origin[1]:.1f}), residual "
            f"{self.residual:.2f} px"
        )


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
    from .tiling import to_grey

    name = None
    if isinstance(image, (str, os.PathLike)):
        from ._files import display_name
        from .io import read_image

        name, grey = display_name(image), read_image(image)
    else:
        grey = to_grey(image)
    try:
        return _find_lattice(grey, min_pitch, max_pitch)
    except NoLatticeError as error:
        if name is None:
            raise
        raise NoLatticeError(f"{name}: {error}") from None


def _find_lattice(grey, min_pitch, max_pitch):
    """:func:`find_lattice` of a grey image."""
    height, width = grey.shape
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
    vectors = lattice_vectors(flat, min_pitch, max_pitch)
    template, phase = mean_cell(flat, vectors)
    padded, pad = _padded(flat, template.shape)
    scores = cv2.matchTemplate(padded, template, cv2.TM_CCOEFF_NORMED)
    origin, field = phase, None
    for step in range(4):  # a better lattice finds more of the pillars
        index, positions = _candidate_sites(origin, vectors, (height, width))
        predicted = positions if field is None else positions + _look_up(field, index)
        found, match = _match_sites(scores, predicted, template.shape, pad, vectors)
        pillars = match >= MIN_MATCH
        if pillars.sum() < 4:
            raise NoLatticeError(
                "no periodic pillar lattice found: the image's period does not look like pillars"
            )
        # Where the template overlaps the image's edge, its match leans inward: only
        # the pillars it fits around whole place the lattice.
        half = template.shape[0] // 2
        whole = pillars & np.all(
            (found >= half) & (found <= (width - 1 - half, height - 1 - half)), axis=1
        )
        if whole.sum() < 4:
            whole = pillars
        if step == 0:
            # The first phase came from a cell folded over the centre of the image,
            # blurred where stitched frames are out of step. The pillars aligned where
            # the template found them give a sharp cell; its pillar may lie a little
            # (or half a cell) away, which moves every site alike. Its pillars'
            # median is the template from now on.
            correction = vectors.T @ (
                _cell_centre(_aligned_cell(flat, found[whole], vectors)) / _CELL_BINS - 0.5
            )
            origin = origin + correction
            template = _median_patches(flat, found[whole] + correction, template.shape[0])
            scores = cv2.matchTemplate(padded, template, cv2.TM_CCOEFF_NORMED)
            continue
        origin, vectors = _fit_lattice(index[whole], found[whole])
        positions = origin + index[:, 1:2] * vectors[0] + index[:, 0:1] * vectors[1]
        field = _offset_field(index[whole], found[whole] - positions[whole])
    # A row of defects (a write-field line through every pillar, collapsed pillars) at
    # the array's edge matches the mean pillar poorly but is no substrate: the array
    # is the block of sites that hold something, pillar or defect.
    contrast = _local_contrast(flat, positions + _look_up(field, index), vectors)
    occupied = pillars | (
        (contrast >= MIN_CONTRAST_SHARE * np.median(contrast[pillars])) & (match >= MIN_MATCH / 2)
    )
    (r0, r1), (c0, c1) = _array_extent(index, occupied)
    (r0, r1), (c0, c1) = _inside_extent((r0, r1), (c0, c1), origin, vectors, field, (height, width))
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
    return Lattice(
        shape=(int(rows), int(cols)),
        **_pitch_and_angle(vectors),
        origin=(float(origin[0]), float(origin[1])),
        vectors=vectors,
        centers=centers,
        residual=residual,
        matches=matches,
        image_shape=(height, width),
    )


def derotate(grey, lattice):
    """Rotate an image so that its lattice's rows run along x.

    The canvas grows to hold the whole rotated image; the corners it adds
    are filled with the median grey level of the image's border (mostly
    substrate). Bicubic interpolation keeps thin lines sharp.

    Parameters
    ----------
    grey : ndarray of shape (H, W), uint8
    lattice : Lattice
        Found in ``grey``.

    Returns
    -------
    image : ndarray, uint8
        The rotated image.
    lattice : Lattice
        The same lattice in the rotated image (angle about 0).
    """
    return reframe(grey, lattice, angle=lattice.angle)


def reframe(grey, lattice, *, angle=0.0, scale=1.0):
    """Turn an image clockwise by ``angle`` degrees and magnify it by ``scale``.

    The canvas holds the whole result; the corners a rotation adds are filled
    with the median grey level of the image's border (mostly substrate).
    Bicubic interpolation keeps thin lines sharp; a shrunk image is first
    blurred just enough not to alias.

    Parameters
    ----------
    grey : ndarray of shape (H, W), uint8
    lattice : Lattice
        Found in ``grey``.
    angle : float, default=0.0
        Degrees, counter-clockwise as displayed, to take off the rows.
    scale : float, default=1.0
        Magnification, positive.

    Returns
    -------
    image : ndarray, uint8
    lattice : Lattice
        The same lattice in ``image``; ``turned`` adds ``angle``, ``scaled``
        multiplies by ``scale`` and ``warp`` composes this map with any
        earlier one.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    height, width = grey.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), -angle, scale)
    corners = (
        np.array(
            [[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], float
        )
        @ matrix.T
    )
    low = np.floor(corners.min(axis=0))
    size = (np.ceil(corners.max(axis=0)) - low + 1).astype(int)
    matrix[:, 2] -= low
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    fill = float(np.median(border))
    source = grey
    if scale < 1:  # the sampling theorem: no detail finer than the new pixel
        source = cv2.GaussianBlur(grey, (0, 0), 0.5 * math.sqrt(1 / scale**2 - 1))
    image = cv2.warpAffine(
        source,
        matrix,
        (int(size[0]), int(size[1])),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )
    earlier = np.vstack([lattice.warp, [0, 0, 1]]) if lattice.warp is not None else np.eye(3)
    return image, replace(
        lattice.warped(matrix, image.shape),
        turned=lattice.turned + angle,
        scaled=lattice.scaled * scale,
        warp=(np.vstack([matrix, [0, 0, 1]]) @ earlier)[:2],
    )


def flatten_illumination(grey):
    """``grey`` as float32 less its best-fitting quadratic surface (the illumination)."""
    image = grey.astype(np.float32)
    height, width = image.shape
    step = max(1, int(math.sqrt(image.size / 40_000)))  # fit on about 40,000 pixels
    ys, xs = np.mgrid[0:height:step, 0:width:step]
    u, v = (xs.ravel() / width - 0.5), (ys.ravel() / height - 0.5)
    basis = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
    coef, *_ = np.linalg.lstsq(basis, image[::step, ::step].ravel(), rcond=None)
    u = (np.arange(width, dtype=np.float32) / width - 0.5)[None, :]
    v = (np.arange(height, dtype=np.float32) / height - 0.5)[:, None]
    c = coef.astype(np.float32)
    return image - (c[0] + c[1] * u + c[2] * v + c[3] * u * u + c[4] * u * v + c[5] * v * v)


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


def lattice_vectors(flat, min_pitch, max_pitch):
    """The two lattice vectors of ``flat`` (a (2, 2) array: along a row, along a column).

    Raises
    ------
    NoLatticeError
        When the autocorrelation has no strong peak between ``min_pitch`` and
        ``max_pitch`` from the origin.
    """
    height, width = flat.shape
    top, left = max(0, (height - ACF_CROP) // 2), max(0, (width - ACF_CROP) // 2)
    crop = flat[top : top + ACF_CROP, left : left + ACF_CROP]
    # Without what varies more slowly than the smallest pitch (uneven pillar density
    # where many are missing, mottled substrate), the lattice's peaks stand out.
    reach = int(min(max_pitch * 2.5, min(crop.shape) * 2 / 3))
    window = autocorrelation(crop - cv2.GaussianBlur(crop, (0, 0), 2 * min_pitch), reach)
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
    first = candidates[0]
    second = next(
        (
            c
            for c in candidates[1:]
            if abs(first[0] * c[1] - first[1] * c[0]) > 0.5 * np.hypot(*first) * np.hypot(*c)
        ),
        None,
    )
    if second is None:
        raise NoLatticeError(
            "no periodic pillar lattice found: the image repeats along "
            "one direction only (lines, not pillars)"
        )
    basis = _canonical(_refine_vectors(window, reach, _reduced(np.array([first, second]))))
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


def mean_cell(flat, vectors):
    """The mean unit cell of ``flat`` and the position of its pillar.

    Every pixel is folded onto the lattice's unit cell and the cells are
    averaged; :func:`_cell_centre` finds the pillar in it.

    Returns
    -------
    template : ndarray, float32
        The mean cell centred on its pillar, about 0.8 of a pitch a side.
    phase : ndarray of shape (2,)
        ``(x, y)`` of a pillar centre in the image.
    """
    height, width = flat.shape
    top, left = max(0, (height - ACF_CROP) // 2), max(0, (width - ACF_CROP) // 2)
    crop = flat[top : top + ACF_CROP, left : left + ACF_CROP]
    n = max(8, int(round(max(np.hypot(*vectors[0]), np.hypot(*vectors[1])))))
    inverse = np.linalg.inv(vectors.T)
    xs = np.arange(crop.shape[1], dtype=np.float64)[None, :]
    ys = np.arange(crop.shape[0], dtype=np.float64)[:, None]
    bins = [
        np.floor(((row[0] * xs + row[1] * ys) % 1.0) * n).astype(np.intp).clip(0, n - 1)
        for row in inverse
    ]  # each pixel's bin along the two lattice vectors
    flat_bins = (bins[1] * n + bins[0]).ravel()
    sums = np.bincount(flat_bins, weights=crop.ravel(), minlength=n * n)
    counts = np.bincount(flat_bins, minlength=n * n)
    cell = (sums / np.maximum(counts, 1)).reshape(n, n)
    phase = vectors.T @ (_cell_centre(cell) / n) + (left, top)
    side = int(round(0.9 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1])))) | 1
    template = _average_patches(crop, vectors, phase - (left, top), side)
    return template, phase


def _average_patches(image, vectors, phase, side):
    """Median of the ``side``-square patches of ``image`` at the lattice sites (sub-pixel)."""
    height, width = image.shape
    half = side // 2
    index, sites = _candidate_sites(phase, vectors, (height, width))
    ok = (
        (sites[:, 0] >= half + 1)
        & (sites[:, 0] < width - half - 2)
        & (sites[:, 1] >= half + 1)
        & (sites[:, 1] < height - half - 2)
    )
    if not ok.any():
        raise NoLatticeError("no periodic pillar lattice found: no whole cell in the image")
    return _median_patches(image, sites[ok], side)


def _median_patches(image, sites, side):
    """Median of the ``side``-square patches of ``image`` centred at ``sites`` (x, y;
    sub-pixel; at most 200 of them, evenly spread)."""
    if len(sites) > 200:
        sites = sites[np.linspace(0, len(sites) - 1, 200).astype(int)]
    half = side // 2
    offsets = np.arange(-half, half + 1, dtype=np.float32)
    map_x = (sites[:, 0, None, None] + offsets[None, None, :]).astype(np.float32)
    map_y = (sites[:, 1, None, None] + offsets[None, :, None]).astype(np.float32)
    map_x = np.broadcast_to(map_x, (len(sites), side, side)).reshape(-1, side)
    map_y = np.broadcast_to(map_y, (len(sites), side, side)).reshape(-1, side)
    patches = cv2.remap(
        image,
        np.ascontiguousarray(map_x),
        np.ascontiguousarray(map_y),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.median(patches.reshape(len(sites), side, side), axis=0).astype(np.float32)


_CELL_BINS = 48


def _aligned_cell(flat, sites, vectors, bins=_CELL_BINS):
    """Median unit cell (``bins`` x ``bins``, along the lattice vectors) of ``flat`` around
    each of ``sites`` (x, y), its centre at the site."""
    height, width = flat.shape
    reach = 0.5 * (np.abs(vectors[0]) + np.abs(vectors[1]))
    inside = np.all(
        (sites >= reach + 1) & (sites < (width - 2 - reach[0], height - 2 - reach[1])), axis=1
    )
    sites = sites[inside] if inside.sum() >= 4 else sites
    if len(sites) > 400:
        sites = sites[np.linspace(0, len(sites) - 1, 400).astype(int)]
    steps = (np.arange(bins) + 0.5) / bins - 0.5
    grid = steps[None, :, None] * vectors[0] + steps[:, None, None] * vectors[1]  # (b, b, 2)
    maps = (sites[:, None, None, :] + grid[None]).astype(np.float32)
    maps = maps.reshape(-1, bins, 2)
    cells = cv2.remap(
        flat.astype(np.float32),
        np.ascontiguousarray(maps[..., 0]),
        np.ascontiguousarray(maps[..., 1]),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.median(cells.reshape(len(sites), bins, bins), axis=0)


def _cell_centre(cell):
    """Position (x, y), in bins, of the pillar in a periodic mean cell of ``n x n`` bins.

    The brightest point of the smoothed cell is a centre of symmetry of the
    lattice: the substrate between four pillars or, where pillars look bright
    inside their dark rim, a pillar's centre. Either way the pillar is there
    or half a cell away in x, y or both. Of those four points it is the one
    nearest the centre of the circles the cell's edges draw (the pillars'
    outlines, :func:`_circle_votes`). That centre itself is not used: a
    pillar lit obliquely has a dark crescent on one side, which pulls its
    edges, and the centre of symmetry of its look, toward that side (2 px on
    synthetic arrays lit so), while the brightest point, bounded by pillars
    all around, stays.
    """
    n = cell.shape[0]
    tiled = cv2.GaussianBlur(np.tile(cell, (3, 3)).astype(np.float32), (0, 0), 0.1 * n)
    smooth = tiled[n : 2 * n, n : 2 * n]
    y, x = np.unravel_index(np.argmax(smooth), smooth.shape)
    sx = _parabola_peak(tiled[n + y, n + x - 1 : n + x + 2])
    sy = _parabola_peak(tiled[n + y - 1 : n + y + 2, n + x])
    bright = np.array([x + 0.5 + sx, y + 0.5 + sy])  # bin b spans [b, b + 1)
    candidates = (bright + np.array([[0, 0], [n / 2, 0], [0, n / 2], [n / 2, n / 2]])) % n
    votes = _circle_votes(cell)
    outline = np.array(np.unravel_index(np.argmax(votes), votes.shape)[::-1]) + 0.5
    gap = (candidates - outline + n / 2) % n - n / 2
    return candidates[np.argmin(np.hypot(*gap.T))]


def _circle_votes(cell):
    """Circle Hough transform of a periodic cell: every edge pixel votes for the points
    0.2-0.45 of a cell away across its gradient (either way: a pillar may be darker or
    brighter than the substrate), weighted by the gradient's magnitude."""
    n = cell.shape[0]
    tiled = cv2.GaussianBlur(np.tile(cell, (3, 3)).astype(np.float32), (0, 0), 0.04 * n)
    gx = cv2.Sobel(tiled, cv2.CV_32F, 1, 0)[n : 2 * n, n : 2 * n]
    gy = cv2.Sobel(tiled, cv2.CV_32F, 0, 1)[n : 2 * n, n : 2 * n]
    magnitude = np.hypot(gx, gy)
    with np.errstate(invalid="ignore", divide="ignore"):
        ux, uy = np.nan_to_num(gx / magnitude), np.nan_to_num(gy / magnitude)
    yy, xx = np.mgrid[:n, :n]
    radii = np.concatenate([r := np.arange(0.2 * n, 0.45 * n, 0.5), -r])[:, None, None]
    vx = np.rint(xx + radii * ux).astype(np.intp) % n
    vy = np.rint(yy + radii * uy).astype(np.intp) % n
    weights = np.broadcast_to(magnitude, vx.shape)
    votes = np.bincount((vy * n + vx).ravel(), weights.ravel(), minlength=n * n).reshape(n, n)
    return cv2.GaussianBlur(np.tile(votes, (3, 3)), (0, 0), 0.04 * n)[n : 2 * n, n : 2 * n]


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


def _refine_vectors(acf, centre, basis):
    """Least-squares lattice vectors from the sub-pixel autocorrelation peaks near
    ``k * a + l * b`` for small ``k``, ``l``."""
    size = acf.shape[0]
    ks, ls = np.mgrid[-3:4, -3:4]
    ks, ls = ks.ravel(), ls.ravel()
    keep = (ks != 0) | (ls != 0)
    ks, ls = ks[keep], ls[keep]
    expected = ks[:, None] * basis[0] + ls[:, None] * basis[1]
    points, coeffs = [], []
    for (x, y), k, m in zip(expected, ks, ls, strict=True):
        ix, iy = int(round(x)) + centre, int(round(y)) + centre
        if not (2 <= ix < size - 2 and 2 <= iy < size - 2):
            continue
        patch = acf[iy - 2 : iy + 3, ix - 2 : ix + 3]
        dy, dx = np.unravel_index(np.argmax(patch), patch.shape)
        py, px = iy + dy - 2, ix + dx - 2
        if not (1 <= px < size - 1 and 1 <= py < size - 1):
            continue
        sx, sy = _parabola_peak(acf[py, px - 1 : px + 2]), _parabola_peak(acf[py - 1 : py + 2, px])
        points.append((px + sx - centre, py + sy - centre))
        coeffs.append((k, m))
    if len(points) < 4:
        return basis
    solution, *_ = np.linalg.lstsq(np.array(coeffs, float), np.array(points), rcond=None)
    return solution


def _parabola_peak(values):
    """Sub-pixel offset (-0.5..0.5) of the top of a parabola through three samples."""
    left, mid, right = np.asarray(values, float)
    return float(_parabola_offsets(left, mid, right))


def _candidate_sites(origin, vectors, image_shape):
    """Lattice indices (row, col) and positions (x, y) of the sites with their centre in
    the image."""
    height, width = image_shape
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]])
    frac = np.linalg.solve(vectors.T, (corners - origin).T)
    lo, hi = np.floor(frac.min(axis=1)) - 1, np.ceil(frac.max(axis=1)) + 1
    cols, rows = np.mgrid[int(lo[0]) : int(hi[0]) + 1, int(lo[1]) : int(hi[1]) + 1]
    cols, rows = cols.ravel(), rows.ravel()
    positions = origin + cols[:, None] * vectors[0] + rows[:, None] * vectors[1]
    inside = (
        (positions[:, 0] >= 0)
        & (positions[:, 0] <= width - 1)
        & (positions[:, 1] >= 0)
        & (positions[:, 1] <= height - 1)
    )
    return np.stack([rows[inside], cols[inside]], axis=1), positions[inside]


def _padded(flat, template_shape):
    """``flat`` padded (edge pixels repeated) so that the template fits at every pixel."""
    half = template_shape[0] // 2
    pad = half + 1
    return cv2.copyMakeBorder(flat, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad - half


def _match_sites(scores, predicted, template_shape, pad, vectors):
    """Best template match within a quarter pitch of each predicted site: (x, y) and score."""
    reach = max(2, int(0.25 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1]))))
    offsets = np.arange(-reach, reach + 1)
    # scores[i, j] is the match of the template centred on image pixel (j - pad, i - pad)
    ix = np.rint(predicted[:, 0]).astype(int) + pad
    iy = np.rint(predicted[:, 1]).astype(int) + pad
    height, width = scores.shape
    xs = np.clip(ix[:, None, None] + offsets[None, None, :], 0, width - 1)
    ys = np.clip(iy[:, None, None] + offsets[None, :, None], 0, height - 1)
    windows = scores[ys, xs]  # (n, 2 reach + 1, 2 reach + 1)
    flat_best = windows.reshape(len(windows), -1).argmax(axis=1)
    by, bx = np.divmod(flat_best, 2 * reach + 1)
    n = np.arange(len(windows))
    best = windows[n, by, bx]
    # sub-pixel: a parabola through the best sample and its neighbours along x and along y
    left = windows[n, by, np.maximum(bx - 1, 0)]
    right = windows[n, by, np.minimum(bx + 1, 2 * reach)]
    up = windows[n, np.maximum(by - 1, 0), bx]
    down = windows[n, np.minimum(by + 1, 2 * reach), bx]
    sx = _parabola_offsets(left, best, right)
    sy = _parabola_offsets(up, best, down)
    found = np.stack([xs[n, 0, bx] - pad + sx, ys[n, by, 0] - pad + sy], axis=1)
    return found.astype(float), best.astype(float)


def _parabola_offsets(left, mid, right):
    """:func:`_parabola_peak` of many triples at once (0 where they have no top)."""
    curve = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curve < 0, 0.5 * (left - right) / curve, 0.0)
    return np.clip(np.nan_to_num(offset), -0.5, 0.5)


def _fit_lattice(index, found, cut=3.0):
    """Origin and vectors of the lattice that best fits the pillars at lattice ``index``
    (row, col) found at ``found`` (x, y): a least-squares fit, refitted without the
    pillars more than ``cut`` pixels (or three median errors) from it."""
    design = np.column_stack([np.ones(len(index)), index[:, 1], index[:, 0]])
    keep = np.ones(len(index), bool)
    for _ in range(3):
        solution, *_ = np.linalg.lstsq(design[keep], found[keep], rcond=None)
        error = np.hypot(*(design @ solution - found).T)
        new = error <= max(cut, 3 * np.median(error[keep]))
        if new.sum() < 4 or np.array_equal(new, keep):
            break
        keep = new
    return solution[0], solution[1:]


def _local_contrast(flat, sites, vectors):
    """Standard deviation of ``flat`` in a square of 0.6 pitch around each site (x, y)."""
    side = max(3, int(round(0.6 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1]))))) | 1
    mean = cv2.blur(flat, (side, side), borderType=cv2.BORDER_REFLECT)
    square = cv2.blur(flat * flat, (side, side), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(square - mean * mean, 0))
    x = np.clip(np.rint(sites[:, 0]).astype(np.intp), 0, flat.shape[1] - 1)
    y = np.clip(np.rint(sites[:, 1]).astype(np.intp), 0, flat.shape[0] - 1)
    return std[y, x]


def _array_extent(index, pillars):
    """First and last row and column of the array: the block of lattice rows and columns
    where at least :data:`MIN_ROW_SHARE` of the sites in the image hold pillars."""
    rows, cols = index[:, 0], index[:, 1]
    r0, r1 = rows[pillars].min(), rows[pillars].max()
    c0, c1 = cols[pillars].min(), cols[pillars].max()
    while r0 <= r1 and c0 <= c1:
        block = (rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)
        trimmed = False
        for line, low, high in ((rows, r0, r1), (cols, c0, c1)):
            for end in (low, high):
                on = block & (line == end)
                if on.any() and pillars[on].mean() < MIN_ROW_SHARE:
                    if line is rows:
                        r0, r1 = (r0 + 1, r1) if end == low else (r0, r1 - 1)
                    else:
                        c0, c1 = (c0 + 1, c1) if end == low else (c0, c1 - 1)
                    trimmed = True
                    break
            if trimmed:
                break
        if not trimmed:
            break
    return (int(r0), int(r1)), (int(c0), int(c1))


def _inside_extent(row_span, col_span, origin, vectors, field, image_shape):
    """The block of rows and columns trimmed, edge by edge, until no site's centre lies
    more than a quarter pitch outside the image (a rotated array can run out of its
    frame at the corners: such a site's pillar is not in the image)."""
    (r0, r1), (c0, c1) = row_span, col_span
    reach = 0.25 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1]))
    height, width = image_shape
    while r0 < r1 and c0 < c1:
        rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
        sites = np.stack([rr.ravel(), cc.ravel()], axis=1)
        centres = (
            origin
            + sites[:, 1:2] * vectors[0]
            + sites[:, 0:1] * vectors[1]
            + _look_up(field, sites)
        )
        outside = (
            ((centres < -reach) | (centres > (width - 1 + reach, height - 1 + reach)))
            .any(axis=1)
            .reshape(rr.shape)
        )
        if not outside.any():
            break
        # the edge with the most sites outside goes first
        edges = {
            "top": outside[0].sum(),
            "bottom": outside[-1].sum(),
            "left": outside[:, 0].sum(),
            "right": outside[:, -1].sum(),
        }
        edge = max(edges, key=edges.get)
        r0, r1, c0, c1 = (
            r0 + (edge == "top"),
            r1 - (edge == "bottom"),
            c0 + (edge == "left"),
            c1 - (edge == "right"),
        )
    return (int(r0), int(r1)), (int(c0), int(c1))


def _pitch_and_angle(vectors):
    """``pitch`` (lengths of the two steps) and ``angle`` (degrees counter-clockwise, as
    displayed, of the step along a row) of lattice ``vectors``."""
    return {
        "pitch": (float(np.hypot(*vectors[0])), float(np.hypot(*vectors[1]))),
        "angle": -math.degrees(math.atan2(vectors[0, 1], vectors[0, 0])),
    }


def positions_of(origin, vectors, rows, cols):
    """Lattice positions (x, y) of a ``rows x cols`` block of sites from ``origin``."""
    rr, cc = np.mgrid[:rows, :cols]
    return origin + cc[..., None] * vectors[0] + rr[..., None] * vectors[1]


def _offset_field(index, offsets):
    """Offsets of the pillars from the lattice, smoothed: per site of the block of sites
    spanned by ``index``, the median offset of the pillars in its 3 x 3 neighbourhood
    (zero where there is none). Returns the block's first row and column and the field."""
    low = index.min(axis=0)
    shape = index.max(axis=0) - low + 1
    grid = np.full((shape[0] + 2, shape[1] + 2, 2), np.nan)
    at = index - low + 1
    grid[at[:, 0], at[:, 1]] = offsets
    windows = np.lib.stride_tricks.sliding_window_view(grid, (3, 3), axis=(0, 1))
    flat = windows.reshape(shape[0], shape[1], 2, 9)
    field = np.zeros((shape[0], shape[1], 2))
    measured = ~np.all(np.isnan(flat[:, :, 0]), axis=-1)
    field[measured] = np.nanmedian(flat[measured], axis=-1)
    return low, field


def _look_up(field, index):
    """The smoothed offsets of ``_offset_field`` at sites ``index`` (zero outside)."""
    low, values = field
    at = index - low
    ok = np.all((at >= 0) & (at < values.shape[:2]), axis=1)
    out = np.zeros((len(index), 2))
    out[ok] = values[at[ok, 0], at[ok, 1]]
    return out
