"""read_array: one array image read, checked and placed, as read_arrays does for many."""

import cv2
import numpy as np
import pytest

from sklearn_pillars import NotAnArrayError, make_pillar_arrays, read_arrays
from sklearn_pillars.tiling import PlacedArray, build_tileset, read_array


def write(tmp_path, name, image):
    path = tmp_path / name
    assert cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize(
    ("grid_size", "frame"),
    [(6, {}), ("auto", {"rotation": 2.0, "margin": 0.8})],
)
def test_the_placed_array_cuts_the_tiles_read_arrays_gives(tmp_path, grid_size, frame):
    image = make_pillar_arrays(1, grid_size=6, random_state=4, **frame).array_images[0]
    path = write(tmp_path, "wafer.png", image)
    placed = read_array(path, grid_size, 16)
    tiles = read_arrays([path], grid_size, 16)
    assert isinstance(placed, PlacedArray) and placed.path == path
    assert placed.shape == (6, 6)
    assert (placed.lattice is None) == (grid_size != "auto")
    rebuilt = build_tileset(
        [placed.image],
        ["wafer"],
        None if placed.lattice is not None else grid_size,
        16,
        lattices=None if placed.lattice is None else [placed.lattice],
    )
    np.testing.assert_array_equal(rebuilt.X, tiles.X)
    np.testing.assert_array_equal(placed.boxes, tiles.boxes)
    np.testing.assert_array_equal(placed.positions, tiles.positions[:, 1:])
    assert placed.profile == tiles.array_profiles[0]
    height, width = placed.image.shape
    assert placed.boxes[:, [0, 1]].min() >= 0
    assert (placed.boxes[:, 2] <= width).all() and (placed.boxes[:, 3] <= height).all()


def test_input_check_decides_what_a_blank_image_gives(tmp_path):
    path = write(tmp_path, "blank.png", np.full((120, 120), 90, np.uint8))
    with pytest.raises(NotAnArrayError, match="blank"):
        read_array(path, 6, 8)
    with pytest.warns(UserWarning, match="blank"):
        assert read_array(path, 6, 8, input_check="warn").profile is not None
    assert read_array(path, 6, 8, input_check="skip").profile is None


def test_bad_arguments_and_files_are_named(tmp_path):
    image = make_pillar_arrays(1, grid_size=6, random_state=0).array_images[0]
    path = write(tmp_path, "wafer.png", image)
    with pytest.raises(ValueError, match="derotate"):
        read_array(path, 6, 16, derotate="sometimes")
    with pytest.raises(ValueError, match="rescale"):
        read_array(path, "auto", 16, rescale=2)
    with pytest.raises(ValueError, match="tile_half"):
        read_array(path, 6, 0)
    with pytest.raises(ValueError, match=r"wafer.png: grid_size=200"):
        read_array(path, 200, 16)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(ValueError, match="broken.png"):
        read_array(broken, 6, 16)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_array(tmp_path / "missing.png", 6, 16)
