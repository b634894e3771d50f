"""The read pipeline: one array image read, checked and placed (:func:`read_array`), and
many read into one :class:`TileSet` (:func:`read_arrays`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import DEFAULT_TILE_HALF
from ..io import array_names, check_image_file, lookup_labels, read_image, unique_paths
from ..utils.files import display_name
from ..utils.memory import check_memory, parse_size
from ..utils.validation import check_auto_flag, check_grid_size, check_positive_int
from ._boxes import lattice_boxes, place_lattice, tile_boxes
from ._budget import estimate_memory
from ._cut import build_tileset, profile_arrays

#: What to do when reading arrays would exceed the memory limit.
READ_MEMORY_HINT = (
    "read fewer arrays at a time, or classify a large array in bands with predict_in_bands"
)


@dataclass(eq=False)
class PlacedArray:
    """One array image read and placed: what the tiles of its sites are cut from.

    Attributes
    ----------
    path : Path
        The image file.
    image : ndarray of shape (H, W), uint8
        Its grey levels, turned upright and magnified where its found lattice asked.
    boxes : ndarray of shape (n_sites, 4)
        ``x0, y0, x1, y1`` of each site's tile in ``image``, row-major.
    shape : tuple of int
        Rows and columns of sites.
    lattice : Lattice or None
        The lattice found in the image; None on the uniform grid.
    profile : ArrayProfile or None
        Its profile, where the input was checked.
    """

    path: Path
    image: np.ndarray
    boxes: np.ndarray
    shape: tuple
    lattice: object = None
    profile: object = None

    @property
    def positions(self):
        """1-based row and column of each site, row-major: ndarray of shape (n_sites, 2)."""
        rows, cols = np.divmod(np.arange(self.shape[0] * self.shape[1]), self.shape[1])
        return np.stack([rows + 1, cols + 1], axis=1)


def read_array(
    path,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    max_memory=None,
    input_check="raise",
    derotate="auto",
    rescale="auto",
):
    """Read one array image and place its sites: every reader's one pipeline.

    The image is read (refused clearly when it is not an image or would exceed
    ``max_memory``), its grid checked or its lattice found (turned upright and
    magnified as :func:`~sklearn_pillars.read_arrays` says), every site's tile
    checked to lie in the image, and the image checked to show a pillar array
    (``input_check``). The memory of what comes after (tiles, classifying) is the
    caller's to check, from the image's header, before calling this.

    Parameters
    ----------
    path : path-like
        The array image file.
    grid_size, tile_half, max_memory, input_check, derotate, rescale
        As in :func:`~sklearn_pillars.read_arrays`.

    Returns
    -------
    PlacedArray
    """
    path = Path(os.fspath(path))
    grid_size = check_grid_size(grid_size)
    tile_half = check_positive_int(tile_half, "tile_half")
    derotate = check_auto_flag(derotate, "derotate")
    rescale = check_auto_flag(rescale, "rescale")
    grey = _read_checked(path, grid_size, tile_half, max_memory)
    placed = [_place(path, grey, grid_size, tile_half, derotate, rescale)]
    _profile(placed, grid_size, input_check)
    return placed[0]


def _read_checked(path, grid_size, tile_half, max_memory):
    """The grey image of ``path``, checked to hold the uniform grid (unless "auto")."""
    grey = read_image(path, max_memory=max_memory)
    if grid_size != "auto":
        check_image_grid(path, *grey.shape, grid_size, tile_half)
    return grey


def _place(path, grey, grid_size, tile_half, derotate, rescale):
    """The sites of ``grey``: the uniform grid's, or those of the lattice found in it
    (the image turned upright and magnified where the lattice asks)."""
    if grid_size != "auto":
        boxes = tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half)
        return PlacedArray(path, grey, boxes, (grid_size, grid_size))
    grey, lattice = place_lattice(
        grey, "auto", derotate, name=display_name(path), tile_half=tile_half, rescale=rescale
    )
    try:
        boxes = lattice_boxes(lattice, tile_half)
    except ValueError as exc:
        raise ValueError(f"{display_name(path)}: {exc}") from None
    return PlacedArray(path, grey, boxes, tuple(lattice.shape), lattice)


def _profile(placed, grid_size, input_check):
    """Check that each placed image shows a pillar array; set its profile."""
    auto = grid_size == "auto"
    profiles = profile_arrays(
        [array.image for array in placed],
        [display_name(array.path) for array in placed],
        None if auto else grid_size,
        input_check,
        [array.lattice for array in placed] if auto else None,
    )
    for array, profile in zip(placed, profiles or [None] * len(placed), strict=True):
        array.profile = profile


def read_arrays(
    paths,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    labels=None,
    max_memory=None,
    input_check="raise",
    derotate="auto",
    rescale="auto",
):
    """Read array images and cut each into one tile per lattice site.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        Array images (BMP, PNG, TIFF; 8- or 16-bit; grey or colour, converted
        to grey as ``cv2.IMREAD_GRAYSCALE`` does). Each array is named by its
        file name without suffix (by its path without suffix where two file
        names are the same).
    grid_size : int or "auto", default="auto"
        Sites per row and per column of the uniform grid, for images cropped
        to the array; ``"auto"`` finds each
        image's lattice with :func:`~sklearn_pillars.find_lattice` and cuts
        the tiles around its refined site centres (any frame, any number of
        rows and columns).
    tile_half : int, default=32
        Half the side of a full tile (tiles are clipped at the image edge).
    labels : path-like, optional
        A CSV with columns ``array, row, col`` and ``label`` (or
        ``seed_label``), and optionally ``stitch_type``; every tile read must
        have a row in it. Fills ``y`` (and ``stitch_type``).
    max_memory : int or str, optional
        Memory limit of the images and tiles (bytes, or e.g. ``"4G"``),
        estimated from the file headers before anything is read; default
        half the machine's RAM. Raises :class:`ResourceLimitError` beyond it.
    input_check : {"raise", "warn", "skip"}, default="raise"
        Whether an image that is blank or shows no lattice of ``grid_size``
        pillars raises :class:`~sklearn_pillars.NotAnArrayError`, warns, or
        is not checked. With ``grid_size="auto"``, an image in which no
        lattice is found raises :class:`~sklearn_pillars.NoLatticeError`
        whatever ``input_check`` says: there are no sites to cut.
    derotate : {"auto", True, False}, default="auto"
        With ``grid_size="auto"``, whether an image is turned upright before
        cutting: when its lattice is rotated by more than
        ``DEROTATE_ANGLE`` degrees (``sklearn_pillars.tiling``), always, or
        never (see :func:`~sklearn_pillars.tile_array`). ``array_images``,
        ``boxes`` and ``lattices`` are then those of the upright image
        (``Lattice.warp`` maps the original's coordinates to it).
    rescale : {"auto", True, False}, default="auto"
        With ``grid_size="auto"``, whether an image is magnified so that its
        pitch is the one the tiles are made for (see
        :func:`~sklearn_pillars.tile_array`).

    Returns
    -------
    TileSet
        One tile per site (``grid_size**2``, or rows x cols of each found
        lattice), arrays in the order given, with ``array_profiles`` where
        the input was checked and ``lattices`` with ``grid_size="auto"``.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        For a missing file or a folder.
    ValueError
        For a file that is not a readable image, a path given twice, or a
        grid that does not fit the image (a pitch too small to show a pillar,
        or tiles much wider than the pitch).
    ResourceLimitError
        When the images and tiles would need more than ``max_memory``.
    NotAnArrayError
        With ``input_check="raise"``, for an image that is blank or shows no
        lattice of ``grid_size`` pillars; with ``grid_size="auto"``, its
        subclass :class:`~sklearn_pillars.NoLatticeError` for an image in
        which no lattice is found.

    See Also
    --------
    read_image : Read one image file as grey.
    tile_array : Cut an image in memory into tiles.
    find_array_images : The image files named by files, folders and patterns.
    fit_arrays : Fit a model on many images without holding all their tiles.

    Examples
    --------
    >>> tiles = read_arrays(["Array_1Crop.bmp", "Array_2Crop.bmp"])  # doctest: +SKIP
    >>> tiles.X.shape  # doctest: +SKIP
    (882, 4101)

    The same with a synthetic array written to a file:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> from sklearn_pillars import make_pillar_arrays, read_arrays
    >>> image = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).array_images[0]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "wafer_a.png")
    ...     _ = cv2.imwrite(str(path), image)
    ...     tiles = read_arrays([path], grid_size=6)
    >>> tiles.X.shape, tiles.array_names
    ((36, 4101), ['wafer_a'])
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = unique_paths(paths)
    if not paths:
        raise ValueError("read_arrays needs at least one image path")
    grid_size = check_grid_size(grid_size)
    auto = grid_size == "auto"
    tile_half = check_positive_int(tile_half, "tile_half")
    derotate = check_auto_flag(derotate, "derotate")
    rescale = check_auto_flag(rescale, "rescale")
    limit = parse_size(max_memory)
    checked = [check_image_file(path, max_memory=limit) for path in paths]
    if not auto:
        for path, (header, _) in zip(paths, checked, strict=True):
            if header is not None and header.format != "unknown":
                check_image_grid(path, header.height, header.width, grid_size, tile_half)
    headers = [h for h, _ in checked if h is not None]
    grid_text = "found lattices" if auto else f"{grid_size} x {grid_size} tiles"
    hint = READ_MEMORY_HINT
    check_memory(
        estimate_memory(
            headers,
            0 if auto else grid_size,
            tile_half,
            classify=False,
            file_bytes=max(size for _, size in checked),
            lattice=auto,
        ),
        limit,
        what=f"reading {len(paths)} array(s) of {grid_text} of {2 * tile_half} pixels",
        hint=hint,
    )
    names = array_names(paths)
    greys = [_read_checked(path, grid_size, tile_half, limit) for path in paths]
    placed = []
    for index, path in enumerate(paths):  # one image at a time: turned, it is larger
        placed.append(_place(path, greys[index], grid_size, tile_half, derotate, rescale))
        greys[index] = None
    lattices = None
    if auto:
        lattices = [array.lattice for array in placed]
        check_memory(
            estimate_memory(
                headers,
                0,
                tile_half,
                classify=False,
                file_bytes=max(size for _, size in checked),
                n_sites=sum(np.prod(lat.shape) for lat in lattices),
            ),
            limit,
            what=f"reading {len(paths)} array(s) of found lattices of {2 * tile_half}-pixel tiles",
            hint=hint,
        )
    _profile(placed, grid_size, input_check)
    greys = [array.image for array in placed]
    tiles = build_tileset(greys, names, None if auto else grid_size, tile_half, lattices=lattices)
    tiles.array_profiles = None if input_check == "skip" else [a.profile for a in placed]
    if labels is not None:
        tiles.y, tiles.stitch_type = lookup_labels(labels, tiles)
    return tiles


def check_image_grid(path, height, width, grid_size, tile_half):
    try:
        tile_boxes(height, width, grid_size=grid_size, tile_half=tile_half)
    except ValueError as exc:
        raise ValueError(f"{display_name(path)}: {exc}") from None
