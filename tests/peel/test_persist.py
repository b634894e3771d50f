"""Model files saved by an earlier version still load and predict as they did."""

import csv
import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays
from sklearn_pillars.peel import load_model, save_model

SAVED = Path(__file__).parents[1] / "data" / "models_0.2.0"


def recorded_labels(preset):
    with open(SAVED / "labels.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["preset"] == preset]
    return {(int(r["row"]), int(r["col"])): r["label"] for r in rows}


def unpacked(preset, folder):
    path = folder / f"{preset}.skops"
    with gzip.open(SAVED / f"{preset}.skops.gz", "rb") as source, open(path, "wb") as target:
        shutil.copyfileobj(source, target)
    return path


@pytest.fixture(scope="module")
def tiles():
    return make_pillar_arrays(n_arrays=1, grid_size=7, random_state=0)


@pytest.mark.parametrize("preset", ["refined", "notebook"])
def test_a_model_saved_by_0_2_0_loads_and_predicts_as_it_did(preset, tiles, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a version note, if any, is not the point here
        model, info = load_model(unpacked(preset, tmp_path))
    assert isinstance(model, LayeredPeelClassifier)
    assert info["grid_size"] == 7 and info["tile_half"] == 32
    assert model.preset_ == preset
    recorded = recorded_labels(preset)
    labels = model.predict(tiles.X)
    sites = [(int(r), int(c)) for _, r, c in tiles.positions]
    assert len(recorded) == len(sites) == 49
    same = np.mean([recorded[site] == label for site, label in zip(sites, labels, strict=True)])
    assert same == 1.0


@pytest.mark.parametrize("preset", ["refined", "notebook"])
def test_a_model_saved_now_predicts_as_the_fitted_one(preset, tiles, tmp_path):
    model = LayeredPeelClassifier(preset).fit(tiles.X)
    path = tmp_path / "model.skops"
    save_model(model, path, grid_size=7, tile_half=32)
    loaded, info = load_model(path)
    np.testing.assert_array_equal(loaded.predict(tiles.X), model.predict(tiles.X))
    np.testing.assert_array_equal(loaded.score_samples(tiles.X), model.score_samples(tiles.X))
    assert info["preset"] == preset
