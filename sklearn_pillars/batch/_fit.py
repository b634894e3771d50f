"""Fitting a model on many arrays, one array's features at a time."""

from __future__ import annotations

import warnings
from contextlib import closing

import numpy as np

from ..constants import DEFAULT_TILE_HALF
from ..io import find_array_images, unique_paths
from ..peel import begin_fit, fit_from_shared, shared_features, warn_notebook_on_lattice
from ..tiling import FIT_BYTES_PER_TILE, read_arrays
from ..utils.memory import check_memory
from ..utils.parallel import capped_n_jobs, in_order
from ..utils.validation import check_grid_size


def _shared_of_array(features, path, grid_size, tile_half, max_memory, input_check):
    """One array's shared features (:func:`~sklearn_pillars.peel.shared_features`)."""

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiles = read_arrays(
            [path], grid_size, tile_half, max_memory=max_memory, input_check=input_check
        )
        shared = shared_features(features, tiles.X)
    profile = tiles.array_profiles[0] if tiles.array_profiles else None
    lattice = tiles.lattices[0] if tiles.lattices else None
    return shared, tiles.X.shape[1], profile, lattice, [str(w.message) for w in caught]


def fit_arrays_profiled(
    model, paths, grid_size, tile_half, n_jobs, max_memory, input_check, progress=None
):
    """:func:`fit_arrays`, also returning the arrays' profiles and found lattices (None
    each for the uniform grid); ``progress`` is called with a short text after each
    array."""

    grid_size = check_grid_size(grid_size)
    warn_notebook_on_lattice(model, grid_size, stacklevel=4)
    if isinstance(paths, (list, tuple)) and not paths:
        raise ValueError("no arrays to fit on")
    paths = unique_paths(find_array_images(paths))
    n_jobs = capped_n_jobs(n_jobs, len(paths), stacklevel=4)
    stages = begin_fit(model)
    features = [stage.features for _, stage in stages]
    calls = [(path.absolute(), grid_size, tile_half, max_memory, input_check) for path in paths]
    # the workers stop once the features are in: the clustering needs their memory
    results = in_order(_shared_of_array, features, calls, n_jobs=n_jobs, keep_workers=False)
    with closing(results):
        parts, positions, profiles, lattices, width = _gather_shared(results, paths, progress)
    if grid_size == "auto":  # the sites were not known before the lattices were found
        preset = model.stages if isinstance(model.stages, str) else None
        per_tile = FIT_BYTES_PER_TILE.get(preset, max(FIT_BYTES_PER_TILE.values()))
        check_memory(
            len(positions) * per_tile,
            max_memory,
            what=f"fitting on the {len(positions):,} sites of {len(paths)} found lattices",
        )
    fit_from_shared(model, stages, (parts, positions), width)
    return model, profiles, lattices


def _gather_shared(results, paths, progress):
    """All arrays' shared features and positions (array indices renumbered), their
    profiles and lattices.

    When every array has the same number of tiles (a fixed grid), the
    features of all of them are filled into arrays allocated once (not
    concatenated: that would need them twice); arrays of found lattices,
    which may differ, are concatenated at the end.
    """
    parts = positions = None
    pieces = []  # (parts, positions) of each array, once they differ in size
    profiles, lattices, widths, sizes = [], [], set(), []
    for index, (shared, width, profile, lattice, notes) in enumerate(results):
        for note in notes:
            warnings.warn(note, UserWarning, stacklevel=3)
        if shared is None:
            raise ValueError(
                "fit_arrays needs stages whose features are all BaseTileFeatures (or all "
                "BaseArrayFeatures), the package's own or subclasses of yours, with one "
                "setting of layout, batch_size and n_jobs (or of downsample): other stages "
                "need the tiles' pixels; fit(read_arrays(paths).X) instead"
            )
        array_parts, where = shared
        where = where.copy()
        where[:, 0] = index  # distinct arrays, as in one X of all of them
        m = len(where)
        if parts is None and not pieces:
            parts = [np.empty((len(paths) * m, *p.shape[1:]), p.dtype) for p in array_parts]
            positions = np.empty((len(paths) * m, where.shape[1]), where.dtype)
        if parts is not None and sizes and m != sizes[0]:
            done = sum(sizes)  # sizes differ: keep what is in, concatenate from now on
            pieces = [([p[:done] for p in parts], positions[:done])]
            parts = positions = None
        if parts is not None:
            rows = slice(index * m, (index + 1) * m)
            for out, part in zip(parts, array_parts, strict=True):
                out[rows] = part
            positions[rows] = where
        else:
            pieces.append((array_parts, where))
        sizes.append(m)
        profiles.append(profile)
        lattices.append(lattice)
        widths.add(width)
        if progress is not None:
            progress(f"features of {paths[index].name}")
    if pieces:
        parts = [
            np.concatenate([piece[0][i] for piece in pieces]) for i in range(len(pieces[0][0]))
        ]
        positions = np.concatenate([piece[1] for piece in pieces])
    return parts, positions, profiles, lattices, widths.pop()


def fit_arrays(
    model,
    paths,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    n_jobs=None,
    max_memory=None,
    input_check="raise",
):
    """Fit a classifier on array images read one at a time: memory holds features, not pixels.

    Each array is read, tiled and reduced to the numbers its stages need
    (about 50 a tile) before the next is read, so fitting on hundreds of
    arrays needs megabytes where ``fit(read_arrays(paths).X)`` needs 16 kB a
    tile. The fitted model is the same as that one.

    Parameters
    ----------
    model : LayeredPeelClassifier
        An unfitted (or to be refitted) model whose stages' features all
        follow the shared pass's protocol (:class:`~sklearn_pillars.BaseTileFeatures`
        or all :class:`~sklearn_pillars.BaseArrayFeatures`; both presets do).
    paths : path-like, str or sequence of them
        Array images, folders of them or glob patterns
        (:func:`~sklearn_pillars.io.find_array_images`).
    grid_size, tile_half, max_memory, input_check
        As in :func:`~sklearn_pillars.read_arrays`, for each array.
    n_jobs : int, optional
        Worker processes that read and featurise arrays at the same time (at
        most one per CPU and per array, with a warning when fewer than asked).

    Returns
    -------
    model
        The model given, fitted, as by
        :meth:`~sklearn_pillars.LayeredPeelClassifier.fit`.

    Raises
    ------
    ValueError
        If ``paths`` is empty or names a file twice, if a stage's features
        do not all follow that protocol (or differ in ``layout``,
        ``batch_size`` or ``n_jobs``), or as
        :func:`~sklearn_pillars.read_arrays` for an array.
    FileNotFoundError, ResourceLimitError, NotAnArrayError
        As :func:`~sklearn_pillars.read_arrays`, for each array; with
        ``grid_size="auto"``, also :class:`ResourceLimitError` when the
        sites of all the found lattices are too many to fit on within
        ``max_memory``.

    Warns
    -----
    UserWarning
        The warnings of reading each array (such as an image that is not a
        pillar array, with ``input_check="warn"``), raised in this process.

    See Also
    --------
    LayeredPeelClassifier.fit : The same fit from one tile set in memory.
    inspect_arrays : Classify many images with the fitted model.
    sklearn_pillars.persist.save_model : Save the fitted model.

    Notes
    -----
    The clustering (KMeans) and the outlier detector (Local Outlier Factor)
    of each stage still see the features of all the tiles that reach it at
    once: memory grows with the number of tiles (measured: about 1.4 kB a
    tile with the ``"notebook"`` preset, 5.5 kB with the ``"refined"`` one,
    whose LOF has 100 neighbours), and LOF's time a little faster than
    linearly. Fitting on a random sample of the arrays bounds both; a few
    dozen arrays give nearly the model of all of them (:doc:`/scale`).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> import numpy as np
    >>> from sklearn_pillars import LayeredPeelClassifier, fit_arrays, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=2, grid_size=6, random_state=0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = [Path(folder, f"wafer_{i}.png") for i in range(2)]
    ...     for path, image in zip(paths, tiles.array_images):
    ...         _ = cv2.imwrite(str(path), image)
    ...     model = fit_arrays(LayeredPeelClassifier(), paths, grid_size=6)
    >>> model.labels_.shape
    (72,)

    The model is the one fitted on all the tiles at once:

    >>> in_memory = LayeredPeelClassifier().fit(tiles.X)
    >>> bool(np.array_equal(model.labels_, in_memory.labels_))
    True
    """
    return fit_arrays_profiled(model, paths, grid_size, tile_half, n_jobs, max_memory, input_check)[
        0
    ]
