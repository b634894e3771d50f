"""The tile-set X layout and the :class:`TileSet` container.

Every estimator of the package reads tiles from a plain 2-D numeric array
``X`` with one row per tile (see the :ref:`X layout <x_layout>`)::

    X[:, 0]   array index (into ``TileSet.array_names``)
    X[:, 1]   grid row, 1-based
    X[:, 2]   grid column, 1-based
    X[:, 3]   tile height in pixels (1 .. tile_size)
    X[:, 4]   tile width in pixels (1 .. tile_size)
    X[:, 5:]  the tile, row-major, in the top-left corner of a
              tile_size x tile_size canvas padded with zeros

``tile_size`` is ``2 * tile_half``: it is implied by the row width,
``5 + tile_size**2``. Pixels are grey levels 0..255, stored as float32 (exact)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from math import isqrt

import numpy as np

#: What the first columns of X hold: array index, 1-based grid row and column, tile
#: height and width.
META_COLUMNS = ("array", "row", "col", "height", "width")


#: Number of those columns before a tile's pixels in a row of X (5).
N_META = len(META_COLUMNS)


#: The dtype of X: float32, which holds grey levels 0..255 and the positions exactly.
X_DTYPE = np.float32


def tile_size_from_width(n_columns):
    """Return the canvas side ``tile_size`` implied by an X row width.

    Raises
    ------
    ValueError
        If ``n_columns`` is not ``5 + s**2`` for some ``s >= 1``.
    """
    n_pixels = n_columns - N_META
    side = isqrt(n_pixels) if n_pixels > 0 else 0
    if side < 1 or side * side != n_pixels:
        raise ValueError(
            f"X has {n_columns} columns, which is not the tile-set layout "
            f"({N_META} position/shape columns + tile_size**2 pixel columns). "
            "Build X with sklearn_pillars.read_arrays or tile_array, or use "
            "layout='strip' to treat every row as a 1-pixel-high image."
        )
    return side


def pack_tiles(images, positions, tile_size):
    """Build the X matrix from tiles and their grid positions.

    Parameters
    ----------
    images : sequence of 2-D uint8 arrays
        The tiles, each at most ``tile_size`` pixels high and wide.
    positions : array-like of shape (n_tiles, 3)
        Array index, 1-based grid row and column of each tile.
    tile_size : int
        Side of the zero-padded canvas (``2 * tile_half``).

    Returns
    -------
    X : ndarray of shape (n_tiles, 5 + tile_size**2), float32
    """
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 3)
    n = len(images)
    if positions.shape[0] != n:
        raise ValueError(f"{n} images but {positions.shape[0]} positions")
    X = np.zeros((n, N_META + tile_size * tile_size), dtype=X_DTYPE)
    X[:, :3] = positions
    canvas = X[:, N_META:].reshape(n, tile_size, tile_size)
    # Almost every tile fills the canvas: copy those in one vectorised step.
    shapes = np.array([im.shape for im in images], dtype=np.int64).reshape(n, 2)
    if n and (shapes.max() > tile_size or shapes.min() < 1):
        raise ValueError(f"tiles must be 1..{tile_size} pixels high and wide")
    X[:, 3:5] = shapes
    full = np.flatnonzero((shapes == tile_size).all(axis=1))
    if full.size:
        canvas[full] = np.stack([images[i] for i in full])
    for i in np.flatnonzero((shapes != tile_size).any(axis=1)):
        h, w = shapes[i]
        canvas[i, :h, :w] = images[i]
    return X


def unpack_tiles(X):
    """Split an X matrix into positions, tile shapes and the pixel canvas.

    Parameters
    ----------
    X : array-like of shape (n_tiles, 5 + tile_size**2)

    Returns
    -------
    positions : ndarray of shape (n_tiles, 3), int64
        Array index, row, column.
    shapes : ndarray of shape (n_tiles, 2), int64
        True height and width of each tile.
    canvas : ndarray of shape (n_tiles, tile_size, tile_size), uint8
        The tiles, each in the top-left ``height x width`` corner.

    Raises
    ------
    ValueError
        If X is not in the tile-set layout (wrong width, non-finite values,
        shapes outside 1..tile_size, pixels outside 0..255 or not integral).
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got {X.ndim}-D")
    tile_size = tile_size_from_width(X.shape[1])
    meta = X[:, :N_META]
    if not np.isfinite(meta).all():
        raise ValueError("X has non-finite values in its position/shape columns")
    meta_int = meta.astype(np.int64)
    if not np.array_equal(meta_int, meta):
        raise ValueError(
            "X position/shape columns (array, row, col, height, width) must be integers"
        )
    shapes = meta_int[:, 3:5]
    if X.shape[0] and (shapes.min() < 1 or shapes.max() > tile_size):
        raise ValueError(
            f"X height/width columns must lie in 1..{tile_size} (the canvas side implied by "
            f"its {X.shape[1]} columns)"
        )
    pixels = X[:, N_META:]
    # NaN, out-of-range and fractional values do not survive the round trip
    with np.errstate(invalid="ignore"):
        canvas = pixels.astype(np.uint8)
    if not np.array_equal(canvas, pixels):
        raise ValueError("X pixel columns must hold integer grey levels 0..255 (no NaN)")
    return meta_int[:, :3], shapes, canvas.reshape(-1, tile_size, tile_size)


def _strip_tiles(X):
    """Rows of any width as 1-pixel-high uint8 images (clipped to 0..255, rounded)."""
    return np.clip(np.rint(X), 0, 255).astype(np.uint8)[:, None, :]


def check_unique_positions(positions):
    """Raise ValueError when two tiles share (array, row, col): they would be neighbours of
    themselves, and each array's context would hold one site twice."""
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 3)
    if len(positions) < 2:
        return
    order = np.lexsort(positions.T[::-1])
    same = (np.diff(positions[order], axis=0) == 0).all(axis=1)
    if same.any():
        a, r, c = positions[order[np.flatnonzero(same)[0]]]
        raise ValueError(
            f"two tiles have the same position (array {a}, row {r}, col {c}): give each "
            "array its own index (sklearn_pillars.concat_tilesets renumbers them)"
        )


def tile_positions(X, layout="tiles"):
    """Positions (array, row, col) of the rows of X.

    With ``layout="strip"`` every row is the only tile of its own array:
    ``(i, 1, 1)`` for row ``i``.
    """
    if layout == "strip":
        n = X.shape[0]
        return np.stack([np.arange(n), np.ones(n, np.int64), np.ones(n, np.int64)], axis=1)
    tile_size_from_width(X.shape[1])
    meta = X[:, :3]
    positions = meta.astype(np.int64)
    if not np.array_equal(positions, meta):
        raise ValueError("X position columns (array, row, col) must be finite integers")
    return positions


def iter_tile_batches(X, layout="tiles", batch_size=64, chunk_batches=16):
    """Yield ``(rows, tiles)``: row indices of X and their tiles, ``(m, h, w)`` uint8.

    X is decoded ``chunk_batches * batch_size`` rows at a time, so memory
    stays bounded for any number of rows. Within a chunk, tiles are grouped
    by shape (almost all are full size; edge tiles come in a few shapes) and
    yielded ``batch_size`` at a time. With ``layout="strip"`` each row is a
    ``1 x d`` tile.
    """
    chunk_size = batch_size * chunk_batches
    for start in range(0, X.shape[0], chunk_size):
        chunk = X[start : start + chunk_size]
        rows = np.arange(start, start + chunk.shape[0])
        if layout == "strip":
            tiles, groups = _strip_tiles(chunk), [(rows, None)]
        else:
            _, shapes, tiles = unpack_tiles(chunk)
            groups = _shape_groups(shapes)
        for members, shape in groups:
            for first in range(0, len(members), batch_size):
                part = members[first : first + batch_size]
                if shape is None:
                    yield start + part, tiles[part]
                else:
                    h, w = shape
                    yield start + part, np.ascontiguousarray(tiles[part, :h, :w])


def _shape_groups(shapes):
    """``(row indices, (h, w))`` for each distinct tile shape, in order of first row."""
    keys = shapes[:, 0] * (shapes[:, 1].max() + 1) + shapes[:, 1]
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first)
    return [(np.flatnonzero(inverse == g), tuple(shapes[first[g]])) for g in order]


@dataclass(eq=False)
class TileSet:
    """Tiles cut from one or more array images, ready for scikit-learn.

    What :func:`~sklearn_pillars.read_arrays`,
    :func:`~sklearn_pillars.tile_array` and
    :func:`~sklearn_pillars.make_pillar_arrays` return: ``X`` is what every
    estimator of the package takes, and the other attributes say where each
    row's tile came from (for reports, maps and label files). ``len()`` is
    the number of tiles.

    Attributes
    ----------
    X : ndarray of shape (n_tiles, 5 + tile_size**2), float32
        The scikit-learn input (layout in the module docstring).
    images : list of ndarray
        The tiles as cut, 2-D uint8 (edge tiles may be smaller).
    positions : ndarray of shape (n_tiles, 3), int64
        Array index, 1-based row, 1-based column of each tile.
    array_names : list of str
        Name of each array; ``positions[:, 0]`` indexes it.
    y : ndarray of str or None
        Ground-truth class of each tile, where known.
    boxes : ndarray of shape (n_tiles, 4), int64
        ``x0, y0, x1, y1`` of each tile in its array image (x1, y1 exclusive).
    tile_size : int
        Side of the X canvas, ``2 * tile_half``.
    array_images : list of ndarray or None
        The grey array images the tiles were cut from.
    stitch_type : ndarray of str or None
        For ``Stitching`` tiles, ``"seam"`` or ``"field"``; ``""`` elsewhere.
    array_profiles : list of ArrayProfile or None
        Basic statistics of each array image (contrast, pitch, pillar size,
        lattice score), where the input was checked.
    lattices : list of Lattice or None
        The lattice of each array image the tiles were cut around (from
        :func:`~sklearn_pillars.find_lattice`; the true one for synthetic
        frames), or None for the uniform grid.

    Indexing with an integer array, boolean mask or slice selects tiles and
    returns a new TileSet sharing ``array_names`` and ``array_images`` (and
    ``array_profiles`` and ``lattices``); an integer alone raises
    :class:`TypeError`.

    See Also
    --------
    read_arrays : Tiles of array image files.
    tile_array : Tiles of an image in memory.
    concat_tilesets : Join tile sets, renumbering their arrays.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> len(tiles), tiles.X.shape, tiles.tile_size
    (36, (36, 4101), 64)
    >>> missing = tiles[tiles.y == "Missing"]
    >>> len(missing), missing.array_names
    (3, ['synthetic_0'])
    """

    X: np.ndarray
    images: list
    positions: np.ndarray
    array_names: list
    boxes: np.ndarray
    tile_size: int
    y: np.ndarray | None = None
    array_images: list | None = field(default=None, repr=False)
    stitch_type: np.ndarray | None = None
    array_profiles: list | None = field(default=None, repr=False)
    lattices: list | None = field(default=None, repr=False)

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            raise TypeError("index a TileSet with a slice, an integer array or a boolean mask")
        rows = np.arange(len(self))[index]
        return replace(
            self,
            X=self.X[rows],
            images=[self.images[i] for i in rows],
            positions=self.positions[rows],
            boxes=self.boxes[rows],
            y=None if self.y is None else self.y[rows],
            stitch_type=None if self.stitch_type is None else self.stitch_type[rows],
        )

    def __repr__(self):
        counts = ""
        if self.y is not None:
            names, n = np.unique(self.y, return_counts=True)
            counts = ", y: " + ", ".join(f"{a} {b}" for a, b in zip(names, n, strict=True))
        return (
            f"TileSet({len(self)} tiles from {len(self.array_names)} array(s), "
            f"tile_size={self.tile_size}{counts})"
        )

    @property
    def tile_names(self):
        """Name of each tile: ``<array>_<row>,<col>`` (1-based row and column).

        The names of the original analysis' tile files.

        Examples
        --------
        >>> from sklearn_pillars import make_pillar_arrays
        >>> make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).tile_names[:2]
        ['synthetic_0_1,1', 'synthetic_0_1,2']
        """
        return [f"{self.array_names[a]}_{r},{c}" for a, r, c in self.positions]


def concat_tilesets(tilesets):
    """Concatenate tile sets, renumbering their arrays one after another.

    Parameters
    ----------
    tilesets : sequence of TileSet
        With the same ``tile_size``.

    Returns
    -------
    TileSet
        The tiles of every input in order; the array indices of each input
        are shifted past those of the inputs before it. ``y`` and
        ``stitch_type`` are kept only when every input has them.

    Raises
    ------
    ValueError
        If ``tilesets`` is empty or the tile sets' ``tile_size`` differ.

    See Also
    --------
    tile_array : One array's tiles, to combine with this.
    read_arrays : Several arrays' tiles in one tile set.

    Examples
    --------
    >>> from sklearn_pillars import concat_tilesets, make_pillar_arrays
    >>> a = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> b = make_pillar_arrays(n_arrays=2, grid_size=6, random_state=1)
    >>> both = concat_tilesets([a, b])
    >>> len(both), sorted(set(both.positions[:, 0].tolist()))
    (108, [0, 1, 2])
    """
    tilesets = list(tilesets)
    if not tilesets:
        raise ValueError("concat_tilesets needs at least one TileSet")
    sizes = {ts.tile_size for ts in tilesets}
    if len(sizes) != 1:
        raise ValueError(f"cannot concatenate tile sets of different tile_size: {sorted(sizes)}")
    offsets = np.cumsum([0] + [len(ts.array_names) for ts in tilesets[:-1]])
    positions = np.concatenate(
        [ts.positions + [off, 0, 0] for ts, off in zip(tilesets, offsets, strict=True)]
    )
    X = np.concatenate([ts.X for ts in tilesets])
    X[:, 0] = positions[:, 0]

    def joined(attr):
        parts = [getattr(ts, attr) for ts in tilesets]
        return None if any(p is None for p in parts) else np.concatenate(parts)

    array_images = [ts.array_images for ts in tilesets]
    profiles = [ts.array_profiles for ts in tilesets]
    lattices = [ts.lattices or [None] * len(ts.array_names) for ts in tilesets]
    lattices = [lat for parts in lattices for lat in parts]
    return TileSet(
        X=X,
        images=[im for ts in tilesets for im in ts.images],
        positions=positions,
        array_names=[name for ts in tilesets for name in ts.array_names],
        boxes=np.concatenate([ts.boxes for ts in tilesets]),
        tile_size=sizes.pop(),
        y=joined("y"),
        array_images=None
        if any(a is None for a in array_images)
        else [im for a in array_images for im in a],
        stitch_type=joined("stitch_type"),
        array_profiles=None
        if any(p is None for p in profiles)
        else [p for ps in profiles for p in ps],
        lattices=None if all(lat is None for lat in lattices) else lattices,
    )
