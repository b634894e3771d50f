"""Hostile input, second round (issue 22): odd files, found lattices, parallel runs and the
Python API. Each case failed on main before it was fixed; the numbers are the issue's."""

import html
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from sklearn_pillars import make_pillar_arrays, read_arrays, read_image
from sklearn_pillars.io import to_grey

from .test_hostile import _default_signals, _session_processes


@pytest.fixture(scope="module")
def array_image():
    return make_pillar_arrays(n_arrays=1, grid_size=9, random_state=3).array_images[0]


# --- case 3: 12-bit data in a 16-bit file --------------------------------------------------


@pytest.mark.parametrize("depth", [10, 12, 14, 16])
def test_a_cameras_bit_depth_keeps_its_grey_levels(tmp_path, array_image, depth):
    # a camera writes its 10-16 bits into the low bits of a 16-bit file
    path = tmp_path / f"array{depth}.png"
    assert cv2.imwrite(str(path), array_image.astype(np.uint16) << (depth - 8))
    np.testing.assert_array_equal(read_image(path), array_image)
    np.testing.assert_array_equal(
        to_grey(array_image.astype(np.uint16) << (depth - 8)), array_image
    )
    tiles = read_arrays(path)  # checked: not "blank"
    assert tiles.array_profiles[0].contrast > 20


def test_a_16_bit_image_using_every_bit_keeps_its_high_byte(tmp_path):
    image = np.random.default_rng(0).integers(0, 2**16, (60, 70), dtype=np.uint16)
    image[0, 0] = 2**16 - 1
    path = tmp_path / "full.tif"
    assert cv2.imwrite(str(path), image)
    np.testing.assert_array_equal(read_image(path), (image >> 8).astype(np.uint8))


# --- case 7: floating-point TIFF --------------------------------------------------------------


def test_a_float_tiff_is_refused_by_name(tmp_path, array_image):
    path = tmp_path / "float.tif"
    assert cv2.imwrite(str(path), array_image.astype(np.float32))
    with pytest.raises(ValueError, match=r"float\.tif: 32-bit floating-point TIFF images are not"):
        read_image(path)


# --- case 13: iter_inspect takes what inspect_arrays takes ---------------------------------


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from sklearn_pillars import LayeredPeelClassifier
    from sklearn_pillars.persist import save_model

    tiles = make_pillar_arrays(n_arrays=2, grid_size=6, random_state=0)
    folder = tmp_path_factory.mktemp("model")
    for index, image in enumerate(tiles.array_images):
        cv2.imwrite(str(folder / f"wafer_{index}.png"), image)
    model = LayeredPeelClassifier().fit(tiles.X)
    save_model(model, tmp_path_factory.mktemp("saved") / "m.skops", grid_size=6, tile_half=32)
    return folder, model


def _inspect(saved_model, out, *options):
    """``sklearn-pillars inspect`` of the saved model's arrays with its model file."""
    from sklearn_pillars.cli import main

    folder, _ = saved_model
    model_file = next(folder.parent.glob("saved*/m.skops"))
    return main(["inspect", str(folder), "--model", str(model_file), "--out", str(out), *options])


@pytest.fixture
def started_workers(monkeypatch):
    """The worker counts the process pool is started with (8 CPUs: the arrays cap it)."""
    from sklearn_pillars.utils import parallel

    started = []
    real = parallel._workers
    monkeypatch.setattr(parallel, "_workers", lambda n: started.append(n) or real(n))
    monkeypatch.setattr(parallel, "cpu_count", lambda: 8)
    return started


@pytest.mark.parametrize("given", ["str", "Path", "folder", "pattern"])
def test_iter_inspect_takes_a_path_a_folder_a_pattern_and_a_model_file(saved_model, given):
    from sklearn_pillars import iter_inspect

    folder, model = saved_model
    one = folder / "wafer_1.png"
    inputs = {
        "str": str(one),
        "Path": one,
        "folder": folder,
        "pattern": str(folder / "wafer_*.png"),
    }[given]
    model_file = next(folder.parent.glob("saved*/m.skops"))
    results = list(iter_inspect(inputs, model_file))
    names = [result.name for result in results]
    assert names == (["wafer_1"] if given in ("str", "Path") else ["wafer_0", "wafer_1"])
    # the model file's grid (6) and tiles, and the model's labels
    expected = list(iter_inspect([one], model, grid_size=6))[0].labels
    np.testing.assert_array_equal(results[-1].labels, expected)


# --- cases 14, 15: the estimator's parameters -------------------------------------------------


def test_a_model_without_stages_is_refused():
    from sklearn_pillars import LayeredPeelClassifier

    X = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).X
    for empty in ([], ()):
        with pytest.raises(ValueError, match="stages is empty: a model with no stages"):
            LayeredPeelClassifier(stages=empty).fit(X)


@pytest.mark.parametrize("n_jobs", ["two", 0, 1.5, -0.5])
def test_n_jobs_is_validated_by_name(saved_model, n_jobs):
    from sklearn_pillars import LayeredPeelClassifier, fit_arrays, iter_inspect

    folder, model = saved_model
    X = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).X
    with pytest.raises(ValueError, match="n_jobs"):
        LayeredPeelClassifier(n_jobs=n_jobs).fit(X)
    with pytest.raises(ValueError, match=r"n_jobs must"):
        list(iter_inspect(folder, model, grid_size=6, n_jobs=n_jobs))
    with pytest.raises(ValueError, match=r"n_jobs must"):
        fit_arrays(LayeredPeelClassifier(), folder / "wafer_0.png", grid_size=6, n_jobs=n_jobs)


# --- case 10: workers capped at the CPUs and the arrays ---------------------------------------


def test_workers_are_capped_at_cpus_and_arrays(monkeypatch):
    from sklearn_pillars.utils import parallel

    monkeypatch.setattr(parallel, "cpu_count", lambda: 4)
    assert parallel.worker_count(100) == 4
    assert parallel.worker_count(100, 2) == 2
    assert parallel.worker_count(-1, 1) == 1
    assert parallel.worker_count(None, 10) == 1
    assert parallel.worker_count(3, 0) == 1
    with pytest.warns(UserWarning, match=r"n_jobs 30: starting 2 worker process\(es\) \(4 CPUs, 2"):
        assert parallel.capped_n_jobs(30, 2) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no word when nothing was asked for, or all is given
        assert parallel.capped_n_jobs(-1, 2) == 2
        assert parallel.capped_n_jobs(2, 5) == 2


def test_iter_inspect_starts_no_more_workers_than_arrays(saved_model, started_workers):
    from sklearn_pillars import iter_inspect

    folder, model = saved_model
    with pytest.warns(UserWarning, match=r"n_jobs 50: starting 2 worker"):
        results = list(iter_inspect(folder, model, grid_size=6, n_jobs=50))
    assert len(results) == 2 and started_workers == [2]


# --- cases 10, 16 on the command line ---------------------------------------------------------


def test_the_command_caps_its_workers_and_says_so(saved_model, tmp_path, capsys, started_workers):
    code = _inspect(saved_model, tmp_path / "r", "--n-jobs", "100")
    err = capsys.readouterr().err
    assert code == 0
    assert "--n-jobs 100: starting 2 worker process(es)" in err
    assert started_workers and max(started_workers) == 2
    page = (tmp_path / "r" / "index.html").read_text()
    assert "--n-jobs 100: starting 2 worker" in page  # the note is on the report too


def test_an_empty_scheduler_address_is_refused(saved_model, tmp_path, capsys):
    code = _inspect(saved_model, tmp_path / "r", "--scheduler", " ")
    assert code == 2
    assert "--scheduler needs the address of a Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# --- cases 5, 6: links to nothing, folders that cannot be made ---------------------------------


def test_a_broken_link_among_the_arrays_is_named_and_can_be_skipped(saved_model, tmp_path):
    from sklearn_pillars.io import find_array_images

    folder, _ = saved_model
    arrays = tmp_path / "arrays"
    arrays.mkdir()
    (arrays / "a.png").symlink_to(folder / "wafer_0.png")
    (arrays / "b.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(FileNotFoundError, match=r"b\.png \(in folder .*\): a broken symbolic link"):
        find_array_images(arrays)
    with pytest.warns(UserWarning, match=r"skipped 1 files that are not images: .*b\.png"):
        assert [p.name for p in find_array_images(arrays, skip_non_images=True)] == ["a.png"]
    with pytest.raises(FileNotFoundError, match=r"b\.png: a broken symbolic link \(to .*gone"):
        read_image(arrays / "b.png")


def test_a_report_folder_that_cannot_be_made_is_not_in_use(saved_model, tmp_path, capsys):
    from sklearn_pillars.cli import main

    folder, _ = saved_model
    model_file = next(folder.parent.glob("saved*/m.skops"))
    dangling = tmp_path / "report"
    dangling.symlink_to(tmp_path / "nowhere")
    code = main(["inspect", str(folder), "--model", str(model_file), "--out", str(dangling)])
    err = capsys.readouterr().err
    assert code == 2 and "report: a broken symbolic link" in err and "in use" not in err
    if Path("/proc/self").is_dir():  # Linux: nothing can be made in /proc
        code = main(["inspect", str(folder), "--model", str(model_file), "--out", "/proc/nope"])
        err = capsys.readouterr().err
        assert code == 2 and "cannot create or write to /proc/nope" in err and "in use" not in err


# --- cases 7 (small crops) and 17: too few pillars ---------------------------------------------


def test_a_crop_of_2_x_2_pillars_is_too_few_for_a_lattice(array_image):
    from sklearn_pillars import NoLatticeError
    from sklearn_pillars.lattice import find_lattice

    pitch = array_image.shape[0] // 9
    crop = array_image[pitch // 2 : pitch // 2 + 2 * pitch, pitch // 2 : pitch // 2 + 2 * pitch]
    with pytest.raises(NoLatticeError, match="fewer than 3 x 3 pillars are too few to find a"):
        find_lattice(crop)
    tiles = read_arrays_in_memory(crop, 2)  # a uniform grid cuts it
    assert len(tiles) == 4


def read_arrays_in_memory(image, grid):
    from sklearn_pillars import tile_array

    return tile_array(image, grid, input_check="skip")


@pytest.mark.parametrize("preset", ["notebook", "refined"])
def test_fitting_on_too_few_tiles_to_cluster_is_warned_about(preset):
    from sklearn_pillars import LayeredPeelClassifier
    from sklearn_pillars.peel._classifier import MIN_FIT_TILES

    few = make_pillar_arrays(n_arrays=1, grid_size=2, random_state=0).X  # the 2 x 2
    with pytest.warns(UserWarning, match=r"fitting on 4 tiles: too few to cluster \(25 at least"):
        LayeredPeelClassifier(preset).fit(few)
    enough = make_pillar_arrays(n_arrays=1, grid_size=5, random_state=0).X
    assert len(enough) == MIN_FIT_TILES
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LayeredPeelClassifier(preset).fit(enough)
    assert not [w for w in caught if "too few to cluster" in str(w.message)]


# --- case 9: a model used on another kind of grid than its own ---------------------------------


@pytest.mark.parametrize(("saved", "given"), [("auto", 6), (6, "auto")])
def test_a_model_on_another_kind_of_grid_says_so(saved_model, tmp_path, capsys, saved, given):
    from sklearn_pillars import inspect_arrays, iter_inspect
    from sklearn_pillars.cli import main
    from sklearn_pillars.persist import save_model

    folder, model = saved_model
    path = tmp_path / "m.skops"
    save_model(model, path, grid_size=saved, tile_half=32)
    said = "the model was fitted on " + (
        "tiles cut around each image's found lattice" if saved == "auto" else "tiles of a uniform"
    )
    with pytest.warns(UserWarning, match=said):
        list(iter_inspect(folder, path, grid_size=given))
    with pytest.warns(UserWarning, match=said):
        inspect_arrays(folder, path, tmp_path / "py", grid_size=given)
    assert said in html.unescape((tmp_path / "py" / "index.html").read_text())
    code = main(["inspect", str(folder), "--model", str(path), "--out", str(tmp_path / "cli"),
                 "--grid", str(given)])  # fmt: skip
    assert code == 0 and said in capsys.readouterr().err
    with warnings.catch_warnings():  # the model's own grid: nothing to say
        warnings.simplefilter("error")
        list(iter_inspect(folder, path))


# --- case 8: an array in a wide border has its own contrast ---------------------------------


def test_a_border_around_an_array_does_not_change_its_profile(array_image):
    from sklearn_pillars.lattice import array_profile, drift_warnings, find_lattice

    bordered = np.zeros((array_image.shape[0] + 600, array_image.shape[1] + 600), np.uint8)
    bordered[300:-300, 300:-300] = array_image
    alone, framed = find_lattice(array_image), find_lattice(bordered)
    assert framed.shape == alone.shape == (9, 9)
    own = array_profile(array_image, None, lattice=alone)
    seen = array_profile(bordered, None, lattice=framed)
    assert abs(seen.contrast - own.contrast) <= 1 and abs(seen.level - own.level) <= 1
    assert drift_warnings([seen], [own], ["bordered"]) == []


def _padded(image, value, top, bottom, left, right):
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=value)


BORDERS = {  # (top, bottom, left, right) of a uniform border, black, white or mid-grey
    "400 px left and right": (0, 0, 400, 400),
    "200 px all round": (200, 200, 200, 200),
    "100 px top, 700 px right": (100, 0, 0, 700),
}


@pytest.mark.parametrize("value", [0, 128, 255])
@pytest.mark.parametrize("border", BORDERS)
def test_a_uniform_border_leaves_the_lattice_as_it_was(array_image, value, border):
    from sklearn_pillars.lattice import find_lattice

    top, bottom, left, right = BORDERS[border]
    framed = find_lattice(_padded(array_image, value, top, bottom, left, right))
    alone = find_lattice(array_image)
    assert framed.shape == alone.shape == (9, 9)
    np.testing.assert_allclose(framed.centers, alone.centers + (left, top), atol=1e-9)
    assert framed.image_shape == (array_image.shape[0] + top + bottom,
                                  array_image.shape[1] + left + right)  # fmt: skip


def test_a_uniform_border_leaves_a_real_arrays_lattice_as_it_was(shared_array_paths):
    from sklearn_pillars.lattice import find_lattice

    for path in shared_array_paths:
        image = read_image(path)
        alone = find_lattice(image)
        for value in (0, 255):  # each gave an extra row or column of sites, or a refusal
            framed = find_lattice(_padded(image, value, 0, 0, 400, 400))
            assert framed.shape == alone.shape, (path.name, value)
            np.testing.assert_allclose(framed.centers, alone.centers + (400, 0), atol=1e-9)


def test_a_jpeg_border_is_still_a_border(array_image):
    from sklearn_pillars.lattice import content_box

    framed = _padded(array_image, 0, 0, 0, 400, 400)
    ok, encoded = cv2.imencode(".jpg", framed, [cv2.IMWRITE_JPEG_QUALITY, 80])
    top, bottom, left, right = content_box(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE))
    assert (top, bottom) == (0, framed.shape[0])
    # the compression's ringing reaches a block (8 px) or two past the array's edge
    assert 400 - 16 <= left <= 400 and framed.shape[1] - 400 <= right <= framed.shape[1] - 384
    assert content_box(array_image) == (0, array_image.shape[0], 0, array_image.shape[1])
    assert content_box(np.zeros((50, 60), np.uint8)) == (0, 50, 0, 60)  # blank: whole


# --- case 1: two arrays in one image ----------------------------------------------------------


@pytest.mark.parametrize("gap_sites", [2, 7])
@pytest.mark.parametrize("axis", [0, 1])
def test_two_arrays_in_one_image_are_not_one_array(gap_sites, axis):
    from sklearn_pillars import NoLatticeError
    from sklearn_pillars.lattice import find_lattice

    first, second = make_pillar_arrays(n_arrays=2, grid_size=9, random_state=5).array_images
    pitch = first.shape[0] / 9
    substrate = int(np.median(first))
    shape = list(first.shape)
    shape[axis] = int(gap_sites * pitch)
    image = np.concatenate([first, np.full(shape, substrate, np.uint8), second], axis=axis)
    what = "rows" if axis == 0 else "columns"
    with pytest.raises(NoLatticeError, match=rf"holds more than one array: {what} 10-"):
        find_lattice(image)
    with pytest.raises(NoLatticeError, match="more than one array"):
        read_arrays_in_memory_auto(image)


def read_arrays_in_memory_auto(image):
    from sklearn_pillars import tile_array

    return tile_array(image, "auto")


def test_one_row_of_missing_pillars_is_a_defect_not_a_gap():
    from sklearn_pillars.lattice import find_lattice

    image = make_pillar_arrays(n_arrays=1, grid_size=9, random_state=5).array_images[0].copy()
    pitch = image.shape[0] / 9
    substrate = int(np.median(image))
    row = slice(int(4 * pitch) + 4, int(5 * pitch) - 4)  # the pillars of row 5 wiped out
    image[row, :] = substrate
    assert find_lattice(image).shape == (9, 9)


# --- case 4: a checkerboard is no pillar array, on either grid --------------------------------


def _checkerboard(square, side=1134):
    rows, cols = np.mgrid[:side, :side]
    return (((rows // square) + (cols // square)) % 2 * 200 + 25).astype(np.uint8)


@pytest.mark.parametrize("square", [20, 40])
def test_a_checkerboard_is_refused_on_found_lattices(square):
    from sklearn_pillars import tile_array

    # refused by the check (its diagonal lattice found) or, with OpenCV 4.8, by the finder
    with pytest.raises(
        ValueError, match="shows a checkerboard, not pillars|no periodic pillar lattice found"
    ):
        tile_array(_checkerboard(square), "auto")


@pytest.mark.parametrize("square", [20, 27, 40])
def test_a_checkerboard_is_its_own_negative_half_a_cell_away(square):
    from types import SimpleNamespace

    from sklearn_pillars.lattice._array_check import (
        CHECKERBOARD_LIKENESS,
        half_cell_likeness,
    )

    # its lattice: the centres of the squares of one colour, one step along each diagonal
    i, j = np.mgrid[4:30, 4:30]
    same = (i + j) % 2 == 0
    centers = np.stack([(i[same] + 0.5) * square - 0.5, (j[same] + 0.5) * square - 0.5], 1)
    vectors = np.array([[square, square], [square, -square]], float)
    lattice = SimpleNamespace(
        pitch=(square * 2**0.5,) * 2, centers=centers.reshape(-1, 1, 2), vectors=vectors
    )
    board = _checkerboard(square, side=40 * square)
    assert half_cell_likeness(board, None, lattice=lattice) <= CHECKERBOARD_LIKENESS


def test_a_checkerboard_on_the_uniform_grid_is_refused():
    from sklearn_pillars import NotAnArrayError, tile_array

    # squares half the grid's pitch: every site alike (lattice score 0.96), and so is the
    # point between four sites
    with pytest.raises(NotAnArrayError, match="repeats at half the pitch of its 21 x 21"):
        tile_array(_checkerboard(27), 21)


def test_a_blurred_array_is_no_checkerboard(array_image):
    from sklearn_pillars import tile_array
    from sklearn_pillars.synthetic import apply_conditions

    for blur in (0, 4, 8):  # (blurred by 8 px, the lattice found takes in a margin row)
        image = apply_conditions(array_image, blur=blur, random_state=0)
        assert len(tile_array(image, 9)) == 81  # checked, not refused
        assert len(tile_array(image, "auto")) >= 81


# --- case 2: a line across an array is a defect, not a reason to refuse it --------------------


LINES = {  # value, width, from, to (fractions of the width and height)
    "white, 8 px, across the middle": (250, 8, (0, 0.5), (1, 0.5)),
    "white, 6 px, diagonal": (250, 6, (0, 1), (1, 0)),
    "dark, 6 px, diagonal": (10, 6, (0, 0), (1, 1)),
}


def _with_line(image, line, lines=LINES):
    value, width, start, end = lines[line]
    h, w = image.shape
    out = image.copy()
    point = lambda f: (int(f[0] * (w - 1)), int(f[1] * (h - 1)))  # noqa: E731
    cv2.line(out, point(start), point(end), value, width)
    return out


@pytest.mark.parametrize("line", LINES)
def test_a_line_across_a_real_array_leaves_its_lattice(line, shared_array_paths):
    from sklearn_pillars.lattice import find_lattice

    for path in shared_array_paths[:3]:
        image = read_image(path)
        assert find_lattice(_with_line(image, line)).shape == (21, 21), path.name


def test_a_line_across_a_synthetic_array_leaves_its_lattice():
    from sklearn_pillars.lattice import find_lattice

    image = make_pillar_arrays(n_arrays=1, grid_size=21, random_state=3).array_images[0]
    for line in ("white, 8 px, across the middle", "white, 6 px, diagonal"):
        assert find_lattice(_with_line(image, line)).shape == (21, 21), line


SLANTED = {  # value, width, from, to: dark lines a third of the way down, slanting
    "dark, 10 px, slanting": (0, 10, (0, 0.3), (1, 0.6)),
    "dark, 16 px, slanting": (0, 16, (0, 0.3), (1, 0.6)),
}


@pytest.mark.parametrize("line", SLANTED)
def test_a_slanting_line_gives_the_lattice_or_a_refusal_never_a_wrong_one(line, shared_array_paths):
    from sklearn_pillars import NoLatticeError
    from sklearn_pillars.lattice import find_lattice

    # before: 15 or 16 x 21 sites, sheared by 18 degrees onto the line, with no word
    found = refused = 0
    for path in shared_array_paths:
        image = read_image(path)
        alone = find_lattice(image)
        crossed = _with_line(image, line, SLANTED)
        try:
            lattice = find_lattice(crossed)
        except NoLatticeError as error:
            assert "sit off (or between the sites of) every lattice tried" in str(error)
            refused += 1
            continue
        assert lattice.shape == alone.shape, path.name
        np.testing.assert_allclose(lattice.pitch, alone.pitch, atol=0.2)
        found += 1
    assert found >= 3, (found, refused)  # the lattice of most is found


def test_a_lattice_of_every_other_column_is_refined_to_the_arrays():
    from sklearn_pillars.lattice import find_lattice

    image = make_pillar_arrays(n_arrays=1, grid_size=21, random_state=3).array_images[0]
    h, w = image.shape
    crossed = cv2.line(image.copy(), (0, int(0.3 * (h - 1))), (w - 1, int(0.6 * (h - 1))), 0, 10)
    # before: 21 x 10 sites, 108 px apart along the rows (every other column)
    lattice = find_lattice(crossed)
    assert lattice.shape == (21, 21)
    np.testing.assert_allclose(lattice.pitch, find_lattice(image).pitch, atol=0.1)


def test_pillars_between_the_sites_tell_a_wrong_lattice(monkeypatch):
    from sklearn_pillars import NoLatticeError
    from sklearn_pillars.lattice import _find

    image = make_pillar_arrays(n_arrays=1, grid_size=15, random_state=2).array_images[0]
    flat = _find.flatten_illumination(image)
    right, (between, _) = _find._lattice_from(flat, 8, image.shape[0] / 3, True)
    assert _find._fits(right, between)
    doubled = right.vectors * [[2], [1]]  # every other column
    wrong, (between, finer) = _find._lattice_from(flat, 8, image.shape[0] / 3, True,
                                                  vectors=doubled)  # fmt: skip
    assert not _find._fits(wrong, between)
    np.testing.assert_allclose(finer, right.vectors, atol=1.0)
    # and a lattice no basis mends is refused, by name
    monkeypatch.setattr(_find, "_fits", lambda lattice, between: False)
    with pytest.raises(NoLatticeError, match=r"sit off \(or between the sites of\) every"):
        _find.find_lattice(image)


# --- case 11: Ctrl-C once the report is written ----------------------------------------------


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3])
@pytest.mark.slow
def test_ctrl_c_after_the_report_is_written_shows_no_traceback(saved_model, tmp_path, delay):
    import signal
    import subprocess
    import sys
    import time

    folder, _ = saved_model
    model_file = next(folder.parent.glob("saved*/m.skops"))
    command = [sys.executable, "-m", "sklearn_pillars", "inspect", str(folder), "--model",
               str(model_file), "--out", str(tmp_path / "r"), "--n-jobs", "2"]  # fmt: skip
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals
    )
    said = []
    for line in process.stderr:  # the worker pool's threads are joined after this line
        said.append(line)
        if "report written" in line:
            time.sleep(delay)
            process.send_signal(signal.SIGINT)
            break
    said.append(process.stderr.read())
    code = process.wait(timeout=60)
    text = "".join(said)
    assert "report written" in text
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert code in (0, 130), text  # done, or stopped cleanly just before returning
    assert (tmp_path / "r" / "index.html").is_file()


# --- case 11: Ctrl-C while the command starts -------------------------------------------------


def _python(code, *args, **kwargs):
    import subprocess
    import sys

    kwargs.setdefault("preexec_fn", _default_signals)  # Ctrl-C as in a terminal
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, **kwargs)  # fmt: skip


def test_importing_the_package_loads_none_of_its_dependencies():
    shown = _python(
        "import sys, sklearn_pillars\n"
        "print(sorted(m for m in ('numpy', 'scipy', 'sklearn', 'cv2', 'skimage', 'joblib')"
        " if m in sys.modules))"
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "[]"


def test_public_names_and_subpackages_load_on_first_use():
    shown = _python(
        "import sklearn_pillars as sp\n"
        "from sklearn_pillars.peel import LayeredPeelClassifier\n"
        "assert sp.LayeredPeelClassifier is LayeredPeelClassifier\n"
        "assert sp.persist.load_model is sp.peel.load_model\n"
        "assert set(sp.__all__) <= set(dir(sp))\n"
        "try:\n    sp.no_such_name\nexcept AttributeError as e:\n    print(e)\n"
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "module 'sklearn_pillars' has no attribute 'no_such_name'"


@pytest.mark.parametrize("signame, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_while_the_command_loads_stops_it_in_one_line(signame, code):
    # the signal lands inside the import of the command's modules, deterministically
    loading = _python(
        "import importlib.abc, os, signal, sys\n"
        "class Signal(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'sklearn_pillars.cli':\n"
        f"            os.kill(os.getpid(), signal.{signame})\n"
        "sys.meta_path.insert(0, Signal())\n"
        "sys.argv = ['sklearn-pillars', '--help']\n"
        "from sklearn_pillars._launcher import run\n"
        "run()\n"
    )
    word = "interrupted" if signame == "SIGINT" else "terminated"
    assert loading.stderr == f"sklearn-pillars: {word}\n"
    assert loading.returncode == code
    assert loading.stdout == ""  # stopped before the help was printed


def _listening(pid, timeout=60):
    """Wait until process ``pid`` handles SIGTERM (its launcher is listening)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:"))
                     .split()[1], 16)  # fmt: skip
        if caught & (1 << (15 - 1)):
            return
        time.sleep(0.005)
    raise AssertionError("the command never listened for SIGTERM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("delay", [0.0, 0.2, 0.5, 1.0])
def test_ctrl_c_while_the_command_starts_shows_no_traceback(saved_model, tmp_path, delay):
    import signal
    import subprocess
    import sys
    import time

    folder, _ = saved_model
    model_file = next(folder.parent.glob("saved*/m.skops"))
    command = [sys.executable, "-m", "sklearn_pillars", "inspect", str(folder), "--model",
               str(model_file), "--out", str(tmp_path / "r")]  # fmt: skip
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals
    )
    try:
        _listening(process.pid)
        time.sleep(delay)  # in the imports (about 1.5 s), reading arguments, or the run
        process.send_signal(signal.SIGINT)
        said = process.stderr.read()
        code = process.wait(timeout=60)
    finally:
        process.kill()
    assert "Traceback" not in said and "Exception ignored" not in said, said
    assert code == 130, said
    assert said.strip().endswith("sklearn-pillars: interrupted"), said


def test_the_console_script_starts_with_the_launcher():
    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"sklearn-pillars": "sklearn_pillars._launcher:run"}


# --- case 12: stopping a run with workers, on a busy machine --------------------------------


@pytest.fixture(scope="module")
def lot_and_model(tmp_path_factory):
    """A folder of 10 arrays of 15 x 15 pillars and a model file fitted on two of them."""
    from sklearn_pillars import LayeredPeelClassifier
    from sklearn_pillars.persist import save_model

    tiles = make_pillar_arrays(n_arrays=10, grid_size=15, random_state=1)
    folder = tmp_path_factory.mktemp("lot")
    for index, image in enumerate(tiles.array_images):
        cv2.imwrite(str(folder / f"a{index:02d}.png"), image)
    fitted = read_arrays(sorted(folder.glob("*.png"))[:2])
    model_file = tmp_path_factory.mktemp("model") / "m.skops"
    save_model(LayeredPeelClassifier().fit(fitted.X), model_file, grid_size="auto", tile_half=32)
    return folder, model_file


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("signame, to_group", [("SIGINT", False), ("SIGTERM", True)])
@pytest.mark.slow
def test_a_run_with_workers_stops_within_a_second_on_a_busy_machine(
    lot_and_model, tmp_path, signame, to_group
):
    import os
    import signal
    import subprocess
    import sys
    import time

    folder, model_file = lot_and_model
    sig = getattr(signal, signame)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        command = [sys.executable, "-m", "sklearn_pillars", "inspect", str(folder), "--model",
                   str(model_file), "--out", str(tmp_path / "r"), "--n-jobs", "2"]  # fmt: skip
        process = subprocess.Popen(
            command,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
        said = []
        for line in process.stderr:  # the first array's lattice: the workers hold the next
            said.append(line)
            if " sites, pitch " in line:
                break
        assert process.poll() is None, "".join(said)
        (os.killpg if to_group else os.kill)(process.pid, sig)
        sent = time.perf_counter()
        # the workers write to stderr too: until it ends, they live (a hang fails here)
        said.append(process.communicate(timeout=30)[1])
        code = process.returncode
        latency = time.perf_counter() - sent
    finally:
        for load in busy:
            load.kill()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    text = "".join(said)
    assert code == 128 + sig, text
    assert "Traceback" not in text and "leaked" not in text, text
    # the README's promise, kept as the bound: 0.05-0.17 s measured on this 2-core VM with both
    # cores busy (this test keeps them busy itself), a 6x margin for a slower CI machine
    assert latency < 1.0, (latency, text)
    deadline = time.perf_counter() + 5
    while _session_processes(process.pid) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert _session_processes(process.pid) == []  # no worker left behind
    assert not (tmp_path / "r" / "index.html").exists()


def test_a_uniform_margin_at_the_substrates_level_is_not_padding():
    from sklearn_pillars.lattice import content_box

    # the synthetic frames' margin is noiseless substrate: part of the image, as before
    frame = make_pillar_arrays(n_arrays=1, random_state=0, rotation=2.0, margin=0.6)
    image = frame.array_images[0]
    assert content_box(image) == (0, image.shape[0], 0, image.shape[1])
    # the same frame pasted on black: the black goes, the substrate margin stays
    framed = _padded(image, 0, 30, 0, 50, 0)
    assert content_box(framed) == (30, framed.shape[0], 50, framed.shape[1])
