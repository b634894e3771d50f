"""The command line of ``sklearn-pillars``: its commands, options and help."""

from __future__ import annotations

import argparse

from .._version import __version__
from ..constants import DEFAULT_TILE_HALF, PRESETS
from ..exceptions import UsageError

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
    evaluate = commands.add_parser(
        "evaluate",
        parents=[common],
        help="score a model against labels a person gave the tiles",
        description="Score a model's labels of the arrays' tiles against a labels file "
        "(array,row,col,label[,stitch_type,...], as the review page downloads it): per-class "
        "precision, recall and F1, macro-F1 and accuracy, the confusion matrix, each array's "
        "figures and a gallery of the disagreements, in a folder with an index.html.",
        epilog="examples:\n"
        "  sklearn-pillars evaluate a1.bmp a2.bmp --labels labels.csv --model m.skops "
        "--out eval/\n"
        "  sklearn-pillars evaluate a1.bmp --labels labels.csv --out eval/   "
        "# fitted on the arrays\n\n"
        "Labels that match no tile are listed (unmatched.csv), not dropped silently; tiles "
        "without a label are not scored.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument(
        "arrays",
        nargs="+",
        metavar="ARRAY",
        help="the labelled array images, folders of them or glob patterns; an array's name "
        "in the labels is its file name without suffix",
    )
    evaluate.add_argument(
        "--labels", required=True, metavar="CSV", help="the labels file (array,row,col,label)"
    )
    evaluate.add_argument(
        "--model",
        metavar="MODEL",
        help="score this saved model (default: fit one on the arrays and score it on them)",
    )
    evaluate.add_argument(
        "--trust-model",
        action="store_true",
        help="allow a .joblib --model (a pickle: loading it runs any code it holds)",
    )
    evaluate.add_argument("--out", required=True, metavar="DIR", help="evaluation folder")
    evaluate.add_argument(
        "--force",
        action="store_true",
        help="write into DIR even if it is not empty (files are replaced)",
    )
    return parser
