"""Classifying many arrays with a fitted model, one array at a time.

Memory holds one array (its image, X and the classifier's work on it) per
worker, whatever the number of arrays; results come back in the order of the
paths. A fitted model classifies each tile from the tile and its own array
only, so the labels are those of one ``predict`` over all the arrays at once
(except for arrays too large for one X, classified in bands: see
:func:`classify_array`)."""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager

from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ..constants import DEFAULT_TILE_HALF
from ..io import array_names, find_array_images, unique_paths
from ..lattice import drift_warnings
from ..peel import (
    check_model_tile_half,
    check_tiles_fit_model,
    load_model,
    notebook_lattice_note,
    warn_grid_mismatch,
    warn_notebook_on_lattice,
)
from ..report import REPORT_PATTERNS, StreamingReport
from ..utils.files import (
    check_report_folder,
    display_name,
    folder_lock,
    is_empty_folder,
    remove_leftovers,
    staged_report,
)
from ..utils.parallel import capped_n_jobs, in_order
from ..utils.validation import check_grid_size, check_n_jobs
from ._classify import _classify


def _model_and_tiling(model, grid_size, tile_half, trusted):
    """``model`` (loaded when a path) with the grid size and tile size to cut arrays with.

    A model file brings its own: ``grid_size`` overrides its grid size (with a warning
    when they differ), ``tile_half`` must match its tile size. Returns ``(model,
    grid_size, tile_half, info)``, ``info`` as from ``load_model`` (None for a model
    object).
    """
    info = None
    if isinstance(model, (str, os.PathLike)):
        model, info = load_model(model, trusted=trusted)
        check_model_tile_half(tile_half, info)
        warn_grid_mismatch(grid_size, info, stacklevel=4)  # the caller of the caller
        grid_size = info["grid_size"] if grid_size is None else grid_size
        tile_half = info["tile_half"]
    grid_size = "auto" if grid_size is None else check_grid_size(grid_size)
    tile_half = DEFAULT_TILE_HALF if tile_half is None else tile_half
    return model, grid_size, tile_half, info


def iter_inspect(
    paths,
    model,
    grid_size=None,
    tile_half=None,
    *,
    n_jobs=None,
    client=None,
    max_memory=None,
    input_check="raise",
    draw_maps=False,
    skip_non_images=False,
    trusted=False,
):
    """Classify array images one at a time with a fitted model; yield each array's result.

    Peak memory is that of one array per worker, however many arrays there are.

    Parameters
    ----------
    paths : path-like, str or sequence of them
        Array images, folders of them or glob patterns, as
        :func:`inspect_arrays` takes them
        (:func:`~sklearn_pillars.io.find_array_images`).
    model : LayeredPeelClassifier or path-like
        A fitted model, or a model file saved by
        :func:`~sklearn_pillars.persist.save_model` (loaded with
        ``trusted``; its grid size and tile size come with it).
    grid_size, tile_half : optional
        As in :func:`~sklearn_pillars.read_arrays`, for each array; by
        default the model file's, else ``"auto"`` and 32.
    max_memory, input_check
        As in :func:`~sklearn_pillars.read_arrays`, for each array.
    n_jobs : int, optional
        Worker processes (joblib's loky backend); None or 1 classifies in
        this process. At most one per CPU and per array are started (with a
        warning when fewer than asked). The results are the same for every
        ``n_jobs``.
    client : dask.distributed.Client, optional
        Classify on this Dask cluster instead (the ``[dask]`` extra): the
        model is sent to every worker once, each array is one task, and a
        few tasks per worker thread are in flight at a time. The workers
        read the files, so ``paths`` must name the same files there (a
        shared file system). The results are those of the serial run.
    draw_maps : bool, default=False
        Also draw each array's defect map where it is classified (in the
        workers with ``n_jobs`` or ``client``): ``ArrayResult.map_png``.
    skip_non_images : bool, default=False
        As in :func:`~sklearn_pillars.io.find_array_images`.
    trusted : bool, default=False
        As in :func:`~sklearn_pillars.persist.load_model`, for a model file.

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

    n_jobs = check_n_jobs(n_jobs)
    if client is not None and n_jobs not in (None, 1):
        raise ValueError(
            "give n_jobs or a Dask client, not both: the cluster's workers are the parallelism"
        )
    model, grid_size, tile_half, _ = _model_and_tiling(model, grid_size, tile_half, trusted)
    check_is_fitted(model, "stages_")
    check_tiles_fit_model(model, tile_half)
    warn_notebook_on_lattice(model, grid_size)
    paths = unique_paths(find_array_images(paths, skip_non_images=skip_non_images))
    names = array_names(paths)
    calls = [
        (path.absolute(), grid_size, tile_half, name, max_memory, input_check, draw_maps)
        for path, name in zip(paths, names, strict=True)
    ]  # workers may have another cwd
    if client is None:
        n_jobs = capped_n_jobs(n_jobs, len(calls))
    results = in_order(_classify, model, calls, n_jobs=n_jobs, client=client)
    try:
        for path, result in zip(paths, results, strict=True):
            result.path = path
            for note in result.notes:
                warnings.warn(note, UserWarning, stacklevel=2)
            yield result
    finally:
        results.close()


@contextmanager
def noted_warnings(show=True):
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

    if path is not None:
        return (
            f"saved model {display_name(path)} (sklearn-pillars {info['version']}, "
            f"preset {info['preset'] or 'custom stages'!r})"
        )
    return f"fitted model (preset {getattr(model, 'preset_', None) or 'custom stages'!r})"


def report_details(paths, model_text, grid_size, tile_half):
    """The report page's header lines for these arrays and model."""

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
    ``classes_`` (see :class:`~sklearn_pillars.report.StreamingReport`).

    Returns
    -------
    StreamingReport
        Closed; its ``counts`` and ``n_tiles`` are the totals.
    """

    report = StreamingReport(
        folder, grid_size=grid_size, title=title, details=details, classes=classes
    )
    try:
        with noted_warnings() as caught:
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
    (:func:`iter_inspect`, :class:`~sklearn_pillars.report.StreamingReport`),
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

    with noted_warnings() as early:
        paths = find_array_images(inputs, skip_non_images=skip_non_images)
    if not paths:
        raise ValueError("no array images given")
    model_path = model if isinstance(model, (str, os.PathLike)) else None
    with noted_warnings() as model_notes:
        model, grid_size, tile_half, info = _model_and_tiling(model, grid_size, tile_half, trusted)
    early.extend(model_notes)  # on the report too
    profiles = () if info is None else info["profiles"]
    model_text = describe_model(model, model_path, info)
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
