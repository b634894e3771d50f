"""Classifying many arrays with a fitted model, one array at a time.

Memory holds one array (its image, X and the classifier's work on it) per
worker, whatever the number of arrays; results come back in the order of the
paths. A fitted model classifies each tile from the tile and its own array
only, so the labels are those of one ``predict`` over all the arrays at once
(except for arrays too large for one X, classified in bands: see
:func:`classify_array`).
"""

from __future__ import annotations

import os
import warnings
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .constants import DEFAULT_TILE_HALF
from .presets import (
    NotebookGridWarning,
    notebook_lattice_note,
    preset_of,
    warn_notebook_on_lattice,
)


@dataclass(eq=False)
class ArrayResult:
    """One array's classification.

    What :func:`classify_array` returns and :func:`iter_inspect` yields: the
    class of every site of one array image, with the image and what is
    needed to draw or report it, so that the tiles themselves need not be
    kept.

    Attributes
    ----------
    name : str
        The array's name (file name without suffix, as in :func:`~sklearn_pillars.read_arrays`).
    path : Path
        The array image file (as given to :func:`iter_inspect`).
    labels, scores, kinds : ndarray of shape (n_sites,)
        Class, inconsistency score (NaN where not scored) and defect kind
        (``"seam"``/``"field"`` for Stitching where the model tells them
        apart, ``""`` elsewhere) of each site, row-major (``grid_size**2``
        sites, or rows x cols of a found lattice).
    positions : ndarray of shape (n_sites, 2)
        1-based row and column of each site.
    boxes : ndarray of shape (n_sites, 4)
        ``x0, y0, x1, y1`` of each tile in ``image``.
    image : ndarray of shape (H, W), uint8
        The grey array image.
    profile : ArrayProfile or None
        Its basic statistics, where the input was checked.
    notes : list of str
        The warnings raised while reading and classifying it (such as an
        image that is not a pillar array, with ``input_check="warn"``).
    map_png : bytes or None
        Its defect map as PNG bytes, when
        asked for (``draw_map``).
    lattice : Lattice or None
        The lattice found in the image (``grid_size="auto"``), in ``image``
        (turned upright if it was rotated); None for the uniform grid.

    See Also
    --------
    classify_array : Classify one array image.
    iter_inspect : Classify many, one result at a time.
    sklearn_pillars.report.defect_map : Draw a result's defect map to a file.

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
    ...     result = classify_array(path, model, grid_size=6, draw_map=True)
    >>> result.positions[:2].tolist(), result.boxes.shape, result.image.shape
    ([[1, 1], [1, 2]], (36, 4), (324, 324))
    >>> result.map_png[:4]
    b'\\x89PNG'
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
    lattice: object = None


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
    ``BAND_BYTES`` of ``sklearn_pillars.limits`` (64 MiB: about 4,000 tiles of
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
    from sklearn.utils.validation import check_is_fitted

    from .io import read_arrays
    from .limits import band_rows
    from .tiling import check_grid_size

    check_is_fitted(model, "stages_")
    grid_size = check_grid_size(grid_size)
    warn_notebook_on_lattice(model, grid_size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if grid_size == "auto":
            result = _classify_found(path, model, tile_half, name, max_memory, input_check)
        elif band_rows(grid_size, tile_half, preset=preset_of(model)) is None:
            tiles = read_arrays(
                [path], grid_size, tile_half, max_memory=max_memory, input_check=input_check
            )
            labels, scores, kinds = model._route(tiles.X)
            result = ArrayResult(
                name=tiles.array_names[0] if name is None else name,
                path=Path(os.fspath(path)),
                labels=labels,
                scores=scores,
                kinds=kinds,
                positions=tiles.positions[:, 1:].copy(),
                boxes=tiles.boxes,
                image=tiles.array_images[0],
                profile=tiles.array_profiles[0] if tiles.array_profiles else None,
            )
        else:
            result = _classify_in_bands(
                path, model, grid_size, tile_half, name, max_memory, input_check
            )
    result.notes = [str(w.message) for w in caught]
    if draw_map:
        from .report import defect_map_png

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


def _classify_in_bands(path, model, grid_size, tile_half, name, max_memory, input_check):
    """:func:`classify_array` of an array too large for one X: band by band
    (:func:`~sklearn_pillars.predict_in_bands`), one band's tiles in memory at a time."""
    from ._files import display_name
    from .classifier import predict_in_bands
    from .io import _array_names, _check_grid, check_image_file, read_image
    from .limits import band_rows, check_memory, estimate_memory
    from .tiling import profile_arrays, tile_boxes

    path = Path(os.fspath(path))
    header, size = check_image_file(path, max_memory=max_memory)
    check_memory(
        estimate_memory(
            [header] if header else [],
            grid_size,
            tile_half,
            file_bytes=size,
            classify=False,
            banded=True,
        ),
        max_memory,
        what=f"reading {display_name(path)} in bands of {grid_size}-site rows",
    )
    grey = read_image(path, max_memory=max_memory)
    _check_grid(path, *grey.shape, grid_size, tile_half)
    profiles = profile_arrays([grey], [display_name(path)], grid_size, input_check)
    name = _array_names([path])[0] if name is None else name
    bands = predict_in_bands(
        model,
        grey,
        grid_size,
        tile_half,
        chunk_rows=band_rows(grid_size, tile_half, preset=preset_of(model)),
        name=name,
        input_check="skip",
    )  # checked just above
    rows, cols = np.divmod(np.arange(grid_size * grid_size), grid_size)
    return ArrayResult(
        name=name,
        path=path,
        labels=bands.labels.ravel(),
        scores=bands.scores.ravel(),
        kinds=bands.kinds.ravel(),
        positions=np.stack([rows + 1, cols + 1], axis=1),
        boxes=tile_boxes(*grey.shape, grid_size=grid_size, tile_half=tile_half),
        image=grey,
        profile=profiles[0] if profiles else None,
    )


def _classify_found(path, model, tile_half, name, max_memory, input_check):
    """:func:`classify_array` around the lattice found in the image, band by band when
    its tiles would exceed ``BAND_BYTES`` (``sklearn_pillars.limits``)."""
    from ._files import display_name
    from .classifier import predict_in_bands
    from .io import _array_names, check_image_file, read_image
    from .limits import band_rows, check_memory, estimate_memory
    from .tiling import build_tileset, lattice_boxes, place_lattice, profile_arrays

    path = Path(os.fspath(path))
    header, size = check_image_file(path, max_memory=max_memory)
    check_memory(
        estimate_memory(
            [header] if header else [], 0, tile_half, file_bytes=size, classify=False, lattice=True
        ),
        max_memory,
        what=f"reading {display_name(path)} and finding its lattice",
    )
    grey = read_image(path, max_memory=max_memory)
    grey, lattice = place_lattice(grey, "auto", name=display_name(path), tile_half=tile_half)
    try:
        boxes = lattice_boxes(lattice, tile_half)
    except ValueError as exc:
        raise ValueError(f"{display_name(path)}: {exc}") from None
    profiles = profile_arrays([grey], [display_name(path)], None, input_check, [lattice])
    name = _array_names([path])[0] if name is None else name
    n_rows, n_cols = lattice.shape
    chunk_rows = band_rows(n_rows, tile_half, n_cols, preset=preset_of(model))
    if chunk_rows is None:
        tiles = build_tileset([grey], [name], None, tile_half, lattices=[lattice])
        labels, scores, kinds = model._route(tiles.X)
    else:
        bands = predict_in_bands(
            model,
            grey,
            tile_half=tile_half,
            chunk_rows=chunk_rows,
            lattice=lattice,
            derotate=False,  # placed just above
            rescale=False,
            name=name,
            input_check="skip",
        )  # checked just above
        labels, scores, kinds = (bands.labels.ravel(), bands.scores.ravel(), bands.kinds.ravel())
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    return ArrayResult(
        name=name,
        path=path,
        labels=labels,
        scores=scores,
        kinds=kinds,
        positions=np.stack([rows + 1, cols + 1], axis=1),
        boxes=boxes,
        image=grey,
        profile=profiles[0] if profiles else None,
        lattice=lattice,
    )


def _check_tiles_fit_model(model, tile_half):
    """ValueError unless the model classifies tiles of side ``2 * tile_half``."""
    from .tileset import N_META, tile_size_from_width

    width = getattr(model, "n_features_in_", None)
    if width is not None and width != (2 * tile_half) ** 2 + N_META:
        side = tile_size_from_width(width)
        raise ValueError(
            f"tile_half={tile_half} cuts tiles of {2 * tile_half} px, but the "
            f"model classifies tiles of {side} px (tile_half={side // 2})"
        )


def _single_threaded(function, *args):
    """``function(*args)`` with one thread for BLAS and OpenCV: in a worker process, where
    two processes with a thread pool each would oversubscribe the cores."""
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    with threadpool_limits(limits=1):
        return function(*args)


def _in_order(function, first, calls, *, n_jobs=None, client=None, keep_workers=True):
    """Yield ``function(first, *call)`` for each of ``calls``, in order.

    Here (``n_jobs`` None or 1), in ``n_jobs`` worker processes (loky, as
    joblib), or as tasks on a Dask cluster (``client``; ``first``, the large
    argument such as the model, goes to every worker once). Workers are
    single-threaded, and two calls per worker are in flight at a time, so
    finished results never pile up however slowly they are consumed. On an
    error or an interrupt, Dask's calls not started are cancelled, and loky's
    workers stop after the few calls they hold. Without ``keep_workers``,
    loky's workers are also stopped when all calls are done, to free their
    memory for what follows.
    """
    from collections import deque
    from itertools import islice

    from joblib import effective_n_jobs

    if client is None and effective_n_jobs(n_jobs) == 1:
        for call in calls:
            yield function(first, *call)
        return
    if client is not None:
        [first] = client.scatter([first], broadcast=True, hash=False)
        window = 2 * max(1, sum(client.nthreads().values()))

        def submit(call):
            return client.submit(_single_threaded, function, first, *call, pure=False)
    else:
        executor = _workers(n_jobs)
        window = 2 * effective_n_jobs(n_jobs)

        def submit(call):
            return executor.submit(_single_threaded, function, first, *call)

    calls = iter(calls)
    pending = deque(submit(call) for call in islice(calls, window))
    finished = False
    try:
        while pending:
            result = pending[0].result()
            pending.popleft()
            pending.extend(submit(call) for call in islice(calls, 1))
            yield result
        finished = True
    finally:
        if client is not None:
            for future in pending:
                future.cancel()
        elif not finished or not keep_workers:
            # The workers finish the few calls they hold (a second at most) and stop. Not
            # cancel() nor kill_workers: both race loky's own thread over those calls
            # (InvalidStateError, KeyError), which can leave the process hanging at exit.
            executor.shutdown(wait=finished)


# loky's executors this process used, for stop_workers
_EXECUTORS = []


def _workers(n_jobs):
    """loky's reusable executor of ``n_jobs`` worker processes (started if need be)."""
    from joblib import effective_n_jobs
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=effective_n_jobs(n_jobs))
    if not any(known is executor for known in _EXECUTORS):
        _EXECUTORS.append(executor)
    return executor


def stop_workers():
    """Tell the worker processes this process started to stop after the calls they hold.

    loky's threads that stop them are not daemons: the interpreter's exit
    waits for them, and so must an exit that bypasses it.
    """
    while _EXECUTORS:
        _EXECUTORS.pop().shutdown(wait=False)


def start_workers(n_jobs):
    """Start the worker processes of ``n_jobs`` (loky's, as :func:`iter_inspect` uses) now.

    They take a second or two to start and import the package: started
    before other work of a run (loading a model, checking its inputs), they
    are ready when the arrays come.
    """
    from joblib import effective_n_jobs

    if effective_n_jobs(n_jobs) > 1:
        executor = _workers(n_jobs)
        for _ in range(effective_n_jobs(n_jobs)):
            executor.submit(_single_threaded, int)  # imports this module in the worker


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


def iter_inspect(
    paths,
    model,
    grid_size="auto",
    tile_half=DEFAULT_TILE_HALF,
    *,
    n_jobs=None,
    client=None,
    max_memory=None,
    input_check="raise",
    draw_maps=False,
):
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
    client : dask.distributed.Client, optional
        Classify on this Dask cluster instead (the ``[dask]`` extra): the
        model is sent to every worker once, each array is one task, and a
        few tasks per worker thread are in flight at a time. The workers
        read the files, so ``paths`` must name the same files there (a
        shared file system). The results are those of the serial run.
    draw_maps : bool, default=False
        Also draw each array's defect map where it is classified (in the
        workers with ``n_jobs`` or ``client``): ``ArrayResult.map_png``.

    Yields
    ------
    ArrayResult
        In the order of ``paths``. The warnings of each array (its ``notes``)
        are raised again here, in this process, as it is yielded.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    ValueError
        If ``tile_half`` does not give the tiles the model classifies, both
        ``n_jobs`` (other than 1) and ``client`` are given, or as
        :func:`classify_array` for an array.
    FileNotFoundError, ResourceLimitError, NotAnArrayError
        As :func:`classify_array`, when the array is reached.

    See Also
    --------
    classify_array : Classify one image.
    inspect_arrays : The same, writing a report of all the arrays.
    fit_arrays : Fit the model on many images first.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> from sklearn_pillars import LayeredPeelClassifier, iter_inspect, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=2, grid_size=6, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = [Path(folder, f"wafer_{i}.png") for i in range(2)]
    ...     for path, image in zip(paths, tiles.array_images):
    ...         _ = cv2.imwrite(str(path), image)
    ...     results = list(iter_inspect(paths, model, grid_size=6))
    >>> [(result.name, len(result.labels)) for result in results]
    [('wafer_0', 36), ('wafer_1', 36)]

    The labels are those of one ``predict`` over both arrays' tiles:

    >>> import numpy as np
    >>> labels = np.concatenate([result.labels for result in results])
    >>> bool((labels == model.predict(tiles.X)).all())
    True
    """
    from sklearn.utils.validation import check_is_fitted

    from .io import _array_names, unique_paths
    from .tiling import check_grid_size

    check_is_fitted(model, "stages_")
    _check_tiles_fit_model(model, tile_half)
    grid_size = check_grid_size(grid_size)
    warn_notebook_on_lattice(model, grid_size)
    if client is not None and n_jobs not in (None, 1):
        raise ValueError(
            "give n_jobs or a Dask client, not both: the cluster's workers are the parallelism"
        )
    paths = unique_paths(paths)
    names = _array_names(paths)
    calls = [
        (path.absolute(), grid_size, tile_half, name, max_memory, input_check, draw_maps)
        for path, name in zip(paths, names, strict=True)
    ]  # workers may have another cwd
    results = _in_order(_classify, model, calls, n_jobs=n_jobs, client=client)
    try:
        for path, result in zip(paths, results, strict=True):
            result.path = path
            for note in result.notes:
                warnings.warn(note, UserWarning, stacklevel=2)
            yield result
    finally:
        results.close()


@contextmanager
def _noted_warnings(show=True):
    """Collect the messages of the block's warnings (for the report), still showing each
    (unless ``show`` is False)."""
    notes = []
    shown = warnings.showwarning

    def note(message, category, filename, lineno, file=None, line=None):
        notes.append(str(message))
        if show:
            shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = note
        yield notes


def describe_model(model, path=None, info=None):
    """A line saying which model classified the arrays, for the report page."""
    from ._files import display_name

    if path is not None:
        return (
            f"saved model {display_name(path)} (sklearn-pillars {info['version']}, "
            f"preset {info['preset'] or 'custom stages'!r})"
        )
    return f"fitted model (preset {getattr(model, 'preset_', None) or 'custom stages'!r})"


def report_details(paths, model_text, grid_size, tile_half):
    """The report page's header lines for these arrays and model."""
    from ._files import display_name

    names = [display_name(p) for p in paths]
    source = (
        ", ".join(names)
        if len(names) <= 10
        else (f"{len(names)} arrays: {', '.join(names[:3])}, ..., {names[-1]}")
    )
    grid = (
        "found in each image (find_lattice)"
        if grid_size == "auto"
        else f"{grid_size} x {grid_size} sites"
    )
    return [
        ("arrays", source),
        ("model", model_text),
        ("grid", f"{grid}, tiles of up to {2 * tile_half} px"),
    ]


#: Warnings listed on a report page; the rest are counted.
MAX_SHOWN_WARNINGS = 30


def write_streamed_report(
    folder,
    results,
    *,
    grid_size,
    details,
    profiles=(),
    notes=(),
    progress=None,
    title="Pillar array inspection",
    classes=(),
):
    """Write the report of ``results`` (an iterable of :class:`ArrayResult`) into ``folder``.

    Arrays whose statistics drift from ``profiles`` (those of the model's
    training arrays) get a warning; every warning of the run, and ``notes``
    (earlier warnings), are also shown on the page. ``progress`` is called
    with a short text after each array. ``classes``: the model's
    ``classes_`` (see :class:`~sklearn_pillars.report_stream.StreamingReport`).

    Returns
    -------
    StreamingReport
        Closed; its ``counts`` and ``n_tiles`` are the totals.
    """
    from .report_stream import StreamingReport
    from .sanity import drift_warnings

    report = StreamingReport(
        folder, grid_size=grid_size, title=title, details=details, classes=classes
    )
    try:
        with _noted_warnings() as caught:
            for result in results:
                if result.profile is not None and profiles:
                    for message in drift_warnings([result.profile], profiles, [result.name]):
                        warnings.warn(message, UserWarning, stacklevel=2)
                report.add(result)
                if progress is not None:
                    progress(f"array {result.name}")
    except BaseException:
        report.abort()
        raise
    finally:
        if hasattr(results, "close"):  # stop the workers of an unfinished run
            results.close()
    noted = [*notes, *caught]
    report.details += [("warning", note) for note in noted[:MAX_SHOWN_WARNINGS]]
    if len(noted) > MAX_SHOWN_WARNINGS:
        report.details.append(
            (
                "warning",
                f"... and {len(noted) - MAX_SHOWN_WARNINGS} more warnings (shown as they came)",
            )
        )
    if progress is not None:
        progress("galleries and index.html")
    report.close()
    return report


def inspect_arrays(
    inputs,
    model,
    out,
    *,
    grid_size=None,
    tile_half=None,
    n_jobs=None,
    client=None,
    max_memory=None,
    input_check="raise",
    skip_non_images=False,
    force=False,
    trusted=False,
    progress=None,
):
    """Classify any number of array images with a fitted model and write the report into ``out``.

    The Python side of ``sklearn-pillars inspect --model``. Arrays are read,
    classified and added to the report one at a time
    (:func:`iter_inspect`, :class:`~sklearn_pillars.report_stream.StreamingReport`),
    so memory does not grow with their number. The report is written into
    a staging folder inside ``out`` and moved into place only when it is
    complete: an error or an interrupt leaves ``out`` as it was.

    Parameters
    ----------
    inputs : sequence of path-like or str
        Array images, folders of them or glob patterns
        (:func:`~sklearn_pillars.io.find_array_images`).
    model : LayeredPeelClassifier or path-like
        A fitted model, or a model file saved by
        :func:`~sklearn_pillars.persist.save_model` (its grid size, tile
        size and training arrays' statistics come with it).
    out : path-like
        The report folder; created if missing.
    grid_size, tile_half : int, optional
        The arrays' grid and the tiles' half-size; by default the saved
        model's, else ``"auto"`` (each array's lattice is found) and 32. A
        model classifies tiles of its own size (``tile_half``), on a grid of
        any size.
    n_jobs : int, optional
        Worker processes (see :func:`iter_inspect`).
    client : dask.distributed.Client, optional
        Classify on a Dask cluster (see :func:`iter_inspect`).
    max_memory, input_check
        As in :func:`~sklearn_pillars.read_arrays`, for each array.
    skip_non_images : bool, default=False
        Leave out, with a warning, files in a folder or pattern that are not
        images, instead of raising.
    force : bool, default=False
        Write into ``out`` even if it holds files (an earlier report's are replaced).
    trusted : bool, default=False
        Allow a ``.joblib`` model file (a pickle; see
        :func:`~sklearn_pillars.persist.load_model`).
    progress : callable, optional
        Called with a short text after each array.

    Returns
    -------
    Bunch
        ``folder``, ``n_arrays``, ``n_tiles`` and ``counts`` (tiles of each class).

    Raises
    ------
    ValueError
        If ``inputs`` name no array images, or as :func:`iter_inspect`.
    FileExistsError
        If ``out`` holds files and ``force`` is False.
    ~sklearn_pillars.persist.ModelFileError
        For a model file :func:`~sklearn_pillars.persist.load_model` will
        not load (a ``.joblib`` file without ``trusted=True``, for one).
    FileNotFoundError, ResourceLimitError, NotAnArrayError
        As :func:`iter_inspect`; ``out`` is then left as it was.

    See Also
    --------
    iter_inspect : The results array by array, without a report.
    sklearn_pillars.report.write_report : A report of a tile set held in memory.
    fit_arrays : Fit the model on many images first.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> from sklearn_pillars import LayeredPeelClassifier, inspect_arrays, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=2, grid_size=6, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for i, image in enumerate(tiles.array_images):
    ...         _ = cv2.imwrite(str(Path(folder, f"wafer_{i}.png")), image)
    ...     summary = inspect_arrays([folder], model, Path(folder, "report"), grid_size=6)
    ...     page = (summary.folder / "index.html").is_file()
    >>> summary.n_arrays, summary.n_tiles, sum(summary.counts.values()), page
    (2, 72, 72, True)

    On a folder of real arrays with a saved model, in two worker processes:

    >>> inspect_arrays("wafer_7/", "pillars.skops", "report_7", n_jobs=2)  # doctest: +SKIP
    """
    from sklearn.utils import Bunch

    from ._files import (
        check_report_folder,
        display_name,
        folder_lock,
        is_empty_folder,
        remove_leftovers,
        staged_report,
    )
    from .io import find_array_images
    from .report import REPORT_PATTERNS
    from .tiling import check_grid_size

    with _noted_warnings() as early:
        paths = find_array_images(inputs, skip_non_images=skip_non_images)
    if not paths:
        raise ValueError("no array images given")
    if isinstance(model, (str, os.PathLike)):
        from .persist import check_model_tile_half, load_model

        model_path = model
        model, info = load_model(model_path, trusted=trusted)
        check_model_tile_half(tile_half, info)
        grid_size = info["grid_size"] if grid_size is None else check_grid_size(grid_size)
        tile_half, profiles = info["tile_half"], info["profiles"]
        model_text = describe_model(model, model_path, info)
    else:
        grid_size = "auto" if grid_size is None else check_grid_size(grid_size)
        tile_half = DEFAULT_TILE_HALF if tile_half is None else tile_half
        profiles = ()
        model_text = describe_model(model)
    lattice_note = notebook_lattice_note(model, grid_size)
    if lattice_note is not None:
        early.append(lattice_note)  # for the report; iter_inspect warns
    out = check_report_folder(out, paths)
    with folder_lock(out):
        remove_leftovers(out)
        if not force and not is_empty_folder(out):
            raise FileExistsError(
                f"{display_name(out)}: folder is not empty (force=True writes into it)"
            )
        with staged_report(out, REPORT_PATTERNS) as staging:
            results = iter_inspect(
                paths,
                model,
                grid_size,
                tile_half,
                n_jobs=n_jobs,
                client=client,
                max_memory=max_memory,
                input_check=input_check,
                draw_maps=True,
            )
            report = write_streamed_report(
                staging,
                results,
                grid_size=grid_size,
                profiles=profiles,
                notes=early,
                progress=progress,
                details=report_details(paths, model_text, grid_size, tile_half),
                classes=model.classes_,
            )
    return Bunch(
        folder=out, n_arrays=len(paths), n_tiles=report.n_tiles, counts=dict(report.counts)
    )


def _shared_of_array(features, path, grid_size, tile_half, max_memory, input_check):
    """One array's shared features (see ``LayeredPeelClassifier._shared_features``)."""
    from .classifier import LayeredPeelClassifier
    from .io import read_arrays

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiles = read_arrays(
            [path], grid_size, tile_half, max_memory=max_memory, input_check=input_check
        )
        shared = LayeredPeelClassifier._shared_features(features, tiles.X)
    profile = tiles.array_profiles[0] if tiles.array_profiles else None
    lattice = tiles.lattices[0] if tiles.lattices else None
    return shared, tiles.X.shape[1], profile, lattice, [str(w.message) for w in caught]


def _fit_arrays(model, paths, grid_size, tile_half, n_jobs, max_memory, input_check, progress=None):
    """:func:`fit_arrays`, also returning the arrays' profiles and found lattices (None
    each for the uniform grid); ``progress`` is called with a short text after each
    array."""
    from .io import unique_paths
    from .tiling import check_grid_size

    grid_size = check_grid_size(grid_size)
    warn_notebook_on_lattice(model, grid_size, stacklevel=4)
    paths = unique_paths(paths)
    if not paths:
        raise ValueError("no arrays to fit on")
    stages = model._begin_fit()
    features = [stage.features for _, stage in stages]
    calls = [(path.absolute(), grid_size, tile_half, max_memory, input_check) for path in paths]
    # the workers stop once the features are in: the clustering needs their memory
    results = _in_order(_shared_of_array, features, calls, n_jobs=n_jobs, keep_workers=False)
    with closing(results):
        parts, positions, profiles, lattices, width = _gather_shared(results, paths, progress)
    if grid_size == "auto":  # the sites were not known before the lattices were found
        from .limits import FIT_BYTES_PER_TILE, check_memory

        preset = model.stages if isinstance(model.stages, str) else None
        per_tile = FIT_BYTES_PER_TILE.get(preset, max(FIT_BYTES_PER_TILE.values()))
        check_memory(
            len(positions) * per_tile,
            max_memory,
            what=f"fitting on the {len(positions):,} sites of {len(paths)} found lattices",
        )
    model._fit_shared(stages, (parts, positions), width)
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
    paths : sequence of path-like
        Array images.
    grid_size, tile_half, max_memory, input_check
        As in :func:`~sklearn_pillars.read_arrays`, for each array.
    n_jobs : int, optional
        Worker processes that read and featurise arrays at the same time.

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
    return _fit_arrays(model, paths, grid_size, tile_half, n_jobs, max_memory, input_check)[0]
