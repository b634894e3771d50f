"""find_lattice: grid size, pitch, rotation and site centres found from the image alone."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from sklearn_pillars import make_pillar_arrays
from sklearn_pillars.lattice import MIN_MATCH, Lattice, NoLatticeError, find_lattice

ARRAYS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "arrays"


def frame(grid=9, pitch=54, rotation=0.0, margin=(0, 0, 0, 0), shape=None, seed=0, gradient=0.0):
    """A synthetic frame as the microscope gives it (rotated, not turned upright) and its
    true (rows, cols, 2) site centres, with the shifts of stitching seams."""
    tiles = make_pillar_arrays(
        1,
        grid_size=grid,
        random_state=seed,
        pitch=pitch,
        shape=shape or (grid, grid),
        rotation=rotation,
        margin=margin,
        gradient=gradient,
        derotate=False,
    )
    return tiles.array_images[0], tiles.lattices[0].centers


def rms(a, b):
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=-1))))


def best_angle(centers):
    """Rotation (degrees counter-clockwise) of the lattice that best fits ``centers``: a
    seam shifts the sites beyond it along the seam, which shears the array a little."""
    rows, cols = np.mgrid[: centers.shape[0], : centers.shape[1]]
    design = np.column_stack([np.ones(rows.size), cols.ravel(), rows.ravel()])
    solution, *_ = np.linalg.lstsq(design, centers.reshape(-1, 2), rcond=None)
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
    image, truth = frame(shape=(6, 11), pitch=40, margin=(0.5, 0.5, 0.5, 0.5), seed=2, gradient=40)
    lattice = find_lattice(image)
    assert lattice.shape == (6, 11)
    assert np.allclose(lattice.pitch, 40, atol=0.1)
    assert rms(lattice.centers, truth) < 1.5


def test_missing_pillars_do_not_pull_their_sites():
    tiles = make_pillar_arrays(
        n_arrays=1, grid_size=11, random_state=5, defect_rates={"Missing": 0.15, "Stitching": 0}
    )
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
@pytest.mark.parametrize(
    "name",
    [
        "Array_1Crop.bmp",
        "Array_2Crop.bmp",
        "Array_3Crop.bmp",
        "Array_4.bmp",
    ],
)
def test_the_real_arrays_are_21_by_21(name):
    lattice = find_lattice(ARRAYS / name)
    assert lattice.shape == (21, 21)
    assert np.allclose(lattice.pitch, 53.5, atol=1.5)
    assert abs(lattice.angle) < 1


def random_frame(rng, seed):
    """A frame as the issue's acceptance draws them: 5-60 sites a side (rectangular too,
    at most 2,000 px), pitch 30-80 px, rotation up to 5 degrees, margins up to 2 pitches,
    a gradient; the default defects (about a quarter of the sites)."""
    pitch = int(rng.integers(30, 81))
    rows, cols = (min(int(n), 2000 // pitch) for n in rng.integers(5, 61, 2))
    return (
        rows,
        cols,
        frame(
            shape=(rows, cols),
            pitch=pitch,
            rotation=rng.uniform(-5, 5),
            margin=tuple(rng.uniform(0, 2, 4)),
            seed=seed,
            gradient=rng.uniform(0, 40),
        ),
    )


@pytest.mark.slow
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


def drawn_array(rows=8, cols=9, pitch=50, *, bright_inside=True, split_top_row=False, seed=0):
    """Pillars drawn as discs with a dark rim on a grey substrate with a margin of one
    pitch; ``bright_inside``: lighter than the substrate inside the rim (as in some real
    frames). ``split_top_row``: every pillar of the first row is split by a dark line,
    its upper half darker (a write-field line). Returns the image and the centres."""
    margin = pitch
    image = np.full((rows * pitch + 2 * margin, cols * pitch + 2 * margin), 120, np.float32)
    rr, cc = np.mgrid[:rows, :cols]
    centers = np.stack(
        [margin + (cc + 0.5) * pitch + 0.3, margin + (rr + 0.5) * pitch - 0.2], axis=-1
    )
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    radius = 0.33 * pitch
    for x, y in centers.reshape(-1, 2):
        d = np.hypot(xx - x, yy - y)
        image[d < radius] = 160 if bright_inside else 95
        image[(d >= radius) & (d < radius + 3)] = 60
    if split_top_row:
        for x, y in centers[0]:
            d = np.hypot(xx - x, yy - y)
            image[(d < radius) & (yy < y)] -= 60
            image[(d < radius + 3) & (np.abs(yy - y) < 2)] = 30
    image = cv2.GaussianBlur(image, (0, 0), 1.2)
    image += np.random.default_rng(seed).normal(0, 2, image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), centers


@pytest.mark.parametrize("bright_inside", [True, False])
def test_the_pillar_is_told_from_the_substrate_between_pillars(bright_inside):
    """Whether a pillar looks brighter or darker inside than the substrate, the sites are
    its centres, not the gaps half a cell away."""
    image, centers = drawn_array(bright_inside=bright_inside)
    lattice = find_lattice(image)
    assert lattice.shape == (8, 9)
    assert rms(lattice.centers, centers) < 1.0


def test_an_edge_row_of_defects_is_part_of_the_array():
    """A first row whose every pillar is split by a write-field line matches the mean
    pillar poorly, but it is no substrate: the array keeps it."""
    image, centers = drawn_array(split_top_row=True)
    lattice = find_lattice(image)
    assert lattice.shape == (8, 9)
    assert rms(lattice.centers, centers) < 1.0
    assert np.all(lattice.matches[0] < MIN_MATCH) and np.all(lattice.matches[1:] > MIN_MATCH)
