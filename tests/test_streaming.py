"""Classifying many arrays one at a time (iter_inspect): the results of one predict over all."""

import cv2
import numpy as np
import pytest

from sklearn_pillars import (
    LayeredPeelClassifier,
    NotAnArrayError,
    classify_array,
    iter_inspect,
    make_pillar_arrays,
    read_arrays,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    tiles = make_pillar_arrays(n_arrays=4, grid_size=21, random_state=3, photometric=0.5)
    paths = []
    for index, image in enumerate(tiles.array_images):
        paths.append(folder / f"a{index}.png")
        assert cv2.imwrite(str(paths[-1]), image)
    return paths


@pytest.fixture(scope="module", params=["notebook", "refined"])
def model(request, files):
    return LayeredPeelClassifier(request.param).fit(read_arrays(files[:2]).X)


def test_streaming_equals_one_predict_over_all_arrays(files, model):
    everything = read_arrays(files[1:])
    whole = model.trace(everything.X)
    results = list(iter_inspect(files[1:], model))
    assert [r.name for r in results] == everything.array_names
    np.testing.assert_array_equal(np.concatenate([r.labels for r in results]), whole.labels)
    np.testing.assert_array_equal(np.concatenate([r.kinds for r in results]), whole.kinds)
    np.testing.assert_allclose(np.concatenate([r.scores for r in results]), whole.scores,
                               rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(np.concatenate([r.positions for r in results]),
                                  everything.positions[:, 1:])
    np.testing.assert_array_equal(np.concatenate([r.boxes for r in results]), everything.boxes)
    assert all(r.profile.lattice_score > 0.3 for r in results)


def test_two_worker_processes_give_the_same_results(files, model):
    serial = list(iter_inspect(files, model, draw_maps=True))
    parallel = list(iter_inspect(files, model, n_jobs=2, draw_maps=True))
    assert [r.name for r in parallel] == [r.name for r in serial]
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.kinds, b.kinds)
        np.testing.assert_array_equal(a.scores, b.scores)  # bit for bit
        np.testing.assert_array_equal(a.image, b.image)
        assert a.map_png[:8] == b"\x89PNG\r\n\x1a\n"
        # the map drawn in a worker is the one drawn here
        np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(a.map_png, np.uint8), 1),
                                      cv2.imdecode(np.frombuffer(b.map_png, np.uint8), 1))


def test_bad_input_is_refused_with_the_file_named(files, model, tmp_path):
    blank = tmp_path / "blank.png"
    assert cv2.imwrite(str(blank), np.zeros((1134, 1134), np.uint8))
    stream = iter_inspect([files[0], blank], model)
    assert next(stream).name == "a0"  # arrays before the bad one are classified
    with pytest.raises(NotAnArrayError, match="blank.png is blank"):
        next(stream)
    with pytest.raises(ValueError, match="given twice"):
        list(iter_inspect([files[0], files[0]], model))
    with pytest.raises(Exception, match="not fitted"):
        classify_array(files[0], LayeredPeelClassifier())


def test_the_command_streams_a_saved_model_report(files, tmp_path, capsys):
    import csv

    from sklearn_pillars.cli import main
    from sklearn_pillars.persist import save_model

    model = LayeredPeelClassifier("refined").fit(read_arrays(files[:2]).X)
    save_model(model, tmp_path / "m.skops", grid_size=21, tile_half=32)
    outs = {}
    for n_jobs in ("1", "2"):
        outs[n_jobs] = tmp_path / f"r{n_jobs}"
        code = main(["inspect", *map(str, files), "--model", str(tmp_path / "m.skops"),
                     "--out", str(outs[n_jobs]), "--n-jobs", n_jobs, "-q"])
        assert code == 0, capsys.readouterr().err
    for table in ("tiles.csv", "summary.csv"):  # byte-identical whatever the workers
        assert (outs["1"] / table).read_bytes() == (outs["2"] / table).read_bytes()
    out = outs["2"]
    with open(out / "tiles.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    whole = model.trace(read_arrays(files).X)
    assert [r["label"] for r in rows] == list(whole.labels)
    assert [r["stitch_kind"] for r in rows] == list(whole.kinds)
    with open(out / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [r["array"] for r in summary] == ["a0", "a1", "a2", "a3", "(all arrays)"]
    assert int(summary[-1]["n_Good"]) == int((whole.labels == "Good").sum())
    page = (out / "index.html").read_text(encoding="utf-8")
    import re

    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {f"map_a{i}.png" for i in range(4)} <= set(links)
    for link in links:
        assert (out / link).is_file(), link
    # worst yield first
    shown = re.findall(r"<tr><td>(a\d)</td>", page)
    yields = {r["array"]: float(r["yield"]) for r in summary[:-1]}
    assert shown == sorted(yields, key=lambda a: (yields[a], a))
    assert (out / "gallery_Good.png").is_file() and not list(out.glob(".*"))
