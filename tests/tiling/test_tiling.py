"""Tiling: the seed's lattice geometry, the X layout and the TileSet."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_pillars import (
    TileSet,
    concat_tilesets,
    iter_tile_chunks,
    read_arrays,
    tile_array,
    tile_boxes,
)
from sklearn_pillars.tiling import MAX_TILE_PITCHES, MIN_PITCH, N_META, pack_tiles, unpack_tiles


def seed_cut(image, grid_size, tile_half, tmp_path):
    """The notebook's way: slice around int((i + .5) * spacing), write BMP, read it back grey."""
    H, W = image.shape[:2]
    x_spacing, y_spacing = W / grid_size, H / grid_size
    tiles = []
    for r in range(grid_size):
        for c in range(grid_size):
            cx, cy = int((c + 0.5) * x_spacing), int((r + 0.5) * y_spacing)
            tile = image[
                max(0, cy - tile_half) : min(H, cy + tile_half),
                max(0, cx - tile_half) : min(W, cx + tile_half),
            ]
            path = str(tmp_path / f"t_{r + 1},{c + 1}.bmp")
            assert cv2.imwrite(path, tile)
            tiles.append(((r + 1, c + 1), cv2.imread(path, cv2.IMREAD_GRAYSCALE)))
    return tiles


def assert_same_tiles(tileset, reference, array_index=0):
    got = {
        (int(r), int(c)): im
        for (a, r, c), im in zip(tileset.positions, tileset.images, strict=True)
        if a == array_index
    }
    assert len(got) == len(reference)
    for pos, ref in reference:
        assert got[pos].shape == ref.shape, pos
        np.testing.assert_array_equal(got[pos], ref, err_msg=str(pos))


def test_read_arrays_equals_seed_tiles_on_shared_arrays(shared_array_paths, tmp_path):
    tiles = read_arrays(shared_array_paths, grid_size=21)
    assert len(tiles) == 4 * 441
    assert tiles.array_names == [p.stem for p in shared_array_paths]
    for index, path in enumerate(shared_array_paths):
        color = cv2.imread(str(path))  # the notebook reads colour, then cuts
        assert_same_tiles(tiles, seed_cut(color, 21, 32, tmp_path), array_index=index)
    # the real arrays have clipped edge tiles
    shapes = {im.shape for im in tiles.images}
    assert (64, 64) in shapes and len(shapes) > 1


def test_in_memory_colour_matches_file_reading(shared_array_paths):
    path = shared_array_paths[0]
    from_file = read_arrays(path)
    in_memory = tile_array(cv2.imread(str(path)), name=path.stem)
    np.testing.assert_array_equal(from_file.X, in_memory.X)


@settings(max_examples=25, deadline=None)
@given(
    grid_size=st.integers(1, 9),
    tile_half=st.integers(1, 40),
    extra_h=st.integers(0, 120),
    extra_w=st.integers(0, 120),
    color=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_tiles_equal_seed_cut_on_random_images(
    grid_size, tile_half, extra_h, extra_w, color, seed, tmp_path_factory
):
    rng = np.random.default_rng(seed)
    # the smallest image check_geometry accepts: a pitch of MIN_PITCH pixels
    height, width = MIN_PITCH * grid_size + extra_h, MIN_PITCH * grid_size + extra_w
    tile_half = min(tile_half, MAX_TILE_PITCHES * max(height, width) // grid_size // 2)
    shape = (height, width) + ((3,) if color else ())
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    tiles = tile_array(image, grid_size, tile_half, input_check="skip")
    assert_same_tiles(tiles, seed_cut(image, grid_size, tile_half, tmp_path_factory.mktemp("t")))


@settings(max_examples=60, deadline=None)
@given(
    grid_size=st.integers(1, 30),
    tile_half=st.integers(1, 50),
    height=st.integers(1, 400),
    width=st.integers(1, 400),
)
def test_grid_properties(grid_size, tile_half, height, width):
    height, width = max(height, MIN_PITCH * grid_size), max(width, MIN_PITCH * grid_size)
    tile_half = min(tile_half, MAX_TILE_PITCHES * max(height, width) // grid_size // 2)
    image = np.zeros((height, width), np.uint8)
    tiles = tile_array(image, grid_size, tile_half, input_check="skip")
    n = grid_size**2
    assert len(tiles) == n and tiles.X.shape == (n, N_META + (2 * tile_half) ** 2)
    assert len({tuple(p) for p in tiles.positions}) == n
    assert tiles.positions[:, 1:].min() == 1 and tiles.positions[:, 1:].max() == grid_size
    # each tile's shape follows the seed's formula
    r, c = tiles.positions[:, 1] - 1, tiles.positions[:, 2] - 1
    cy = ((r + 0.5) * (height / grid_size)).astype(int)
    cx = ((c + 0.5) * (width / grid_size)).astype(int)
    expect_h = np.minimum(height, cy + tile_half) - np.maximum(0, cy - tile_half)
    expect_w = np.minimum(width, cx + tile_half) - np.maximum(0, cx - tile_half)
    got = np.array([im.shape for im in tiles.images])
    np.testing.assert_array_equal(got, np.stack([expect_h, expect_w], axis=1))
    np.testing.assert_array_equal(tiles.X[:, 3:5], got)
    assert (got >= 1).all()


@settings(max_examples=30, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(12, 60), st.integers(12, 60))), st.integers(1, 3))
def test_x_round_trips_to_the_tiles(image, grid_size):
    tiles = tile_array(image, grid_size, tile_half=4, input_check="skip")
    positions, shapes, canvas = unpack_tiles(tiles.X)
    np.testing.assert_array_equal(positions, tiles.positions)
    for im, (h, w), padded in zip(tiles.images, shapes, canvas, strict=True):
        assert im.shape == (h, w)
        np.testing.assert_array_equal(padded[:h, :w], im)
        assert not padded[h:].any() and not padded[:, w:].any()


def test_uint16_keeps_high_byte_like_imread(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 2**16, (90, 80), dtype=np.uint16)
    path = tmp_path / "a16.png"
    assert cv2.imwrite(str(path), image)
    from_file = read_arrays(path, grid_size=3, tile_half=10, input_check="skip")
    np.testing.assert_array_equal(from_file.X, tile_array(image, 3, 10, input_check="skip").X)
    assert from_file.images[4].max() == (image >> 8)[30:50, 26:46].max()


@pytest.mark.parametrize("suffix", [".bmp", ".png", ".tif"])
def test_read_arrays_formats_agree(tmp_path, suffix):
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (70, 75), dtype=np.uint8)
    path = tmp_path / f"a{suffix}"
    assert cv2.imwrite(str(path), grey)
    tiles = read_arrays([path], grid_size=5, tile_half=6, input_check="skip")
    np.testing.assert_array_equal(tiles.X, tile_array(grey, 5, 6, input_check="skip").X)
    assert tiles.array_names == ["a"]


def test_tileset_indexing_and_concat():
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    a = tile_array(noise, 4, 5, name="a", input_check="skip")
    b = tile_array(
        rng.integers(0, 256, (50, 45), dtype=np.uint8), 4, 5, name="b", input_check="skip"
    )
    both = concat_tilesets([a, b])
    assert both.array_names == ["a", "b"] and len(both) == 32
    np.testing.assert_array_equal(both.X[16:, 0], 1)
    np.testing.assert_array_equal(both.positions[16:, 0], 1)
    assert both.tile_names[16] == "b_1,1"
    assert both.array_images[1] is b.array_images[0]

    mask = both.positions[:, 1] == 2
    part = both[mask]
    assert isinstance(part, TileSet) and len(part) == 8
    np.testing.assert_array_equal(part.X, both.X[mask])
    assert all(x is both.images[i] for x, i in zip(part.images, np.flatnonzero(mask), strict=True))
    assert part.array_names == both.array_names
    assert len(both[[0, 5, 31]]) == 3 and len(both[::2]) == 16
    with pytest.raises(TypeError, match="slice"):
        both[0]


def test_iter_tile_chunks_covers_the_grid_once():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (230, 200), dtype=np.uint8)
    whole = tile_array(image, 7, 9, input_check="skip")
    chunks = list(iter_tile_chunks(image, 7, 9, chunk_rows=3, input_check="skip"))
    assert [len(c) for c in chunks] == [21, 21, 7]
    np.testing.assert_array_equal(concat_tilesets(chunks).X[:, 1:], whole.X[:, 1:])


def test_pack_rejects_oversized_tiles():
    with pytest.raises(ValueError, match="1..4"):
        pack_tiles([np.zeros((5, 4), np.uint8)], [[0, 1, 1]], tile_size=4)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda X: X[:, :-1], "not the tile-set layout"),
        (lambda X: X.__setitem__((0, 7), np.nan) or X, "grey levels"),
        (lambda X: X.__setitem__((0, 7), 300.0) or X, "grey levels"),
        (lambda X: X.__setitem__((0, 7), 1.5) or X, "grey levels"),
        (lambda X: X.__setitem__((0, 3), 0) or X, "height/width"),
        (lambda X: X.__setitem__((0, 4), 9) or X, "height/width"),
        (lambda X: X.__setitem__((0, 1), np.inf) or X, "non-finite"),
        (lambda X: X.__setitem__((0, 2), 2.5) or X, "integers"),
    ],
)
def test_unpack_rejects_bad_x(mutate, message):
    X = tile_array(np.full((20, 20), 7, np.uint8), 2, 4, input_check="skip").X.copy()
    with pytest.raises(ValueError, match=message):
        unpack_tiles(mutate(X))


def test_tile_boxes_example_and_order():
    boxes = tile_boxes(100, 120, grid_size=2, tile_half=10)
    # row-major: (row 0, col 0), (row 0, col 1), (row 1, col 0), ...
    np.testing.assert_array_equal(
        boxes, [[20, 15, 40, 35], [80, 15, 100, 35], [20, 65, 40, 85], [80, 65, 100, 85]]
    )


def test_iter_tile_chunks_halo_adds_clipped_rows():
    image = np.random.default_rng(5).integers(0, 256, (100, 100), dtype=np.uint8)
    bands = list(iter_tile_chunks(image, 10, 6, chunk_rows=4, halo=1, input_check="skip"))
    assert [sorted(set(b.positions[:, 1])) for b in bands] == [
        [1, 2, 3, 4, 5],
        [4, 5, 6, 7, 8, 9],
        [8, 9, 10],
    ]
    with pytest.raises(ValueError, match="halo"):
        next(iter_tile_chunks(image, 10, 6, halo=-1, input_check="skip"))
