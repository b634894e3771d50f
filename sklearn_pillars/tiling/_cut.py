"""Cutting array images into tiles: one array (:func:`tile_array`), many into one
:class:`TileSet`, or chunks of rows at a time (:func:`iter_tile_chunks`)."""

from __future__ import annotations

import numbers

import numpy as np

from ..constants import DEFAULT_TILE_HALF
from ..io import to_grey
from ..lattice import check_pillar_array
from ..utils.validation import check_grid_size, check_positive_int
from ._boxes import lattice_boxes, place_lattice, tile_boxes
from ._tileset import TileSet, pack_tiles


def _lattice_argument(grid_size, lattice):
    """``lattice`` as given, or ``"auto"`` for ``grid_size="auto"``; checks ``grid_size``."""
    if check_grid_size(grid_size) == "auto":
        return "auto" if lattice is None else lattice
    return lattice


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
        grid (:func:`~sklearn_pillars.check_pillar_array`): raise
        :class:`~sklearn_pillars.NotAnArrayError`, warn and go on, or skip
        the check (no profiles).
    lattices : sequence of Lattice, optional
        The lattice found in each image, instead of the uniform grid.

    Returns
    -------
    list of ArrayProfile or None
    """

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
