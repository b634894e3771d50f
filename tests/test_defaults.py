"""The defaults: the refined preset on found lattices; the notebook preset warns off them."""

import inspect
import warnings

import cv2
import numpy as np
import pytest

import sklearn_pillars as sp
from sklearn_pillars import (
    LayeredPeelClassifier,
    NotebookGridWarning,
    fit_arrays,
    inspect_arrays,
    iter_inspect,
    make_pillar_arrays,
    make_stages,
    predict_in_bands,
)

READERS = (
    "read_arrays",
    "tile_array",
    "iter_tile_chunks",
    "fit_arrays",
    "iter_inspect",
    "classify_array",
    "predict_in_bands",
)


@pytest.fixture(scope="module")
def arrays():
    return make_pillar_arrays(n_arrays=2, grid_size=8, random_state=4)


@pytest.fixture(scope="module")
def files(arrays, tmp_path_factory):
    folder = tmp_path_factory.mktemp("defaults")
    paths = []
    for name, image in zip(arrays.array_names, arrays.array_images, strict=True):
        paths.append(folder / f"{name}.png")
        assert cv2.imwrite(str(paths[-1]), image)
    return paths


@pytest.mark.parametrize("name", READERS)
def test_every_reader_finds_the_lattice_by_default(name):
    default = inspect.signature(getattr(sp, name)).parameters["grid_size"].default
    # iter_inspect, as inspect_arrays: None is a model file's own grid, else "auto"
    assert default == ("auto" if name != "iter_inspect" else None)


def test_iter_inspect_finds_the_lattice_by_default(arrays, files):
    model = LayeredPeelClassifier().fit(arrays.X)
    results = list(sp.iter_inspect(files, model))
    assert all(result.lattice is not None for result in results)
    assert [result.lattice.shape for result in results] == [(8, 8), (8, 8)]


def test_the_default_classifier_is_the_refined_preset():
    assert LayeredPeelClassifier().stages == sp.DEFAULT_PRESET == "refined"
    default = [(n, type(s.features).__name__) for n, s in make_stages()]
    assert default == [(n, type(s.features).__name__) for n, s in make_stages("refined")]
    assert default != [(n, type(s.features).__name__) for n, s in make_stages("notebook")]


def test_a_uniform_grid_is_one_argument_away(arrays):
    image = arrays.array_images[0]
    uniform = sp.tile_array(image, grid_size=8)
    assert uniform.lattices is None and len(uniform) == 64
    np.testing.assert_array_equal(uniform.X, arrays.X[arrays.positions[:, 0] == 0])
    found = sp.tile_array(image)
    assert found.lattices is not None and found.lattices[0].shape == (8, 8)


def test_the_notebook_preset_warns_on_found_lattices(arrays, files, tmp_path):
    notebook = LayeredPeelClassifier("notebook").fit(arrays.X)
    image = arrays.array_images[0]
    with pytest.warns(NotebookGridWarning, match="grid_size=21"):
        predict_in_bands(notebook, image)
    with pytest.warns(NotebookGridWarning):
        fit_arrays(LayeredPeelClassifier("notebook"), files)
    with pytest.warns(NotebookGridWarning) as caught:
        list(iter_inspect(files, notebook))
    assert sum(isinstance(w.message, NotebookGridWarning) for w in caught) == 1  # once a run
    with pytest.warns(NotebookGridWarning):
        inspect_arrays(files, notebook, tmp_path / "report")
    assert "reproduces the original notebook" in (tmp_path / "report" / "index.html").read_text()
    # on a uniform grid, or with the refined preset, nothing to warn about
    refined = LayeredPeelClassifier().fit(arrays.X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotebookGridWarning)
        predict_in_bands(notebook, image, grid_size=8)
        list(iter_inspect(files, notebook, grid_size=8))
        predict_in_bands(refined, image)
        list(iter_inspect(files, refined))
