"""Resource limits: the memory a run needs, estimated from image headers before allocating.

A run holds every array image (one byte a pixel), the tiles' ``X`` (float32,
``(2 * tile_half)**2 + 5`` values a tile) and the classifier's working copies
of it. Everything is estimated from the file headers, the grid and the tile
size, so an impossible request is refused in milliseconds instead of after
minutes of swapping."""

from __future__ import annotations

import numpy as np

from ..constants import NOTEBOOK_PRESET, REFINED_PRESET
from ._tileset import N_META, X_DTYPE

#: Classification and report work per preset, as a multiple of the size of X.
#: Measured peaks of ``sklearn-pillars inspect`` on 7,056 tiles of 64 pixels
#: (X 110 MiB) were 3.4x X ("notebook") and 10.8x X ("refined", which holds
#: each array's aligned tiles and residuals) above the interpreter's own.
WORK_PER_X_BYTE = {NOTEBOOK_PRESET: 4, REFINED_PRESET: 12}


#: A fit from features (fit_arrays) holds, per tile, its features and the
#: stages' work on them (LOF's neighbour graph: 100 neighbours with "refined").
#: Measured (benchmarks/bench_scale.py --fit 200) on 88,200 tiles: about 1.4 kB
#: ("notebook") and 5.5 kB ("refined") a tile above the interpreter.
FIT_BYTES_PER_TILE = {NOTEBOOK_PRESET: 2_000, REFINED_PRESET: 6_000}


#: The interpreter with NumPy, scikit-learn, OpenCV and matplotlib loaded.
BASE_BYTES = 400 * 2**20


#: The X of one band of a large array classified band by band (one array at a time) with
#: the ``"notebook"`` preset; bands are smaller for presets with more work per tile.
BAND_BYTES = 64 * 2**20


#: Working memory of finding an image's lattice (find_lattice), per pixel of the image:
#: its float32 copies (flattened, padded), the template scores, and what turning it upright
#: adds. Measured: 17-18 bytes a pixel on 3,000 and 6,000 pixel squares.
LATTICE_BYTES_PER_PIXEL = 24


def x_bytes(n_tiles, tile_half):
    """Bytes of the X of ``n_tiles`` tiles of side ``2 * tile_half``."""

    return n_tiles * ((2 * tile_half) ** 2 + N_META) * np.dtype(X_DTYPE).itemsize


def band_rows(grid_size, tile_half, n_cols=None, preset=None):
    """Grid rows per band when classifying an array at once would exceed the band's work.

    A band's work is that of :data:`BAND_BYTES` of X with the ``"notebook"``
    preset: a preset with more work per byte of X (:data:`WORK_PER_X_BYTE`;
    None: the most) gets bands that much smaller, so memory is bounded alike.
    ``grid_size`` rows of ``n_cols`` sites (default ``grid_size``: a square grid).
    Returns None when the whole array fits.
    """
    factor = WORK_PER_X_BYTE.get(preset, max(WORK_PER_X_BYTE.values()))
    budget = BAND_BYTES * WORK_PER_X_BYTE[NOTEBOOK_PRESET] // factor
    per_row = x_bytes(grid_size if n_cols is None else n_cols, tile_half)
    if per_row * grid_size <= budget:
        return None
    return max(1, budget // per_row)


def estimate_memory(
    headers,
    grid_size,
    tile_half,
    *,
    file_bytes=0,
    classify=True,
    preset=None,
    banded=False,
    fit_tiles=0,
    n_sites=None,
    lattice=False,
):
    """Peak memory of reading (and classifying) arrays, from their headers.

    Parameters
    ----------
    headers : sequence of ImageHeader
    grid_size, tile_half : int
    file_bytes : int, default=0
        Size of the largest file (read whole before decoding).
    classify : bool, default=True
        Include the classifier's and the report's work, not only the tiles.
    preset : str, optional
        The classifier's preset; custom stages (None) are counted as the
        costliest preset.
    banded : bool, default=False
        Large arrays are classified band by band (:func:`band_rows`), one
        band's tiles at a time.
    fit_tiles : int, default=0
        Tiles a model is fitted on from their features
        (:func:`~sklearn_pillars.fit_arrays`): :data:`FIT_BYTES_PER_TILE`
        each, for the features, the clustering and the outlier detector.
    n_sites : int, optional
        Sites of all the arrays together, where known (a found lattice),
        instead of ``grid_size**2`` per array.
    lattice : bool, default=False
        The lattice of the images is found first (``grid_size="auto"``):
        :data:`LATTICE_BYTES_PER_PIXEL` of the largest image more.

    Returns
    -------
    int
        Bytes.
    """
    if not headers:
        return 0
    images = sum(h.width * h.height for h in headers)  # held as grey uint8
    decoding = file_bytes + max(h.decoded_bytes for h in headers)
    if n_sites is None:
        n_sites = len(headers) * grid_size * grid_size
    tiles = x_bytes(n_sites, tile_half)
    if banded:
        rows = band_rows(grid_size, tile_half, preset=preset) or grid_size
        tiles = len(headers) * x_bytes(min(grid_size, rows + 2) * grid_size, tile_half)
    factor = WORK_PER_X_BYTE.get(preset, max(WORK_PER_X_BYTE.values()))
    work = factor * tiles + BASE_BYTES if classify else 0
    fit = fit_tiles * FIT_BYTES_PER_TILE.get(preset, max(FIT_BYTES_PER_TILE.values()))
    finding = LATTICE_BYTES_PER_PIXEL * max(h.width * h.height for h in headers) if lattice else 0
    return images + decoding + tiles + work + fit + finding
