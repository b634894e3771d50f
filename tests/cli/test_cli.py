"""The sklearn-pillars command: reports, saved models, exit codes and messages."""

import csv
import html
import re
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_pillars import __version__, make_pillar_arrays
from sklearn_pillars.cli import main
from sklearn_pillars.exceptions import ModelFileError
from sklearn_pillars.peel import load_model, save_model
from sklearn_pillars.report import _stream as report_stream
from sklearn_pillars.report import _write as report_write
from sklearn_pillars.report import defect_map
from sklearn_pillars.report import slugs as report_slugs
from sklearn_pillars.report._maps import SITE_MARK, _bgr

from ..conftest import write_array_images

STAGES = ("missing", "collapsed", "stitching", "irregular")


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def array_files(tmp_path_factory):
    """Three synthetic arrays as PNG files, and their ground truth."""
    folder = tmp_path_factory.mktemp("arrays")
    tiles = make_pillar_arrays(n_arrays=3, grid_size=21, random_state=4)
    return write_array_images(folder, tiles), tiles


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_demo_report_is_complete(demo_report):
    code, out = demo_report
    assert code == 0
    tiles = rows(out / "tiles.csv")
    assert len(tiles) == 3 * 441
    assert set(tiles[0]) >= {"array", "row", "col", "label", "inconsistency", "truth"}
    labels = {t["label"] for t in tiles}
    assert labels <= {"Missing", "Collapsed", "Stitching", "Irregular", "Good"}
    # the score is there exactly for tiles that reached the last layer
    for t in tiles:
        assert (t["inconsistency"] == "") == (t["label"] not in ("Irregular", "Good"))
    summary = rows(out / "summary.csv")
    assert [r["array"] for r in summary] == [
        "synthetic_0",
        "synthetic_1",
        "synthetic_2",
        "(all arrays)",
    ]
    for r in summary:
        n = int(r["tiles"])
        assert (
            sum(
                int(r[f"n_{c}"]) for c in ("Missing", "Collapsed", "Stitching", "Irregular", "Good")
            )
            == n
        )
        # the yield leaves out the sites under image seams (not seen clearly)
        seam, field = int(r["n_seam"]), int(r["n_field"])
        assert seam + field == int(r["n_Stitching"])  # the default preset tells each kind
        assert float(r["yield"]) == pytest.approx(int(r["n_Good"]) / (n - seam), abs=1e-4)
    for name in ("synthetic_0", "synthetic_1", "synthetic_2"):
        assert (out / f"map_{name}.png").is_file()
    for label in labels:
        assert (out / f"gallery_{label}.png").is_file()
    for stage in STAGES:
        assert (out / f"stage_{stage}.png").is_file()
    assert (out / "inconsistent_most.png").is_file() and (out / "inconsistent_least.png").is_file()
    page = (out / "index.html").read_text()
    accuracy = np.mean([t["label"] == t["truth"] for t in tiles])
    shown = re.search(r"accuracy ([\d.]+)%", page)
    assert shown and float(shown.group(1)) == pytest.approx(100 * accuracy, abs=0.051)
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len([r for r in referenced if r.endswith(".png")]) >= 3 + len(labels) + 4 + 2
    for ref in referenced:  # a file of the report (a link into the review page: its file)
        assert (out / ref.split("#")[0]).is_file(), ref
    assert not list(out.glob("*.part")) and not list(out.glob(".*"))


def test_pngs_are_real_images(demo_report):
    _, out = demo_report
    for png in out.glob("*.png"):
        image = cv2.imread(str(png))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100, png
        assert image.std() > 10, f"{png} looks blank"


@pytest.mark.slow
def test_fit_then_inspect_a_new_array_with_the_saved_model(array_files, tmp_path, capsys):
    paths, truth = array_files
    for suffix in (".skops", ".joblib"):
        model = tmp_path / f"model{suffix}"
        code, _, err = run(["fit", *paths[:2], "--model", model], capsys)
        assert code == 0 and model.is_file(), err
        out = tmp_path / f"report{suffix}"
        trust = ["--trust-model"] if suffix == ".joblib" else []
        code, _, err = run(["inspect", paths[2], "--model", model, "--out", out, *trust], capsys)
        assert code == 0, err
        tiles = rows(out / "tiles.csv")
        assert len(tiles) == 441 and {t["array"] for t in tiles} == {"synthetic_2"}
        assert "report written" in err
    loaded, info = load_model(tmp_path / "model.skops")
    profiles = info.pop("profiles")
    pitch = info.pop("pitch")
    # the defaults: the refined preset on the lattice found in each image
    assert info == {
        "version": __version__,
        "grid_size": "auto",
        "tile_half": 32,
        "preset": "refined",
    }
    assert pitch == pytest.approx(54, abs=0.3)  # drawn at 54 pixels
    assert len(profiles) == 2 and all(
        p["lattice_score"] > 0.3 and p["pitch"] == pytest.approx(54, abs=0.3) for p in profiles
    )
    # the loaded model labels the new array as the command did with it
    from sklearn_pillars import read_arrays

    shown = rows(tmp_path / "report.skops" / "tiles.csv")
    predicted = loaded.predict(read_arrays(paths[2]).X)
    assert [t["label"] for t in shown] == predicted.tolist()


def test_tsne_with_a_saved_model_is_refused_not_dropped(array_files, tmp_path, capsys):
    paths, _ = array_files
    model = tmp_path / "m.skops"
    assert run(["fit", paths[0], "--model", model, "-q"], capsys)[0] == 0
    out = tmp_path / "r"
    code, _, err = run(["inspect", paths[1], "--model", model, "--tsne", "--out", out], capsys)
    assert code == 2 and "--tsne adds t-SNE plots to the layers' figures" in err
    assert not out.exists()


@pytest.mark.slow
def test_python_dash_m_and_help():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_pillars", "inspect", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--demo" in result.stdout and "--model" in result.stdout
    top = subprocess.run(
        [sys.executable, "-m", "sklearn_pillars", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert top.returncode == 0, top.stderr
    assert "examples:" in top.stdout and "--trust-model" in top.stdout
    assert "exit codes" in top.stdout


@pytest.fixture
def text_as_bmp(tmp_path):
    path = tmp_path / "notes.bmp"
    path.write_text("not an image")
    return path


@pytest.mark.parametrize(
    "case",
    [
        "missing-array",
        "not-an-image",
        "demo-and-arrays",
        "nothing",
        "bad-grid",
        "bad-suffix",
        "missing-model",
        "corrupt-model",
        "unknown-option",
        "tiny-image",
        "tiny-image-auto",
        "out-is-a-file",
        "bad-tile-half",
        "inspect-bad-suffix",
        "no-model-folder",
        "twice",
    ],
)
def test_bad_input_gives_exit_code_and_one_line(case, tmp_path, text_as_bmp, array_files, capsys):
    paths, _ = array_files
    out = tmp_path / "out"
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((5, 5), np.uint8))
    corrupt = tmp_path / "bad.skops"
    corrupt.write_bytes(b"garbage")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = {
        "missing-array": (["inspect", tmp_path / "nope.bmp", "--out", out], 2, "nope.bmp"),
        "not-an-image": (["inspect", text_as_bmp, "--out", out], 1, "notes.bmp"),
        "demo-and-arrays": (["inspect", "--demo", paths[0], "--out", out], 2, "not both"),
        "nothing": (["inspect", "--out", out], 2, "no array images"),
        "bad-grid": (["inspect", "--demo", "--grid-size", "0", "--out", out], 2, "--grid-size"),
        "bad-suffix": (["fit", paths[0], "--model", tmp_path / "m.pkl"], 2, ".skops or .joblib"),
        "missing-model": (
            ["inspect", paths[0], "--model", tmp_path / "x.skops", "--out", out],
            2,
            "x.skops",
        ),
        "corrupt-model": (["inspect", paths[0], "--model", corrupt, "--out", out], 1, "bad.skops"),
        "tiny-image": (["inspect", tiny, "--grid-size", "21", "--out", out], 2, "tiny.png"),
        "tiny-image-auto": (["inspect", tiny, "--out", out], 1, "tiny.png"),
        "out-is-a-file": (["inspect", "--demo", "--out", a_file], 2, "not a folder"),
        "bad-tile-half": (
            ["inspect", "--demo", "--tile-half", "-4", "--out", out],
            2,
            "--tile-half",
        ),
        "inspect-bad-suffix": (
            ["inspect", paths[0], "--model", a_file, "--out", out],
            2,
            ".skops or .joblib",
        ),
        "no-model-folder": (
            ["fit", paths[0], "--model", tmp_path / "nodir" / "m.skops"],
            2,
            "does not exist",
        ),
        "twice": (["inspect", paths[0], paths[0], "--out", out], 2, "given twice"),
    }
    if case == "unknown-option":
        with pytest.raises(SystemExit) as exc:
            main(["inspect", "--demo", "--out", str(out), "--colour", "red"])
        assert exc.value.code == 2
        return
    args, expected_code, fragment = cases[case]
    code, _, err = run(args, capsys)
    assert code == expected_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in err, err


def test_debug_shows_the_traceback(text_as_bmp, tmp_path, capsys):
    code, _, err = run(["inspect", text_as_bmp, "--out", tmp_path / "o", "--debug"], capsys)
    assert code == 1 and "Traceback" in err


@pytest.mark.slow
def test_refuses_a_non_empty_folder_unless_forced(tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(["inspect", "--demo", "--out", out, "--quiet"], capsys)
    assert code == 2 and "not empty" in err and "--force" in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    code, _, err = run(["inspect", "--demo", "--out", out, "--quiet", "--force"], capsys)
    assert code == 0 and (out / "index.html").is_file() and (out / "keep.txt").exists()
    assert err == ""  # --quiet: nothing on stderr


def test_never_writes_over_inputs(array_files, tmp_path, capsys):
    paths, _ = array_files
    code, _, err = run(["inspect", paths[0], "--out", paths[0].parent, "--force"], capsys)
    assert code == 2 and "input" in err
    code, _, err = run(["fit", paths[0], "--model", paths[0]], capsys)
    assert code == 2
    model = tmp_path / "m.skops"
    model.write_text("existing")
    code, _, err = run(["fit", paths[0], "--model", model], capsys)
    assert code == 2 and "exists" in err and model.read_text() == "existing"


def test_an_interrupted_report_leaves_no_partial_files(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    for module in (report_write, report_stream):
        monkeypatch.setattr(module, "tile_mosaic", broken)
    out = tmp_path / "r"
    code, _, err = run(["inspect", "--demo", "--out", out, "--quiet"], capsys)
    assert code == 1 and "disk full" in err
    assert not out.exists()  # all or nothing: the folder this run made is gone


def test_tiles_must_match_the_model_and_the_grid_may_not(array_files, tmp_path, capsys):
    paths, _ = array_files
    model = tmp_path / "m.skops"
    assert run(["fit", paths[0], "--model", model, "--quiet"], capsys)[0] == 0
    code, _, err = run(
        ["inspect", paths[1], "--model", model, "--tile-half", "20", "--out", tmp_path / "o"],
        capsys,
    )
    assert code == 2 and "--tile-half 20 differs from the model's 32" in err
    # a grid of another size is the arrays' business: 20 x 20 sites of this image are cut
    # (and refused: the image shows a lattice of 21)
    code, _, err = run(
        ["inspect", paths[1], "--model", model, "--grid-size", "20", "--out", tmp_path / "o"],
        capsys,
    )
    assert code == 1 and "lattice" in err and "differs" not in err


def test_models_from_another_version_warn(tmp_path, monkeypatch):
    from sklearn_pillars import LayeredPeelClassifier
    from sklearn_pillars.peel import _persist as persist

    tiles = make_pillar_arrays(n_arrays=1, grid_size=8, random_state=0)
    model = LayeredPeelClassifier().fit(tiles.X)
    monkeypatch.setattr(persist, "__version__", "0.0.1")
    save_model(model, tmp_path / "old.skops", grid_size=8, tile_half=32)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="saved by sklearn-pillars 0.0.1"):
        loaded, info = load_model(tmp_path / "old.skops")
    np.testing.assert_array_equal(loaded.predict(tiles.X), model.predict(tiles.X))


class Foreign:
    """A type the safe loader must refuse."""


def test_skops_refuses_foreign_types(tmp_path):
    import skops.io as sio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sio.dump({"format": "sklearn-pillars model", "model": Foreign()}, tmp_path / "x.skops")
    with pytest.raises(ModelFileError, match="refusing to load.*Foreign"):
        load_model(tmp_path / "x.skops")


def test_force_replaces_a_model_and_clears_an_old_report(array_files, tmp_path, capsys):
    paths, _ = array_files
    model = tmp_path / "m.skops"
    model.write_text("old")
    assert run(["fit", paths[0], "--model", model, "--force", "--quiet"], capsys)[0] == 0
    assert load_model(model)[1]["grid_size"] == "auto"
    out = tmp_path / "r"
    out.mkdir()
    (out / "gallery_Stale.png").write_bytes(b"old")
    (out / "notes.txt").write_text("mine")
    assert (
        run(["inspect", paths[1], "--model", model, "--out", out, "--force", "-q"], capsys)[0] == 0
    )
    assert not (out / "gallery_Stale.png").exists()  # no earlier report file looks current
    assert (out / "notes.txt").read_text() == "mine"  # anything else is left alone


def test_same_file_names_in_two_folders_stay_apart(array_files, tmp_path, capsys):
    paths, _ = array_files
    first, second = tmp_path / "a" / "x.png", tmp_path / "b" / "x.png"
    for src, dst in ((paths[0], first), (paths[1], second)):
        dst.parent.mkdir()
        dst.write_bytes(src.read_bytes())
    out = tmp_path / "r"
    assert run(["inspect", first, second, "--out", out, "-q"], capsys)[0] == 0
    names = [r["array"] for r in rows(out / "summary.csv")][:2]
    assert len(set(names)) == 2 and all("x" in n for n in names)
    assert len(list(out.glob("map_*.png"))) == 2


def test_warnings_are_one_line(tmp_path, capsys):
    tiny = tmp_path / "few.png"
    cv2.imwrite(str(tiny), np.full((40, 40), 90, np.uint8))
    code, _, err = run(
        [
            "inspect",
            tiny,
            "--grid-size",
            "1",
            "--tile-half",
            "10",
            "--out",
            tmp_path / "r",
            "--force-input",
        ],
        capsys,
    )
    assert code == 0 and "is blank" in err
    warning_lines = [line for line in err.splitlines() if "warning:" in line]
    assert warning_lines and all(
        line.startswith("sklearn-pillars: warning: ") for line in warning_lines
    )
    assert "LayeredPeelClassifier()" not in err  # no source lines


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["A", "a", "A_2", "x y", "x_y", "", "..", "é/ü", "B"]), max_size=12)
)
def test_report_file_names_are_unique(names):
    slugs = report_slugs(names)
    assert len(slugs) == len(names)
    assert len({s.lower() for s in slugs}) == len(slugs)  # also on case-insensitive disks
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", s) for s in slugs)


def test_a_model_file_without_a_model_is_refused(tmp_path):
    import joblib

    joblib.dump({"format": "sklearn-pillars model", "version": __version__}, tmp_path / "m.joblib")
    with pytest.raises(ModelFileError, match="not an sklearn-pillars model.*has run"):
        load_model(tmp_path / "m.joblib", trusted=True)
    joblib.dump(
        {
            "format": "sklearn-pillars model",
            "version": __version__,
            "grid_size": 21,
            "tile_half": 32,
            "model": "hello",
        },
        tmp_path / "s.joblib",
    )
    with pytest.raises(ModelFileError, match="fitted LayeredPeelClassifier"):
        load_model(tmp_path / "s.joblib", trusted=True)


@pytest.mark.slow
def test_stages_refined_records_the_preset_and_the_stitch_kinds(array_files, tmp_path, capsys):
    paths, truth = array_files
    model = tmp_path / "refined.skops"
    code, _, err = run(["fit", *paths[:2], "--model", model, "--stages", "refined"], capsys)
    assert code == 0, err
    assert load_model(model)[1]["preset"] == "refined"
    out = tmp_path / "report"
    code, _, err = run(["inspect", paths[2], "--model", model, "--out", out], capsys)
    assert code == 0, err
    tiles = rows(out / "tiles.csv")
    kinds = {t["stitch_kind"] for t in tiles if t["label"] == "Stitching"}
    assert kinds and kinds <= {"seam", "field"}
    assert all(t["stitch_kind"] == "" for t in tiles if t["label"] != "Stitching")
    assert html.escape("preset 'refined'") in (out / "index.html").read_text()
    # the notebook preset tells no kinds apart: the column is there, empty
    out = tmp_path / "notebook"
    code, _, err = run(["inspect", paths[2], "--stages", "notebook", "--out", out], capsys)
    # refused on found lattices (the default), where its labels are unreliable
    assert code == 2 and "--grid-size 21" in err and not out.exists(), err
    code, _, err = run(
        ["inspect", paths[2], "--stages", "notebook", "--grid-size", "21", "--out", out], capsys
    )
    assert code == 0, err
    assert {t["stitch_kind"] for t in rows(out / "tiles.csv")} == {""}
    # --stages chooses how to fit: with a saved model it is a usage error
    code, _, err = run(
        ["inspect", paths[2], "--model", model, "--stages", "notebook", "--out", tmp_path / "x"],
        capsys,
    )
    assert code == 2 and "--stages" in err


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory):
    """Three synthetic frames as a microscope gives them: 9 x 12 sites, rotated by 2
    degrees in a margin; and one of the same at a 25% larger pitch."""
    folder = tmp_path_factory.mktemp("frames")
    tiles = make_pillar_arrays(
        n_arrays=3,
        grid_size=12,
        shape=(9, 12),
        random_state=6,
        rotation=2.0,
        margin=0.6,
        derotate=False,
    )
    paths = []
    for name, image in zip(tiles.array_names, tiles.array_images, strict=True):
        paths.append(folder / f"{name}.png")
        assert cv2.imwrite(str(paths[-1]), image)
    coarse = make_pillar_arrays(
        n_arrays=1, shape=(7, 9), random_state=7, pitch=68, margin=0.5, derotate=False
    )
    paths.append(folder / "coarse.png")
    assert cv2.imwrite(str(paths[-1]), coarse.array_images[0])
    return paths, tiles


def test_grid_auto_finds_prints_and_draws_the_lattice(frame_files, tmp_path, capsys):
    paths, _ = frame_files
    out = tmp_path / "report"
    code, _, err = run(["inspect", *paths[:3], "--grid", "auto", "--out", out], capsys)
    assert code == 0, err
    for name in ("synthetic_0", "synthetic_1", "synthetic_2"):
        assert re.search(
            rf"{name}: 9 x 12 sites, pitch 54\.\d\d x 54\.\d\d px, rotated "
            r"\+[12]\.\d\d deg \(turned upright\)",
            err,
        ), err
    tiles = rows(out / "tiles.csv")
    assert len(tiles) == 3 * 9 * 12
    assert {(int(t["row"]), int(t["col"])) for t in tiles} == {
        (r, c) for r in range(1, 10) for c in range(1, 13)
    }
    page = (out / "index.html").read_text()
    assert "found in each image" in page
    picture = cv2.imread(str(out / "map_synthetic_0.png"))
    # the overlay: a mark at every site, in its own colour
    mark = np.array(_bgr(SITE_MARK))
    assert (np.abs(picture.astype(int) - mark).sum(axis=2) < 30).sum() > 108 * 8


def test_a_model_fitted_on_found_lattices_keeps_its_pitch(frame_files, tmp_path, capsys):
    paths, _ = frame_files
    model = tmp_path / "model.skops"
    code, _, err = run(["fit", *paths[:2], "--grid-size", "auto", "--model", model], capsys)
    assert code == 0, err
    assert "synthetic_0.png: 9 x 12 sites" in err
    _, info = load_model(model)
    assert info["grid_size"] == "auto" and info["pitch"] == pytest.approx(54, abs=0.3)
    # the same pitch: no warning; a pitch 25% larger is brought to the tiles' pitch first
    code, _, err = run(["inspect", paths[2], "--model", model, "--out", tmp_path / "a"], capsys)
    assert code == 0 and "far outside" not in err, err
    code, _, err = run(["inspect", paths[3], "--model", model, "--out", tmp_path / "b"], capsys)
    assert code == 0 and "far outside" not in err, err
    assert re.search(
        r"coarse: 7 x 9 sites, pitch 5[34]\.\d\d x 5[34]\.\d\d px \(image magnified 0\.79x\)", err
    ), err
    assert len(rows(tmp_path / "b" / "tiles.csv")) == 63
    # a pitch too fine to enlarge to the tiles' (more than 1.5x) gets a warning naming it
    fine = make_pillar_arrays(
        n_arrays=1, shape=(7, 9), random_state=7, pitch=30, margin=0.5, derotate=False
    )
    assert cv2.imwrite(str(tmp_path / "fine.png"), fine.array_images[0])
    code, _, err = run(
        ["inspect", tmp_path / "fine.png", "--model", model, "--out", tmp_path / "c"], capsys
    )
    assert code == 0, err
    assert "(image magnified 1.50x)" in err, err
    assert re.search(r"fine: its pitch 4[45]\.\d is far outside the 5[34]\.\d-54\.\d", err), err


def test_grid_auto_refuses_an_image_without_a_lattice(tmp_path, capsys):
    noise = np.random.default_rng(1).integers(0, 256, (300, 300), dtype=np.uint8)
    path = tmp_path / "noise.png"
    cv2.imwrite(str(path), noise)
    code, _, err = run(["inspect", path, "--grid", "auto", "--out", tmp_path / "r"], capsys)
    assert code == 1
    assert "noise.png: no periodic pillar lattice found" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "index.html").exists()


@pytest.mark.parametrize("value", ["xauto", "auto21", "-1", "2.5"])
def test_grid_option_values(value, tmp_path, capsys):
    code, _, err = run(["inspect", "--demo", "--grid-size", value, "--out", tmp_path / "r"], capsys)
    assert code == 2 and "--grid-size must be a whole number" in err


@pytest.mark.parametrize(("signum", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupt_while_a_module_initialises_is_an_interrupt(
    signum, code, tmp_path, capsys, monkeypatch
):
    """A signal in a compiled module's initialisation reaches the command as
    "ImportError: initialization failed" (seen once in CI): it is still an interrupt, not
    a missing extra."""
    import signal

    from sklearn_pillars.cli import _main as cli
    from sklearn_pillars.cli import _signals

    def initialising(args):
        _signals._RECEIVED.append(getattr(signal, signum))  # what the run's handler records
        raise ImportError("initialization failed")

    monkeypatch.setattr(cli, "cmd_inspect", initialising)
    result, _, err = run(["inspect", "--demo", "--out", tmp_path / "r"], capsys)
    assert result == code
    assert "install" not in err and ("interrupted" in err or "terminated" in err)


@pytest.mark.slow
def test_demo_grid_auto_finds_the_frames_lattices(tmp_path, capsys):
    code, _, err = run(["inspect", "--demo", "--grid", "auto", "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    assert (
        len(
            re.findall(
                r"synthetic_\d: 21 x 21 sites, pitch 54\.\d\d x 54\.\d\d px, "
                r"rotated \+[12]\.\d\d deg \(turned upright\)",
                err,
            )
        )
        == 3
    ), err
    assert len(rows(tmp_path / "r" / "tiles.csv")) == 3 * 441


def test_a_map_of_uniform_tiles_in_an_auto_report(tmp_path):
    """concat_tilesets mixes found and uniform arrays; the map of a uniform one in a
    grid_size="auto" report takes its grid from the positions."""
    from sklearn_pillars.report import CLASS_COLORS
    from sklearn_pillars.report._maps import MAP_WIDTH

    tiles = make_pillar_arrays(1, grid_size=6, shape=(4, 6), random_state=1)
    positions = tiles.positions[:, 1:]
    assert positions.max(axis=0).tolist() == [4, 6]
    labels = np.full(len(positions), "Good", dtype=object)
    labels[(positions == [1, 1]).all(axis=1)] = "Collapsed"  # the first site
    labels[(positions == [4, 6]).all(axis=1)] = "Missing"  # the last site
    path = tmp_path / "map.png"
    defect_map(path, tiles.array_images[0], "a", "auto", positions, labels)
    drawn = cv2.imread(str(path))

    def outline(label):  # the largest shape drawn in the class's colour (not its legend line)
        mask = np.all(drawn == _bgr(CLASS_COLORS[label]), axis=2).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        x, y, w, h, _ = stats[1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])]
        return x, y, x + w, y + h

    first, last = outline("Collapsed"), outline("Missing")
    # the image is 6 x 4 pitches, so a grid of 4 rows and 6 columns has square cells ...
    for x0, y0, x1, y1 in (first, last):
        assert abs((x1 - x0) / (y1 - y0) - 1) < 0.05, (first, last)
    # ... and the first and last sites' outlines span the picture, MAP_WIDTH across (less
    # their 2 px insets, plus their 2 px lines)
    assert abs(last[2] - first[0] - MAP_WIDTH) <= 4, (first, last)
    assert abs(last[3] - first[1] - MAP_WIDTH * 4 / 6) <= 4, (first, last)


@pytest.mark.parametrize(
    ("pitch", "warns"), [(48.0, True), (49.0, False), (54.0, False), (59.0, False), (60.0, True)]
)
def test_a_pitch_more_than_ten_percent_off_warns(pitch, warns):
    from sklearn_pillars.lattice import drift_warnings

    messages = drift_warnings([{"pitch": pitch}], [{"pitch": 54.0}], ["new"])
    assert bool(messages) == warns
    assert all("new: its pitch" in m for m in messages)
