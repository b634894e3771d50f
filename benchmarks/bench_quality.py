"""LayeredPeelClassifier quality: the presets side by side on the real arrays (against the hand
labels) and on synthetic arrays (against their ground truth), with timings.

    .venv/bin/python benchmarks/bench_quality.py [--presets notebook refined] [--grids 21 auto]
                                                 [--only a b ...]

Sections (``--only`` picks some; all by default):

- a: each real array 1-3 fitted on itself (fit_predict), against the hand labels
- b: leave one real array out: fit on the other two, save / load (.skops), predict it
- c: the default synthetic set fitted on itself (random_state 0; and 0-2 pooled)
- d: photometric shift: fit on synthetic set 10, save / load, predict set 11 (photometric=1)
- e: clean synthetic arrays (no defects, random_state 0-4) fitted on themselves
- f: stitch kind (seam / field) of the Stitching tiles, for a, b and c
- g: real array 1 and a changed copy (0.8 * I + 25) predicted by a model of arrays 2 and 3
- h: robustness to the ordinary microscope conditions of ``sklearn_pillars.synthetic.CONDITIONS``
  (gradient, ramp, vignetting, noise, blur, JPEG, scale): each real array, altered by each
  (``apply_conditions``, random_state 0), predicted by the saved / loaded model of the other two
  arrays, and the share of its sites (by row and column) whose label is that of the unaltered
  image; the synthetic set 11 rendered with each (``make_pillar_arrays(conditions=...)``),
  predicted by a saved / loaded model of set 10: macro-F1 against the truth and agreement with
  the unaltered set. With ``--grids auto`` the synthetic images are re-cut around the lattice
  ``tile_array`` finds (the model of set 10 too); an image whose lattice is not found shows
  ``error: <exception>``, and sites missing from a lattice of another shape count as changed
- timing: read_arrays + fit_predict on arrays 1-3, predict throughput on their 1,323 tiles

The real-data sections (a, b, g and the real rows of f and h) need ../shared/data (the arrays
and hand_labels.csv) and are skipped with a note without it. ``--grids`` tiles the real arrays
on the uniform 21 x 21 grid (``21``, the default) and/or around the sites found by
``find_lattice`` (``auto``); the synthetic sections do not depend on it. The output is one
markdown table, one row per measure and one column per preset (and grid). Figures, not
pass/fail.
"""

import argparse
import functools
import os
import platform
import tempfile
import warnings
from pathlib import Path

import _common
import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, f1_score

from sklearn_pillars import (
    CLASSES,
    PRESETS,
    LayeredPeelClassifier,
    NoLatticeError,
    NotAnArrayError,
    apply_conditions,
    concat_tilesets,
    make_pillar_arrays,
    read_arrays,
    read_image,
    tile_array,
)
from sklearn_pillars.persist import load_model, save_model
from sklearn_pillars.synthetic import CONDITIONS

HALF = 32
ARRAY_NAMES = [path.stem for path in _common.SEED_ARRAYS]
HAND_LABELS = _common.SHARED / "data" / "labels" / "hand_labels.csv"
SHOWN = ("Missing", "Collapsed", "Stitching", "Irregular", "Good")  # peel order, for display
CLEAN = dict.fromkeys(("Missing", "Collapsed", "Stitching", "Irregular"), 0)
REAL_SECTIONS = {"a", "b", "g"}


def real_available():
    return HAND_LABELS.is_file() and all(path.is_file() for path in _common.SEED_ARRAYS)


def roundtrip(model):
    """The model after save_model / load_model through a temporary .skops file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.skops"
        save_model(model, path, grid_size=21, tile_half=HALF)
        return load_model(path)[0]


@functools.cache
def real_tiles(indices, grid):
    """Real arrays (0-based indices into arrays 1-3) in one TileSet, with the hand labels."""
    return read_arrays([_common.SEED_ARRAYS[i] for i in indices], grid, HALF, labels=HAND_LABELS)


# -- runs: (truth, labels, kinds, truth kinds) per array, cached per preset --------------------
def outcome(tiles, labels, kinds):
    return {"y": tiles.y, "labels": labels, "kinds": kinds, "truth_kinds": tiles.stitch_type}


def pooled(outcomes):
    return {key: np.concatenate([o[key] for o in outcomes]) for key in outcomes[0]}


@functools.cache
def real_self(preset, grid):
    """Each real array fitted on itself."""
    runs = []
    for i in range(len(ARRAY_NAMES)):
        tiles = real_tiles((i,), grid)
        model = LayeredPeelClassifier(preset).fit(tiles.X)
        runs.append(outcome(tiles, model.labels_, model.kinds_))
    return runs


@functools.cache
def real_loo_model(preset, grid, i):
    """The saved and reloaded model of the real arrays other than ``i`` (0-based)."""
    train = real_tiles(tuple(j for j in range(len(ARRAY_NAMES)) if j != i), grid)
    return roundtrip(LayeredPeelClassifier(preset).fit(train.X))


@functools.cache
def real_leave_one_out(preset, grid):
    """Each real array predicted by a saved and reloaded model of the other two."""
    runs = []
    for i in range(len(ARRAY_NAMES)):
        model = real_loo_model(preset, grid, i)
        tiles = real_tiles((i,), grid)
        result = model.trace(tiles.X)
        runs.append(outcome(tiles, result.labels, result.kinds))
    return runs


@functools.cache
def synthetic_self(preset, seed):
    """The default synthetic set of random_state ``seed`` fitted on itself."""
    tiles = make_pillar_arrays(random_state=seed)
    model = LayeredPeelClassifier(preset).fit(tiles.X)
    return outcome(tiles, model.labels_, model.kinds_)


# -- measures ------------------------------------------------------------------------------------
def macro_f1(y, labels):
    return f1_score(y, labels, labels=list(CLASSES), average="macro", zero_division=0)


def scores(prefix, run):
    """Macro-F1, accuracy and the F1 of each class."""
    y, labels = run["y"], run["labels"]
    per_class = f1_score(y, labels, labels=list(CLASSES), average=None, zero_division=0)
    per_class = dict(zip(CLASSES, per_class, strict=True))
    rows = [
        (f"{prefix} macro-F1", f"{macro_f1(y, labels):.3f}"),
        (f"{prefix} accuracy", f"{accuracy_score(y, labels):.3f}"),
    ]
    return rows + [(f"{prefix} F1 {name}", f"{per_class[name]:.3f}") for name in SHOWN]


def real_scores(section, runs):
    rows = [
        (f"({section}) macro-F1 {name}", f"{macro_f1(run['y'], run['labels']):.3f}")
        for name, run in zip(ARRAY_NAMES, runs, strict=True)
    ]
    return rows + scores(f"({section}) pooled", pooled(runs))


def share(hits, total):
    return f"{hits / total:.3f} ({hits}/{total})" if total else "n/a"


def stitch_kinds(prefix, run):
    """Strict and conditional accuracy of the kind of the labelled Stitching tiles."""
    if (run["kinds"] == "").all():  # the preset tells no kinds apart
        return [(f"{prefix} strict", "n/a"), (f"{prefix} conditional", "n/a")]
    truth = run["truth_kinds"]
    kinded = truth != ""
    called = kinded & (run["labels"] == "Stitching")
    right = called & (run["kinds"] == truth)
    return [
        (f"{prefix} strict", share(int(right.sum()), int(kinded.sum()))),
        (f"{prefix} conditional", share(int(right.sum()), int(called.sum()))),
    ]


# -- sections: each gives (measure, value) rows for one preset and grid ----------------------------
def section_a(preset, grid):
    # the notebook's own setup, for reference
    together = real_tiles(tuple(range(len(ARRAY_NAMES))), grid)
    labels = LayeredPeelClassifier(preset).fit_predict(together.X)
    kept = ("macro-F1", "accuracy", "Stitching", "Irregular")
    rows = scores("(a) arrays 1-3 as one X", {"y": together.y, "labels": labels})
    return real_scores("a", real_self(preset, grid)) + [r for r in rows if r[0].endswith(kept)]


def section_b(preset, grid):
    return real_scores("b", real_leave_one_out(preset, grid))


def section_c(preset, grid):
    seeds = (0, 1, 2)
    return scores("(c) synthetic rs=0", synthetic_self(preset, 0)) + scores(
        "(c) synthetic rs=0-2 pooled", pooled([synthetic_self(preset, s) for s in seeds])
    )


def section_d(preset, grid):
    train = make_pillar_arrays(n_arrays=3, photometric=1.0, random_state=10)
    test = make_pillar_arrays(n_arrays=3, photometric=1.0, random_state=11)
    model = roundtrip(LayeredPeelClassifier(preset).fit(train.X))
    return scores("(d) photometric 10 -> 11", {"y": test.y, "labels": model.predict(test.X)})


def section_e(preset, grid):
    flagged, counts = [], None
    for seed in range(5):
        tiles = make_pillar_arrays(n_arrays=1, defect_rates=CLEAN, random_state=seed)
        labels = LayeredPeelClassifier(preset).fit_predict(tiles.X)
        flagged.append(np.mean(labels != "Good"))
        if seed == 0:
            counts = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    rows = [
        ("(e) clean rs=0-4: not Good, mean", f"{np.mean(flagged):.1%}"),
        ("(e) clean rs=0-4: not Good, max", f"{np.max(flagged):.1%}"),
    ]
    return rows + [(f"(e) clean rs=0: {name} tiles", str(counts.get(name, 0))) for name in SHOWN]


def section_f(preset, grid):
    rows = []
    if real_available():
        rows += stitch_kinds(
            "(f) kind, real leave-one-out (b)", pooled(real_leave_one_out(preset, grid))
        )
        rows += stitch_kinds("(f) kind, real self-fit (a)", pooled(real_self(preset, grid)))
    return rows + stitch_kinds("(f) kind, synthetic rs=0 (c)", synthetic_self(preset, 0))


def changed_copy(image):
    """The grey image with contrast 0.8 and brightness +25, rounded (not truncated) to uint8."""
    return np.clip(np.rint(0.8 * image.astype(np.float64) + 25), 0, 255).astype(np.uint8)


def section_g(preset, grid):
    model = LayeredPeelClassifier(preset).fit(real_tiles((1, 2), grid).X)
    image = read_image(_common.SEED_ARRAYS[0])
    original = model.predict(tile_array(image, grid, HALF, name=ARRAY_NAMES[0]).X)
    changed = model.predict(tile_array(changed_copy(image), grid, HALF, name=ARRAY_NAMES[0]).X)
    y = real_tiles((0,), grid).y  # same row-major order as tile_array
    return [
        ("(g) array 1 labels changed by 0.8 I + 25", f"{np.mean(original != changed):.1%}"),
        ("(g) array 1 macro-F1, original", f"{macro_f1(y, original):.3f}"),
        ("(g) array 1 macro-F1, changed copy", f"{macro_f1(y, changed):.3f}"),
    ]


# -- h: robustness to the microscope conditions ----------------------------------------------------
def cut(image, grid, name):
    """The tiles of ``image`` (uniform grid or found lattice), or the name of the exception
    that refused them."""
    try:
        return tile_array(image, grid, HALF, name=name, input_check="warn")
    except (NoLatticeError, NotAnArrayError, ValueError) as error:
        return type(error).__name__


def site_labels(model, tiles, array=0):
    """{(array, row, col): label} of the sites of one array's TileSet as ``model`` predicts
    them."""
    labels = model.predict(tiles.X)
    rows, cols = tiles.positions[:, 1], tiles.positions[:, 2]
    return {(array, int(r), int(c)): label for r, c, label in zip(rows, cols, labels, strict=True)}


def agreement(original, altered):
    """Share of the sites of ``original`` that ``altered`` labels alike (a site missing from
    ``altered`` counts as changed), and how many are missing."""
    same = sum(altered.get(site) == label for site, label in original.items())
    return same / len(original), len(original.keys() - altered.keys())


def lattice_shape(tiles):
    return "x".join(str(n) for n in tiles.positions[:, 1:].max(axis=0))


@functools.cache
def real_robustness(preset, grid):
    """Per real array: its unaltered site labels and, per condition, the altered image's
    site labels (or the exception's name) and lattice shape, all by the model of the other
    two arrays."""
    runs = []
    for i, (path, name) in enumerate(zip(_common.SEED_ARRAYS, ARRAY_NAMES, strict=True)):
        model = real_loo_model(preset, grid, i)
        image = read_image(path)
        plain = cut(image, grid, name)
        if isinstance(plain, str):  # the unaltered image is refused: nothing to compare with
            runs.append(dict.fromkeys(CONDITIONS, plain))
            continue
        run = {"name": name, "original": site_labels(model, plain), "shape": lattice_shape(plain)}
        for condition, kwargs in CONDITIONS.items():
            tiles = cut(apply_conditions(image, **kwargs, random_state=0), grid, name)
            if not isinstance(tiles, str):
                tiles = site_labels(model, tiles), lattice_shape(tiles)
            run[condition] = tiles
        runs.append(run)
    return runs


def synthetic_parts(tiles, grid):
    """The truth {(array, row, col): label} of a synthetic set, and its TileSets to predict:
    the set itself on the uniform grid, or each image re-cut around the lattice found in it
    (the exception's name for an image without one)."""
    truth = dict(zip(map(tuple, tiles.positions.tolist()), tiles.y, strict=True))
    if grid != "auto":
        return truth, [tiles]
    pairs = zip(tiles.array_images, tiles.array_names, strict=True)
    return truth, [cut(image, "auto", name) for image, name in pairs]


@functools.cache
def synthetic_robustness(preset, grid):
    """The synthetic set 11, unaltered (``None``) and under each condition: its truth, the
    site labels of a saved / loaded model of set 10 (cut alike), the exceptions' names and
    the found lattices' shapes; None when set 10 has an image without a lattice."""
    _, train = synthetic_parts(make_pillar_arrays(n_arrays=3, random_state=10), grid)
    if any(isinstance(part, str) for part in train):
        return None
    model = roundtrip(LayeredPeelClassifier(preset).fit(concat_tilesets(train).X))
    runs = {}
    for condition in (None, *CONDITIONS):
        kwargs = None if condition is None else dict(CONDITIONS[condition])
        tiles = make_pillar_arrays(n_arrays=3, random_state=11, conditions=kwargs)
        truth, parts = synthetic_parts(tiles, grid)
        labels, errors, shapes = {}, [], []
        for k, part in enumerate(parts):
            if isinstance(part, str):
                errors.append(part)
            elif grid == "auto":  # one image, array index 0: it is array k
                labels |= site_labels(model, part, array=k)
                shapes.append(lattice_shape(part))
            else:  # the whole set, with its array indices
                keys = map(tuple, part.positions.tolist())
                labels |= dict(zip(keys, model.predict(part.X), strict=True))
        runs[condition] = {"truth": truth, "labels": labels, "errors": errors, "shapes": shapes}
    return runs


def real_rows(preset, grid):
    runs = real_robustness(preset, grid)
    rows, reshaped = [], []
    for condition in CONDITIONS:
        cells, shares = [], []
        for run in runs:
            result = run[condition]
            if isinstance(result, str):
                cells.append(f"error: {result}")
                continue
            labels, shape = result
            share, missing = agreement(run["original"], labels)
            cells.append(f"{share:.3f}")
            shares.append(share)
            if shape != run["shape"]:
                reshaped.append(
                    f"{condition} {run['name']}: {run['shape']} -> {shape} ({missing} unmatched)"
                )
        low = "n/a" if not shares else f"{min(shares):.3f}"
        of = "" if len(shares) == len(runs) else f" of {len(shares)}"
        rows.append((f"(h) real {condition}: agreement", f"{', '.join(cells)}; min{of} {low}"))
    rows.append(("(h) real: lattice of another shape", "; ".join(reshaped) or "none"))
    return rows


def synthetic_rows(preset, grid):
    runs = synthetic_robustness(preset, grid)
    if runs is None:
        return [("(h) synthetic", "error: no lattice found in the training set 10")]
    plain = runs[None]["labels"]
    rows, reshaped = [], []
    for condition, run in runs.items():
        label = "none" if condition is None else condition
        truth = run["truth"]
        # a site without a prediction (no lattice, or one of another shape) counts as wrong
        predicted = [run["labels"].get(site, "") for site in truth]
        errors = f" (error: {', '.join(run['errors'])})" if run["errors"] else ""
        score = macro_f1(list(truth.values()), predicted)
        rows.append((f"(h) synthetic {label}: macro-F1", f"{score:.3f}{errors}"))
        if condition is not None:
            share, _ = agreement(plain, run["labels"])
            rows.append((f"(h) synthetic {label}: agreement", f"{share:.3f}{errors}"))
        if run["shapes"] and set(run["shapes"]) != {"21x21"}:
            reshaped.append(f"{label}: {', '.join(run['shapes'])}")
    rows.append(("(h) synthetic: lattice not 21x21", "; ".join(reshaped) or "none"))
    return rows


def section_h(preset, grid):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # input checks and the notebook preset on lattices
        rows = real_rows(preset, grid) if real_available() else []
        return rows + synthetic_rows(preset, grid)


def timing_input(grid):
    """What is timed, and a function giving its X: arrays 1-3 read from their files, or
    without them three synthetic arrays of the same size, rendered beforehand."""
    if real_available():
        return (
            f"read_arrays + fit_predict, arrays 1-3, grid {grid}",
            lambda: read_arrays(_common.SEED_ARRAYS, grid, HALF).X,
        )
    X = make_pillar_arrays(random_state=0).X
    return "fit_predict, 3 synthetic arrays", lambda: X


def section_timing(preset, grid):
    what, load = timing_input(grid)
    fit_time = _common.best_time(lambda: LayeredPeelClassifier(preset).fit_predict(load()), 2)
    X = load()
    model = LayeredPeelClassifier(preset).fit(X)
    predict_time = _common.best_time(lambda: model.predict(X), 3)
    return [
        (f"time: {what} (s, best of 2)", f"{fit_time:.2f}"),
        (f"time: predict {len(X):,} tiles (tiles/s, best of 3)", f"{len(X) / predict_time:,.0f}"),
    ]


SECTION_FUNCTIONS = {
    "a": section_a,
    "b": section_b,
    "c": section_c,
    "d": section_d,
    "e": section_e,
    "f": section_f,
    "g": section_g,
    "h": section_h,
    "timing": section_timing,
}


# -- output ----------------------------------------------------------------------------------------
def markdown_table(presets, columns):
    """One row per measure (in the order first met), one column per preset."""
    measures = list(dict.fromkeys(name for rows in columns for name, _ in rows))
    cells = [dict(rows) for rows in columns]
    header = ["measure", *presets]
    body = [[name, *(column.get(name, "") for column in cells)] for name in measures]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row):
        first, *rest = row
        values = [f"{value:>{width}}" for value, width in zip(rest, widths[1:], strict=True)]
        return "| " + " | ".join([f"{first:<{widths[0]}}", *values]) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *map(line, body)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument(
        "--grids",
        nargs="+",
        choices=["21", "auto"],
        default=["21"],
        help="tiling of the real arrays: the uniform 21 x 21 grid and/or "
        "the sites find_lattice finds",
    )
    parser.add_argument(
        "--only", nargs="+", choices=list(SECTION_FUNCTIONS), default=list(SECTION_FUNCTIONS)
    )
    args = parser.parse_args()
    print(
        f"# sklearn-pillars quality benchmark — {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}\n"
    )
    sections = [s for s in SECTION_FUNCTIONS if s in args.only]
    if not real_available():
        data = (_common.SHARED / "data").resolve()
        print(
            f"(no real arrays and hand labels under {data}: sections a, b, g and the real "
            "rows of f and h skipped; timing on synthetic arrays)\n"
        )
        sections = [s for s in sections if s not in REAL_SECTIONS]
    runs = [
        (preset, 21 if grid == "21" else grid) for preset in args.presets for grid in args.grids
    ]
    columns = [
        [row for name in sections for row in SECTION_FUNCTIONS[name](preset, grid)]
        for preset, grid in runs
    ]
    names = [preset if len(args.grids) == 1 else f"{preset}, grid {grid}" for preset, grid in runs]
    print(markdown_table(names, columns))


if __name__ == "__main__":
    main()
