"""Reading array images and tile label files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np

from ._files import display_name
from .constants import CLASSES, DEFAULT_TILE_HALF, check_positive_int
from .limits import check_memory, estimate_memory, format_size, parse_size, read_image_header
from .tiling import (
    build_tileset,
    check_auto_flag,
    check_grid_size,
    lattice_boxes,
    place_lattice,
    profile_arrays,
    tile_boxes,
)

#: Files of a format no header reader knows are not read beyond this size; nor are
#: files larger than this beyond twice the raw size of the image their header describes
#: (room for metadata and incompressible data, not for a 3 GB file behind a small header).
UNKNOWN_FORMAT_MAX_BYTES = 64 * 2**20
#: A file is not read when it is larger than this many times the raw size of the image
#: its header describes, plus :data:`UNKNOWN_FORMAT_MAX_BYTES`.
MAX_FILE_PER_IMAGE_BYTE = 2


class _QuietOpenCV:
    """Silence OpenCV's own log lines while decoding: we raise our own errors."""

    # OpenCV 5 has cv2.utils.logging; 4.x has cv2.getLogLevel/setLogLevel (0 = silent)
    _api = getattr(getattr(cv2, "utils", None), "logging", None) or cv2

    def __enter__(self):
        self._level = self._api.getLogLevel()
        self._api.setLogLevel(0)

    def __exit__(self, *exc):
        self._api.setLogLevel(self._level)


def check_regular_file(path):
    """``path`` as a Path if it names a regular file; FileNotFoundError, IsADirectoryError
    or ValueError (a FIFO, device or socket: never opened, so never blocks) otherwise."""
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"{display_name(path)}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{display_name(path)}: is a folder, not an image file")
    if not path.is_file():
        raise ValueError(
            f"{display_name(path)}: not a regular file (a FIFO, device or "
            "socket); give an image file"
        )
    return path


def find_array_images(inputs, *, skip_non_images=False):
    """The image files named by files, folders and glob patterns, in order.

    A folder gives its files (not its subfolders or hidden files) sorted by
    name; a pattern with ``*``, ``?`` or ``[`` that names no file gives the
    files it matches, sorted (``**`` is not recursive; a name holding such
    characters is taken as it is when it exists, else escape them with
    ``glob.escape``). A file named as such is always taken (reading
    it says what is wrong with it); a file found in a folder or by a pattern
    must be an image (its first bytes say so), or it is an error, or with
    ``skip_non_images`` it is left out with a warning.

    Parameters
    ----------
    inputs : path-like, str or sequence of them
        Image files, folders and glob patterns.
    skip_non_images : bool, default=False
        Leave out, with one ``UserWarning``, the files of a folder or
        pattern that are not images, instead of raising ValueError.

    Returns
    -------
    list of Path
        Without repeats: a file named twice (directly, in a folder or by a
        pattern) is a ValueError.

    Raises
    ------
    FileNotFoundError
        If an input names nothing, or a folder or pattern holds no image.
    PermissionError
        If a file of a folder or pattern cannot be read.
    ValueError
        If there are no inputs, a folder or pattern holds a file that is not
        an image (without ``skip_non_images``), or a file is named twice.

    See Also
    --------
    read_arrays : Read the images found and cut them into tiles.
    inspect_arrays : Classify the images found and write a report.

    Examples
    --------
    >>> find_array_images(["wafer_7/", "extra/*.bmp"])  # doctest: +SKIP
    [PosixPath('wafer_7/a01.bmp'), PosixPath('wafer_7/a02.bmp'), PosixPath('extra/b.bmp')]

    A folder holding two images and a text file:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> import numpy as np
    >>> from sklearn_pillars import find_array_images
    >>> import warnings
    >>> with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # the warning that notes.txt is left out
    ...     for name in ("b.png", "a.png"):
    ...         _ = cv2.imwrite(str(Path(folder, name)), np.zeros((8, 8), np.uint8))
    ...     _ = Path(folder, "notes.txt").write_text("not an image")
    ...     found = find_array_images(folder, skip_non_images=True)
    ...     [path.name for path in found]
    ['a.png', 'b.png']
    """
    import glob
    import warnings

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise ValueError("no array images given")
    paths, skipped = [], []
    for item in inputs:
        path = Path(os.fspath(item))
        if path.is_dir():
            found = sorted(
                (p for p in path.iterdir() if not p.name.startswith(".") and not p.is_dir()),
                key=lambda p: p.name,
            )
            where = f"folder {display_name(path)}"
        elif not path.exists() and any(ch in str(item) for ch in "*?["):
            found = sorted(
                (Path(p) for p in glob.glob(os.fspath(item)) if not Path(p).is_dir()), key=str
            )
            where = f"pattern {str(item)!r}"
        else:
            paths.append(check_regular_file(path))
            continue
        images = []
        for file in found:
            if not os.access(file, os.R_OK):
                raise PermissionError(
                    f"{display_name(file)} (in {where}): cannot be read (permission denied)"
                )
            if file.is_file() and read_image_header(file) is not None:
                images.append(file)
            elif skip_non_images:
                skipped.append(file)
            else:
                raise ValueError(
                    f"{display_name(file)} (in {where}): not an image (PNG, BMP, TIFF, JPEG, "
                    "...); remove it, or skip the files that are not images "
                    "(--skip-non-images, skip_non_images=True)"
                )
        if not images:
            raise FileNotFoundError(
                f"{where}: holds no image files"
                if found or path.is_dir()
                else f"{where}: matches no files"
            )
        paths += images
    if skipped:
        shown = ", ".join(display_name(p) for p in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            f"skipped {len(skipped)} files that are not images: {shown}{more}",
            UserWarning,
            stacklevel=2,
        )
    return unique_paths(paths)


def unique_paths(paths):
    """``paths`` as a list of Paths; ValueError naming a file given twice (under any name)."""
    paths = [Path(os.fspath(p)) for p in paths]
    seen = {}
    for path in paths:
        key = path.resolve()
        if key in seen:
            twice = (
                ""
                if display_name(seen[key]) == display_name(path)
                else f" (as {display_name(seen[key])})"
            )
            raise ValueError(f"{display_name(path)}: given twice{twice}")
        seen[key] = path
    return paths


def check_image_file(path, *, max_memory=None):
    """Check an image file before reading it: a regular, non-empty file of a size we can decode.

    Parameters
    ----------
    path : path-like
    max_memory : int or str, optional
        Memory limit of decoding it (default half the machine's RAM).

    Returns
    -------
    header : ImageHeader or None
        From the file's first bytes; None for a format only OpenCV knows.
    size : int
        The file's size in bytes.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    IsADirectoryError
        If it is a folder.
    ValueError
        If it is not a regular file, is empty, or is a large file of unknown format.
    ResourceLimitError
        If decoding it would need more than ``max_memory``.
    """
    path = check_regular_file(path)
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{display_name(path)}: the file is empty")
    header = read_image_header(path)
    if header is None:
        if size > UNKNOWN_FORMAT_MAX_BYTES:
            raise ValueError(
                f"{display_name(path)}: not a recognised image format (BMP, PNG, TIFF, JPEG, "
                f"...); not reading all {format_size(size)} of it to find out"
            )
        return None, size
    if header.width == 0 or header.height == 0:
        raise ValueError(
            f"{display_name(path)}: its header says it is {header.width} x {header.height} pixels"
        )
    if size > MAX_FILE_PER_IMAGE_BYTE * header.decoded_bytes + UNKNOWN_FORMAT_MAX_BYTES:
        raise ValueError(
            f"{display_name(path)}: the file is {format_size(size)}, far more than the "
            f"{header.width} x {header.height} image its header describes "
            f"({format_size(header.decoded_bytes)}); not reading it"
        )
    check_memory(
        size + header.decoded_bytes + header.width * header.height,
        max_memory,
        what=f"{display_name(path)}: decoding this {header.width} x {header.height} image",
    )
    return header, size


def read_image(path, *, max_memory=None):
    """Read an image file as 2-D uint8 grey, exactly as ``cv2.IMREAD_GRAYSCALE``.

    The header is checked first (:func:`check_image_file`): nothing is read
    whole that could not be decoded within ``max_memory``.

    Parameters
    ----------
    path : str or path-like
        A BMP, PNG or TIFF file, 8- or 16-bit, grey or colour.
    max_memory : int or str, optional
        Memory limit (bytes, or e.g. ``"4G"``); default half the machine's RAM.

    Returns
    -------
    ndarray of shape (H, W), uint8

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is empty, not a regular file, not an image OpenCV can
        decode, or truncated.
    IsADirectoryError
        If ``path`` is a folder.
    ResourceLimitError
        If decoding it would need more than ``max_memory``.

    See Also
    --------
    read_arrays : Read array images and cut them into tiles.
    tile_array : Cut an image in memory into tiles.
    find_lattice : Find the lattice of pillar sites in an image.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> import numpy as np
    >>> from sklearn_pillars import read_image
    >>> colour = np.zeros((40, 60, 3), np.uint8)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "array.png")
    ...     _ = cv2.imwrite(str(path), colour)
    ...     grey = read_image(path)
    >>> grey.shape, grey.dtype
    ((40, 60), dtype('uint8'))
    """
    path = Path(os.fspath(path))
    check_image_file(path, max_memory=max_memory)
    data = np.fromfile(path, dtype=np.uint8)
    with _QuietOpenCV():
        try:
            image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        except cv2.error as exc:
            raise ValueError(
                f"{display_name(path)}: OpenCV cannot decode this image ({exc.err})"
            ) from None
    if image is None or image.size == 0:
        raise ValueError(
            f"{display_name(path)}: not a readable image (unknown format, corrupt or "
            "truncated file)"
        )
    return image


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
                _check_grid(path, header.height, header.width, grid_size, tile_half)
    headers = [h for h, _ in checked if h is not None]
    grid_text = "found lattices" if auto else f"{grid_size} x {grid_size} tiles"
    hint = "read fewer arrays at a time, or classify a large array in bands with predict_in_bands"
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
    names = _array_names(paths)
    greys, lattices = [], None
    for path in paths:
        greys.append(read_image(path, max_memory=limit))
        if not auto:
            _check_grid(path, *greys[-1].shape, grid_size, tile_half)
    if auto:
        lattices = []
        for index, path in enumerate(paths):  # one image at a time: turned, it is larger
            greys[index], lattice = place_lattice(
                greys[index],
                "auto",
                derotate,
                name=display_name(path),
                tile_half=tile_half,
                rescale=rescale,
            )
            lattices.append(lattice)
        for path, lattice in zip(paths, lattices, strict=True):
            try:
                lattice_boxes(lattice, tile_half)
            except ValueError as exc:
                raise ValueError(f"{display_name(path)}: {exc}") from None
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
        grid_size = None
    profiles = profile_arrays(
        greys, [display_name(p) for p in paths], grid_size, input_check, lattices
    )
    tiles = build_tileset(greys, names, grid_size, tile_half, lattices=lattices)
    tiles.array_profiles = profiles
    if labels is not None:
        tiles.y, tiles.stitch_type = _lookup_labels(labels, tiles)
    return tiles


def _check_grid(path, height, width, grid_size, tile_half):
    try:
        tile_boxes(height, width, grid_size=grid_size, tile_half=tile_half)
    except ValueError as exc:
        raise ValueError(f"{display_name(path)}: {exc}") from None


def _array_names(paths):
    """File names without suffix; the path without suffix where two names would clash.

    Names are printable text: bytes of a file name that are not UTF-8 become U+FFFD.
    """
    stems = [p.stem for p in paths]
    names = [
        display_name(p.with_suffix("")) if stems.count(p.stem) > 1 else display_name(p.stem)
        for p in paths
    ]
    # a.png and a.bmp in one folder: the whole path
    return [display_name(p) if names.count(n) > 1 else n for p, n in zip(paths, names, strict=True)]


def read_labels(path):
    """Read a tile label CSV into ``{(array, row, col): (label, stitch_type)}``.

    The CSV has columns ``array, row, col`` and ``label`` or ``seed_label``
    (``label`` when both are there), optionally ``stitch_type``; labels must
    be among the five classes of :data:`~sklearn_pillars.CLASSES`. A key met
    twice keeps its last row.

    Parameters
    ----------
    path : str or path-like
        The CSV file (UTF-8). ``row`` and ``col`` are the 1-based grid row
        and column, ``array`` the array's name (its file name without
        suffix).

    Returns
    -------
    dict
        ``(array, row, col)`` to ``(label, stitch_type)``, ``stitch_type``
        ``""`` where the file has none.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If a column is missing, a label is not one of the classes, or a row
        or col is not an integer.

    See Also
    --------
    read_arrays : Its ``labels`` argument fills ``TileSet.y`` from such a file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_pillars import read_labels
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "labels.csv")
    ...     _ = path.write_text("array,row,col,label\\nwafer_a,1,2,Missing\\n")
    ...     read_labels(path)
    {('wafer_a', 1, 2): ('Missing', '')}
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        label_col = next((c for c in ("label", "seed_label") if c in fields), None)
        missing = {"array", "row", "col"} - set(fields)
        if missing or label_col is None:
            raise ValueError(
                f"{path}: a label file needs columns array, row, col and label (or seed_label); "
                f"it has {fields}"
            )
        table = {}
        for line, rec in enumerate(reader, start=2):
            label = rec[label_col]
            if label not in CLASSES:
                raise ValueError(
                    f"{path}, line {line}: unknown label {label!r}; expected one of {CLASSES}"
                )
            try:
                key = (rec["array"], int(rec["row"]), int(rec["col"]))
            except ValueError:
                raise ValueError(f"{path}, line {line}: row and col must be integers") from None
            table[key] = (label, rec.get("stitch_type") or "")
    return table


def _lookup_labels(path, tiles):
    table = read_labels(path)
    y, stitch = [], []
    for (a, r, c), name in zip(tiles.positions, tiles.tile_names, strict=True):
        key = (tiles.array_names[a], int(r), int(c))
        if key not in table:
            raise ValueError(f"{path}: no label for tile {name}")
        label, kind = table[key]
        y.append(label)
        stitch.append(kind)
    return np.asarray(y, dtype=str), np.asarray(stitch, dtype=str)
