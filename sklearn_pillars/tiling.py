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


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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
    grid_size = _check_positive_int(grid_size, "grid_size")
    tile_half = _check_positive_int(tile_half, "tile_half")
    if height < grid_size or width < grid_size:
        raise ValueError(
            f"image of {height} x {width} pixels is smaller than the grid: grid_size={grid_size} "
            "needs at least one pixel per site in each direction"
        )
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


def tile_array(image, grid_size=21, tile_half=32, *, name="array"):
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

    Returns
    -------
    TileSet
        ``grid_size**2`` tiles in row-major order, all with array index 0;
        combine several with :func:`~sklearn_pillars.concat_tilesets`.

    Examples
    --------
    >>> import numpy as np
    >>> tiles = tile_array(np.zeros((210, 210), np.uint8), grid_size=21, tile_half=5)
    >>> len(tiles), tiles.images[0].shape, tiles.X.shape
    (441, (10, 10), (441, 105))
    """
    grey = to_grey(image, name=repr(name))
    return build_tileset([grey], [name], grid_size, tile_half)


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
                     name="array"):
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
    image, grid_size, tile_half, name
        As in :func:`tile_array`.
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
    for start in range(0, grid_size, chunk_rows):
        first = max(0, start - halo)
        stop = min(grid_size, start + chunk_rows + halo)
        sites = np.arange(first * grid_size, stop * grid_size)
        yield build_tileset([grey], [name], grid_size, tile_half, sites=sites)
