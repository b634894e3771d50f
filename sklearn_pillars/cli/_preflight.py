"""Checks before a command starts: inputs, model path, grid, memory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..batch import noted_warnings
from ..constants import DEFAULT_GRID_SIZE, DEFAULT_TILE_HALF, NOTEBOOK_PRESET
from ..exceptions import ResourceLimitError, UsageError
from ..io import ImageHeader, check_image_file, find_array_images
from ..peel import MODEL_SUFFIXES, check_model_tile_half
from ..synthetic import make_pillar_arrays
from ..tiling import check_geometry, concat_tilesets, estimate_memory, tile_array
from ..utils.files import display_name
from ..utils.memory import check_memory, parse_size
from ..utils.parallel import capped_n_jobs
from ._parser import _count, _grid_option


def _input_paths(arrays, skip_non_images=False, quiet=False):
    """The array files, and the warnings of finding them (shown already, unless quiet)."""

    try:
        with noted_warnings(show=not quiet) as notes:
            return find_array_images(arrays, skip_non_images=skip_non_images), notes
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _workers(n_jobs, n_arrays, quiet=False):
    """``--n-jobs`` at most one per CPU and per array (None: the arrays are not files),
    and the note saying so when fewer (shown already, unless quiet)."""
    with noted_warnings(show=not quiet) as notes:
        workers = capped_n_jobs(n_jobs, n_arrays, name="--n-jobs")
    return workers, notes


def _model_path(value, must_exist):

    path = Path(value)
    name = display_name(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise UsageError(f"--model {name}: a model file must end in .skops or .joblib")
    if path.is_dir():
        raise UsageError(f"--model {name}: is a folder, not a model file")
    if must_exist and not path.is_file():
        raise UsageError(f"--model {name}: no such model file")
    if not must_exist:
        folder = path.parent
        if not folder.is_dir():
            raise UsageError(f"--model {name}: folder {display_name(folder)} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"--model {name}: cannot write to folder {display_name(folder)}")
    return path


def _grid(args, info=None):
    """The grid size and tile half-size: given, else the saved model's, else the defaults.

    A model classifies tiles of its own size (``--tile-half`` must be the model's), on a
    grid of any size: an array may have more sites than the model's training arrays.
    """
    grid_size = _grid_option(args.grid_size) or ("auto" if info is None else info["grid_size"])
    tile_half = _count(args.tile_half, "--tile-half")
    if info is None:
        if getattr(args, "stages", None) == NOTEBOOK_PRESET and grid_size == "auto":
            raise UsageError(
                "--stages notebook reproduces the original notebook on its uniform grid: "
                "add --grid-size 21 (or the arrays' grid), or leave --stages out for the "
                "default refined preset, made for the lattice found in each image"
            )
        return grid_size, tile_half or DEFAULT_TILE_HALF

    try:
        check_model_tile_half(tile_half, info)
    except ValueError:
        raise UsageError(
            f"--tile-half {tile_half} differs from the model's "
            f"{info['tile_half']}: a model classifies tiles of its own size; "
            "leave it out to use the model's"
        ) from None
    return grid_size, info["tile_half"]


def _check_inputs(
    paths, grid_size, tile_half, max_memory, preset, at_once=None, banded=False, fitting=False
):
    """Refuse, before reading anything, inputs whose grid or memory need is out of bounds.

    ``at_once``: how many arrays are in memory at once when they are streamed (the
    largest counted that many times); None when all are held together. ``banded``:
    large arrays are classified band by band. ``fitting``: a model is fitted on all the
    arrays' tiles (from their features).
    """

    checked = []
    for path in paths:
        try:
            header, size = check_image_file(path, max_memory=max_memory)
        except ResourceLimitError as exc:
            raise UsageError(str(exc)) from None
        if header is not None and header.format != "unknown" and grid_size != "auto":
            try:
                check_geometry(header.height, header.width, grid_size, tile_half)
            except ValueError as exc:
                raise UsageError(f"{display_name(path)}: {exc}") from None
        checked.append((header, size))
    headers = [h for h, _ in checked if h is not None]
    largest = max(size for _, size in checked)

    def pixels(i):
        header = checked[i][0]
        return header.width * header.height if header else 0

    def size(i):
        header = checked[i][0]
        return f"{header.width} x {header.height} pixels" if header else "size unknown"

    biggest = max(range(len(paths)), key=pixels)
    what = (
        f"{display_name(paths[0])} ({size(0)})"
        if len(paths) == 1
        else f"{len(paths)} arrays (the largest: {display_name(paths[biggest])}, {size(biggest)})"
    )
    held = headers if at_once is None else [checked[biggest][0]] * at_once if headers else []
    auto = grid_size == "auto"
    # a found lattice's sites are not known before it is found: as many as tiles of about
    # 1.2 pitches would cover the image (grid_size is then the side of a square as large)
    side = {
        id(h): (max(2, round((h.width * h.height) ** 0.5 * 0.6 / tile_half)) if auto else grid_size)
        for h in headers
    }
    grid = max(side.values(), default=1) if auto else grid_size
    try:
        fit_tiles = sum(side[id(h)] ** 2 for h in headers) if fitting else 0
        check_memory(
            estimate_memory(
                held,
                grid,
                tile_half,
                file_bytes=largest,
                preset=preset,
                banded=banded,
                fit_tiles=fit_tiles,
                n_sites=sum(side[id(h)] ** 2 for h in held) if auto else None,
                lattice=auto,
            ),
            max_memory,
            what=f"{'fitting on' if fitting else 'classifying'} {what} on "
            + ("the lattices found, " if auto else f"a {grid_size} x {grid_size} grid of ")
            + f"{2 * tile_half}-pixel tiles",
        )
    except ResourceLimitError as exc:
        one = estimate_memory(
            [checked[biggest][0]] if checked[biggest][0] else [],
            grid,
            tile_half,
            file_bytes=largest,
            preset=preset,
            banded=banded,
        )
        if fitting and one <= max_memory:
            hint = (
                "fit on a random sample of the arrays (the clustering and the outlier "
                "detector hold every tile's features), or raise --max-memory"
            )
        elif at_once is not None and at_once > 1 and one <= max_memory:
            hint = "use fewer --n-jobs (each worker holds an array)"
        elif len(paths) > 1 and one <= max_memory:
            hint = "inspect the arrays a few at a time, or with a saved --model"
        elif banded:
            hint = "raise --max-memory"
        else:
            hint = (
                "classify it with a saved --model, which takes a large array band by "
                "band, or raise --max-memory"
            )
        raise UsageError(f"{exc}; {hint}") from None


DEMO_ARRAYS, DEMO_PITCH, DEMO_GRID = 3, 54, DEFAULT_GRID_SIZE  # make_pillar_arrays' defaults


DEMO_ROTATION, DEMO_MARGIN = 2.0, 0.6  # the --demo --grid auto frames


def _demo_frames(tile_half):
    """The --demo arrays as frames a microscope would give (rotated, with a margin), cut
    around the lattices found in them."""

    frames = make_pillar_arrays(
        n_arrays=DEMO_ARRAYS,
        grid_size=DEMO_GRID,
        random_state=0,
        tile_half=tile_half,
        pitch=DEMO_PITCH,
        rotation=DEMO_ROTATION,
        margin=DEMO_MARGIN,
        derotate=False,
    )
    tiles = concat_tilesets(
        [
            tile_array(image, "auto", tile_half, name=name)
            for image, name in zip(frames.array_images, frames.array_names, strict=True)
        ]
    )
    # the truth of each site, where the lattice found is the one drawn (it is, but a
    # report must not show a truth that belongs to other sites)
    truth = {
        tuple(p): (y, k)
        for p, y, k in zip(frames.positions.tolist(), frames.y, frames.stitch_type, strict=True)
    }
    found = [truth.get(tuple(p)) for p in tiles.positions.tolist()]
    if all(f is not None for f in found) and len(found) == len(truth):
        tiles.y = np.array([f[0] for f in found], dtype=frames.y.dtype)
        tiles.stitch_type = np.array([f[1] for f in found], dtype=frames.stitch_type.dtype)
    return tiles


def _check_demo(grid_size, tile_half, max_memory, preset):
    """The --demo arrays' geometry and memory, checked before they are rendered."""

    if grid_size == "auto":
        grid_size = DEMO_GRID + 2  # the frames' margins and turning hold about two more
    side = grid_size * DEMO_PITCH
    try:
        check_geometry(side, side, grid_size, tile_half)
    except ValueError as exc:
        raise UsageError(f"--demo: {exc}") from None
    # rendered in float32, with a few canvases of the same size alive at once
    headers = [ImageHeader(side, side, 4, 4, "synthetic")] * DEMO_ARRAYS
    try:
        check_memory(
            estimate_memory(headers, grid_size, tile_half, preset=preset),
            max_memory,
            what=f"--demo with {grid_size} x {grid_size} sites",
        )
    except ResourceLimitError as exc:
        raise UsageError(str(exc)) from None


def _max_memory(args):

    try:
        return parse_size(args.max_memory, "--max-memory")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
