"""The ``sklearn-pillars`` command: fit a model, inspect arrays, write a report."""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np

from ._version import __version__
from .presets import PRESETS

DEFAULT_PRESET = "notebook"  # LayeredPeelClassifier's default

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Find fabrication defects (Missing, Collapsed, Stitching, Irregular) in metasurface
pillar arrays from optical-microscope images, one tile per lattice site.
"""

EPILOG = """\
examples:
  sklearn-pillars inspect --demo --out report/
      a built-in synthetic array set, no files needed
  sklearn-pillars inspect Array_1Crop.bmp --out report/
      fit on the given arrays (as the original notebook does) and report
  sklearn-pillars fit Array_1Crop.bmp Array_2Crop.bmp Array_3Crop.bmp --model pillars.skops
  sklearn-pillars inspect Array_4.bmp --model pillars.skops --out report4/
      classify a new array with a saved model

model files: .skops (default, safe to load: only scikit-learn, NumPy and
sklearn-pillars types are accepted, no code runs) or .joblib (a pickle: loading
a .joblib file from an untrusted source runs arbitrary code; only load your own).

exit codes: 0 ok, 1 the run failed (unreadable image, unusable model, ...),
2 usage error (bad option, missing input, non-empty output folder without --force).
"""


class UsageError(Exception):
    """A problem with the command line: exit code 2."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-pillars", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--grid-size", type=int, default=None,
                        help="pillars per row and column (default 21, or the model's)")
    common.add_argument("--tile-half", type=int, default=None,
                        help="half the side of a tile in pixels (default 32, or the model's)")
    common.add_argument("--stages", choices=PRESETS, default=None,
                        help="the classifier's preset when fitting: notebook (the original "
                             f"notebook's layers, exactly) or refined (default: "
                             f"{DEFAULT_PRESET})")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser(
        "fit", parents=[common], help="fit a model on array images and save it",
        description="Fit a LayeredPeelClassifier on array images and save it.",
        epilog="example:\n  sklearn-pillars fit a1.bmp a2.bmp a3.bmp --model pillars.skops",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("arrays", nargs="+", metavar="ARRAY", help="array images (BMP, PNG, TIFF)")
    fit.add_argument("--model", required=True, metavar="MODEL",
                     help="where to save the model: .skops (safe) or .joblib (a pickle)")
    fit.add_argument("--force", action="store_true", help="overwrite an existing model file")

    inspect = commands.add_parser(
        "inspect", parents=[common], help="classify every tile and write the report",
        description="Classify every tile of the arrays and write a report folder: tiles.csv, "
                    "summary.csv, defect maps, galleries, per-layer diagnostics, index.html.",
        epilog="examples:\n  sklearn-pillars inspect --demo --out report/\n"
               "  sklearn-pillars inspect a4.bmp --model pillars.skops --out report4/\n\n"
               "A .joblib model is a pickle: never load one from an untrusted source.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    inspect.add_argument("arrays", nargs="*", metavar="ARRAY", help="array images")
    inspect.add_argument("--demo", action="store_true",
                         help="inspect a built-in synthetic array set instead of files")
    inspect.add_argument("--model", metavar="MODEL",
                         help="classify with this saved model (default: fit on the arrays)")
    inspect.add_argument("--out", required=True, metavar="DIR", help="report folder")
    inspect.add_argument("--force", action="store_true",
                         help="write into DIR even if it is not empty (files are replaced)")
    inspect.add_argument("--tsne", action="store_true", help="add t-SNE plots (slow)")
    return parser


class Progress:
    """A tqdm bar on stderr when it is a terminal; nothing with --quiet."""

    def __init__(self, total, quiet):
        self.bar = None
        self.done = 0
        if not quiet:
            from tqdm import tqdm

            # disable=None: no bar when stderr is not a terminal (logs, pipes, CI)
            self.bar = tqdm(total=total, file=sys.stderr, unit="step", leave=False, disable=None,
                            bar_format="{desc:<32.32} {bar} {n_fmt}/{total_fmt} {elapsed}")

    def __call__(self, text):
        self.done += 1
        if self.bar is not None:
            self.bar.set_description_str(text)
            self.bar.update(1)

    def set_total(self, total):
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _positive(value, name):
    if value is not None and value <= 0:
        raise UsageError(f"--{name} must be a positive integer, got {value}")
    return value


def _input_paths(arrays):
    paths = [Path(p) for p in arrays]
    seen = set()
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if path.is_dir():
            raise UsageError(f"{path}: is a folder, not an image")
        if path.resolve() in seen:
            raise UsageError(f"{path}: given twice")
        seen.add(path.resolve())
    return paths


def _model_path(value, must_exist):
    from .persist import MODEL_SUFFIXES

    path = Path(value)
    if path.suffix not in MODEL_SUFFIXES:
        raise UsageError(f"--model {path}: a model file must end in .skops or .joblib")
    if must_exist and not path.is_file():
        raise UsageError(f"--model {path}: no such model file")
    if not must_exist and not path.parent.is_dir():
        raise UsageError(f"--model {path}: folder {path.parent} does not exist")
    return path


def _grid(args, info=None):
    grid_size = _positive(args.grid_size, "grid-size")
    tile_half = _positive(args.tile_half, "tile-half")
    if info is None:
        return grid_size or 21, tile_half or 32
    for name, given, saved in (("grid-size", grid_size, info["grid_size"]),
                               ("tile-half", tile_half, info["tile_half"])):
        if given is not None and given != saved:
            raise UsageError(f"--{name} {given} differs from the model's {saved}; "
                             f"leave it out to use the model's")
    return info["grid_size"], info["tile_half"]


def _check_output_folder(out, force, inputs):
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out}: folder is not empty (use --force to write into it)")
    resolved = {p.resolve() for p in inputs}
    if out.is_dir() and any(p.parent == out.resolve() for p in resolved):
        raise UsageError(f"{out}: holds input files; write the report to another folder")
    return out


def cmd_fit(args):
    from .classifier import LayeredPeelClassifier
    from .io import read_arrays
    from .persist import save_model

    paths = _input_paths(args.arrays)
    model_path = _model_path(args.model, must_exist=False)
    if model_path.resolve() in {p.resolve() for p in paths}:
        raise UsageError(f"{model_path}: is one of the input arrays")
    if model_path.exists() and not args.force:
        raise UsageError(f"{model_path}: exists (use --force to replace it)")
    grid_size, tile_half = _grid(args)
    progress = Progress(3, args.quiet)
    try:
        progress(f"reading {len(paths)} array(s)")
        tiles = read_arrays(paths, grid_size, tile_half)
        progress(f"fitting on {len(tiles)} tiles")
        model = LayeredPeelClassifier(args.stages or DEFAULT_PRESET).fit(tiles.X)
        progress("saving the model")
        save_model(model, model_path, grid_size=grid_size, tile_half=tile_half)
    finally:
        progress.close()
    if not args.quiet:
        counts = dict(zip(*np.unique(model.labels_, return_counts=True), strict=True))
        print(f"saved {model_path}: fitted on {len(tiles)} tiles of {len(paths)} array(s); "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)
    return EXIT_OK


def cmd_inspect(args):
    from .classifier import LayeredPeelClassifier
    from .io import read_arrays
    from .persist import load_model
    from .report import remove_report, write_report
    from .synthetic import make_pillar_arrays

    if args.demo and args.arrays:
        raise UsageError("give array images or --demo, not both")
    if not args.demo and not args.arrays:
        raise UsageError("no array images given (or use --demo)")
    paths = [] if args.demo else _input_paths(args.arrays)
    if args.model:
        _model_path(args.model, must_exist=True)
    out = _check_output_folder(args.out, args.force, paths)
    model, info = (None, None)
    if args.model:
        if args.stages:
            raise UsageError("--stages chooses how to fit; a saved --model was fitted already "
                             "(leave --stages out)")
        model, info = load_model(args.model)
    grid_size, tile_half = _grid(args, info)

    progress = Progress(2, args.quiet)
    try:
        progress("reading arrays")
        if args.demo:
            tiles = make_pillar_arrays(n_arrays=3, grid_size=grid_size, random_state=0,
                                       tile_half=tile_half)
            source = "built-in synthetic arrays (make_pillar_arrays, random_state=0)"
        else:
            tiles = read_arrays(paths, grid_size, tile_half)
            source = ", ".join(str(p) for p in paths)
        if model is None:
            progress(f"fitting on {len(tiles)} tiles")
            preset = args.stages or DEFAULT_PRESET
            model = LayeredPeelClassifier(preset).fit(tiles.X)
            labels, scores, kinds = model.labels_, model.inconsistency_, model.kinds_
            diagnostics = model.stage_diagnostics()
            how = f"fitted on these arrays, preset {preset!r}"
        else:
            progress(f"classifying {len(tiles)} tiles")
            result = model.trace(tiles.X)
            labels, scores, diagnostics = result.labels, result.scores, result.stages
            kinds = result.kinds
            how = (f"saved model {args.model} (sklearn-pillars {info['version']}, preset "
                   f"{info['preset'] or 'custom stages'!r})")
        # the report's steps: tables, maps, galleries, stages, extremes, page
        progress.set_total(progress.done + 3 + len(tiles.array_names)
                           + len(set(labels.tolist())) + len(diagnostics))
        out.mkdir(parents=True, exist_ok=True)
        remove_report(out)  # with --force: no file of an earlier report may look current
        write_report(
            out, tiles, labels, scores, diagnostics, grid_size=grid_size,
            title="Pillar array inspection",
            details=[("arrays", source), ("model", how),
                     ("grid", f"{grid_size} x {grid_size} sites, tiles of up to "
                              f"{2 * tile_half} px")],
            tsne=args.tsne, progress=progress, kinds=kinds,
        )
    finally:
        progress.close()
    if not args.quiet:
        good = np.mean(labels == "Good")
        print(f"report written to {out}/index.html: {len(tiles)} tiles, yield {good:.1%}",
              file=sys.stderr)
    return EXIT_OK


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line on stderr, without the source line Python adds."""
    print(f"sklearn-pillars: warning: {message}", file=sys.stderr)


def main(argv=None):
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on usage errors
    command = {"fit": cmd_fit, "inspect": cmd_inspect}[args.command]
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        if args.quiet:
            warnings.simplefilter("ignore")
        try:
            return command(args)
        except UsageError as exc:
            if args.debug:
                traceback.print_exc()
            print(f"sklearn-pillars {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("sklearn-pillars: interrupted", file=sys.stderr)
            return 130
        except ImportError as exc:
            if args.debug:
                traceback.print_exc()
            print(f"sklearn-pillars: error: {exc}; install the command's extras with "
                  "pip install 'sklearn-pillars[cli]'", file=sys.stderr)
            return EXIT_FAILURE
        except Exception as exc:  # any failure of the run: one line, no traceback
            if args.debug:
                traceback.print_exc()
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"sklearn-pillars {args.command}: error: {message}", file=sys.stderr)
            return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
