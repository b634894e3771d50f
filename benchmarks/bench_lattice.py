"""find_lattice: how often the grid is exact, how close the centres are, how long it takes.

    .venv/bin/python benchmarks/bench_lattice.py [--frames 200] [--seed 2026]

Synthetic frames are drawn as the acceptance of issue 11 asks (5-30 sites a side,
rectangular too; pitch 30-80 px; rotation up to 5 degrees; margins up to 2 pitches;
an illumination gradient; the default defect rates, about a quarter of the sites)
with ``tests/test_lattice.py``'s ``random_frame``. On the real arrays (when
``../shared/data`` is there) it reports the lattice found, the time, and how far
the pillars are from the tile centres: the uniform grid's and the refined ones,
over the hand-labelled Good tiles. A pillar's centre is measured in its own
tile, independently of the lattice, two ways: the strongest circle of OpenCV's
Hough transform, and the centroid of the tile's darkness (the issue's rough
measure, which oblique light pulls toward the darker side of the rim).
Figures, not pass/fail.
"""

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
SHARED = ROOT.parent / "shared" / "data"


def synthetic(frames, seed):
    from test_lattice import random_frame, rms

    from sklearn_pillars.lattice import find_lattice

    rng = np.random.default_rng(seed)
    exact, errors, times = 0, [], []
    for k in range(frames):
        rows, cols, (image, truth) = random_frame(rng, k)
        start = time.perf_counter()
        try:
            lattice = find_lattice(image)
        except ValueError as error:
            print(f"  frame {k}: {rows} x {cols}: {error}")
            continue
        times.append(time.perf_counter() - start)
        if lattice.shape == (rows, cols):
            exact += 1
            errors.append(rms(lattice.centers, truth))
        else:
            print(f"  frame {k}: {rows} x {cols} found as {lattice}")
    errors = np.array(errors)
    print(f"synthetic: {frames} frames, grid exact in {exact} ({100 * exact / frames:.1f}%); "
          f"centre RMS median {np.median(errors):.2f} px, 95th percentile "
          f"{np.percentile(errors, 95):.2f}, max {errors.max():.2f}, <= 1.5 px in "
          f"{np.mean(errors <= 1.5) * 100:.1f}% of the exact ones; time median "
          f"{np.median(times):.3f} s, max {max(times):.3f} s")


def hough_centre(tile, pitch=54):
    """Centre (x, y) of the strongest circle of a pillar's size in one tile (OpenCV's
    Hough transform on the tile enlarged 4 times), or None."""
    import cv2

    up = 4
    grey = cv2.normalize(tile.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX)
    big = cv2.resize(grey.astype(np.uint8), None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    circles = cv2.HoughCircles(cv2.GaussianBlur(big, (0, 0), 2), cv2.HOUGH_GRADIENT, dp=1,
                               minDist=tile.shape[0] * up, param1=30, param2=10,
                               minRadius=int(0.25 * pitch * up), maxRadius=int(0.45 * pitch * up))
    if circles is None:
        return None
    x, y, _ = circles[0, 0]
    return np.array([(x + 0.5) / up - 0.5, (y + 0.5) / up - 0.5])


def darkness_centroid(tile):
    """Centroid of the tile's darkness (below its 90th percentile): the issue's measure."""
    darkness = np.clip(np.percentile(tile, 90) - tile.astype(float), 0, None)
    ys, xs = np.mgrid[: tile.shape[0], : tile.shape[1]]
    return np.array([(darkness * xs).sum(), (darkness * ys).sum()]) / darkness.sum()


def real():
    from sklearn_pillars.io import read_image
    from sklearn_pillars.lattice import find_lattice
    from sklearn_pillars.tiling import tile_boxes

    labels = SHARED / "labels" / "hand_labels.csv"
    good = set()
    if labels.exists():
        with open(labels, newline="") as f:
            good = {(r["array"], int(r["row"]), int(r["col"])) for r in csv.DictReader(f)
                    if r["label"] == "Good"}
    for name in ["Array_1Crop", "Array_2Crop", "Array_3Crop", "Array_4"]:
        image = read_image(SHARED / "arrays" / f"{name}.bmp")
        start = time.perf_counter()
        try:
            lattice = find_lattice(image)
        except ValueError as error:
            print(f"{name}: {error}")
            continue
        seconds = time.perf_counter() - start
        print(f"{name}: {lattice} in {seconds:.3f} s")
        if lattice.shape != (21, 21) or not good:
            continue
        boxes = tile_boxes(*image.shape, grid_size=21, tile_half=32).reshape(21, 21, 4)
        for measure in (hough_centre, darkness_centroid):
            uniform, refined = [], []
            for row in range(21):
                for col in range(21):
                    if (name, row + 1, col + 1) not in good:
                        continue
                    x0, y0, x1, y1 = boxes[row, col]
                    centre = measure(image[y0:y1, x0:x1])
                    if centre is None:
                        continue
                    pillar = centre + (x0, y0)
                    tile_centre = np.array([(x0 + x1) // 2, (y0 + y1) // 2])
                    uniform.append(np.hypot(*(pillar - tile_centre)))
                    refined.append(np.hypot(*(pillar - lattice.centers[row, col])))
            print(f"  {len(uniform)} Good tiles, pillar centre by {measure.__name__}: "
                  f"mean distance {np.mean(uniform):.2f} px to the uniform grid's tile "
                  f"centre, {np.mean(refined):.2f} px to the refined centre")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    if args.frames:
        synthetic(args.frames, args.seed)
    if SHARED.is_dir():
        real()


if __name__ == "__main__":
    main()
