"""The :class:`Lattice` type: the grid, its sites and where they lie in the image."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np


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
