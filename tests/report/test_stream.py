"""StreamingReport on its own: tables row by row, bounded samples, the page."""

import csv
import tempfile
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_pillars import CLASSES
from sklearn_pillars.report import GALLERY_MAX, StreamingReport, yield_counts
from sklearn_pillars.report import _stream as stream_module


def fake_result(name, labels, scores, kinds=None, side=4):
    """An ArrayResult-like record of a grid of ``side`` x ``side`` sites."""
    n = len(labels)
    rows, cols = np.divmod(np.arange(n), side)
    x0, y0 = cols * 8, rows * 8
    return SimpleNamespace(
        name=name,
        labels=np.asarray(labels, dtype=object),
        scores=np.asarray(scores, dtype=float),
        kinds=np.asarray(kinds if kinds is not None else [""] * n, dtype=object),
        positions=np.stack([rows + 1, cols + 1], axis=1),
        boxes=np.stack([x0, y0, x0 + 8, y0 + 8], axis=1),
        image=np.full((8 * (rows.max() + 1), 8 * side), 128, np.uint8),
        notes=[],
        map_png=b"\x89PNG fake",  # drawn elsewhere: written as given
        lattice=None,
    )


def read_csv(path):
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def captured(monkeypatch):
    """The tiles' captions each gallery would show, by file name."""
    shown = {}

    def mosaic(images, captions, path, title, columns=10):
        assert len(images) == len(captions) <= GALLERY_MAX
        shown[path.name] = list(captions)
        return [(10 * i, 0, 10, 10) for i in range(len(images))]  # each tile's cell, as drawn

    monkeypatch.setattr(stream_module, "tile_mosaic", mosaic)
    return shown


def test_rows_are_written_as_arrays_come_and_the_totals_add_up(tmp_path, captured):
    rng = np.random.default_rng(0)
    report = StreamingReport(tmp_path, grid_size=4, title="t")
    arrays = []
    for k in range(3):
        labels = rng.choice(CLASSES, 16)
        kinds = np.where(labels == "Stitching", rng.choice(["seam", "field"], 16), "")
        arrays.append((f"a{k}", labels, kinds))
        report.add(fake_result(f"a{k}", labels, rng.normal(size=16), kinds))
        # the tables hold each array as soon as it is added
        assert len(read_csv(tmp_path / "tiles.csv")) == 16 * (k + 1)
        assert len(read_csv(tmp_path / "summary.csv")) == k + 1
    report.close()
    tiles = read_csv(tmp_path / "tiles.csv")
    assert [t["label"] for t in tiles] == [lab for _, labels, _ in arrays for lab in labels]
    summary = read_csv(tmp_path / "summary.csv")
    assert [row["array"] for row in summary] == ["a0", "a1", "a2", "(all arrays)"]
    all_labels = np.concatenate([labels for _, labels, _ in arrays])
    all_kinds = np.concatenate([kinds for _, _, kinds in arrays])
    expected = yield_counts(all_labels, all_kinds)
    assert summary[-1]["yield"] == f"{expected['yield']:.4f}"
    assert int(summary[-1]["n_seam"]) == expected["seam"] == report.yield_counts()["seam"]
    for cls in CLASSES:
        assert int(summary[-1][f"n_{cls}"]) == int(np.sum(all_labels == cls))
    assert (tmp_path / "index.html").read_text().count("map_a") >= 3
    assert (tmp_path / "map_a0.png").read_bytes() == b"\x89PNG fake"


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2**16))
def test_samples_are_bounded_drawn_from_the_class_and_repeatable(n_arrays, seed):
    rng = np.random.default_rng(seed)
    side = 12  # 144 sites an array: more Good tiles than a gallery holds
    results = []
    for k in range(n_arrays):
        labels = np.where(rng.random(side * side) < 0.9, "Good", "Missing")
        results.append(fake_result(f"w{k}", labels, rng.normal(size=side * side), side=side))

    def galleries(folder):
        shown = {}
        original = stream_module.tile_mosaic

        def mosaic(images, captions, path, title, columns=10):
            shown[path.name] = list(captions)
            return [(10 * i, 0, 10, 10) for i in range(len(images))]  # the cells, as drawn

        stream_module.tile_mosaic = mosaic
        try:
            report = StreamingReport(folder, grid_size=side, title="t", random_state=3)
            for result in results:
                report.add(result)
            report.close()
        finally:
            stream_module.tile_mosaic = original
        return shown

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        first, second = galleries(a), galleries(b)
    assert first == second  # the same arrays in the same order: the same sample
    sites = {
        cls: {
            f"{r.name}:{p[0]},{p[1]}"
            for r in results
            for p, lab in zip(r.positions, r.labels, strict=True)
            if lab == cls
        }
        for cls in ("Good", "Missing")
    }
    for cls in ("Good", "Missing"):
        shown = first.get(f"gallery_{cls}.png", [])
        assert len(shown) == min(GALLERY_MAX, len(sites[cls]))
        assert len(set(shown)) == len(shown) and set(shown) <= sites[cls]


def test_the_extremes_are_the_highest_and_lowest_scores(tmp_path, captured):
    rng = np.random.default_rng(1)
    report = StreamingReport(tmp_path, grid_size=12, title="t")
    scores = []
    for k in range(3):
        s = rng.normal(size=144)
        s[rng.random(144) < 0.2] = np.nan  # not scored
        scores.append((f"e{k}", s))
        report.add(fake_result(f"e{k}", ["Good"] * 144, s, side=12))
    report.close()
    everything = sorted(
        (score, f"{name}:{i // 12 + 1},{i % 12 + 1}")
        for name, s in scores
        for i, score in enumerate(s)
        if np.isfinite(score)
    )
    most = [caption.split(" ")[0] for caption in captured["inconsistent_most.png"]]
    least = [caption.split(" ")[0] for caption in captured["inconsistent_least.png"]]
    assert most == [c for _, c in everything[::-1][:GALLERY_MAX]]
    assert least == [c for _, c in everything[:GALLERY_MAX]]


def test_a_class_the_report_was_not_opened_for_is_refused_by_name(tmp_path):
    report = StreamingReport(tmp_path, grid_size=2, title="t", classes=["Good", "Missing"])
    with pytest.raises(ValueError, match=r"odd: tiles of class\(es\) \['Strange'\]"):
        report.add(fake_result("odd", ["Good", "Strange", "Good", "Good"], [0.0] * 4, side=2))
    report.abort()
    assert len(read_csv(tmp_path / "tiles.csv")) == 0  # nothing of that array was written
