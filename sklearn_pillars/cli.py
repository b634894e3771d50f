"""The ``sklearn-pillars`` command: fit a model, inspect arrays, write a report."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._version import __version__
from .constants import (
    DEFAULT_GRID_SIZE,
    DEFAULT_PRESET,
    DEFAULT_TILE_HALF,
    NOTEBOOK_PRESET,
    PRESETS,
)
from .exceptions import UsageError  # noqa: F401 (also importable from here)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM

DESCRIPTION = """\
Find fabrication defects (Missing, Collapsed, Stitching, Irregular) in metasurface
pillar arrays from optical-microscope images, one tile per lattice site.
"""

EPILOG = """\
examples:
  sklearn-pillars inspect --demo --out report/
      a built-in synthetic array set, no files needed
  sklearn-pillars inspect Array_1Crop.bmp --out report/
      find each image's lattice, fit on the given arrays and report
  sklearn-pillars fit Array_1Crop.bmp Array_2Crop.bmp Array_3Crop.bmp --model pillars.skops
  sklearn-pillars inspect Array_4.bmp --model pillars.skops --out report4/
      classify a new array with a saved model
  sklearn-pillars inspect wafer_7/ --model pillars.skops --n-jobs 2 --out report7/
      every image in a folder, one array at a time, in 2 worker processes
      (--scheduler tcp://host:8786: on a Dask cluster instead; the [dask] extra)
  sklearn-pillars inspect A1.bmp A2.bmp A3.bmp --stages notebook --grid-size 21 --out nb/
      reproduce the original analysis notebook: its layers on its uniform 21 x 21 grid

model files: .skops (default, safe to load: only scikit-learn, NumPy and
sklearn-pillars types are accepted, no code runs) or .joblib (a pickle: loading
it runs whatever code it holds, so it is refused unless you pass --trust-model;
only trust a file you made yourself).

safety: the memory a run needs is estimated from the image headers before
anything is read, and a run that would need more than --max-memory (default:
half the machine's RAM) is refused. Images that are blank or show no lattice
of --grid-size pillars are refused (--force-input classifies them anyway, with
a warning). The report is written into a staging folder and moved into place
only when complete; a second run into the same folder fails at once.

exit codes: 0 ok, 1 the run failed (unreadable image, not a pillar array,
unusable model, ...), 2 usage error (bad option, missing input, non-empty
output folder without --force, output folder in use or not writable, over
the memory limit),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

MAX_COUNT = 100_000  # the largest --grid-size or --tile-half taken


def _count(text, option):
    """A positive integer option, or a one-line usage error for any other text."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{option} must be a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_COUNT:
        raise UsageError(f"{option} must be a whole number from 1 to {MAX_COUNT:,}, got {text}")
    return value


def _grid_option(text):
    """``--grid-size``: ``"auto"`` or a positive integer."""
    if text is not None and text.strip().lower() == "auto":
        return "auto"
    try:
        return _count(text, "--grid-size")
    except UsageError as exc:
        raise UsageError(f"{exc} (or auto)") from None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-pillars",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--grid-size",
        "--grid",
        dest="grid_size",
        default=None,
        metavar="N|auto",
        help="auto: find the lattice (rows, columns, pitch, rotation) in each "
        "image, so frames may have a margin, be rotated or rectangular; or N: "
        "a uniform grid of N pillars per row and column, for images cropped to "
        "the array (default auto, or the model's)",
    )
    common.add_argument(
        "--tile-half",
        default=None,
        help=f"half the side of a tile in pixels (default {DEFAULT_TILE_HALF}, or the model's)",
    )
    common.add_argument(
        "--max-memory",
        default=None,
        metavar="SIZE",
        help="refuse a run estimated to need more memory than this, e.g. 4G "
        "or 500M (default: half the machine's RAM)",
    )
    common.add_argument(
        "--force-input",
        action="store_true",
        help="classify images that do not look like a pillar array (blank, "
        "noise, wrong grid), with a warning, instead of refusing them",
    )
    common.add_argument(
        "--stages",
        choices=PRESETS,
        default=None,
        help="the classifier's preset when fitting: refined (the default) or "
        "notebook (the original notebook's layers, exactly; with --grid-size 21)",
    )
    common.add_argument(
        "--n-jobs",
        default=None,
        metavar="N",
        help="N worker processes (default 1): fit reads and featurises N "
        "arrays at a time, inspect --model classifies N at a time "
        "(inspect without --model: the refined preset's arrays in N "
        "threads); the results are the same",
    )
    common.add_argument(
        "--skip-non-images",
        action="store_true",
        help="leave out files that are not images in a folder or pattern "
        "given as ARRAY (default: they are an error)",
    )
    common.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser(
        "fit",
        parents=[common],
        help="fit a model on array images and save it",
        description="Fit a LayeredPeelClassifier on array images and save it.",
        epilog="example:\n  sklearn-pillars fit a1.bmp a2.bmp a3.bmp --model pillars.skops",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument(
        "arrays",
        nargs="+",
        metavar="ARRAY",
        help="array images (BMP, PNG, TIFF), folders of them or glob patterns",
    )
    fit.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="where to save the model: .skops (safe) or .joblib (a pickle)",
    )
    fit.add_argument("--force", action="store_true", help="overwrite an existing model file")

    inspect = commands.add_parser(
        "inspect",
        parents=[common],
        help="classify every tile and write the report",
        description="Classify every tile of the arrays and write a report folder: tiles.csv, "
        "summary.csv, defect maps, galleries, per-layer diagnostics, index.html.",
        epilog="examples:\n  sklearn-pillars inspect --demo --out report/\n"
        "  sklearn-pillars inspect a4.bmp --model pillars.skops --out report4/\n\n"
        "A .joblib model is a pickle: it is refused without --trust-model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument(
        "arrays",
        nargs="*",
        metavar="ARRAY",
        help="array images, folders of them or glob patterns ('wafer_7/*.bmp')",
    )
    inspect.add_argument(
        "--demo",
        action="store_true",
        help="inspect a built-in synthetic array set instead of files",
    )
    inspect.add_argument(
        "--model",
        metavar="MODEL",
        help="classify with this saved model (default: fit on the arrays)",
    )
    inspect.add_argument(
        "--trust-model",
        action="store_true",
        help="allow a .joblib --model: it is a pickle and loading it runs "
        "any code it holds; only for a file you made yourself",
    )
    inspect.add_argument("--out", required=True, metavar="DIR", help="report folder")
    inspect.add_argument(
        "--force",
        action="store_true",
        help="write into DIR even if it is not empty (files are replaced)",
    )
    inspect.add_argument("--tsne", action="store_true", help="add t-SNE plots (slow)")
    inspect.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="classify with --model on this Dask scheduler "
        "(tcp://host:8786; the [dask] extra); the workers must see the "
        "array files at the same paths",
    )
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run stops and cleans up."""


# Interrupts of this run: every signal received, and those Python could not raise (in a
# weakref callback or __del__ it prints and drops the exception, see _unraisable).
_RECEIVED, _PENDING = [], []


def _interrupt(signum, frame):
    _RECEIVED.append(signum)
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def _unraisable(unraisable, default=sys.unraisablehook):
    """Keep an interrupt that hit a weakref callback or ``__del__`` for the next checkpoint."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _PENDING.append(unraisable.exc_value)
        return
    default(unraisable)


def _swallowed():
    """The interrupt of this run that did not stop it (None if there was none)."""
    if _PENDING:
        return _PENDING.pop()
    if _RECEIVED:  # raised, but caught somewhere along the way
        return Terminated() if _RECEIVED[-1] == signal.SIGTERM else KeyboardInterrupt()
    return None


def checkpoint():
    """Raise an interrupt of this run that was swallowed on its way up."""
    interrupt = _swallowed()
    if interrupt is not None:
        raise interrupt


class Progress:
    """A tqdm bar on stderr when it is a terminal; nothing with --quiet."""

    def __init__(self, total, quiet):
        self.bar = None
        self.done = 0
        self.quiet = quiet
        if not quiet:
            from tqdm import tqdm

            # disable=None: no bar when stderr is not a terminal (logs, pipes, CI)
            self.bar = tqdm(
                total=total,
                file=sys.stderr,
                unit="step",
                leave=False,
                disable=None,
                bar_format="{desc:<32.32} {bar} {n_fmt}/{total_fmt} {elapsed}",
            )

    def __call__(self, text):
        checkpoint()
        self.done += 1
        if self.bar is not None:
            self.bar.set_description_str(text)
            self.bar.update(1)

    def say(self, text):
        """A line on stderr above the bar (nothing with --quiet)."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def lattices(self, names, lattices):
        """Say the lattice found in each array (``--grid auto``)."""
        for name, lattice in zip(names, lattices or (), strict=False):
            if lattice is not None:
                self.say(f"{name}: {lattice}")

    def set_total(self, total):
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _input_paths(arrays, skip_non_images=False, quiet=False):
    """The array files, and the warnings of finding them (shown already, unless quiet)."""
    from .io import find_array_images
    from .streaming import _noted_warnings

    try:
        with _noted_warnings(show=not quiet) as notes:
            return find_array_images(arrays, skip_non_images=skip_non_images), notes
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _model_path(value, must_exist):
    from ._files import display_name
    from .persist import MODEL_SUFFIXES

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
    from .persist import check_model_tile_half

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
    from ._files import display_name
    from .io import check_image_file
    from .limits import ResourceLimitError, check_memory, estimate_memory
    from .tiling import check_geometry

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
    from .synthetic import make_pillar_arrays
    from .tileset import concat_tilesets
    from .tiling import tile_array

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
    from .limits import ImageHeader, ResourceLimitError, check_memory, estimate_memory
    from .tiling import check_geometry

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
    from .limits import parse_size

    try:
        return parse_size(args.max_memory, "--max-memory")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_fit(args):
    from ._files import display_name
    from .classifier import LayeredPeelClassifier
    from .persist import save_model
    from .streaming import _fit_arrays

    paths, _ = _input_paths(args.arrays, args.skip_non_images, args.quiet)
    model_path = _model_path(args.model, must_exist=False)
    if model_path.resolve() in {p.resolve() for p in paths}:
        raise UsageError(f"{display_name(model_path)}: is one of the input arrays")
    if model_path.exists() and not args.force:
        raise UsageError(f"{display_name(model_path)}: exists (use --force to replace it)")
    grid_size, tile_half = _grid(args)
    max_memory = _max_memory(args)
    n_jobs = _count(args.n_jobs, "--n-jobs") or 1
    preset = args.stages or DEFAULT_PRESET
    _check_inputs(
        paths,
        grid_size,
        tile_half,
        max_memory,
        preset,
        at_once=min(n_jobs, len(paths)),
        fitting=True,
    )
    progress = Progress(len(paths) + 1, args.quiet)
    try:
        # array by array: memory holds each tile's features, not its pixels
        model, profiles, lattices = _fit_arrays(
            LayeredPeelClassifier(preset),
            paths,
            grid_size,
            tile_half,
            n_jobs,
            max_memory,
            "warn" if args.force_input else "raise",
            progress=progress,
        )
        progress.lattices([display_name(p) for p in paths], lattices)
        progress("saving the model")
        save_model(model, model_path, grid_size=grid_size, tile_half=tile_half, profiles=profiles)
    finally:
        progress.close()
    if not args.quiet:
        counts = dict(zip(*np.unique(model.labels_, return_counts=True), strict=True))
        print(
            f"saved {display_name(model_path)}: fitted on {len(model.labels_)} tiles of "
            f"{len(paths)} array(s); " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_inspect(args):
    from ._files import (
        FolderAccessError,
        FolderInUseError,
        check_report_folder,
        display_name,
        folder_lock,
        is_empty_folder,
        remove_leftovers,
    )

    if args.demo and args.arrays:
        raise UsageError("give array images or --demo, not both")
    if not args.demo and not args.arrays:
        raise UsageError("no array images given (or use --demo)")
    _grid_option(args.grid_size)  # option errors before anything else
    _count(args.tile_half, "--tile-half")
    _count(args.n_jobs, "--n-jobs")
    _max_memory(args)
    paths, notes = (
        ([], []) if args.demo else _input_paths(args.arrays, args.skip_non_images, args.quiet)
    )
    if args.model:
        model_path = _model_path(args.model, must_exist=True)
        if model_path.suffix == ".joblib" and not args.trust_model:
            raise UsageError(
                f"--model {display_name(model_path)}: a .joblib model is a pickle, and loading "
                "it runs whatever code it holds; pass --trust-model if you made it yourself, "
                "or save the model as .skops, which loads safely"
            )
        if args.scheduler and args.n_jobs:
            raise UsageError(
                "give --n-jobs or --scheduler, not both: the Dask workers are the parallelism"
            )
        if args.stages:
            raise UsageError(
                "--stages chooses how to fit; a saved --model was fitted already "
                "(leave --stages out)"
            )
    if args.scheduler and not (args.model and paths):
        raise UsageError("--scheduler classifies array files with a saved --model")
    try:
        out = check_report_folder(args.out, paths)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        with folder_lock(out):
            remove_leftovers(out)
            if not is_empty_folder(out) and not args.force:
                raise UsageError(
                    f"{display_name(out)}: folder is not empty (use --force to write into it)"
                )
            return _inspect_into(args, paths, out, notes)
    except (FolderInUseError, FolderAccessError) as exc:
        raise UsageError(str(exc)) from None


def _inspect_streaming(
    args, paths, out, model, info, grid_size, tile_half, max_memory, n_jobs, input_notes
):
    """Classify the arrays with a saved model one at a time, the report growing as it goes."""
    from ._files import display_name, staged_report
    from .report import REPORT_PATTERNS
    from .streaming import (
        _noted_warnings,
        describe_model,
        iter_inspect,
        report_details,
        write_streamed_report,
    )

    details = report_details(paths, describe_model(model, args.model, info), grid_size, tile_half)
    progress = Progress(len(paths) + 1, args.quiet)
    client = _dask_client(args.scheduler) if args.scheduler else None
    try:
        with staged_report(out, REPORT_PATTERNS) as staging, _noted_warnings(show=not args.quiet):
            results = iter_inspect(
                paths,
                model,
                grid_size,
                tile_half,
                n_jobs=None if client else n_jobs,
                client=client,
                max_memory=max_memory,
                draw_maps=True,
                input_check="warn" if args.force_input else "raise",
            )
            report = write_streamed_report(
                staging,
                _saying_lattices(results, progress),
                grid_size=grid_size,
                details=details,
                profiles=info["profiles"],
                notes=input_notes,
                progress=progress,
                classes=model.classes_,
            )
            checkpoint()  # an interrupt before this point leaves the folder as it was
    finally:
        progress.close()
        if client is not None:
            client.close()
    if not args.quiet:
        print(
            f"report written to {display_name(out)}/index.html: {report.n_tiles} tiles of "
            f"{len(paths)} array(s), yield {report.yield_counts()['yield']:.1%}",
            file=sys.stderr,
        )
    return EXIT_OK


def _saying_lattices(results, progress):
    """``results`` (ArrayResult), saying each found lattice as it comes."""
    try:
        for result in results:
            progress.lattices([result.name], [result.lattice])
            yield result
    finally:
        results.close()


def _dask_client(address):
    """A client of the Dask scheduler at ``address`` (the [dask] extra)."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install 'sklearn-pillars[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"--scheduler {address}: cannot reach the Dask scheduler ({exc})"
        ) from None


def _inspect_into(args, paths, out, input_notes):
    from ._files import display_name, staged_report
    from .classifier import LayeredPeelClassifier
    from .io import read_arrays
    from .persist import load_model
    from .report import REPORT_PATTERNS, write_report, yield_counts
    from .sanity import drift_warnings
    from .streaming import _noted_warnings, describe_model, report_details, start_workers
    from .synthetic import make_pillar_arrays

    model, info = (None, None)
    if args.model:
        if paths and not args.scheduler:
            start_workers(_count(args.n_jobs, "--n-jobs"))  # while the model loads
        model, info = load_model(args.model, trusted=args.trust_model)
    grid_size, tile_half = _grid(args, info)
    max_memory = _max_memory(args)
    preset = info["preset"] if info is not None else args.stages or DEFAULT_PRESET
    n_jobs = _count(args.n_jobs, "--n-jobs") or 1
    streaming = model is not None and bool(paths)
    if paths:
        _check_inputs(
            paths,
            grid_size,
            tile_half,
            max_memory,
            preset,
            at_once=min(n_jobs, len(paths)) if streaming else None,
            banded=streaming,
        )
    else:
        _check_demo(grid_size, tile_half, max_memory, preset)
    if streaming:
        return _inspect_streaming(
            args, paths, out, model, info, grid_size, tile_half, max_memory, n_jobs, input_notes
        )

    progress = Progress(2, args.quiet)
    try:
        progress("reading arrays")
        with _noted_warnings(show=not args.quiet) as notes:
            if args.demo and grid_size == "auto":
                tiles = _demo_frames(tile_half)
                source = (
                    "built-in synthetic frames (make_pillar_arrays, random_state=0, "
                    f"{DEMO_GRID} x {DEMO_GRID} sites rotated by {DEMO_ROTATION} degrees "
                    f"in a margin of {DEMO_MARGIN} pitch)"
                )
            elif args.demo:
                tiles = make_pillar_arrays(
                    n_arrays=DEMO_ARRAYS,
                    grid_size=grid_size,
                    random_state=0,
                    tile_half=tile_half,
                    pitch=DEMO_PITCH,
                )
                source = "built-in synthetic arrays (make_pillar_arrays, random_state=0)"
            else:
                tiles = read_arrays(
                    paths,
                    grid_size,
                    tile_half,
                    max_memory=max_memory,
                    input_check="warn" if args.force_input else "raise",
                )
            progress.lattices(tiles.array_names, tiles.lattices)
            if info is not None and tiles.array_profiles is not None:
                for message in drift_warnings(
                    tiles.array_profiles, info["profiles"], tiles.array_names
                ):
                    warnings.warn(message, UserWarning, stacklevel=1)
        # what the classifier warns of (uneven illumination, ...) goes on the page too
        with _noted_warnings(show=not args.quiet) as classifying_notes:
            if model is None:
                progress(f"fitting on {len(tiles)} tiles")
                preset = args.stages or DEFAULT_PRESET
                model = LayeredPeelClassifier(preset, n_jobs=n_jobs).fit(tiles.X)
                labels, scores, kinds = model.labels_, model.inconsistency_, model.kinds_
                diagnostics = model.stage_diagnostics()
                how = f"fitted on these arrays, preset {preset!r}"
            else:
                progress(f"classifying {len(tiles)} tiles")
                result = model.trace(tiles.X)
                labels, scores, diagnostics = result.labels, result.scores, result.stages
                kinds = result.kinds
                how = describe_model(model, args.model, info)
        notes = [*notes, *dict.fromkeys(classifying_notes)]
        # the report's steps: tables, maps, galleries, stages, extremes, page
        progress.set_total(
            progress.done
            + 3
            + len(tiles.array_names)
            + len(set(labels.tolist()))
            + len(diagnostics)
        )
        details = report_details(paths or [source], how, grid_size, tile_half)
        details += [("warning", note) for note in [*input_notes, *notes]]
        with staged_report(out, REPORT_PATTERNS) as staging:
            write_report(
                staging,
                tiles,
                labels,
                scores,
                diagnostics,
                grid_size=grid_size,
                title="Pillar array inspection",
                details=details,
                tsne=args.tsne,
                progress=progress,
                kinds=kinds,
                classes=model.classes_,
            )
            checkpoint()  # an interrupt before this point leaves the folder as it was
    finally:
        progress.close()
    if not args.quiet:
        made = yield_counts(labels, kinds)
        print(
            f"report written to {display_name(out)}/index.html: {len(tiles)} tiles, yield "
            f"{made['yield']:.1%}",
            file=sys.stderr,
        )
    return EXIT_OK


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line on stderr, without the source line Python adds."""
    print(f"sklearn-pillars: warning: {message}", file=sys.stderr)


@contextmanager
def _interruptible():
    """While the block runs (in the main thread): SIGTERM stops the run like Ctrl-C, and no
    interrupt gets lost on its way up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {
        signal.SIGTERM: signal.getsignal(signal.SIGTERM),
        signal.SIGINT: signal.getsignal(signal.SIGINT),
    }
    hook = sys.unraisablehook
    _RECEIVED.clear()
    _PENDING.clear()
    signal.signal(signal.SIGTERM, _interrupt)
    if handlers[signal.SIGINT] is signal.default_int_handler:  # not when ignored (nohup)
        signal.signal(signal.SIGINT, _interrupt)
    sys.unraisablehook = _unraisable
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        sys.unraisablehook = hook


def _stopped(interrupt):
    """The message and exit code of a run stopped by Ctrl-C (130) or SIGTERM (143)."""
    if isinstance(interrupt, Terminated):
        print("sklearn-pillars: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    print("sklearn-pillars: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def main(argv=None):
    """Run the command line; return the exit code."""
    from .limits import ResourceLimitError

    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on usage errors
    command = {"fit": cmd_fit, "inspect": cmd_inspect}[args.command]
    with warnings.catch_warnings(), _interruptible():
        warnings.showwarning = _show_warning
        if args.quiet:
            warnings.simplefilter("ignore")
        try:
            return command(args)
        except (UsageError, ResourceLimitError) as exc:
            if args.debug:
                traceback.print_exc()
            print(f"sklearn-pillars {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt as exc:
            return _stopped(exc)
        except ImportError as exc:
            interrupt = _swallowed()
            if interrupt is not None:  # an interrupt in a module's initialisation becomes
                return _stopped(interrupt)  # "ImportError: initialization failed"
            if args.debug:
                traceback.print_exc()
            print(
                f"sklearn-pillars: error: {exc}; install the command's extras with "
                "pip install 'sklearn-pillars[cli]'",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        except Exception as exc:  # any failure of the run: one line, no traceback
            interrupt = _swallowed()
            if interrupt is not None:  # a failure that followed an interrupt: report that
                return _stopped(interrupt)
            if args.debug:
                traceback.print_exc()
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"sklearn-pillars {args.command}: error: {message}", file=sys.stderr)
            return EXIT_FAILURE


def run(argv=None):
    """The ``sklearn-pillars`` command as a process: run :func:`main` and exit with its code.

    A run stopped by Ctrl-C or SIGTERM has cleaned up when :func:`main`
    returns; it then waits for its worker processes and exits at once,
    without the interpreter's teardown: a signal can land anywhere in a
    compiled library, and once (in CI; not in 300 runs here) the teardown
    after it aborted the process ("Fatal Python error: PyThreadState_Get").
    """
    code = main(argv)
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        from .streaming import stop_workers

        stop_workers()
        for thread in threading.enumerate():  # as the interpreter's exit does
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
