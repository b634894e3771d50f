"""Names of the public API and options that no other test used (issue 24): --version,
stage_diagnostics(), check_pillar_array(on_fail="warn"), the t-SNE panels, ArrayProfile,
ArrayResult, PRESETS and PEEL_ORDER."""

import warnings

import cv2
import numpy as np
import pytest

from sklearn_pillars import (
    PEEL_ORDER,
    PRESETS,
    ArrayProfile,
    ArrayResult,
    LayeredPeelClassifier,
    NotAnArrayError,
    __version__,
    check_pillar_array,
    iter_inspect,
    make_pillar_arrays,
)


@pytest.fixture(scope="module")
def fitted():
    tiles = make_pillar_arrays(n_arrays=1, grid_size=9, random_state=0)
    return tiles, LayeredPeelClassifier(random_state=0).fit(tiles.X)


def test_version_is_printed_and_exits_0(capsys):
    from sklearn_pillars.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"sklearn-pillars {__version__}"


def test_stage_diagnostics_account_for_every_peeled_tile(fitted):
    tiles, model = fitted
    diagnostics = model.stage_diagnostics()
    assert [d.name for d in diagnostics] == [name for name, _ in model.stages_]
    # each stage sees what the stages before it left, and peels its own class
    left = len(tiles)
    for d in diagnostics:
        assert len(d.rows) == left and d.embedding.shape[0] == left
        assert int(d.peeled.sum()) == int((model.labels_ == d.label).sum())
        left -= int(d.peeled.sum())
    assert left == int((model.labels_ == "Good").sum())
    # the stages peel in PEEL_ORDER, and what is left is Good
    assert (*[d.label for d in diagnostics], "Good") == PEEL_ORDER


def test_presets_name_the_stage_lists_a_classifier_takes(fitted):
    tiles, _ = fitted
    assert PRESETS == ("refined", "notebook")
    for preset in PRESETS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the notebook preset off its 21 x 21 grid
            model = LayeredPeelClassifier(preset, random_state=0).fit(tiles.X)
        assert set(model.labels_) <= set(PEEL_ORDER)


def test_check_pillar_array_can_warn_instead_of_raising():
    noise = np.random.default_rng(0).integers(0, 256, (486, 486), dtype=np.uint8)
    with pytest.raises(NotAnArrayError, match="noise.png"):
        check_pillar_array(noise, 9, name="noise.png")
    with pytest.warns(UserWarning, match="noise.png") as caught:
        profile = check_pillar_array(noise, 9, name="noise.png", on_fail="warn")
    assert len(caught) == 1
    assert isinstance(profile, ArrayProfile) and profile.lattice_score < 0.3
    with pytest.raises(ValueError, match="on_fail"):
        check_pillar_array(noise, 9, on_fail="ignore")
    array = make_pillar_arrays(n_arrays=1, grid_size=9, random_state=0).array_images[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a pillar array: no warning
        assert check_pillar_array(array, 9, on_fail="warn").lattice_score > 0.3


def test_tsne_panels_embed_each_stage_in_two_dimensions(fitted, tmp_path):
    from sklearn_pillars.report import stage_figure
    from sklearn_pillars.report._figures import _tsne

    _, model = fitted
    diagnostic = model.stage_diagnostics()[1]
    embedded = _tsne(diagnostic.embedding)
    assert embedded.shape == (len(diagnostic.rows), 2) and np.isfinite(embedded).all()
    with_tsne, without = tmp_path / "with.png", tmp_path / "without.png"
    stage_figure(with_tsne, diagnostic, embedded)
    stage_figure(without, diagnostic)
    a, b = cv2.imread(str(with_tsne)), cv2.imread(str(without))
    assert a is not None and b is not None and a.shape[1] > b.shape[1]  # one panel more


def test_iter_inspect_yields_array_results(fitted, tmp_path):
    tiles, model = fitted
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), tiles.array_images[0])
    [result] = list(iter_inspect(path, model))
    assert isinstance(result, ArrayResult) and result.name == "a"
    assert len(result.labels) == len(result.positions) == len(result.boxes) == 81
    assert isinstance(result.profile, ArrayProfile)
