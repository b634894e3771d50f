"""find_lattice: grid size, pitch, rotation and site centres found from the image alone."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from sklearn_pillars import make_pillar_arrays
from sklearn_pillars.lattice import Lattice, NoLatticeError, find_lattice
from sklearn_pillars.synthetic import _check_rates, _make_array

ARRAYS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "arrays"


def frame(grid=9, pitch=54, rotation=0.0, margin=(0, 0, 0, 0), shape=None, seed=0,
          gradient=0.0):
    """A synthetic array warped into a frame: ``shape`` (rows, cols) sites cut from a
    square array, ``margin`` (top, right, bottom, left) pitches of substrate around it,
    rotated by ``rotation`` degrees counter-clockwise about its centre, plus a linear
    illumination ``gradient`` (grey levels across the frame). Returns the image and
    the true (rows, cols, 2) site centres (with the shifts of stitching seams)."""
    rows, cols = shape or (grid, grid)
    square = max(rows, cols)
    image, _, _, sites = _make_array(np.random.default_rng(seed), square, pitch, 32,
                                     _check_rates(None), 0.0, 15)
    image = image[: rows * pitch, : cols * pitch].astype(np.float32)
    sites = sites[:rows, :cols]
    substrate = float(np.percentile(image, 90))
    top, right, bottom, left = (int(round(m * pitch)) for m in margin)
    height, width = rows * pitch + top + bottom, cols * pitch + left + right
    # the array's own pixel (0, 0) goes to (left, top); then rotation about the frame centre
    centre = ((width - 1) / 2, (height - 1) / 2)
    warp = cv2.getRotationMatrix2D(centre, rotation, 1.0)
    warp[:, 2] += warp[:, :2] @ np.array([left, top])
    out = cv2.warpAffine(image, warp, (width, height), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=substrate)
    rng = np.random.default_rng(seed)
    out += rng.normal(0, 0.5, out.shape).astype(np.float32)
    ramp = np.linspace(-0.5, 0.5, width, dtype=np.float32)
    out += gradient * ramp[None, :]
    truth = sites @ warp[:, :2].T + warp[:, 2]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), truth


def rms(a, b):
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=-1))))


def best_angle(centres):
    """Rotation (degrees counter-clockwise) of the lattice that best fits ``centres``: a
    seam shifts the sites beyond it along the seam, which shears the array a little."""
    rows, cols = np.mgrid[: centres.shape[0], : centres.shape[1]]
    design = np.column_stack([np.ones(rows.size), cols.ravel(), rows.ravel()])
    solution, *_ = np.linalg.lstsq(design, centres.reshape(-1, 2), rcond=None)
    return -np.degrees(np.arctan2(solution[1, 1], solution[1, 0]))


def test_a_cropped_square_array():
    image, truth = frame(grid=9)
    lattice = find_lattice(image)
    assert isinstance(lattice, Lattice)
    assert lattice.shape == (9, 9)
    assert lattice.centers.shape == (9, 9, 2) and lattice.matches.shape == (9, 9)
    assert np.allclose(lattice.pitch, 54, atol=0.1)
    assert abs(lattice.angle) < 0.2
    assert np.allclose(lattice.positions()[0, 0], lattice.origin)
    assert rms(lattice.centers, truth) < 1.5
    assert lattice.residual < 1.5


@pytest.mark.parametrize("rotation", [-4.0, 2.5])
def test_a_rotated_array_with_a_margin(rotation):
    image, truth = frame(grid=9, rotation=rotation, margin=(1.0, 0.5, 1.5, 0.8), seed=1)
    lattice = find_lattice(image)
    assert lattice.shape == (9, 9)
    assert abs(best_angle(truth) - rotation) < 0.5  # the frame is what the test means
    assert abs(lattice.angle - best_angle(truth)) < 0.1
    assert rms(lattice.centers, truth) < 1.5


def test_a_rectangular_array_under_an_illumination_gradient():
    image, truth = frame(shape=(6, 11), pitch=40, margin=(0.5, 0.5, 0.5, 0.5), seed=2,
                         gradient=40)
    lattice = find_lattice(image)
    assert lattice.shape == (6, 11)
    assert np.allclose(lattice.pitch, 40, atol=0.1)
    assert rms(lattice.centers, truth) < 1.5


def test_missing_pillars_do_not_pull_their_sites():
    tiles = make_pillar_arrays(n_arrays=1, grid_size=11, random_state=5,
                               defect_rates={"Missing": 0.15, "Stitching": 0})
    lattice = find_lattice(tiles.array_images[0])
    assert lattice.shape == (11, 11)
    missing = (tiles.y == "Missing").reshape(11, 11)
    assert missing.sum() >= 5
    sites = np.arange(11) * 54 + 27
    truth = np.stack(np.meshgrid(sites, sites), axis=-1)
    error = np.hypot(*(lattice.centers - truth)[missing].T)
    assert error.max() < 4
    assert np.median(lattice.matches[missing]) < np.median(lattice.matches[~missing])


@pytest.mark.parametrize("kind", ["noise", "blank", "stripes", "gradient"])
def test_an_image_without_a_lattice_is_refused(kind):
    rng = np.random.default_rng(0)
    if kind == "noise":
        image = rng.integers(0, 256, (400, 500), dtype=np.uint8)
    elif kind == "blank":
        image = np.full((400, 500), 120, np.uint8)
    elif kind == "stripes":
        image = np.tile((128 + 60 * np.sin(np.arange(500) / 5)).astype(np.uint8), (400, 1))
    else:
        image = np.tile(np.linspace(0, 255, 500).astype(np.uint8), (400, 1))
    with pytest.raises(NoLatticeError, match="no periodic pillar lattice found"):
        find_lattice(image)


def test_bad_pitch_bounds_are_refused():
    image, _ = frame(grid=5)
    with pytest.raises(ValueError, match="min_pitch"):
        find_lattice(image, min_pitch=60, max_pitch=50)


@pytest.mark.skipif(not ARRAYS.is_dir(), reason="needs ../shared/data")
@pytest.mark.parametrize("name", [
    "Array_1Crop.bmp", "Array_2Crop.bmp", "Array_3Crop.bmp",
    pytest.param("Array_4.bmp", marks=pytest.mark.xfail(
        strict=True, reason="issue 11, open: four stitched frames out of step by a large "
                            "part of a pitch; one column is lost (21 x 20)")),
])
def test_the_real_arrays_are_21_by_21(name):
    lattice = find_lattice(ARRAYS / name)
    assert lattice.shape == (21, 21)
    assert np.allclose(lattice.pitch, 53.5, atol=1.5)
    assert abs(lattice.angle) < 1


def random_frame(rng, seed):
    """A frame as the issue's acceptance draws them: 5-30 sites a side (rectangular too),
    pitch 30-80 px, rotation up to 5 degrees, margins up to 2 pitches, a gradient."""
    pitch = int(rng.integers(30, 81))
    rows, cols = (min(int(n), 1600 // pitch) for n in rng.integers(5, 31, 2))
    return rows, cols, frame(shape=(rows, cols), pitch=pitch, rotation=rng.uniform(-5, 5),
                             margin=tuple(rng.uniform(0, 2, 4)), seed=seed,
                             gradient=rng.uniform(0, 40))


def test_random_frames():
    """(benchmarks/bench_lattice.py draws 200 such frames and reports the figures.)"""
    rng = np.random.default_rng(2026)
    errors = []
    for seed in range(16):
        rows, cols, (image, truth) = random_frame(rng, seed)
        lattice = find_lattice(image)
        assert lattice.shape == (rows, cols), (seed, lattice)
        errors.append(rms(lattice.centers, truth))
    assert np.median(errors) < 1.5
    assert max(errors) < 2.5

