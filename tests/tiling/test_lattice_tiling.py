"""Tiles cut around a found lattice: tile_array / read_arrays / iter_tile_chunks with
``grid_size="auto"`` or a Lattice, on synthetic frames whose true sites are known."""

import cv2
import numpy as np
import pytest

from sklearn_pillars import (
    Lattice,
    LayeredPeelClassifier,
    NoLatticeError,
    concat_tilesets,
    find_lattice,
    iter_tile_chunks,
    make_pillar_arrays,
    read_arrays,
    tile_array,
)
from sklearn_pillars.tiling import DEROTATE_ANGLE, lattice_boxes


def box_centres(tiles):
    """Centre (x, y) of each tile's box, in the pixel-centre coordinates of a Lattice."""
    x0, y0, x1, y1 = tiles.boxes.T
    return np.stack([(x0 + x1) / 2 - 0.5, (y0 + y1) / 2 - 0.5], axis=1)


def unclipped(tiles):
    return (tiles.X[:, 3] == tiles.tile_size) & (tiles.X[:, 4] == tiles.tile_size)


@pytest.fixture(scope="module")
def frames():
    """Two frames with a margin and a gradient, not rotated; their truth tiles."""
    return make_pillar_arrays(
        2, grid_size=9, random_state=3, margin=(1.2, 0.4, 0.8, 1.5), gradient=25
    )


def test_auto_tiles_are_centred_on_the_true_sites(frames):
    for index, image in enumerate(frames.array_images):
        tiles = tile_array(image, "auto", name="frame")
        truth = frames.lattices[index]
        assert tiles.lattices[0].shape == truth.shape == (9, 9)
        assert len(tiles) == 81
        off = box_centres(tiles) - truth.centers.reshape(-1, 2)
        # boxes are whole pixels: up to half a pixel of rounding on top of the lattice's error
        assert np.sqrt(np.mean(np.sum(off**2, axis=1))) < 1.5
        assert np.abs(off).max() <= 2  # every tile, not only on average
        assert np.all(np.abs(off.mean(axis=0)) < 0.75)  # no shift shared by all
        assert tiles.array_images[0] is image or np.array_equal(tiles.array_images[0], image)
        assert unclipped(tiles).all()  # the margin leaves room for whole tiles


def test_labels_and_tiles_of_a_frame_line_up(frames):
    """make_pillar_arrays cuts a frame around its true sites; cutting around the found
    ones gives the same tiles, give or take a pixel."""
    tiles = tile_array(frames.array_images[0], lattice="auto")
    truth = frames[frames.positions[:, 0] == 0]
    assert np.array_equal(tiles.positions[:, 1:], truth.positions[:, 1:])
    assert np.abs(tiles.boxes - truth.boxes).max() <= 2


@pytest.mark.parametrize("rotation", [-3.5, 2.0])
def test_a_rotated_frame_is_turned_upright(rotation):
    tiles = make_pillar_arrays(1, grid_size=8, random_state=5, rotation=rotation, margin=1.0)
    image = tiles.array_images[0]  # already upright: the truth tiles were derotated
    assert abs(tiles.lattices[0].angle) < 0.1
    # a frame as the microscope gives it: rotate the upright one back
    h, w = image.shape
    turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), rotation, 1.0)
    frame = cv2.warpAffine(
        image, turn, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    found = find_lattice(frame)
    assert abs(found.angle - rotation) < 0.2
    upright = tile_array(frame, "auto")
    assert abs(upright.lattices[0].angle) < 0.1
    assert upright.array_images[0].shape[0] > h and upright.array_images[0].shape[1] > w
    assert len(upright) == 64
    assert upright.lattices[0].turned == pytest.approx(found.angle)
    kept = tile_array(frame, "auto", derotate=False)
    assert abs(kept.lattices[0].angle - rotation) < 0.2
    assert kept.array_images[0] is frame and kept.lattices[0].turned == 0
    # the upright lattice maps back onto the one found in the frame
    back = cv2.invertAffineTransform(upright.lattices[0].warp)
    centers = upright.lattices[0].centers @ back[:, :2].T + back[:, 2]
    assert np.abs(centers - found.centers).max() < 0.5


def test_a_small_rotation_is_left_alone():
    tiles = make_pillar_arrays(1, grid_size=8, random_state=2, rotation=0.3, margin=1.0)
    image = tiles.array_images[0]
    cut = tile_array(image, "auto")
    assert abs(DEROTATE_ANGLE) > abs(cut.lattices[0].angle) > 0.1
    assert cut.array_images[0] is image and cut.lattices[0].turned == 0
    forced = tile_array(image, "auto", derotate=True)
    assert abs(forced.lattices[0].angle) < 0.05
    assert forced.array_images[0].shape != image.shape


def test_rectangular_arrays_get_rows_and_columns():
    tiles = make_pillar_arrays(1, random_state=1, shape=(6, 11), margin=0.7)
    assert len(tiles) == 66 and tiles.lattices[0].shape == (6, 11)
    cut = tile_array(tiles.array_images[0], "auto")
    assert cut.lattices[0].shape == (6, 11)
    assert sorted(set(cut.positions[:, 1])) == list(range(1, 7))
    assert sorted(set(cut.positions[:, 2])) == list(range(1, 12))
    assert len({tuple(p) for p in cut.positions}) == 66


def test_iter_tile_chunks_covers_a_found_lattice_once():
    tiles = make_pillar_arrays(1, random_state=1, shape=(7, 5), margin=0.5)
    image = tiles.array_images[0]
    bands = list(iter_tile_chunks(image, "auto", chunk_rows=3, halo=1))
    assert len(bands) == 3
    cores = []
    for i, band in enumerate(bands):
        rows = band.positions[:, 1]
        core = band[(rows > 3 * i) & (rows <= 3 * i + 3)]
        cores += [tuple(p) for p in core.positions]
        assert band.lattices[0].shape == (7, 5)
    assert sorted(cores) == sorted({(0, r, c) for r in range(1, 8) for c in range(1, 6)})
    whole = tile_array(image, "auto")
    first = bands[0][bands[0].positions[:, 1] <= 3]
    assert np.array_equal(first.X, whole.X[:15])  # the same tiles as cut at once


def test_read_arrays_auto_finds_each_file_s_lattice(tmp_path):
    a = make_pillar_arrays(1, random_state=1, shape=(6, 8), margin=0.6, pitch=48)
    b = make_pillar_arrays(1, random_state=2, grid_size=9, margin=(0.3, 1, 0.5, 0.2))
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path, tiles in zip(paths, (a, b), strict=True):
        assert cv2.imwrite(str(path), tiles.array_images[0])
    tiles = read_arrays(paths, grid_size="auto", tile_half=26, rescale=False)
    assert len(tiles) == 48 + 81 and tiles.array_names == ["a", "b"]
    assert [lat.shape for lat in tiles.lattices] == [(6, 8), (9, 9)]
    assert tiles.array_profiles[0].pitch == pytest.approx(48, abs=0.5)
    assert tiles.array_profiles[1].pitch == pytest.approx(54, abs=0.5)
    # by default both are brought to the pitch 26-pixel halves are made for: 52 * 54 / 64
    rescaled = read_arrays(paths, grid_size="auto", tile_half=26)
    assert [lat.shape for lat in rescaled.lattices] == [(6, 8), (9, 9)]
    assert rescaled.lattices[0].scaled == 1.0  # 48 is within 10% of 43.9
    assert rescaled.lattices[1].scaled == pytest.approx(43.875 / 54, rel=0.01)
    assert rescaled.array_profiles[1].pitch == pytest.approx(43.9, abs=0.5)
    # the refined sites look alike: a high lattice score
    assert min(p.lattice_score for p in tiles.array_profiles) > 0.6


def test_read_arrays_auto_refuses_a_file_without_a_lattice(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (400, 400), dtype=np.uint8)
    path = tmp_path / "noise.png"
    cv2.imwrite(str(path), noise)
    with pytest.raises(NoLatticeError, match=r"noise\.png.*no periodic pillar lattice found"):
        read_arrays([path], grid_size="auto")
    with pytest.raises(NoLatticeError, match="no periodic pillar lattice found"):
        tile_array(noise, "auto")


def test_a_lattice_fits_only_its_own_image(frames):
    lattice = find_lattice(frames.array_images[0])
    other = np.zeros((300, 200), np.uint8)
    with pytest.raises(ValueError, match="300 x 200"):
        tile_array(other, lattice=lattice, input_check="skip")
    with pytest.raises(TypeError, match="lattice must be"):
        tile_array(frames.array_images[0], lattice=(9, 9))
    for wrong in ("yes", 1, 1.0, None):
        with pytest.raises(ValueError, match="derotate"):
            tile_array(frames.array_images[0], lattice=lattice, derotate=wrong)
    for wrong in ("automatic", None, 0, 2.5):
        with pytest.raises(ValueError, match="grid_size must be a positive integer or 'auto'"):
            tile_array(frames.array_images[0], grid_size=wrong)
    assert len(tile_array(frames.array_images[0], grid_size="Auto")) == 81
    # a lattice of a larger image, whose sites lie outside this one
    wide = np.zeros((lattice.image_shape[0], 2 * lattice.image_shape[1]), np.uint8)
    moved = make_pillar_arrays(1, grid_size=9, random_state=3, margin=(1.2, 0.4, 0.8, 9)).lattices[
        0
    ]
    assert moved.image_shape != wide.shape
    from dataclasses import replace

    with pytest.raises(ValueError, match=r"site \(1, 1\) of the lattice lies at .* outside"):
        lattice_boxes(replace(moved, image_shape=(200, 200)), 32)


def test_tiles_much_wider_than_the_found_pitch_are_refused(frames):
    lattice = find_lattice(frames.array_images[0])
    with pytest.raises(ValueError, match="tile_half=120"):
        lattice_boxes(lattice, 120)


def test_a_lattice_of_known_centres():
    rows, cols = np.mgrid[:4, :6]
    centers = np.stack([10 + 20.0 * cols - 0.5 * rows, 15 + 20.0 * rows + 0.5 * cols], axis=-1)
    lattice = Lattice.from_centers(centers, (100, 140))
    assert lattice.shape == (4, 6)
    assert np.allclose(lattice.pitch, np.hypot(20, 0.5))
    assert lattice.angle == pytest.approx(-np.degrees(np.arctan2(0.5, 20)))
    assert lattice.residual == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="rows, cols, 2"):
        Lattice.from_centers(centers[0], (100, 140))


def test_tilesets_keep_their_lattices(frames):
    cut = tile_array(frames.array_images[0], "auto")
    uniform = tile_array(frames.array_images[1], grid_size=9, input_check="skip")
    both = concat_tilesets([cut, uniform])
    assert both.lattices[0] is cut.lattices[0] and both.lattices[1] is None
    part = both[np.arange(81, 90)]  # tiles of the second array only: the arrays stay
    assert part.lattices[0] is cut.lattices[0] and part.array_names == both.array_names
    assert concat_tilesets([uniform, uniform]).lattices is None


def test_predict_in_bands_on_a_found_rectangular_lattice():
    from sklearn_pillars import LayeredPeelClassifier, predict_in_bands

    train = make_pillar_arrays(2, random_state=8, shape=(7, 10), margin=0.5)
    model = LayeredPeelClassifier("notebook").fit(train.X)
    frame = make_pillar_arrays(
        1, random_state=9, shape=(9, 6), rotation=3.0, margin=0.5, derotate=False
    ).array_images[0]
    whole = tile_array(frame, "auto")
    banded = predict_in_bands(model, frame, "auto", chunk_rows=4)
    assert banded.labels.shape == (9, 6) and banded.lattice.shape == (9, 6)
    assert abs(banded.lattice.turned - 3.0) < 0.3
    # the notebook's features look no further than the neighbours: exact in bands
    assert np.array_equal(banded.labels.ravel(), model.predict(whole.X))


def test_finding_the_lattice_counts_in_the_memory_limit(tmp_path):
    from sklearn_pillars import ResourceLimitError
    from sklearn_pillars.tiling import LATTICE_BYTES_PER_PIXEL

    image = make_pillar_arrays(1, grid_size=9, random_state=1, margin=0.5).array_images[0]
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), image)
    # enough for the image and its tiles, not for finding the lattice too
    limit = image.size * (LATTICE_BYTES_PER_PIXEL // 2)
    assert read_arrays([path], grid_size=9, tile_half=20, max_memory=limit, input_check="skip")
    with pytest.raises(ResourceLimitError, match="found lattices"):
        read_arrays([path], grid_size="auto", tile_half=20, max_memory=limit)


def test_sites_cut_off_by_the_frame_are_left_out():
    """A rotated array cropped by the frame's edge: the rows and columns whose sites'
    centres fall outside the image are trimmed, the rest keep their tiles whole."""
    tiles = make_pillar_arrays(1, random_state=2, shape=(12, 12), rotation=5.0, derotate=False)
    image = tiles.array_images[0][25:-25, 25:-25]
    lattice = find_lattice(image)
    assert 10 <= lattice.shape[0] <= 12 and 10 <= lattice.shape[1] <= 12
    quarter = 0.25 * min(lattice.pitch)
    centers = lattice.centers.reshape(-1, 2)
    assert centers.min() >= -quarter
    assert np.all(centers <= np.array(image.shape[::-1]) - 1 + quarter)


def test_a_tiny_image_has_no_lattice(tmp_path):
    with pytest.raises(NoLatticeError, match="20 x 40 pixels is too small"):
        find_lattice(np.full((20, 40), 90, np.uint8))
    path = tmp_path / "tiny.png"
    cv2.imwrite(str(path), np.full((20, 40), 90, np.uint8))
    with pytest.raises(NoLatticeError, match=r"tiny\.png: no periodic pillar lattice found"):
        find_lattice(path)


def test_fit_arrays_on_lattices_of_different_sizes(tmp_path):
    from sklearn_pillars import LayeredPeelClassifier, fit_arrays

    paths = []
    for seed, shape in ((1, (6, 9)), (2, (8, 7)), (3, (6, 9))):
        frame = make_pillar_arrays(1, random_state=seed, shape=shape, margin=0.5)
        paths.append(tmp_path / f"a{seed}.png")
        cv2.imwrite(str(paths[-1]), frame.array_images[0])
    model = fit_arrays(LayeredPeelClassifier("refined"), paths, "auto")
    tiles = read_arrays(paths, "auto")
    assert len(model.labels_) == 54 + 56 + 54 == len(tiles)
    # the same model as one fit on all the tiles at once
    assert np.array_equal(model.labels_, LayeredPeelClassifier("refined").fit(tiles.X).labels_)


def test_a_large_found_lattice_is_classified_in_bands(tmp_path, monkeypatch):
    from sklearn_pillars import LayeredPeelClassifier, classify_array
    from sklearn_pillars.tiling import _budget as limits

    frame = make_pillar_arrays(
        1, random_state=4, shape=(9, 7), rotation=2.0, margin=0.5, derotate=False
    )
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), frame.array_images[0])
    model = LayeredPeelClassifier("notebook").fit(
        make_pillar_arrays(2, random_state=5, shape=(7, 7)).X
    )
    whole = classify_array(path, model, "auto")
    monkeypatch.setattr(limits, "BAND_BYTES", 3 * limits.x_bytes(7, 32))  # 3 rows a band
    assert limits.band_rows(9, 32, 7, preset="notebook") == 3
    banded = classify_array(path, model, "auto", draw_map=True)
    assert banded.lattice.shape == whole.lattice.shape == (9, 7)
    assert np.array_equal(banded.labels, whole.labels)  # the notebook's features: exact
    assert np.array_equal(banded.boxes, whole.boxes) and banded.map_png
    with pytest.raises(ValueError, match="grid_size must be"):
        classify_array(path, model, None)


def test_real_arrays_read_around_their_lattices(shared_array_paths):
    """The four real arrays: 21 x 21 found, and the tiles cut around the refined centres
    look more alike than the uniform grid's (the lattice score of their profiles)."""
    found = read_arrays(shared_array_paths, "auto")
    uniform = read_arrays(shared_array_paths, 21)
    assert len(found) == 4 * 441
    assert [lat.shape for lat in found.lattices] == [(21, 21)] * 4
    for auto, grid in zip(found.array_profiles, uniform.array_profiles, strict=True):
        assert auto.lattice_score > grid.lattice_score + 0.05
        assert auto.pitch == pytest.approx(grid.pitch, rel=0.02)


@pytest.mark.parametrize("scale", [0.75, 0.8, 1.25, 1.33])
def test_another_magnification_is_cut_as_the_original(scale):
    """An objective 0.75x-1.33x that of the arrays gives the same tiles, once the image is
    brought to the tiles' pitch (2 * 32 / TILE_PITCHES = 54 px), and the same labels."""
    kwargs = {"n_arrays": 1, "grid_size": 9, "random_state": 3, "margin": 0.5, "derotate": False}
    plain = make_pillar_arrays(**kwargs)
    frame = make_pillar_arrays(**kwargs, conditions={"scale": scale}, rescale=False)
    image = frame.array_images[0]
    original = tile_array(plain.array_images[0], "auto")
    tiles = tile_array(image, "auto")
    lattice = tiles.lattices[0]
    assert lattice.shape == (9, 9)
    assert np.allclose(lattice.pitch, 54, atol=0.5)
    assert lattice.scaled == pytest.approx(1 / scale, rel=0.01)
    assert f"(image magnified {1 / scale:.2f}x)" in str(lattice)
    # the warp maps the frame's pixels to the rescaled image's
    found = find_lattice(image)
    mapped = found.centers @ lattice.warp[:, :2].T + lattice.warp[:, 2]
    assert np.abs(mapped - lattice.centers).max() < 1.0
    # the same pixels as the original, not those of the frame cut as it is
    as_is = tile_array(image, "auto", rescale=False)
    difference = np.abs(tiles.X[:, 3:] - original.X[:, 3:]).mean()
    assert difference < 0.5 * np.abs(as_is.X[:, 3:] - original.X[:, 3:]).mean()
    model = LayeredPeelClassifier().fit(original.X)
    assert np.mean(model.predict(tiles.X) == model.labels_) >= 0.97


def test_rescale_true_and_false_and_a_bad_value():
    tiles = make_pillar_arrays(1, grid_size=6, random_state=0, margin=0.5, derotate=False)
    image = tiles.array_images[0]
    assert tile_array(image, "auto").lattices[0].scaled == 1.0  # pitch 54: within 10%
    exact = tile_array(image, "auto", tile_half=30, rescale=True).lattices[0]
    assert np.sqrt(np.prod(exact.pitch)) == pytest.approx(60 * 54 / 64, rel=1e-3)
    kept = tile_array(image, "auto", tile_half=20, rescale=False).lattices[0]
    assert kept.scaled == 1.0 and np.allclose(kept.pitch, 54, atol=0.5)
    with pytest.raises(ValueError, match="rescale must be 'auto', True or False"):
        tile_array(image, "auto", rescale="yes")
    # the uniform grid is never rescaled
    uniform = tile_array(image[:324, :324], 6, rescale=True, input_check="skip")
    assert uniform.array_images[0].shape == (324, 324)
