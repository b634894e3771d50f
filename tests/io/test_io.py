"""Reading images and labels: bad input gets a clear error naming the file or parameter."""

import cv2
import numpy as np
import pytest

from sklearn_pillars import NoLatticeError, read_arrays, read_image, read_labels, tile_array
from sklearn_pillars.constants import CLASSES

from ..conftest import SHARED_LABELS


@pytest.fixture
def good_bmp(tmp_path):
    path = tmp_path / "good.bmp"
    image = np.random.default_rng(0).integers(0, 256, (60, 60, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.bmp"
    with pytest.raises(FileNotFoundError, match="nope.bmp"):
        read_arrays([path])


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"{tmp_path.name}: is a folder"):
        read_image(tmp_path)


def test_text_file_named_bmp(tmp_path):
    path = tmp_path / "notes.bmp"
    path.write_text("this is not an image\n")
    with pytest.raises(ValueError, match="notes.bmp.*not a readable image"):
        read_arrays(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.png.*empty"):
        read_image(path)


@pytest.mark.parametrize("suffix", [".bmp", ".png", ".tif"])
def test_truncated_file(tmp_path, good_bmp, suffix):
    image = cv2.imread(str(good_bmp))
    ok, buffer = cv2.imencode(suffix, image)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(buffer.tobytes()[: len(buffer) // 2])
    with pytest.raises(ValueError, match=f"cut\\{suffix}"):
        read_image(path)


def test_bad_file_among_good_ones_names_the_bad_one(tmp_path, good_bmp):
    bad = tmp_path / "bad.bmp"
    bad.write_bytes(b"BM" + b"\x00" * 10)
    with pytest.raises(ValueError, match="bad.bmp"):
        read_arrays([good_bmp, bad], grid_size=3, tile_half=5)


def test_image_smaller_than_grid_names_file_and_parameter(tmp_path):
    path = tmp_path / "tiny.png"
    assert cv2.imwrite(str(path), np.zeros((10, 30), np.uint8))
    with pytest.raises(
        ValueError, match=r"tiny.png: grid_size=21 .* pitch of 0.5 pixels, below the 4"
    ):
        read_arrays(path, grid_size=21)
    # the default finds the lattice: none fits, and the file is named
    with pytest.raises(NoLatticeError, match=r"tiny.png: .*too small"):
        read_arrays(path)


def test_one_pixel_image(tmp_path):
    path = tmp_path / "dot.png"
    assert cv2.imwrite(str(path), np.zeros((1, 1), np.uint8))
    with pytest.raises(
        ValueError, match=r"dot.png: grid_size=21 on an image of 1 x 1 pixels .* below the 4"
    ):
        read_arrays(path, grid_size=21)
    with pytest.raises(NoLatticeError, match=r"dot.png: .*too small"):
        read_arrays(path)
    with pytest.raises(ValueError, match="pitch of 1.0 pixels"):
        read_arrays(path, grid_size=1, tile_half=3)
    # the smallest image of a 1 x 1 grid: a pitch of 4 pixels
    assert cv2.imwrite(str(path), np.zeros((4, 4), np.uint8))
    tiles = read_arrays(path, grid_size=1, tile_half=2, input_check="skip")
    assert tiles.images[0].shape == (4, 4)


@pytest.mark.parametrize(
    "name, value",
    [
        ("grid_size", 0),
        ("grid_size", -3),
        ("grid_size", 2.5),
        ("tile_half", 0),
        ("tile_half", -1),
        ("tile_half", True),
    ],
)
def test_bad_geometry_parameters(good_bmp, name, value):
    with pytest.raises(ValueError, match=name):
        read_arrays(good_bmp, **{name: value})
    with pytest.raises(ValueError, match=name):
        tile_array(np.zeros((60, 60), np.uint8), **{name: value})


def test_no_paths():
    with pytest.raises(ValueError, match="at least one"):
        read_arrays([])


@pytest.mark.parametrize(
    "image, error, message",
    [
        (np.zeros((0, 0), np.uint8), ValueError, "empty"),
        (np.zeros((20, 20), np.float64), TypeError, "dtype float64"),
        (np.full((20, 20), np.nan), TypeError, "dtype float64"),
        (np.zeros((20, 20, 2), np.uint8), ValueError, "shape"),
        (np.zeros((2, 20, 20, 3), np.uint8), ValueError, "shape"),
    ],
)
def test_bad_in_memory_images(image, error, message):
    with pytest.raises(error, match=message):
        tile_array(image, grid_size=2, tile_half=4)


def test_read_labels_fills_y(tmp_path, good_bmp):
    rows = ["array,row,col,label,stitch_type"]
    rows += [
        f"good,{r},{c},{'Stitching' if r == 2 else 'Good'},{'seam' if r == 2 else ''}"
        for r in range(1, 4)
        for c in range(1, 4)
    ]
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    tiles = read_arrays(good_bmp, grid_size=3, tile_half=5, labels=labels, input_check="skip")
    np.testing.assert_array_equal(tiles.y == "Stitching", tiles.positions[:, 1] == 2)
    np.testing.assert_array_equal(tiles.stitch_type == "seam", tiles.positions[:, 1] == 2)


def test_labels_missing_a_tile(tmp_path, good_bmp):
    labels = tmp_path / "labels.csv"
    labels.write_text("array,row,col,label\ngood,1,1,Good\n")
    with pytest.raises(ValueError, match="labels.csv.*no label for tile good_1,2"):
        read_arrays(good_bmp, grid_size=3, tile_half=5, labels=labels, input_check="skip")


@pytest.mark.parametrize(
    "text, message",
    [
        ("array,row,col\ngood,1,1\n", "needs columns"),
        ("array,row,col,label\ngood,1,1,Broken\n", "line 2.*unknown label 'Broken'"),
        ("array,row,col,label\ngood,x,1,Good\n", "line 2.*integers"),
    ],
)
def test_bad_label_files(tmp_path, text, message):
    labels = tmp_path / "labels.csv"
    labels.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_labels(labels)


@pytest.mark.parametrize("name", ["seed_labels.csv", "hand_labels.csv"])
def test_shared_label_files_cover_seed_arrays(shared_array_paths, name):
    path = SHARED_LABELS / name
    if not path.is_file():
        pytest.skip(f"../shared/data/labels/{name} is not present")
    tiles = read_arrays(shared_array_paths[:3], labels=path)
    assert len(tiles.y) == 1323 and set(tiles.y) <= set(CLASSES)
    names, counts = np.unique(tiles.y, return_counts=True)
    # the counts stated in ../shared/data/README.md
    assert (
        dict(zip(names, counts, strict=True))
        == {
            "seed_labels.csv": {
                "Missing": 70,
                "Collapsed": 71,
                "Stitching": 67,
                "Irregular": 18,
                "Good": 1097,
            },
            "hand_labels.csv": {
                "Missing": 69,
                "Collapsed": 69,
                "Stitching": 237,
                "Irregular": 26,
                "Good": 922,
            },
        }[name]
    )
