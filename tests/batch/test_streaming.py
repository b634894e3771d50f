"""Classifying many arrays one at a time (iter_inspect): the results of one predict over all."""

import cv2
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

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
    np.testing.assert_allclose(
        np.concatenate([r.scores for r in results]), whole.scores, rtol=1e-6, equal_nan=True
    )
    np.testing.assert_array_equal(
        np.concatenate([r.positions for r in results]), everything.positions[:, 1:]
    )
    np.testing.assert_array_equal(np.concatenate([r.boxes for r in results]), everything.boxes)
    assert all(r.profile.lattice_score > 0.3 for r in results)


@pytest.mark.slow
def test_two_worker_processes_give_the_same_results(files, model):
    serial = list(iter_inspect(files, model, draw_maps=True))
    parallel = list(iter_inspect(files, model, n_jobs=2, draw_maps=True))
    assert [r.name for r in parallel] == [r.name for r in serial]
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.kinds, b.kinds)
        # equal up to rounding: a worker's BLAS runs with one thread, the parent's with
        # more, and some BLAS builds sum in another order then (seen with NumPy 1.26)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12, atol=0, equal_nan=True)
        np.testing.assert_array_equal(a.image, b.image)
        assert a.map_png[:8] == b"\x89PNG\r\n\x1a\n"
        # the map drawn in a worker is the one drawn here
        np.testing.assert_array_equal(
            cv2.imdecode(np.frombuffer(a.map_png, np.uint8), 1),
            cv2.imdecode(np.frombuffer(b.map_png, np.uint8), 1),
        )


def test_bad_input_is_refused_with_the_file_named(files, model, tmp_path):
    blank = tmp_path / "blank.png"
    assert cv2.imwrite(str(blank), np.zeros((1134, 1134), np.uint8))
    stream = iter_inspect([files[0], blank], model)
    assert next(stream).name == "a0"  # arrays before the bad one are classified
    with pytest.raises(
        NotAnArrayError, match="blank.png(: no periodic pillar lattice found: the image)? is blank"
    ):
        next(stream)
    with pytest.raises(ValueError, match="given twice"):
        list(iter_inspect([files[0], files[0]], model))
    with pytest.raises(NotFittedError):
        classify_array(files[0], LayeredPeelClassifier())
    with pytest.raises(
        ValueError,
        match="tile_half=20 cuts tiles of 40 px, but the model "
        r"classifies tiles of 64 px \(tile_half=32\)",
    ):
        next(iter_inspect(files, model, tile_half=20))
    with pytest.raises(ValueError, match="give n_jobs or a Dask client, not both"):
        next(iter_inspect(files, model, n_jobs=2, client=object()))


@pytest.mark.slow
def test_the_command_streams_a_saved_model_report(files, tmp_path, capsys):
    import csv

    from sklearn_pillars.cli import main
    from sklearn_pillars.peel import save_model

    model = LayeredPeelClassifier("refined").fit(read_arrays(files[:2]).X)
    save_model(model, tmp_path / "m.skops")  # the defaults: found lattices, tile_half 32
    outs = {}
    for n_jobs in ("1", "2"):
        outs[n_jobs] = tmp_path / f"r{n_jobs}"
        code = main(
            [
                "inspect",
                *map(str, files),
                "--model",
                str(tmp_path / "m.skops"),
                "--out",
                str(outs[n_jobs]),
                "--n-jobs",
                n_jobs,
                "-q",
            ]
        )
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
    # the yield: Good among the sites not under an image seam, from the tiles' own rows
    for r in summary:
        mine = [t for t in rows if r["array"] in (t["array"], "(all arrays)")]
        counted = [t for t in mine if (t["label"], t["stitch_kind"]) != ("Stitching", "seam")]
        good = sum(t["label"] == "Good" for t in counted)
        assert int(r["n_seam"]) == len(mine) - len(counted)
        assert int(r["n_field"]) == sum(t["stitch_kind"] == "field" for t in mine)
        assert float(r["yield"]) == pytest.approx(good / len(counted), abs=1e-4)
    page = (out / "index.html").read_text(encoding="utf-8")
    import re

    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {f"map_a{i}.png" for i in range(4)} <= set(links)
    for link in links:  # a file of the report (a link into the review page: its file)
        assert (out / link.split("#")[0]).is_file(), link
    assert {f"review.html#array=a{i}" for i in range(4)} <= set(links)
    # worst yield first
    shown = re.findall(r"<tr><td>(a\d)</td>", page)
    yields = {r["array"]: float(r["yield"]) for r in summary[:-1]}
    assert shown == sorted(yields, key=lambda a: (yields[a], a))
    assert (out / "gallery_Good.png").is_file() and not list(out.glob(".*"))


# -- folders and patterns as input -------------------------------------------------------
def test_a_folder_gives_its_images_sorted_and_a_non_image_is_an_error(files, tmp_path):
    import shutil

    from sklearn_pillars.io import find_array_images

    folder = tmp_path / "wafer"
    folder.mkdir()
    for path in reversed(files):
        shutil.copy(path, folder / path.name)
    (folder / ".hidden.png").write_bytes(b"not read")
    (folder / "sub").mkdir()
    (folder / "sub" / "deeper.png").write_bytes(b"not read")
    assert [p.name for p in find_array_images([folder])] == ["a0.png", "a1.png", "a2.png", "a3.png"]
    assert [p.name for p in find_array_images(str(folder / "a[12].png"))] == ["a1.png", "a2.png"]
    (folder / "notes.txt").write_text("lot 7, wafer 3\n")
    (folder / "fake.png").write_text("a text file with an image's name")
    with pytest.raises(ValueError, match=r"fake.png \(in folder .*wafer\): not an image"):
        find_array_images([folder])
    with pytest.warns(
        UserWarning, match="skipped 2 files that are not images: .*fake.png, .*notes.txt"
    ):
        assert len(find_array_images([folder], skip_non_images=True)) == 4
    with pytest.raises(ValueError, match="a1.png: given twice"):
        find_array_images([folder / "a1.png", str(folder / "a*.png")])
    with pytest.raises(FileNotFoundError, match=r"pattern '.*\*.bmp': matches no files"):
        find_array_images([str(folder / "*.bmp")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: holds no image files"):
        find_array_images([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match="nowhere.png: no such file"):
        find_array_images([tmp_path / "nowhere.png"])
    with pytest.raises(ValueError, match="no array images given"):
        find_array_images([])


def test_arrays_of_one_name_in_two_formats_get_distinct_names(files, tmp_path):
    import shutil

    from sklearn_pillars.io import array_names as _array_names

    (tmp_path / "w").mkdir()
    shutil.copy(files[0], tmp_path / "w" / "a.png")
    cv2.imwrite(str(tmp_path / "w" / "a.bmp"), cv2.imread(str(files[1]), 0))
    shutil.copy(files[2], tmp_path / "b.png")
    paths = [tmp_path / "w" / "a.bmp", tmp_path / "w" / "a.png", tmp_path / "b.png"]
    names = _array_names(paths)
    assert len(set(names)) == 3 and names[2] == "b"
    assert names[0].endswith("a.bmp") and names[1].endswith("a.png")


def test_the_command_takes_a_folder_and_skips_non_images_only_when_told(files, tmp_path, capsys):
    import shutil

    from sklearn_pillars.cli import main
    from sklearn_pillars.peel import save_model

    folder = tmp_path / "wafer"
    folder.mkdir()
    for path in files[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "README.md").write_text("# lot 7\n")
    model = LayeredPeelClassifier().fit(read_arrays(files[2:]).X)
    save_model(model, tmp_path / "m.skops", grid_size=21, tile_half=32)
    argv = ["inspect", str(folder), "--model", str(tmp_path / "m.skops"), "--out"]
    assert main([*argv, str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err
    assert "README.md (in folder" in err and "--skip-non-images" in err
    assert not (tmp_path / "r1").exists()
    assert main([*argv, str(tmp_path / "r2"), "--skip-non-images"]) == 0
    assert "skipped 1 files that are not images" in capsys.readouterr().err
    assert main([*argv, str(tmp_path / "r3"), "--skip-non-images", "-q"]) == 0
    assert capsys.readouterr().err == ""  # quiet is quiet
    page = (tmp_path / "r2" / "index.html").read_text(encoding="utf-8")
    assert "skipped 1 files that are not images" in page  # in the page's warning box
    assert (tmp_path / "r2" / "tiles.csv").read_text().count("\n") == 1 + 2 * 441


# -- the Python entry point ---------------------------------------------------------------
@pytest.mark.slow
def test_inspect_arrays_writes_the_commands_report(files, tmp_path, capsys):
    from sklearn_pillars import inspect_arrays
    from sklearn_pillars.cli import main
    from sklearn_pillars.peel import save_model

    model = LayeredPeelClassifier("refined").fit(read_arrays(files[:2]).X)
    save_model(model, tmp_path / "m.skops")  # the defaults: found lattices, tile_half 32
    assert (
        main(
            [
                "inspect",
                *map(str, files),
                "--model",
                str(tmp_path / "m.skops"),
                "--out",
                str(tmp_path / "cli"),
                "-q",
            ]
        )
        == 0
    )
    steps = []
    summary = inspect_arrays(
        files, tmp_path / "m.skops", tmp_path / "py", n_jobs=2, progress=steps.append
    )
    assert steps == [f"array a{i}" for i in range(4)] + ["galleries and index.html"]
    for table in ("tiles.csv", "summary.csv"):
        assert (tmp_path / "cli" / table).read_bytes() == (tmp_path / "py" / table).read_bytes()
    assert summary.n_arrays == 4 and summary.n_tiles == 4 * 441
    assert sum(summary.counts.values()) == summary.n_tiles
    # a fitted model works too; a folder that is not empty needs force
    with pytest.raises(FileExistsError, match="py: folder is not empty"):
        inspect_arrays(files, model, tmp_path / "py")
    inspect_arrays(files, model, tmp_path / "py", force=True)
    assert (tmp_path / "cli" / "tiles.csv").read_bytes() == (
        tmp_path / "py" / "tiles.csv"
    ).read_bytes()
    with pytest.raises(ValueError, match="tile_half=20 differs from the saved model's 32"):
        inspect_arrays(files, tmp_path / "m.skops", tmp_path / "x", tile_half=20)
    with pytest.raises(ValueError, match="holds input files"):
        inspect_arrays(files, model, files[0].parent)
    with pytest.raises(ValueError, match="no array images given"):
        inspect_arrays([], model, tmp_path / "none")
    assert not (tmp_path / "none").exists()


# -- the defect map -----------------------------------------------------------------------
def test_the_defect_map_outlines_exactly_the_defect_sites():
    from sklearn_pillars.report import CLASS_COLORS, MAP_WIDTH, defect_map_png

    grid = 7
    image = np.full((grid * 40, grid * 40), 128, np.uint8)
    positions = np.array([(r, c) for r in range(1, grid + 1) for c in range(1, grid + 1)])
    labels = np.full(grid * grid, "Good", dtype=object)
    kinds = np.full(grid * grid, "", dtype=object)
    labels[[0, 8, 20]] = ["Missing", "Irregular", "Stitching"]
    kinds[20] = "seam"
    png = defect_map_png(image, "tiny", grid, positions, labels, kinds)
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] >= MAP_WIDTH  # small arrays are enlarged

    def bgr(label):
        value = int(CLASS_COLORS[label][1:], 16)
        return np.array([value & 255, (value >> 8) & 255, value >> 16])

    # the array picture is the block of the image's grey; a site is MAP_WIDTH / grid
    grey = np.all(picture == 128, axis=2)
    rows = np.flatnonzero(grey.sum(axis=1) > MAP_WIDTH // 2)
    cols = np.flatnonzero(grey.sum(axis=0) > MAP_WIDTH // 2)
    top, left, site = rows.min(), cols.min(), MAP_WIDTH / grid
    assert rows.max() - top > MAP_WIDTH - 10 and cols.max() - left > MAP_WIDTH - 10
    for index, (r, c) in enumerate(positions):
        x0, y0 = int(left + (c - 1) * site), int(top + (r - 1) * site)
        cell = picture[y0 + 1 : int(y0 + site) - 1, x0 + 1 : int(x0 + site) - 1].astype(int)
        for label in ("Missing", "Irregular", "Stitching"):
            hit = np.all(np.abs(cell - bgr(label)) <= 2, axis=2).sum()
            if labels[index] == label:
                assert hit > (100 if label == "Stitching" else 300), (r, c, label, hit)
            else:
                assert hit == 0, (r, c, label, hit)
    # the legend above the picture shows each class in its colour
    legend = picture[:top].astype(int)
    for label in ("Missing", "Collapsed", "Stitching", "Irregular"):
        assert np.all(np.abs(legend - bgr(label)) <= 2, axis=2).sum() > 20, label


# -- Dask ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.mark.slow
def test_a_dask_cluster_gives_the_serial_report(files, tmp_path, cluster, capsys, monkeypatch):
    from distributed import Client

    from sklearn_pillars import inspect_arrays
    from sklearn_pillars.cli import main
    from sklearn_pillars.peel import save_model

    model = LayeredPeelClassifier("refined").fit(read_arrays(files[:2]).X)
    save_model(model, tmp_path / "m.skops")  # the defaults: found lattices, tile_half 32
    inspect_arrays(files, tmp_path / "m.skops", tmp_path / "serial")
    with Client(cluster) as client:
        results = list(iter_inspect(files, model, client=client))
        assert [r.name for r in results] == ["a0", "a1", "a2", "a3"]
        for result, serial in zip(results, iter_inspect(files, model), strict=True):
            np.testing.assert_array_equal(result.labels, serial.labels)
            # up to rounding: see test_two_worker_processes_give_the_same_results
            np.testing.assert_allclose(
                result.scores, serial.scores, rtol=1e-12, atol=0, equal_nan=True
            )
            np.testing.assert_array_equal(result.kinds, serial.kinds)
            assert result.path == serial.path
        # relative paths name the client's files, whatever the workers' directory
        monkeypatch.chdir(files[0].parent)
        relative = list(iter_inspect([f.name for f in files], model, client=client))
        assert [r.name for r in relative] == ["a0", "a1", "a2", "a3"]
        np.testing.assert_array_equal(relative[3].labels, results[3].labels)
        inspect_arrays(files, tmp_path / "m.skops", tmp_path / "dask", client=client)
    assert (
        main(
            [
                "inspect",
                *map(str, files),
                "--model",
                str(tmp_path / "m.skops"),
                "--out",
                str(tmp_path / "cli"),
                "--scheduler",
                cluster.scheduler_address,
                "-q",
            ]
        )
        == 0
    ), capsys.readouterr().err
    for out in ("dask", "cli"):
        for table in ("tiles.csv", "summary.csv"):
            assert (tmp_path / out / table).read_bytes() == (
                tmp_path / "serial" / table
            ).read_bytes(), (out, table)
        for i in range(4):
            np.testing.assert_array_equal(
                cv2.imread(str(tmp_path / out / f"map_a{i}.png")),
                cv2.imread(str(tmp_path / "serial" / f"map_a{i}.png")),
            )
    # an error in a task is raised here, naming the file
    blank = tmp_path / "blank.png"
    assert cv2.imwrite(str(blank), np.zeros((1134, 1134), np.uint8))
    with (
        Client(cluster) as client,
        pytest.raises(
            NotAnArrayError,
            match="blank.png(: no periodic pillar lattice found: the image)? is blank",
        ),
    ):
        list(iter_inspect([files[0], blank], model, client=client))
    assert (
        main(
            [
                "inspect",
                str(blank),
                "--model",
                str(tmp_path / "m.skops"),
                "--out",
                str(tmp_path / "x"),
                "--scheduler",
                "tcp://127.0.0.1:1",
                "-q",
            ]
        )
        == 2
    )
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


# -- fitting array by array ---------------------------------------------------------------
@pytest.mark.parametrize("preset", ["notebook", "refined"])
@pytest.mark.slow
def test_fit_arrays_is_fit_on_all_the_tiles(files, preset):
    from sklearn_pillars import fit_arrays

    whole = LayeredPeelClassifier(preset, random_state=7).fit(read_arrays(files).X)
    for n_jobs in (None, 2):
        streamed = fit_arrays(LayeredPeelClassifier(preset, random_state=7), files, n_jobs=n_jobs)
        np.testing.assert_array_equal(streamed.labels_, whole.labels_)
        np.testing.assert_array_equal(streamed.kinds_, whole.kinds_)
        # up to rounding with n_jobs=2: see test_two_worker_processes_give_the_same_results
        np.testing.assert_allclose(
            streamed.inconsistency_, whole.inconsistency_, rtol=1e-12, atol=0, equal_nan=True
        )
        assert streamed.n_features_in_ == whole.n_features_in_
        for name in whole.stage_rows_:
            np.testing.assert_array_equal(streamed.stage_rows_[name], whole.stage_rows_[name])
        new = read_arrays(files[:1]).X
        np.testing.assert_array_equal(streamed.predict(new), whole.predict(new))


def test_fit_arrays_refuses_stages_that_need_pixels_and_bad_input(files, tmp_path):
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import FunctionTransformer

    from sklearn_pillars import PeelStage, fit_arrays

    custom = LayeredPeelClassifier(
        [("x", PeelStage(FunctionTransformer(lambda X: X[:, 3:9]), KMeans(2, n_init=1), label="X"))]
    )
    with pytest.raises(ValueError, match="fit_arrays needs stages whose features are all"):
        fit_arrays(custom, files[:1])
    with pytest.raises(ValueError, match="given twice"):
        fit_arrays(LayeredPeelClassifier(), [files[0], files[0]])
    with pytest.raises(ValueError, match="no arrays"):
        fit_arrays(LayeredPeelClassifier(), [])
    blank = tmp_path / "blank_fit.png"
    assert cv2.imwrite(str(blank), np.full((1134, 1134), 200, np.uint8))
    model = LayeredPeelClassifier()
    with pytest.raises(NotAnArrayError, match="blank_fit.png"):
        fit_arrays(model, [files[0], blank], n_jobs=2)
    with pytest.raises(NotFittedError):  # a failed fit leaves the model as it was
        model.predict(read_arrays(files[:1]).X)


@pytest.mark.slow
def test_the_fit_command_reads_a_folder_array_by_array(files, tmp_path):
    import shutil

    from sklearn_pillars.cli import main
    from sklearn_pillars.peel import load_model

    folder = tmp_path / "train"
    folder.mkdir()
    for path in files[:3]:
        shutil.copy(path, folder / path.name)
    assert (
        main(
            [
                "fit",
                str(folder),
                "--model",
                str(tmp_path / "m.skops"),
                "--stages",
                "refined",
                "--n-jobs",
                "2",
                "-q",
            ]
        )
        == 0
    )
    model, info = load_model(tmp_path / "m.skops")
    whole = LayeredPeelClassifier("refined").fit(read_arrays(files[:3]).X)
    np.testing.assert_array_equal(model.labels_, whole.labels_)
    assert len(info["profiles"]) == 3


# -- arrays too large for one X -----------------------------------------------------------
def test_a_large_array_is_classified_in_bands_with_the_same_result(files, monkeypatch, tmp_path):
    from sklearn_pillars.tiling import _budget as limits

    model = LayeredPeelClassifier("notebook").fit(read_arrays(files[:2], 21).X)
    whole = classify_array(files[3], model, 21, draw_map=True)
    monkeypatch.setattr(limits, "BAND_BYTES", limits.x_bytes(21 * 5, 32))
    assert limits.band_rows(21, 32, preset="notebook") == 5
    # the refined preset's work per tile is three times the notebook's: bands a third as large
    assert limits.band_rows(21, 32, preset="refined") == limits.band_rows(21, 32) == 1
    banded = classify_array(files[3], model, 21, draw_map=True)
    assert banded.map_png == whole.map_png
    np.testing.assert_array_equal(banded.labels, whole.labels)
    np.testing.assert_array_equal(banded.kinds, whole.kinds)
    np.testing.assert_allclose(banded.scores, whole.scores, rtol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(banded.positions, whole.positions)
    np.testing.assert_array_equal(banded.boxes, whole.boxes)
    np.testing.assert_array_equal(banded.image, whole.image)
    assert banded.profile == whole.profile and banded.name == whole.name == "a3"
    blank = tmp_path / "blank_banded.png"
    assert cv2.imwrite(str(blank), np.zeros((1134, 1134), np.uint8))
    with pytest.raises(
        NotAnArrayError,
        match="blank_banded.png(: no periodic pillar lattice found: the image)? is blank",
    ):
        classify_array(blank, model)


def test_the_fit_command_counts_the_memory_of_every_tiles_features(files, tmp_path, capsys):
    from sklearn_pillars.cli import main
    from sklearn_pillars.io import read_image_header
    from sklearn_pillars.tiling import estimate_memory

    header = read_image_header(files[0])
    size = max(p.stat().st_size for p in files)
    one = estimate_memory([header], 21, 32, file_bytes=size, preset="notebook")
    everything = estimate_memory(
        [header], 21, 32, file_bytes=size, preset="notebook", fit_tiles=4 * 441
    )
    assert everything > one
    limit = str((one + everything) // 2)  # one array fits; the features of all do not
    argv = ["fit", *map(str, files), "--model", str(tmp_path / "m.skops")]
    argv += ["--stages", "notebook", "--grid-size", "21", "--max-memory"]
    assert main([*argv, limit, "-q"]) == 2
    err = capsys.readouterr().err
    assert "fitting on 4 arrays" in err and "fit on a random sample of the arrays" in err
    assert not (tmp_path / "m.skops").exists()
    assert main([*argv, str(everything + 2**20), "-q"]) == 0


@pytest.mark.slow
def test_a_stage_with_a_new_class_shows_up_in_both_reports(files, tmp_path):
    import csv

    from sklearn_pillars import (
        CenterIntensity,
        PeelStage,
        SeparatedClusters,
        inspect_arrays,
        make_stages,
    )
    from sklearn_pillars.report import write_report

    # a fifth layer whose class, "Cracked", no tile gets (its rule peels nothing)
    notebook = make_stages("notebook")
    stages = [
        *notebook[:3],
        ("cracked", PeelStage(CenterIntensity(), rule=SeparatedClusters(1e9), label="Cracked")),
        notebook[3],
    ]
    model = LayeredPeelClassifier(stages).fit(read_arrays(files[:2]).X)
    assert "Cracked" in model.classes_ and "Cracked" not in set(model.labels_)

    def columns(folder):
        with open(folder / "summary.csv", newline="") as f:
            return csv.DictReader(f).fieldnames

    inspect_arrays(files[:2], model, tmp_path / "streamed")
    tiles = read_arrays(files[:2])
    result = model.trace(tiles.X)
    (tmp_path / "whole").mkdir()
    write_report(
        tmp_path / "whole",
        tiles,
        result.labels,
        result.scores,
        result.stages,
        grid_size=21,
        title="t",
        kinds=result.kinds,
        classes=model.classes_,
    )
    for folder in (tmp_path / "streamed", tmp_path / "whole"):
        names = columns(folder)
        assert {"n_Cracked", "share_Cracked"} <= set(names), names
        # in peel order, the new class before the inliers
        assert names.index("n_Cracked") > names.index("n_Irregular")
        assert names.index("n_Cracked") < names.index("n_Good")
        assert "Cracked" in (folder / "index.html").read_text()


def test_a_saved_models_grid_warning_points_at_the_callers_line(files, tmp_path):
    """The warning that another grid than the model's is used names the line that asked for
    it (in iter_inspect and inspect_arrays alike), and inspect_arrays puts it on the report."""
    from sklearn_pillars import inspect_arrays
    from sklearn_pillars.persist import save_model

    model_file = tmp_path / "uniform.skops"
    model = LayeredPeelClassifier().fit(read_arrays(files[:1], 21).X)
    save_model(model, model_file, grid_size=21, tile_half=32)
    said = "fitted on tiles of a uniform 21 x 21 grid; grid_size auto"
    with pytest.warns(UserWarning, match=said) as caught:
        results = list(iter_inspect(files[:1], model_file, grid_size="auto"))
    assert len(results) == 1
    assert {w.filename for w in caught if said in str(w.message)} == {__file__}
    with pytest.warns(UserWarning, match=said) as caught:
        inspect_arrays(files[:1], model_file, tmp_path / "r", grid_size="auto")
    assert {w.filename for w in caught if said in str(w.message)} == {__file__}
    assert said in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
