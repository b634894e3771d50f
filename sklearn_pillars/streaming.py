"""Classifying many arrays with a fitted model, one array at a time.

Memory holds one array (its image, X and the classifier's work on it) per
worker, whatever the number of arrays; results come back in the order of the
paths. A fitted model classifies each tile from the tile and its own array
only, so the labels are those of one ``predict`` over all the arrays at once.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(eq=False)
class ArrayResult:
    """One array's classification.

    Attributes
    ----------
    name : str
        The array's name (file name without suffix, as in :func:`~sklearn_pillars.read_arrays`).
    path : Path
    labels, scores, kinds : ndarray of shape (grid_size**2,)
        Class, inconsistency score (NaN where not scored) and defect kind
        (``"seam"``/``"field"`` for Stitching where the model tells them
        apart, ``""`` elsewhere) of each site, row-major.
    positions : ndarray of shape (grid_size**2, 2)
        1-based row and column of each site.
    boxes : ndarray of shape (grid_size**2, 4)
        ``x0, y0, x1, y1`` of each tile in the image.
    image : ndarray of shape (H, W), uint8
        The grey array image.
    profile : ArrayProfile or None
        Its basic statistics, where the input was checked.
    notes : list of str
        The warnings raised while reading and classifying it (such as an
        image that is not a pillar array, with ``input_check="warn"``).
    map_png : bytes or None
        Its defect map (:func:`~sklearn_pillars.report.defect_map_png`), when
        asked for (``draw_map``).
    """

    name: str
    path: Path
    labels: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    image: np.ndarray
    profile: object = None
    notes: list = field(default_factory=list)
    map_png: bytes | None = None


def classify_array(path, model, grid_size=21, tile_half=32, *, name=None, max_memory=None,
                   input_check="raise", draw_map=False):
    """Read one array image and classify its tiles with a fitted model.

    Parameters
    ----------
    path : path-like
    model : LayeredPeelClassifier
        A fitted model.
    grid_size, tile_half, max_memory, input_check
        As in :func:`~sklearn_pillars.read_arrays`.
    name : str, optional
        The array's name (default: the file name without suffix).
    draw_map : bool, default=False
        Also draw its defect map (``map_png``; needs matplotlib).

    Returns
    -------
    ArrayResult
    """
    from sklearn.utils.validation import check_is_fitted

    from .io import read_arrays

    check_is_fitted(model, "stages_")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiles = read_arrays([path], grid_size, tile_half, max_memory=max_memory,
                            input_check=input_check)
        labels, scores, kinds = model._route(tiles.X)
    result = ArrayResult(
        name=tiles.array_names[0] if name is None else name, path=Path(os.fspath(path)),
        labels=labels, scores=scores, kinds=kinds, positions=tiles.positions[:, 1:].copy(),
        boxes=tiles.boxes, image=tiles.array_images[0],
        profile=tiles.array_profiles[0] if tiles.array_profiles else None,
        notes=[str(w.message) for w in caught])
    if draw_map:
        from .report import defect_map_png

        result.map_png = defect_map_png(result.image, result.name, grid_size, result.positions,
                                        np.asarray(labels).astype(str),
                                        np.asarray(kinds).astype(str))
    return result


def _classify_in_worker(path, model, grid_size, tile_half, name, max_memory, input_check,
                        draw_map):
    """:func:`classify_array` in a worker process, with one thread for BLAS and OpenCV.

    Two processes with a thread pool each would oversubscribe the cores.
    """
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    with threadpool_limits(limits=1):
        return classify_array(path, model, grid_size, tile_half, name=name,
                              max_memory=max_memory, input_check=input_check,
                              draw_map=draw_map)


def iter_inspect(paths, model, grid_size=21, tile_half=32, *, n_jobs=None, max_memory=None,
                 input_check="raise", draw_maps=False):
    """Classify array images one at a time with a fitted model; yield each array's result.

    Peak memory is that of one array per worker, however many arrays there are.

    Parameters
    ----------
    paths : sequence of path-like
        Array images.
    model : LayeredPeelClassifier
        A fitted model.
    grid_size, tile_half, max_memory, input_check
        As in :func:`~sklearn_pillars.read_arrays`, for each array.
    n_jobs : int, optional
        Worker processes (joblib's loky backend); None or 1 classifies in
        this process. The results are the same for every ``n_jobs``.
    draw_maps : bool, default=False
        Also draw each array's defect map where it is classified (in the
        workers with ``n_jobs``): ``ArrayResult.map_png``.

    Yields
    ------
    ArrayResult
        In the order of ``paths``. The warnings of each array (its ``notes``)
        are raised again here, in this process, as it is yielded.

    Examples
    --------
    >>> for result in iter_inspect(paths, model):  # doctest: +SKIP
    ...     print(result.name, (result.labels == "Good").mean())
    """
    from sklearn.utils.validation import check_is_fitted

    from .io import _array_names

    check_is_fitted(model, "stages_")
    paths = [Path(os.fspath(p)) for p in paths]
    seen = set()
    for path in paths:
        if path.resolve() in seen:
            raise ValueError(f"{path}: given twice")
        seen.add(path.resolve())
    names = _array_names(paths)
    if n_jobs is None or n_jobs == 1:
        results = (classify_array(path, model, grid_size, tile_half, name=name,
                                  max_memory=max_memory, input_check=input_check,
                                  draw_map=draw_maps)
                   for path, name in zip(paths, names, strict=True))
    else:
        from joblib import Parallel, delayed

        jobs = (delayed(_classify_in_worker)(path, model, grid_size, tile_half, name,
                                             max_memory, input_check, draw_maps)
                for path, name in zip(paths, names, strict=True))
        results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    for result in results:
        for note in result.notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        yield result
