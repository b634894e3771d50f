"""find_lattice: how often the grid is exact, how close the centres are, how long it takes.

    .venv/bin/python benchmarks/bench_lattice.py [--frames 200] [--seed 2026]

Synthetic frames are drawn as the acceptance of issue 11 asks (5-60 sites a side,
rectangular too; pitch 30-80 px; rotation up to 5 degrees; margins up to 2 pitches;
an illumination gradient; the default defect rates, about a quarter of the sites)
with ``tests/lattice/test_lattice.py``'s ``random_frame``. On the real arrays (when
``../shared/data`` is there) it reports the lattice found, the time, and, over
the hand-labelled Good tiles of arrays 1-3, the uniform grid's tiles against the
tiles cut around the refined centres:

- how far the pillar is from the tile's centre. A pillar's centre is measured
  in its own tile, independently of the lattice, two ways: the strongest circle
  of OpenCV's Hough transform (the pillar's outline), and the centroid of the
  tile's darkness (the issue's rough measure, which oblique light pulls toward
  the darker side of the rim);
- how alike the Good tiles are: the mean correlation of each with their median
  tile (tiles centred alike on their pillars look alike);

and the classification against the hand labels of both presets, fitted on the
three arrays' uniform tiles or on their refined tiles. Figures, not pass/fail.
"""

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def timed_lattice(image, label, repeat=1):
    """``find_lattice(image)`` and its time in seconds (the best of ``repeat`` runs);
    (None, None), said, if it fails."""
    from sklearn_pillars.lattice import find_lattice

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            lattice = find_lattice(image)
        except ValueError as error:
            print(f"{label}: {error}")
            return None, None
        times.append(time.perf_counter() - start)
    return lattice, min(times)


def synthetic(frames, seed):
    from tests.lattice.test_lattice import random_frame, rms

    rng = np.random.default_rng(seed)
    exact, errors, times = 0, [], []
    for k in range(frames):
        rows, cols, (image, truth) = random_frame(rng, k)
        lattice, seconds = timed_lattice(image, f"  frame {k}: {rows} x {cols}")
        if lattice is None:
            continue
        times.append(seconds)
        if lattice.shape == (rows, cols):
            exact += 1
            errors.append(rms(lattice.centers, truth))
        else:
            print(f"  frame {k}: {rows} x {cols} found as {lattice}")
    errors = np.array(errors)
    print(
        f"synthetic: {frames} frames, grid exact in {exact} ({100 * exact / frames:.1f}%); "
        f"centre RMS median {np.median(errors):.2f} px, 95th percentile "
        f"{np.percentile(errors, 95):.2f}, max {errors.max():.2f}, <= 1.5 px in "
        f"{np.mean(errors <= 1.5) * 100:.1f}% of the exact ones; time median "
        f"{np.median(times):.3f} s, max {max(times):.3f} s"
    )


def hough_centre(tile, pitch=54):
    """Centre (x, y) of the strongest circle of a pillar's size in one tile (OpenCV's
    Hough transform on the tile enlarged 4 times), or None."""
    import cv2

    up = 4
    grey = cv2.normalize(tile.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX)
    big = cv2.resize(grey.astype(np.uint8), None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    circles = cv2.HoughCircles(
        cv2.GaussianBlur(big, (0, 0), 2),
        cv2.HOUGH_GRADIENT,
        dp=1,
        minDist=tile.shape[0] * up,
        param1=30,
        param2=10,
        minRadius=int(0.25 * pitch * up),
        maxRadius=int(0.45 * pitch * up),
    )
    if circles is None:
        return None
    x, y, _ = circles[0, 0]
    return np.array([(x + 0.5) / up - 0.5, (y + 0.5) / up - 0.5])


def darkness_centroid(tile):
    """Centroid of the tile's darkness (below its 90th percentile): the issue's measure."""
    darkness = np.clip(np.percentile(tile, 90) - tile.astype(float), 0, None)
    ys, xs = np.mgrid[: tile.shape[0], : tile.shape[1]]
    return np.array([(darkness * xs).sum(), (darkness * ys).sum()]) / darkness.sum()


def _likeness(tiles):
    """Mean correlation of the full (64-pixel) tiles with their median tile."""
    full = np.stack([t for t in tiles if t.shape == (64, 64)]).astype(float)
    flat = full.reshape(len(full), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    reference = np.median(flat, axis=0)
    reference -= reference.mean()
    corr = flat @ reference / (np.linalg.norm(flat, axis=1) * np.linalg.norm(reference))
    return float(corr.mean())


def real():
    from sklearn.metrics import accuracy_score, f1_score

    from sklearn_pillars import LayeredPeelClassifier, concat_tilesets, tile_array
    from sklearn_pillars.io import read_image

    labels = SHARED / "labels" / "hand_labels.csv"
    truth = {}
    if labels.exists():
        with open(labels, newline="") as f:
            truth = {
                (r["array"], int(r["row"]), int(r["col"])): r["label"] for r in csv.DictReader(f)
            }
    cut = {"uniform": [], "refined": []}
    times = []
    for name in ["Array_1Crop", "Array_2Crop", "Array_3Crop", "Array_4"]:
        image = read_image(SHARED / "arrays" / f"{name}.bmp")
        lattice, seconds = timed_lattice(image, name, repeat=5)
        if lattice is None:
            continue
        times.append(seconds)
        print(f"{name}: {lattice} in {seconds * 1000:.0f} ms (best of 5)")
        if lattice.shape != (21, 21) or (name, 1, 1) not in truth:
            continue
        uniform = tile_array(image, 21, name=name)
        refined = tile_array(image, lattice=lattice, name=name)
        cut["uniform"].append(uniform)
        cut["refined"].append(refined)
        good = np.array([truth[(name, r, c)] == "Good" for _, r, c in uniform.positions])
        # each pillar measured once, in a 64-pixel crop centred half way between the two
        # centres (the measures lean toward the middle of their crop)
        centers = {"uniform": uniform.boxes[:, :2] + 31.5, "refined": refined.boxes[:, :2] + 31.5}
        for measure in (hough_centre, darkness_centroid):
            distances = {"uniform": [], "refined": []}
            for i in np.flatnonzero(good):
                x, y = np.rint((centers["uniform"][i] + centers["refined"][i]) / 2 + 0.5)
                x0, y0 = int(x) - 32, int(y) - 32
                if x0 < 0 or y0 < 0 or x0 + 64 > image.shape[1] or y0 + 64 > image.shape[0]:
                    continue
                center = measure(image[y0 : y0 + 64, x0 : x0 + 64])
                if center is None:
                    continue
                for kind in distances:
                    distances[kind].append(np.hypot(*(center + (x0, y0) - centers[kind][i])))
            print(
                f"  {len(distances['uniform'])} Good tiles, pillar centre by "
                f"{measure.__name__}: mean distance {np.mean(distances['uniform']):.2f} px "
                f"to the uniform grid's tile centre, {np.mean(distances['refined']):.2f} px "
                f"to the refined tile's"
            )
        print(
            f"  Good tiles' likeness (mean correlation with their median): uniform "
            f"{_likeness([uniform.images[i] for i in np.flatnonzero(good)]):.3f}, refined "
            f"{_likeness([refined.images[i] for i in np.flatnonzero(good)]):.3f}"
        )
    print(f"real arrays: find_lattice median {np.median(times) * 1000:.0f} ms (best of 5 each)")
    if len(cut["uniform"]) < 2:
        return
    for preset in ("notebook", "refined"):
        scores = []
        for kind in ("uniform", "refined"):
            tiles = concat_tilesets(cut[kind])
            y = np.array([truth[(tiles.array_names[a], r, c)] for a, r, c in tiles.positions])
            predicted = LayeredPeelClassifier(preset).fit(tiles.X).labels_
            scores.append(
                f"{kind} tiles: accuracy {accuracy_score(y, predicted):.3f}, "
                f"macro-F1 {f1_score(y, predicted, average='macro'):.3f}"
            )
        print(
            f"hand labels of arrays 1-3, preset {preset!r} fitted on the three: "
            + "; ".join(scores)
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(
        f"{platform.node()}: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    if args.frames:
        synthetic(args.frames, args.seed)
    if SHARED.is_dir():
        real()


if __name__ == "__main__":
    main()
