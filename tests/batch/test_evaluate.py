"""evaluate: a model's labels against a person's, and the folder it writes."""

import csv
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix

from sklearn_pillars import (
    LayeredPeelClassifier,
    evaluate,
    make_pillar_arrays,
    read_arrays,
    read_labels,
)
from sklearn_pillars.report import write_evaluation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiles():
    return make_pillar_arrays(n_arrays=2, grid_size=15, random_state=4)


def write_labels(path, tiles, keep=None, extra=()):
    """A labels file of the tiles' truth (only the tiles ``keep`` selects), plus ``extra``."""
    keep = np.ones(len(tiles), bool) if keep is None else keep
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["array", "row", "col", "label", "confidence", "stitch_type", "note"])
        for (a, r, c), y, kind, kept in zip(
            tiles.positions, tiles.y, tiles.stitch_type, keep, strict=True
        ):
            if kept:
                out.writerow([tiles.array_names[a], r, c, y, "high", kind, ""])
        out.writerows(extra)
    return path


def test_a_fitted_model_is_scored_as_scikit_learn_scores_it(tiles, tmp_path):
    model = LayeredPeelClassifier(random_state=0).fit(tiles.X)
    found = model.predict(tiles.X)
    result = evaluate(model, tiles, write_labels(tmp_path / "labels.csv", tiles))
    classes = list(result.classes)
    assert sorted(classes) == sorted(model.classes_) and classes[-1] == "Good"
    assert not result.self_fit and result.n_labelled == len(tiles) and result.n_unlabelled == 0
    np.testing.assert_array_equal(result.y_pred, found)
    expected = classification_report(
        tiles.y, found, labels=classes, output_dict=True, zero_division=0
    )
    assert result.report() == expected
    np.testing.assert_array_equal(
        result.confusion(), confusion_matrix(tiles.y, found, labels=classes)
    )
    assert result.accuracy == pytest.approx(np.mean(found == tiles.y), abs=0)
    assert result.macro_f1 == pytest.approx(expected["macro avg"]["f1-score"], abs=0)


def test_an_unfitted_model_is_fitted_on_the_tiles_first(tiles, tmp_path):
    unfitted = LayeredPeelClassifier(random_state=0)
    result = evaluate(unfitted, tiles, write_labels(tmp_path / "labels.csv", tiles))
    assert result.self_fit
    assert not hasattr(unfitted, "labels_")  # a clone was fitted
    labels = LayeredPeelClassifier(random_state=0).fit(tiles.X).labels_
    np.testing.assert_array_equal(result.y_pred, labels)
    np.testing.assert_array_equal(
        result.confusion(), confusion_matrix(tiles.y, labels, labels=list(result.classes))
    )


def test_only_labelled_tiles_count_and_stray_labels_are_listed(tiles, tmp_path):
    keep = np.zeros(len(tiles), bool)
    keep[::3] = True
    stray = [
        ["elsewhere", 1, 1, "Good", "", "", ""],  # an array not given
        [tiles.array_names[0], 16, 2, "Missing", "", "", ""],  # outside the 15 x 15 grid
    ]
    path = write_labels(tmp_path / "labels.csv", tiles, keep, stray)
    model = LayeredPeelClassifier(random_state=0).fit(tiles.X)
    result = evaluate(model, tiles, path)
    assert result.n_labelled == keep.sum() and result.n_unlabelled == (~keep).sum()
    assert result.unmatched == [  # sorted
        ("elsewhere", 1, 1, "Good"),
        (tiles.array_names[0], 16, 2, "Missing"),
    ]
    found = model.predict(tiles.X)
    np.testing.assert_array_equal(
        result.confusion(),
        confusion_matrix(tiles.y[keep], found[keep], labels=list(result.classes)),
    )
    per_array = result.per_array()
    assert [row["labelled"] for row in per_array] == [
        int(keep[tiles.positions[:, 0] == a].sum()) for a in range(2)
    ]
    first = keep & (tiles.positions[:, 0] == 0)
    assert per_array[0]["accuracy"] == pytest.approx(np.mean(found[first] == tiles.y[first]))


def test_the_read_labels_table_a_model_file_and_a_dict_give_the_same(tiles, tmp_path):
    from sklearn_pillars.persist import save_model

    model = LayeredPeelClassifier(random_state=0).fit(tiles.X)
    path = write_labels(tmp_path / "labels.csv", tiles)
    save_model(model, tmp_path / "m.skops", grid_size=15, tile_half=32)
    by_file = evaluate(tmp_path / "m.skops", tiles, path)
    by_dict = evaluate(model, tiles, read_labels(path))
    np.testing.assert_array_equal(by_file.y_pred, by_dict.y_pred)
    np.testing.assert_array_equal(by_file.confusion(), by_dict.confusion())


def test_labels_that_match_no_tile_at_all_are_refused(tiles, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("array,row,col,label\nwafer_9,1,1,Good\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no label matches a tile: the labels name array\(s\) "
                       r"wafer_9, the tiles synthetic_0, synthetic_1"):  # fmt: skip
        evaluate(LayeredPeelClassifier(), tiles, path)


def test_the_folder_holds_the_figures_both_ways(tiles, tmp_path):
    model = LayeredPeelClassifier(random_state=0).fit(tiles.X)
    keep = np.ones(len(tiles), bool)
    result = evaluate(model, tiles, write_labels(tmp_path / "labels.csv", tiles, keep))
    out = tmp_path / "eval"
    out.mkdir()
    written = {p.name for p in write_evaluation(out, result, tiles)}
    assert {"index.html", "metrics.csv", "confusion.csv", "confusion.png", "arrays.csv",
            "tiles.csv", "unmatched.csv"} <= written  # fmt: skip
    with (out / "metrics.csv").open(encoding="utf-8") as f:
        metrics = {row["class"]: row for row in csv.DictReader(f)}
    report = result.report()
    for name in result.classes:
        assert float(metrics[name]["f1"]) == pytest.approx(report[name]["f1-score"], abs=5e-5)
        assert int(metrics[name]["support"]) == report[name]["support"]
    with (out / "confusion.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], int), result.confusion())
    with (out / "tiles.csv").open(encoding="utf-8") as f:
        both = list(csv.DictReader(f))
    assert len(both) == len(tiles)
    assert sum(r["label"] != r["predicted"] for r in both) == int(
        (result.y_true != result.y_pred).sum()
    )
    pairs = result.disagreements()
    galleries = sorted(p for p in written if p.startswith("disagreements_"))
    assert len(galleries) == len(pairs)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f"macro-F1 <b>{result.macro_f1:.3f}</b>" in page
    assert "None: every label matched a tile." in page


# -- the lab's arrays: the same figures as bench_quality.py's self-fit rows ----------------


@pytest.fixture(scope="module")
def bench_quality(shared_array_paths):
    if not (ROOT / ".." / "shared" / "data" / "labels" / "hand_labels.csv").is_file():
        pytest.skip("../shared/data/labels/hand_labels.csv is not present")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module("bench_quality")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.mark.parametrize("grid", ["auto", 21])
@pytest.mark.slow
def test_the_lab_arrays_get_bench_qualitys_self_fit_figures(bench_quality, grid):
    rows = dict(bench_quality.section_a("refined", grid))
    labels = bench_quality.HAND_LABELS
    together = read_arrays(bench_quality._common.SEED_ARRAYS, grid, bench_quality.HALF)
    result = evaluate(LayeredPeelClassifier("refined"), together, labels)
    assert result.unmatched == [] and result.n_labelled == 3 * 441
    assert f"{result.macro_f1:.3f}" == rows["(a) arrays 1-3 as one X macro-F1"]
    assert f"{result.accuracy:.3f}" == rows["(a) arrays 1-3 as one X accuracy"]
    report = result.report()
    for name in ("Stitching", "Irregular"):
        assert f"{report[name]['f1-score']:.3f}" == rows[f"(a) arrays 1-3 as one X F1 {name}"]
    for path, name in zip(
        bench_quality._common.SEED_ARRAYS, bench_quality.ARRAY_NAMES, strict=True
    ):
        alone = evaluate(LayeredPeelClassifier("refined"), read_arrays(path, grid), labels)
        assert len(alone.unmatched) == 2 * 441  # the other two arrays' labels
        assert f"{alone.macro_f1:.3f}" == rows[f"(a) macro-F1 {name}"]
