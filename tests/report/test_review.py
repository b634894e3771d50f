"""The review page's data: the order of "Review next" and each array's sites."""

import json

import numpy as np

from sklearn_pillars import make_pillar_arrays
from sklearn_pillars.report._review import review_order, write_review_array


def test_review_next_starts_nearest_the_cut_between_irregular_and_good():
    labels = np.array(["Good", "Irregular", "Missing", "Good", "Irregular", "Good"])
    scores = np.array([0.5, 3.0, np.nan, 2.4, 2.2, 1.0])
    # the cut: the lowest Irregular score, 2.2; distances 1.7, 0.8, -, 0.2, 0, 1.2
    assert review_order(labels, scores).tolist() == [4, 3, 1, 5, 0, 2]


def test_without_irregular_tiles_the_highest_scores_come_first():
    labels = np.array(["Good", "Good", "Collapsed", "Good"])
    scores = np.array([0.1, 0.9, np.nan, 0.5])
    assert review_order(labels, scores).tolist() == [1, 3, 0, 2]
    assert review_order(labels[:3], np.full(3, np.nan)).tolist() == [0, 1, 2]


def test_each_sites_cell_is_its_tile_centre_within_a_pitch(tmp_path):
    tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    classes = ["Missing", "Collapsed", "Stitching", "Irregular", "Good"]
    image = tiles.array_images[0]
    sites = tiles.positions[:, 1:]
    scores = np.zeros(len(tiles))
    written = write_review_array(
        tmp_path, "a", "a", image, sites, tiles.boxes, tiles.y, tiles.stitch_type, scores, classes
    )
    text = written[1].read_text(encoding="utf-8")
    data = json.loads(text[text.index("{") : text.rindex(")")])
    sites = np.array([s[4:8] for s in data["sites"]], float)
    centres = (tiles.boxes[:, :2] + tiles.boxes[:, 2:]) / 2
    np.testing.assert_allclose((sites[:, :2] + sites[:, 2:]) / 2, centres, atol=0.1)
    pitch = image.shape[1] / 6
    np.testing.assert_allclose(sites[:, 2] - sites[:, 0], 0.92 * pitch, rtol=0.02)
    assert [s[:4] for s in data["sites"]] == [
        [int(r), int(c), classes.index(y), k]
        for (r, c), y, k in zip(tiles.positions[:, 1:], tiles.y, tiles.stitch_type, strict=True)
    ]
    assert data["width"] == image.shape[1] and (tmp_path / data["image"]).is_file()
