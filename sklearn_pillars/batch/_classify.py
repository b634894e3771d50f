"""Classifying one array with a fitted model: whole, in bands of rows, or on a found lattice."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ..constants import DEFAULT_TILE_HALF
from ..exceptions import NotebookGridWarning
from ..io import array_names, check_image_file
from ..peel import classify_tiles, preset_of, warn_notebook_on_lattice
from ..report import defect_map_png
from ..tiling import (
    READ_MEMORY_HINT,
    band_rows,
    build_tileset,
    check_image_grid,
    estimate_memory,
    iter_tile_chunks,
    read_array,
)
from ..utils.files import display_name
from ..utils.memory import check_memory
from ..utils.validation import check_grid_size, check_positive_int
from ._result import ArrayResult


def predict_in_bands(
    model,
    image,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    chunk_rows=64,
    lattice=None,
    derotate="auto",
    rescale="auto",
    name="array",
    input_check="raise",
):
    """Classify a large array image band by band, with the results of the whole image.

    Only one band of tiles is in memory at a time. Each band is cut with a
    one-row halo (:func:`~sklearn_pillars.iter_tile_chunks`), so every tile
    has all its grid neighbours and, with features that look no further
    than the neighbours (the ``"notebook"`` preset), gets exactly what
    ``model.predict`` would give it in one X of the whole array. Features
    that compare a tile with its whole array (the ``"refined"`` preset:
    reference pillar, lines pooled along whole grid columns, each array's
    robust scale) see one band as the array: the result is exact when a
    band holds the whole grid (``chunk_rows >= grid_size``, the default up to
    64 rows) and otherwise differs on a few percent of the tiles.

    Parameters
    ----------
    model : LayeredPeelClassifier
        A fitted model.
    image : ndarray
        The array image (as for :func:`~sklearn_pillars.tile_array`).
    grid_size, tile_half, lattice, derotate, rescale, name, input_check
        As for :func:`~sklearn_pillars.tile_array` (``grid_size="auto"`` or a
        ``lattice`` cut around the sites found in the image).
    chunk_rows : int, default=64
        Grid rows classified per band.

    Returns
    -------
    Bunch
        ``labels`` (rows, cols) array of classes, ``scores`` (rows, cols)
        inconsistency scores (NaN where not scored) and ``kinds`` (the kind
        of defect, as in :meth:`LayeredPeelClassifier.trace`), indexed by
        0-based row and column; and ``lattice``, the lattice the tiles were
        cut around (None for the uniform grid).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    ValueError, NotAnArrayError, NoLatticeError
        As :func:`~sklearn_pillars.iter_tile_chunks`, for a grid that does
        not fit the image or an image that is not a pillar array.

    See Also
    --------
    iter_tile_chunks : The bands of tiles this classifies.
    classify_array : Read an image file and classify it, in bands when it is large.
    LayeredPeelClassifier.trace : What each band's tiles get.

    Examples
    --------
    >>> from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays, predict_in_bands
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=8, random_state=0)
    >>> model = LayeredPeelClassifier("notebook").fit(tiles.X)
    >>> result = predict_in_bands(model, tiles.array_images[0], grid_size=8, chunk_rows=3)
    >>> result.labels.shape, result.scores.shape
    ((8, 8), (8, 8))
    >>> bool((result.labels.ravel() == model.predict(tiles.X)).all())
    True
    """

    check_is_fitted(model, "stages_")
    warn_notebook_on_lattice(model, grid_size if lattice is None else "auto")
    bands = iter_tile_chunks(
        image,
        grid_size,
        tile_half,
        chunk_rows=chunk_rows,
        halo=1,
        lattice=lattice,
        derotate=derotate,
        rescale=rescale,
        name=name,
        input_check=input_check,
    )
    labels = scores = kinds = found = None
    for index, band in enumerate(bands):
        if labels is None:  # the grid is known once the first band is cut
            found = None if band.lattices is None else band.lattices[0]
            shape = (grid_size, grid_size) if found is None else found.shape
            labels = np.empty(shape, dtype=model.classes_.dtype)
            scores = np.full(shape, np.nan)
            kinds = np.full(shape, "", dtype=object)
        result = model.trace(band.X)
        rows, cols = band.positions[:, 1] - 1, band.positions[:, 2] - 1
        core = (rows >= index * chunk_rows) & (rows < (index + 1) * chunk_rows)
        labels[rows[core], cols[core]] = result.labels[core]
        scores[rows[core], cols[core]] = result.scores[core]
        kinds[rows[core], cols[core]] = result.kinds[core]
    return Bunch(labels=labels, scores=scores, kinds=kinds.astype(str), lattice=found)


def classify_array(
    path,
    model,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    name=None,
    max_memory=None,
    input_check="raise",
    draw_map=False,
):
    """Read one array image and classify its tiles with a fitted model.

    An array whose tiles would take more than
    ``BAND_BYTES`` of ``sklearn_pillars.tiling`` (64 MiB: about 4,000 tiles of
    64 pixels, a 63 x 63 grid) is classified band by band of grid rows with
    :func:`~sklearn_pillars.predict_in_bands`, so memory stays bounded for a
    wafer-sized grid; its results are then those of ``predict_in_bands``
    (exact for the ``"notebook"`` preset, and differing from one ``predict``
    on a few percent of tiles for ``"refined"``).

    Parameters
    ----------
    path : path-like
        The array image file.
    model : LayeredPeelClassifier
        A fitted model.
    grid_size, tile_half, max_memory, input_check
        As in :func:`~sklearn_pillars.read_arrays`.
    name : str, optional
        The array's name (default: the file name without suffix).
    draw_map : bool, default=False
        Also draw its defect map (``map_png``).

    Returns
    -------
    ArrayResult
        The class, inconsistency and kind of every site, with the image,
        its profile and the warnings raised on the way (``notes``: they are
        recorded, not shown).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    FileNotFoundError, ValueError, ResourceLimitError, NotAnArrayError
        As :func:`~sklearn_pillars.read_arrays`.

    See Also
    --------
    iter_inspect : Classify many images, in worker processes if asked.
    predict_in_bands : Classify a large image in memory band by band.
    read_arrays : Read images into one tile set.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> from sklearn_pillars import LayeredPeelClassifier, classify_array, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "wafer_a.png")
    ...     _ = cv2.imwrite(str(path), tiles.array_images[0])
    ...     result = classify_array(path, model, grid_size=6)
    >>> result.name, result.labels.shape
    ('wafer_a', (36,))
    >>> bool((result.labels == model.predict(tiles.X)).all())
    True
    """

    check_is_fitted(model, "stages_")
    grid_size = check_grid_size(grid_size)
    warn_notebook_on_lattice(model, grid_size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        placed = _read_one(path, grid_size, tile_half, preset_of(model), max_memory, input_check)
        result = _classify_placed(model, placed, tile_half, name)
    result.notes = [str(w.message) for w in caught]
    if draw_map:
        result.map_png = defect_map_png(
            result.image,
            result.name,
            grid_size,
            result.positions,
            np.asarray(result.labels).astype(str),
            np.asarray(result.kinds).astype(str),
            lattice=result.lattice,
            classes=model.classes_,
        )
    return result


def _read_one(path, grid_size, tile_half, preset, max_memory, input_check):
    """:func:`~sklearn_pillars.tiling.read_array`, after checking from the image's header
    that reading it and classifying its tiles (band by band where they are too many)
    stays within ``max_memory``."""
    path = Path(os.fspath(path))
    tile_half = check_positive_int(tile_half, "tile_half")
    header, size = check_image_file(path, max_memory=max_memory)
    auto = grid_size == "auto"
    if not auto and header is not None and header.format != "unknown":
        check_image_grid(path, header.height, header.width, grid_size, tile_half)
    banded = not auto and band_rows(grid_size, tile_half, preset=preset) is not None
    hint = None
    if auto:
        what = f"reading {display_name(path)} and finding its lattice"
    elif banded:
        what = f"reading {display_name(path)} in bands of {grid_size}-site rows"
    else:  # as read_arrays says it
        what = f"reading 1 array(s) of {grid_size} x {grid_size} tiles of {2 * tile_half} pixels"
        hint = READ_MEMORY_HINT
    check_memory(
        estimate_memory(
            [header] if header else [],
            0 if auto else grid_size,
            tile_half,
            file_bytes=size,
            classify=False,
            banded=banded,
            lattice=auto,
        ),
        max_memory,
        what=what,
        hint=hint,
    )
    return read_array(path, grid_size, tile_half, max_memory=max_memory, input_check=input_check)


def _classify_placed(model, placed, tile_half, name):
    """Classify the sites of a placed array: at once, or band by band of grid rows
    (:func:`predict_in_bands`) when its tiles would exceed ``BAND_BYTES``."""
    name = array_names([placed.path])[0] if name is None else name
    n_rows, n_cols = placed.shape
    uniform = placed.lattice is None
    chunk_rows = band_rows(n_rows, tile_half, n_cols, preset=preset_of(model))
    if chunk_rows is None:
        tiles = build_tileset(
            [placed.image],
            [name],
            n_rows if uniform else None,
            tile_half,
            lattices=None if uniform else [placed.lattice],
        )
        labels, scores, kinds = classify_tiles(model, tiles.X)
    else:
        bands = predict_in_bands(
            model,
            placed.image,
            n_rows if uniform else "auto",
            tile_half,
            chunk_rows=chunk_rows,
            lattice=placed.lattice,
            derotate=False,  # placed already
            rescale=False,
            name=name,
            input_check="skip",  # checked by read_array
        )
        labels, scores, kinds = (bands.labels.ravel(), bands.scores.ravel(), bands.kinds.ravel())
    return ArrayResult(
        name=name,
        path=placed.path,
        labels=labels,
        scores=scores,
        kinds=kinds,
        positions=placed.positions,
        boxes=placed.boxes,
        image=placed.image,
        profile=placed.profile,
        lattice=placed.lattice,
    )


def _classify(model, path, grid_size, tile_half, name, max_memory, input_check, draw_map):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotebookGridWarning)  # iter_inspect warned once
        return classify_array(
            path,
            model,
            grid_size,
            tile_half,
            name=name,
            max_memory=max_memory,
            input_check=input_check,
            draw_map=draw_map,
        )
