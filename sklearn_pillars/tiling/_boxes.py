"""Cutting an array image into one tile per lattice site.

Two geometries:

- **uniform** (an integer ``grid_size``, for images cropped to the array): an
  ``H x W`` image holds a ``grid_size x grid_size`` lattice with pitch
  ``W / grid_size`` by ``H / grid_size``; site ``(r, c)`` (0-based) is
  centred at ``(int((c + 0.5) * W / grid_size), int((r + 0.5) * H / grid_size))``;
- **found** (``grid_size="auto"`` or a :class:`~sklearn_pillars.Lattice`):
  the sites are the refined centres of :func:`~sklearn_pillars.find_lattice`,
  any number of rows and columns, anywhere in the frame; an image rotated by
  more than :data:`DEROTATE_ANGLE` degrees is first turned so that the rows
  run along x.

Either way a tile reaches ``tile_half`` pixels each way from its site,
clipped to the image, so edge tiles may be smaller than ``2 * tile_half``."""

from __future__ import annotations

import math

import numpy as np

from ..constants import DEFAULT_GRID_SIZE, DEFAULT_TILE_HALF
from ..exceptions import NoLatticeError
from ..lattice import Lattice, find_lattice, reframe
from ..utils.validation import check_auto_flag, check_positive_int

#: The smallest lattice pitch, in pixels, that still resolves a pillar.
MIN_PITCH = 4


#: A tile may be at most this many pitches wide (a larger one holds mostly neighbours,
#: and its memory grows with the square).
MAX_TILE_PITCHES = 4


#: Rotation (degrees) of a found lattice beyond which ``derotate="auto"`` turns the image
#: first: at 0.5 degrees the corners of a 64-pixel tile are off by 0.4 pixels.
DEROTATE_ANGLE = 0.5


#: A full tile spans this many lattice pitches: the arrays the analysis was designed on
#: have a pitch of about 54 pixels under tiles of 64.
TILE_PITCHES = 64 / 54


#: ``rescale="auto"`` magnifies the image when the pitch found differs from
#: ``2 * tile_half / TILE_PITCHES`` by more than this fraction.
RESCALE_TOLERANCE = 0.1


#: ... and by at most this factor when it enlarges the image (memory grows with its square).
MAX_ENLARGE = 1.5


def check_geometry(height, width, grid_size, tile_half):
    """Refuse a grid whose pitch is too small, or tiles much larger than the pitch.

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    grid_size, tile_half : int
        As in :func:`tile_boxes`.

    Raises
    ------
    ValueError
        When the pitch is below :data:`MIN_PITCH` pixels or a tile
        (``2 * tile_half``) is more than :data:`MAX_TILE_PITCHES` pitches wide.
    """
    grid_size = check_positive_int(grid_size, "grid_size")
    tile_half = check_positive_int(tile_half, "tile_half")
    pitch_y, pitch_x = height / grid_size, width / grid_size
    if min(pitch_x, pitch_y) < MIN_PITCH:
        raise ValueError(
            f"grid_size={grid_size} on an image of {height} x {width} pixels gives a lattice "
            f"pitch of {min(pitch_x, pitch_y):.1f} pixels, below the {MIN_PITCH} needed to "
            "see a pillar; check the grid size"
        )
    check_tile_span(tile_half, max(pitch_x, pitch_y), f"for grid_size={grid_size}")


def tile_boxes(height, width, grid_size=DEFAULT_GRID_SIZE, tile_half=DEFAULT_TILE_HALF):
    """Tile boxes of the uniform grid of sites for an image of the given size.

    The image is divided into ``grid_size`` equal cells a side; each tile is
    centred on a cell's centre (truncated to whole pixels) and clipped at
    the image edge.

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    grid_size : int, default=21
        Sites per row and per column.
    tile_half : int, default=32
        Half the side of a full tile.

    Returns
    -------
    boxes : ndarray of shape (grid_size**2, 4), int64
        ``x0, y0, x1, y1`` per site, row-major (x1, y1 exclusive).

    Raises
    ------
    ValueError
        If ``grid_size`` or ``tile_half`` is not a positive integer, the
        grid's pitch is too small to show a pillar, or a tile is much wider
        than the pitch.

    See Also
    --------
    tile_array : Cut an image into the tiles of these boxes.
    Lattice : Sites found in an uncropped or rotated frame instead.

    Examples
    --------
    >>> from sklearn_pillars import tile_boxes
    >>> tile_boxes(100, 100, grid_size=2, tile_half=10)[:2].tolist()
    [[15, 15, 35, 35], [65, 15, 85, 35]]
    """
    check_geometry(height, width, grid_size, tile_half)
    # Same float64 arithmetic and truncation as the notebook's int((c + 0.5) * spacing).
    sites = np.arange(grid_size) + 0.5
    cx = (sites * (width / grid_size)).astype(np.int64)
    cy = (sites * (height / grid_size)).astype(np.int64)
    x0 = np.maximum(0, cx - tile_half)
    x1 = np.minimum(width, cx + tile_half)
    y0 = np.maximum(0, cy - tile_half)
    y1 = np.minimum(height, cy + tile_half)
    rows, cols = np.divmod(np.arange(grid_size * grid_size), grid_size)
    return np.stack([x0[cols], y0[rows], x1[cols], y1[rows]], axis=1)


def check_tile_span(tile_half, pitch, what):
    """Refuse tiles (of side ``2 * tile_half``) more than :data:`MAX_TILE_PITCHES` pitches wide."""
    if 2 * tile_half > MAX_TILE_PITCHES * pitch:
        raise ValueError(
            f"tile_half={tile_half} gives tiles of {2 * tile_half} pixels, more than "
            f"{MAX_TILE_PITCHES} times the lattice pitch ({pitch:.0f} pixels {what}); "
            "a tile should span about one pitch"
        )


def lattice_boxes(lattice, tile_half=DEFAULT_TILE_HALF):
    """Tile boxes centred on the refined site centres of a found lattice.

    Parameters
    ----------
    lattice : Lattice
        From :func:`~sklearn_pillars.find_lattice`.
    tile_half : int, default=32
        Half the side of a full tile.

    Returns
    -------
    boxes : ndarray of shape (rows * cols, 4), int64
        ``x0, y0, x1, y1`` per site, row-major (x1, y1 exclusive), clipped to
        the image.

    Raises
    ------
    ValueError
        For tiles more than :data:`MAX_TILE_PITCHES` pitches wide, and for a
        site more than half a pitch outside the image (a lattice of another
        image; :func:`~sklearn_pillars.find_lattice` keeps its sites inside).
    """
    tile_half = check_positive_int(tile_half, "tile_half")
    check_tile_span(tile_half, max(lattice.pitch), "found in the image")
    height, width = lattice.image_shape
    centers = lattice.centers.reshape(-1, 2)
    reach = 0.5 * min(lattice.pitch)
    outside = ((centers < -reach) | (centers > (width - 1 + reach, height - 1 + reach))).any(1)
    if outside.any():
        row, col = np.divmod(np.flatnonzero(outside)[0], lattice.shape[1])
        raise ValueError(
            f"site ({row + 1}, {col + 1}) of the lattice lies at "
            f"({centers[outside][0, 0]:.0f}, {centers[outside][0, 1]:.0f}), outside "
            f"the image of {height} x {width} pixels: a lattice of another image?"
        )
    # Pixel i covers [i - 0.5, i + 0.5): the box [c - h, c + h) is centred on c - 0.5, the
    # nearest such point to a site at ceil(x) (an integer site as in the uniform grid).
    cx, cy = np.ceil(centers).astype(np.int64).T
    x0 = np.clip(cx - tile_half, 0, width - 1)
    y0 = np.clip(cy - tile_half, 0, height - 1)
    x1 = np.clip(cx + tile_half, x0 + 1, width)
    y1 = np.clip(cy + tile_half, y0 + 1, height)
    return np.stack([x0, y0, x1, y1], axis=1)


def place_lattice(grey, lattice, derotate="auto", *, name="image", tile_half=None, rescale="auto"):
    """The image and lattice to cut tiles from: the lattice found if ``"auto"``, and
    both turned upright and magnified where ``derotate`` and ``rescale`` ask for it.

    Parameters
    ----------
    grey : ndarray of shape (H, W), uint8
    lattice : "auto" or Lattice
        ``"auto"`` finds it with :func:`~sklearn_pillars.find_lattice`.
    derotate : {"auto", True, False}, default="auto"
        Turn the image so that the rows run along x: when the lattice is
        rotated by more than :data:`DEROTATE_ANGLE` degrees, always, or never.
    name : str
        Names the image in messages.
    tile_half : int, optional
        The tiles to be cut; without it nothing is rescaled.
    rescale : {"auto", True, False}, default="auto"
        As in :func:`tile_array`.

    Returns
    -------
    grey : ndarray, uint8
    lattice : Lattice

    Raises
    ------
    NoLatticeError
        When ``lattice="auto"`` and the image shows no lattice of pillars.
    """

    derotate = check_auto_flag(derotate, "derotate")
    rescale = check_auto_flag(rescale, "rescale")
    if isinstance(lattice, str) and lattice == "auto":
        try:
            lattice = find_lattice(grey)
        except NoLatticeError as error:
            raise NoLatticeError(f"{name}: {error}") from None
    elif not isinstance(lattice, Lattice):
        raise TypeError(f"lattice must be 'auto' or a Lattice, got {type(lattice).__name__}")
    elif tuple(lattice.image_shape) != grey.shape:
        raise ValueError(
            f"the lattice was found in an image of {lattice.image_shape[0]} x "
            f"{lattice.image_shape[1]} pixels, but {name} has "
            f"{grey.shape[0]} x {grey.shape[1]}"
        )
    turn = derotate is True or (derotate == "auto" and abs(lattice.angle) > DEROTATE_ANGLE)
    scale = 1.0
    if tile_half is not None and rescale is not False:  # True: exactly, within tolerance too
        tolerance = 0.0 if rescale is True else RESCALE_TOLERANCE
        scale = pitch_scale(lattice, tile_half, tolerance=tolerance)
    if turn or scale != 1.0:
        grey, lattice = reframe(grey, lattice, angle=lattice.angle if turn else 0.0, scale=scale)
    return grey, lattice


def pitch_scale(lattice, tile_half, tolerance=RESCALE_TOLERANCE):
    """The magnification that brings ``lattice``'s pitch (geometric mean of the two) to the
    one ``tile_half`` is made for, ``2 * tile_half / TILE_PITCHES``; 1.0 within
    ``tolerance``, at most :data:`MAX_ENLARGE`."""
    pitch = math.sqrt(lattice.pitch[0] * lattice.pitch[1])
    scale = 2 * tile_half / TILE_PITCHES / pitch
    return 1.0 if abs(scale - 1) <= tolerance else min(scale, MAX_ENLARGE)
