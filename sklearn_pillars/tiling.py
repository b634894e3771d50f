"""Cutting an array image into one tile per lattice site.

The geometry is the original notebook's: an ``H x W`` image holds a
``grid_size x grid_size`` lattice with pitch ``W / grid_size`` by
``H / grid_size``; site ``(r, c)`` (0-based) is centred at
``(int((c + 0.5) * W / grid_size), int((r + 0.5) * H / grid_size))`` and its
tile reaches ``tile_half`` pixels each way, clipped to the image. Edge tiles
are therefore smaller than ``2 * tile_half``.
"""

from __future__ import annotations

import numbers

import cv2
import numpy as np

from .tileset import TileSet, pack_tiles

#: The smallest lattice pitch, in pixels, that still resolves a pillar.
MIN_PITCH = 4
#: A tile may be at most this many pitches wide (a larger one holds mostly neighbours,
#: and its memory grows with the square).
MAX_TILE_PITCHES = 4


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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
    grid_size = _check_positive_int(grid_size, "grid_size")
    tile_half = _check_positive_int(tile_half, "tile_half")
    pitch_y, pitch_x = height / grid_size, width / grid_size
    if min(pitch_x, pitch_y) < MIN_PITCH:
        raise ValueError(
            f"grid_size={grid_size} on an image of {height} x {width} pixels gives a lattice "
            f"pitch of {min(pitch_x, pitch_y):.1f} pixels, below the {MIN_PITCH} needed to "
            "see a pillar; check the grid size"
        )
    if 2 * tile_half > MAX_TILE_PITCHES * max(pitch_x, pitch_y):
        raise ValueError(
            f"tile_half={tile_half} gives tiles of {2 * tile_half} pixels, more than "
            f"{MAX_TILE_PITCHES} times the lattice pitch ({max(pitch_x, pitch_y):.0f} pixels "
            f"for grid_size={grid_size}); a tile should span about one pitch"
        )


def tile_boxes(height, width, grid_size=21, tile_half=32):
    """Tile boxes of the seed's lattice for an image of the given size.

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

    Examples
    --------
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


def to_grey(image, name="image"):
    """Convert an in-memory image to 2-D uint8 grey as the notebook sees it.

    Grey uint8 is returned unchanged. 16-bit images keep their high byte, as
    OpenCV's ``IMREAD_GRAYSCALE`` does. Colour (BGR or BGRA, OpenCV's channel
    order) goes through OpenCV's BMP codec with ``IMREAD_GRAYSCALE``: the
    notebook wrote colour tiles to BMP and read them back that way. This
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


INPUT_CHECKS = ("raise", "warn", "skip")


def profile_arrays(greys, names, grid_size, input_check="raise"):
    """Check that each image shows a pillar array of the grid; return their profiles.

    Parameters
    ----------
    greys : sequence of ndarray
        Grey array images.
    names : sequence of str
        Their names, for messages.
    grid_size : int
    input_check : {"raise", "warn", "skip"}, default="raise"
        What to do with an image that is blank or shows no lattice of the
        grid (:func:`~sklearn_pillars.sanity.check_pillar_array`): raise
        :class:`~sklearn_pillars.NotAnArrayError`, warn and go on, or skip
        the check (no profiles).

    Returns
    -------
    list of ArrayProfile or None
    """
    from .sanity import check_pillar_array

    if input_check not in INPUT_CHECKS:
        raise ValueError(f"input_check must be one of {INPUT_CHECKS}, got {input_check!r}")
    if input_check == "skip":
        return None
    return [check_pillar_array(grey, grid_size, name=str(name), on_fail=input_check)
            for grey, name in zip(greys, names, strict=True)]


def tile_array(image, grid_size=21, tile_half=32, *, name="array", input_check="raise"):
    """Cut an in-memory array image into one tile per lattice site.

    Parameters
    ----------
    image : ndarray
        Grey (H, W) or colour (H, W, 3|4, BGR) image, uint8 or uint16;
        converted with :func:`to_grey`.
    grid_size : int, default=21
        Sites per row and per column.
    tile_half : int, default=32
        Half the side of a full tile; tiles are ``2 * tile_half`` square
        except at the image edge, where they are clipped.
    name : str, default="array"
        Name of the array, used in ``array_names`` and tile names.
    input_check : {"raise", "warn", "skip"}, default="raise"
        Whether a blank image, or one without a lattice of ``grid_size``
        pillars, raises :class:`~sklearn_pillars.NotAnArrayError`, warns, or
        is not checked (see :func:`profile_arrays`).

    Returns
    -------
    TileSet
        ``grid_size**2`` tiles in row-major order, all with array index 0;
        combine several with :func:`~sklearn_pillars.concat_tilesets`.

    Examples
    --------
    >>> import numpy as np
    >>> blank = np.zeros((210, 210), np.uint8)
    >>> tiles = tile_array(blank, grid_size=21, tile_half=5, input_check="skip")
    >>> len(tiles), tiles.images[0].shape, tiles.X.shape
    (441, (10, 10), (441, 105))
    """
    grey = to_grey(image, name=repr(name))
    tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half)  # validates
    profiles = profile_arrays([grey], [name], grid_size, input_check)
    tiles = build_tileset([grey], [name], grid_size, tile_half)
    tiles.array_profiles = profiles
    return tiles


def build_tileset(greys, names, grid_size, tile_half, sites=None):
    """One TileSet of the lattice sites of several grey images (array index = list position).

    ``sites`` (row-major site numbers) restricts every image to those sites.
    X is allocated once for all the images.
    """
    images, positions, boxes = [], [], []
    for index, grey in enumerate(greys):
        all_boxes = tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half)
        chosen = np.arange(len(all_boxes)) if sites is None else sites
        rows, cols = np.divmod(chosen, grid_size)
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
    )


def iter_tile_chunks(image, grid_size=21, tile_half=32, *, chunk_rows=64, halo=0,
                     name="array", input_check="raise"):
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
    image, grid_size, tile_half, name, input_check
        As in :func:`tile_array` (the whole image is checked once).
    chunk_rows : int, default=64
        Core grid rows per band.
    halo : int, default=0
        Extra grid rows above and below each band.

    Yields
    ------
    TileSet
    """
    chunk_rows = _check_positive_int(chunk_rows, "chunk_rows")
    if isinstance(halo, bool) or not isinstance(halo, numbers.Integral) or halo < 0:
        raise ValueError(f"halo must be a non-negative integer, got {halo!r}")
    grey = to_grey(image, name=repr(name))
    tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half)  # validates
    profile_arrays([grey], [name], grid_size, input_check)
    for start in range(0, grid_size, chunk_rows):
        first = max(0, start - halo)
        stop = min(grid_size, start + chunk_rows + halo)
        sites = np.arange(first * grid_size, stop * grid_size)
        yield build_tileset([grey], [name], grid_size, tile_half, sites=sites)
