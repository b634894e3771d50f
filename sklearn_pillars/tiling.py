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
clipped to the image, so edge tiles may be smaller than ``2 * tile_half``.
"""

from __future__ import annotations

import math
import numbers

import cv2
import numpy as np

from .constants import DEFAULT_GRID_SIZE, DEFAULT_TILE_HALF, check_positive_int
from .tileset import TileSet, pack_tiles

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
    check_tile_half(tile_half, max(pitch_x, pitch_y), f"for grid_size={grid_size}")


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


def check_tile_half(tile_half, pitch, what):
    """Refuse tiles more than :data:`MAX_TILE_PITCHES` pitches wide."""
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
    check_tile_half(tile_half, max(lattice.pitch), "found in the image")
    height, width = lattice.image_shape
    centres = lattice.centers.reshape(-1, 2)
    reach = 0.5 * min(lattice.pitch)
    outside = ((centres < -reach) | (centres > (width - 1 + reach, height - 1 + reach))).any(1)
    if outside.any():
        row, col = np.divmod(np.flatnonzero(outside)[0], lattice.shape[1])
        raise ValueError(
            f"site ({row + 1}, {col + 1}) of the lattice lies at "
            f"({centres[outside][0, 0]:.0f}, {centres[outside][0, 1]:.0f}), outside "
            f"the image of {height} x {width} pixels: a lattice of another image?"
        )
    # Pixel i covers [i - 0.5, i + 0.5): the box [c - h, c + h) is centred on c - 0.5, the
    # nearest such point to a site at ceil(x) (an integer site as in the uniform grid).
    cx, cy = np.ceil(centres).astype(np.int64).T
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
    from .lattice import Lattice, NoLatticeError, find_lattice, reframe

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


def check_auto_flag(value, name):
    """``value`` (``derotate``, ``rescale``) as ``"auto"``, True or False; ValueError naming
    ``name`` for anything else."""
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be 'auto', True or False, got {value!r}")


def check_grid_size(grid_size):
    """``grid_size`` as a positive int, or ``"auto"`` (any case); ValueError otherwise."""
    if isinstance(grid_size, str) and grid_size.strip().lower() == "auto":
        return "auto"
    if isinstance(grid_size, bool) or not isinstance(grid_size, numbers.Integral) or grid_size <= 0:
        raise ValueError(f"grid_size must be a positive integer or 'auto', got {grid_size!r}")
    return int(grid_size)


def _lattice_argument(grid_size, lattice):
    """``lattice`` as given, or ``"auto"`` for ``grid_size="auto"``; checks ``grid_size``."""
    if check_grid_size(grid_size) == "auto":
        return "auto" if lattice is None else lattice
    return lattice


def to_grey(image, name="image"):
    """Convert an in-memory image to 2-D uint8 grey, as reading it from a BMP file does.

    Grey uint8 is returned unchanged. 16-bit images keep their high byte, as
    OpenCV's ``IMREAD_GRAYSCALE`` does. Colour (BGR or BGRA, OpenCV's channel
    order) goes through OpenCV's BMP codec with ``IMREAD_GRAYSCALE``, as the
    original analysis did (it wrote colour tiles to BMP and read them back). This
    equals reading a colour BMP file; other codecs (PNG, TIFF) convert colour
    with their own rounding and can differ by one grey level, so read such
    files with :func:`~sklearn_pillars.read_arrays` for their exact values.
    """
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise TypeError(
            f"{name} must be uint8 or uint16 grey levels, got dtype {image.dtype}; "
            "convert it first, e.g. with skimage.util.img_as_ubyte"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        if image.shape[2] == 4:
            image = np.ascontiguousarray(image[:, :, :3])
        ok, buffer = cv2.imencode(".bmp", np.ascontiguousarray(image))
        if not ok:  # pragma: no cover - BMP encoding of uint8 BGR does not fail
            raise ValueError(f"OpenCV could not convert {name} to grey")
        image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
    if image.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D grey image or an (H, W, 3|4) colour image, "
            f"got shape {image.shape}"
        )
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    return image


#: The values of ``input_check``: raise, warn, or do not check an image that is not an array.
INPUT_CHECKS = ("raise", "warn", "skip")


def profile_arrays(greys, names, grid_size, input_check="raise", lattices=None):
    """Check that each image shows a pillar array of the grid; return their profiles.

    Parameters
    ----------
    greys : sequence of ndarray
        Grey array images.
    names : sequence of str
        Their names, for messages.
    grid_size : int or None
        Sites per row and column of the uniform geometry (None with ``lattices``).
    input_check : {"raise", "warn", "skip"}, default="raise"
        What to do with an image that is blank or shows no lattice of the
        grid (:func:`~sklearn_pillars.sanity.check_pillar_array`): raise
        :class:`~sklearn_pillars.NotAnArrayError`, warn and go on, or skip
        the check (no profiles).
    lattices : sequence of Lattice, optional
        The lattice found in each image, instead of the uniform grid.

    Returns
    -------
    list of ArrayProfile or None
    """
    from .sanity import check_pillar_array

    if input_check not in INPUT_CHECKS:
        raise ValueError(f"input_check must be one of {INPUT_CHECKS}, got {input_check!r}")
    if input_check == "skip":
        return None
    lattices = [None] * len(greys) if lattices is None else lattices
    return [
        check_pillar_array(grey, grid_size, name=str(name), on_fail=input_check, lattice=lattice)
        for grey, name, lattice in zip(greys, names, lattices, strict=True)
    ]


def tile_array(
    image,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    lattice=None,
    derotate="auto",
    rescale="auto",
    name="array",
    input_check="raise",
):
    """Cut an in-memory array image into one tile per lattice site.

    Parameters
    ----------
    image : ndarray
        Grey (H, W) or colour (H, W, 3|4, BGR) image, uint8 or uint16;
        converted to 2-D uint8 grey.
    grid_size : int or "auto", default="auto"
        Sites per row and per column of the uniform geometry, which expects
        the image cropped to the array; ``"auto"`` finds the
        lattice in the image (as ``lattice="auto"``).
    tile_half : int, default=32
        Half the side of a full tile; tiles are ``2 * tile_half`` square
        except at the image edge, where they are clipped.
    lattice : "auto" or Lattice, optional
        Cut around the refined site centres of a lattice instead of the
        uniform grid: ``"auto"`` finds it with
        :func:`~sklearn_pillars.find_lattice`; or a :class:`~sklearn_pillars.Lattice`
        found in this image. ``grid_size`` is then ignored.
    derotate : {"auto", True, False}, default="auto"
        With a lattice, turn the image so that its rows run along x before
        cutting: when it is rotated by more than ``DEROTATE_ANGLE``
        degrees (``sklearn_pillars.tiling``), always, or never.
        ``array_images`` and ``boxes`` are then those of the turned image.
    rescale : {"auto", True, False}, default="auto"
        With a lattice, magnify the image so that the pitch is the one the
        tiles are made for, ``2 * tile_half / TILE_PITCHES`` (54 pixels for
        ``tile_half=32``): when the pitch found differs from it by more than
        ``RESCALE_TOLERANCE`` (10%), always, or never. The features are
        measured in pixels, so this keeps them the same under another
        objective. Enlarging stops at ``MAX_ENLARGE`` (1.5x).
    name : str, default="array"
        Name of the array, used in ``array_names`` and tile names.
    input_check : {"raise", "warn", "skip"}, default="raise"
        Whether a blank image, or one without a lattice of ``grid_size``
        pillars, raises :class:`~sklearn_pillars.NotAnArrayError`, warns, or
        is not checked (see :func:`~sklearn_pillars.check_pillar_array`).
        An image in which
        ``"auto"`` finds no lattice always raises
        :class:`~sklearn_pillars.NoLatticeError`.

    Returns
    -------
    TileSet
        One tile per site in row-major order (``grid_size**2``, or rows x
        cols of the lattice), all with array index 0, and ``lattices`` (the
        lattice, or None for the uniform grid); combine several with
        :func:`~sklearn_pillars.concat_tilesets`.

    Raises
    ------
    ValueError
        If the image is not a 2-D or 3-D uint8 or uint16 array, or the grid
        or lattice does not fit it (pitch too small, tiles much wider than
        the pitch).
    NotAnArrayError
        With ``input_check="raise"``, for a blank image or one that shows no
        lattice of ``grid_size`` pillars.
    NoLatticeError
        When ``"auto"`` finds no lattice in the image.

    See Also
    --------
    read_arrays : Read image files and cut them the same way.
    iter_tile_chunks : Cut a large image a band of grid rows at a time.
    tile_boxes : The boxes of the uniform grid.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import tile_array
    >>> blank = np.zeros((210, 210), np.uint8)
    >>> tiles = tile_array(blank, grid_size=21, tile_half=5, input_check="skip")
    >>> len(tiles), tiles.images[0].shape, tiles.X.shape
    (441, (10, 10), (441, 105))
    """
    lattice = _lattice_argument(grid_size, lattice)
    tile_half = check_positive_int(tile_half, "tile_half")
    grey = to_grey(image, name=repr(name))
    if lattice is None:
        tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half)  # validates
    else:
        grey, lattice = place_lattice(
            grey, lattice, derotate, name=repr(name), tile_half=tile_half, rescale=rescale
        )
        lattice_boxes(lattice, tile_half)  # validates
    lattices = None if lattice is None else [lattice]
    profiles = profile_arrays([grey], [name], grid_size, input_check, lattices)
    tiles = build_tileset([grey], [name], grid_size, tile_half, lattices=lattices)
    tiles.array_profiles = profiles
    return tiles


def build_tileset(greys, names, grid_size, tile_half, sites=None, lattices=None):
    """One TileSet of the lattice sites of several grey images (array index = list position).

    The sites are those of the uniform ``grid_size`` grid, or of ``lattices``
    (one per image) where given. ``sites`` (row-major site numbers)
    restricts every image to those sites. X is allocated once for all the images.
    """
    images, positions, boxes = [], [], []
    for index, grey in enumerate(greys):
        if lattices is None:
            all_boxes = tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half)
            n_cols = grid_size
        else:
            all_boxes = lattice_boxes(lattices[index], tile_half)
            n_cols = lattices[index].shape[1]
        chosen = np.arange(len(all_boxes)) if sites is None else sites
        rows, cols = np.divmod(chosen, n_cols)
        boxes.append(all_boxes[chosen])
        images += [grey[y0:y1, x0:x1] for x0, y0, x1, y1 in boxes[-1]]
        positions.append(np.stack([np.full_like(chosen, index), rows + 1, cols + 1], axis=1))
    positions = np.concatenate(positions)
    return TileSet(
        X=pack_tiles(images, positions, 2 * tile_half),
        images=images,
        positions=positions,
        array_names=list(names),
        boxes=np.concatenate(boxes),
        tile_size=2 * tile_half,
        array_images=list(greys),
        lattices=None if lattices is None else list(lattices),
    )


def iter_tile_chunks(
    image,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    chunk_rows=64,
    halo=0,
    lattice=None,
    derotate="auto",
    rescale="auto",
    name="array",
    input_check="raise",
):
    """Cut a large array image lazily, a band of grid rows at a time.

    For wafer-scale arrays whose X does not fit in memory at once: band
    ``i`` holds grid rows ``i * chunk_rows + 1`` to ``(i + 1) * chunk_rows``
    (its *core*; the last band may hold fewer) and ``halo`` more rows above
    and below, clipped to the grid, with positions in the whole grid. A halo
    of one row gives every core tile all its grid neighbours, so features
    that use neighbours are those of the whole array; keep each band's core
    rows (:func:`~sklearn_pillars.predict_in_bands` does).

    Parameters
    ----------
    image, grid_size, tile_half, lattice, derotate, rescale, name, input_check
        As in :func:`tile_array` (the whole image is checked once, and a
        lattice found once).
    chunk_rows : int, default=64
        Core grid rows per band.
    halo : int, default=0
        Extra grid rows above and below each band.

    Yields
    ------
    TileSet
        One band's tiles (core and halo rows), row-major, with their
        positions (1-based rows and columns) in the whole grid and array
        index 0; ``lattices`` holds the lattice, or None for the uniform
        grid.

    Raises
    ------
    ValueError
        If ``chunk_rows`` is not a positive integer, ``halo`` a
        non-negative one, or as :func:`~sklearn_pillars.tile_array`.
    NotAnArrayError, NoLatticeError
        As :func:`~sklearn_pillars.tile_array`.

    See Also
    --------
    predict_in_bands : Classify a large image band by band.
    tile_array : Cut the whole image at once.

    Examples
    --------
    >>> from sklearn_pillars import iter_tile_chunks, make_pillar_arrays
    >>> image = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).array_images[0]
    >>> bands = list(iter_tile_chunks(image, grid_size=6, chunk_rows=4, halo=1))
    >>> [len(band) for band in bands]  # rows 1-5, then rows 4-6
    [30, 18]
    >>> sorted(set(bands[1].positions[:, 1].tolist()))
    [4, 5, 6]
    """
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    if isinstance(halo, bool) or not isinstance(halo, numbers.Integral) or halo < 0:
        raise ValueError(f"halo must be a non-negative integer, got {halo!r}")
    lattice = _lattice_argument(grid_size, lattice)
    tile_half = check_positive_int(tile_half, "tile_half")
    grey = to_grey(image, name=repr(name))
    if lattice is None:
        tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half)  # validates
        n_rows = n_cols = grid_size
    else:
        grey, lattice = place_lattice(
            grey, lattice, derotate, name=repr(name), tile_half=tile_half, rescale=rescale
        )
        lattice_boxes(lattice, tile_half)  # validates
        n_rows, n_cols = lattice.shape
    lattices = None if lattice is None else [lattice]
    profile_arrays([grey], [name], grid_size, input_check, lattices)
    for start in range(0, n_rows, chunk_rows):
        first = max(0, start - halo)
        stop = min(n_rows, start + chunk_rows + halo)
        sites = np.arange(first * n_cols, stop * n_cols)
        yield build_tileset([grey], [name], grid_size, tile_half, sites=sites, lattices=lattices)
