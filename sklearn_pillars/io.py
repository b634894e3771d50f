"""Reading array images and tile label files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np

from .tileset import CLASSES
from .tiling import _check_positive_int, build_tileset, tile_boxes


class _QuietOpenCV:
    """Silence OpenCV's own log lines while decoding: we raise our own errors."""

    # OpenCV 5 has cv2.utils.logging; 4.x has cv2.getLogLevel/setLogLevel (0 = silent)
    _api = getattr(getattr(cv2, "utils", None), "logging", None) or cv2

    def __enter__(self):
        self._level = self._api.getLogLevel()
        self._api.setLogLevel(0)

    def __exit__(self, *exc):
        self._api.setLogLevel(self._level)


def read_image(path):
    """Read an image file as 2-D uint8 grey, exactly as ``cv2.IMREAD_GRAYSCALE``.

    Parameters
    ----------
    path : str or path-like
        A BMP, PNG or TIFF file, 8- or 16-bit, grey or colour.

    Returns
    -------
    ndarray of shape (H, W), uint8

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is empty, not an image OpenCV can decode, or truncated.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"{path}: the file is empty")
    with _QuietOpenCV():
        try:
            image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        except cv2.error as exc:
            raise ValueError(f"{path}: OpenCV cannot decode this image ({exc.err})") from None
    if image is None or image.size == 0:
        raise ValueError(
            f"{path}: not a readable image (unknown format, corrupt or truncated file)"
        )
    return image


def read_arrays(paths, grid_size=21, tile_half=32, *, labels=None):
    """Read array images and cut each into one tile per lattice site.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        Array images (BMP, PNG, TIFF; 8- or 16-bit; grey or colour, converted
        to grey as ``cv2.IMREAD_GRAYSCALE`` does). Each array is named by its
        file name without suffix (by its path without suffix where two file
        names are the same).
    grid_size : int, default=21
        Sites per row and per column.
    tile_half : int, default=32
        Half the side of a full tile (tiles are clipped at the image edge).
    labels : path-like, optional
        A CSV with columns ``array, row, col`` and ``label`` (or
        ``seed_label``), and optionally ``stitch_type``; every tile read must
        have a row in it. Fills ``y`` (and ``stitch_type``).

    Returns
    -------
    TileSet
        ``grid_size**2`` tiles per array, arrays in the order given.

    Examples
    --------
    >>> tiles = read_arrays(["Array_1Crop.bmp", "Array_2Crop.bmp"])  # doctest: +SKIP
    >>> tiles.X.shape  # doctest: +SKIP
    (882, 4101)
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(os.fspath(p)) for p in paths]
    if not paths:
        raise ValueError("read_arrays needs at least one image path")
    grid_size = _check_positive_int(grid_size, "grid_size")
    tile_half = _check_positive_int(tile_half, "tile_half")
    greys = []
    for path in paths:
        greys.append(read_image(path))
        try:
            tile_boxes(*greys[-1].shape, grid_size=grid_size, tile_half=tile_half)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    tiles = build_tileset(greys, _array_names(paths), grid_size, tile_half)
    if labels is not None:
        tiles.y, tiles.stitch_type = _lookup_labels(labels, tiles)
    return tiles


def _array_names(paths):
    """File names without suffix; the path without suffix where two names would clash."""
    stems = [p.stem for p in paths]
    return [str(p.with_suffix("")) if stems.count(p.stem) > 1 else p.stem for p in paths]


def read_labels(path):
    """Read a tile label CSV into ``{(array, row, col): (label, stitch_type)}``.

    The CSV has columns ``array, row, col`` and ``label`` or ``seed_label``,
    optionally ``stitch_type``; labels must be among the five classes.
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
