"""sklearn-pillars evaluate: the figures of a model against a labels file, in a folder."""

import csv

import cv2
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix

from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays, read_arrays
from sklearn_pillars.cli import main

from ..conftest import write_array_images


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Two synthetic arrays as PNG files, their truth as a labels file, and the tiles."""
    folder = tmp_path_factory.mktemp("labelled")
    tiles = make_pillar_arrays(n_arrays=2, grid_size=15, random_state=6)
    paths = write_array_images(folder, tiles)
    labels = folder / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["array", "row", "col", "label", "confidence", "stitch_type", "note"])
        for (a, r, c), y, kind in zip(tiles.positions, tiles.y, tiles.stitch_type, strict=True):
            out.writerow([tiles.array_names[a], r, c, y, "high", kind, ""])
        out.writerow(["not_given", 3, 4, "Missing", "high", "", ""])
    return paths, labels, tiles


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def table(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_evaluate_writes_the_figures_of_a_fit_on_the_arrays(labelled, tmp_path, capsys):
    paths, labels, _ = labelled
    out = tmp_path / "eval"
    code, _, err = run(["evaluate", *paths, "--labels", labels, "--out", out], capsys)
    assert code == 0, err
    # the same fit, made here: the figures are its figures against the labels
    tiles = read_arrays(paths, "auto")
    truth = {(r[0], int(r[1]), int(r[2])): r[3] for r in table(labels)[1:]}
    y = np.array([truth[(tiles.array_names[a], r, c)] for a, r, c in tiles.positions])
    found = LayeredPeelClassifier("refined").fit(tiles.X).labels_
    accuracy = accuracy_score(y, found)
    assert f"accuracy {accuracy:.1%}" in err
    rows = table(out / "confusion.csv")
    classes = rows[0][1:]
    np.testing.assert_array_equal(
        np.array([r[1:] for r in rows[1:]], int), confusion_matrix(y, found, labels=classes)
    )
    # the stray label is said on stderr, on the page and in unmatched.csv
    assert f"1 label(s) of {labels} match no tile (not_given 3,4)" in err
    assert table(out / "unmatched.csv") == [
        ["array", "row", "col", "label"],
        ["not_given", "3", "4", "Missing"],
    ]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "1 label(s) match no tile" in page and "fitted on these arrays" in page
    assert cv2.imread(str(out / "confusion.png")) is not None


def test_evaluate_scores_a_saved_model(labelled, tmp_path, capsys):
    paths, labels, _ = labelled
    model = tmp_path / "m.skops"
    assert run(["fit", paths[0], "--model", model, "-q"], capsys)[0] == 0
    out = tmp_path / "eval"
    code, _, err = run(
        ["evaluate", paths[1], "--labels", labels, "--model", model, "--out", out, "-q"], capsys
    )
    assert code == 0, err
    assert err == ""  # -q: nothing, not even the stray labels
    arrays = table(out / "arrays.csv")
    assert [r[:3] for r in arrays] == [
        ["array", "tiles", "labelled"],
        ["synthetic_1", "225", "225"],
    ]
    assert len(table(out / "unmatched.csv")) == 1 + 225 + 1  # the other array's, the stray


@pytest.mark.parametrize(
    "problem, expected",
    [
        ("missing", r"--labels .*nope\.csv: no such file"),
        ("columns", r"--labels .*: a label file needs columns array, row, col and label"),
        ("unknown", r"--labels .*line 2: unknown label 'Broken'"),
        ("elsewhere", r"--labels .*labels\.csv: no label matches a tile: the labels name "),
    ],
)
def test_evaluate_refuses_labels_it_cannot_use(labelled, tmp_path, capsys, problem, expected):
    import re

    paths, _, _ = labelled
    labels = tmp_path / ("nope.csv" if problem == "missing" else "labels.csv")
    text = {
        "columns": "array,row,label\nsynthetic_0,1,Good\n",
        "unknown": "array,row,col,label\nsynthetic_0,1,1,Broken\n",
        "elsewhere": "array,row,col,label\nwafer_9,1,1,Good\n",
    }
    if problem in text:
        labels.write_text(text[problem], encoding="utf-8")
    out = tmp_path / "eval"
    code, _, err = run(["evaluate", paths[0], "--labels", labels, "--out", out, "-q"], capsys)
    assert code == 2, err
    assert re.search(expected, err), err
    assert "Traceback" not in err
    assert not (out / "index.html").exists()
