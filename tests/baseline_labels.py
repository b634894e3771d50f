"""The labels the default and notebook paths gave before the speed work of issue 21.

``python -m tests.baseline_labels`` (from the repository, beside ``../shared``) writes
``tests/data/labels_0.2.0/{real,synthetic}.csv.gz``; ``tests/test_baseline_labels.py``
computes the same cases again and compares. Both use :func:`cases`, so what is compared is
exactly what was saved.
"""

import csv
import gzip
import io
import json
import warnings
from pathlib import Path

import numpy as np

from sklearn_pillars import (
    LayeredPeelClassifier,
    NotebookGridWarning,
    concat_tilesets,
    make_pillar_arrays,
    read_arrays,
    tile_array,
)

HERE = Path(__file__).resolve().parent
SAVED = HERE / "data" / "labels_0.2.0"
FIELDS = ["case", "array", "row", "col", "label", "kind"]
PRESETS = ("refined", "notebook")
GRIDS = ("auto", 21)


def _rows(case, model, tiles):
    trace = model.trace(tiles.X)
    names = tiles.array_names
    return [
        {
            "case": case,
            "array": names[int(a)],
            "row": int(r),
            "col": int(c),
            "label": str(label),
            "kind": str(kind),
        }
        for (a, r, c), label, kind in zip(tiles.positions, trace.labels, trace.kinds, strict=True)
    ]


def real_cases(paths):
    """Each preset and grid: a model fitted on arrays 1-3 classifies arrays 1-4, one by one."""
    rows = []
    for preset in PRESETS:
        for grid in GRIDS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotebookGridWarning)
                model = LayeredPeelClassifier(preset, random_state=0)
                model.fit(read_arrays(paths[:3], grid).X)
                for path in paths:
                    rows += _rows(f"{preset}-{grid}", model, read_arrays([path], grid))
    return rows


def synthetic_tiles(grid):
    """Three synthetic arrays: cropped to the grid (21), or framed, turned and found (auto)."""
    if grid != "auto":
        return make_pillar_arrays(n_arrays=3, grid_size=grid, random_state=0)
    frames = make_pillar_arrays(n_arrays=3, random_state=0, rotation=2.0, margin=0.6)
    return concat_tilesets(
        [
            tile_array(image, "auto", name=f"frame_{i}")
            for i, image in enumerate(frames.array_images)
        ]
    )


def synthetic_cases():
    """Each preset and grid: fit_predict on three synthetic arrays."""
    rows = []
    for preset in PRESETS:
        for grid in GRIDS:
            tiles = synthetic_tiles(grid)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotebookGridWarning)
                model = LayeredPeelClassifier(preset, random_state=0).fit(tiles.X)
            rows += _rows(f"{preset}-{grid}", model, tiles)
    return rows


def versions():
    """The versions of the libraries the labels depend on."""
    import cv2
    import scipy
    import skimage
    import sklearn

    return {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "opencv": cv2.__version__,
        "scikit-image": skimage.__version__,
    }


def saved_versions():
    return json.loads((SAVED / "versions.json").read_text())


def read_saved(name):
    with gzip.open(SAVED / name, "rt", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def as_saved(rows):
    """Rows as read back from CSV: every value a string."""
    return [{k: str(v) for k, v in row.items()} for row in rows]


def _write(name, rows):
    SAVED.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same labels give the same bytes
    with (
        gzip.GzipFile(SAVED / name, "wb", mtime=0) as raw,
        io.TextIOWrapper(raw, newline="", encoding="utf-8") as f,
    ):
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    from .conftest import ALL_ARRAYS, SHARED_ARRAYS

    (SAVED / "versions.json").write_text(json.dumps(versions(), indent=1) + "\n")
    _write("synthetic.csv.gz", synthetic_cases())
    _write("real.csv.gz", real_cases([SHARED_ARRAYS / name for name in ALL_ARRAYS]))
    print("written to", SAVED, np.__version__)
