"""Fitting on a sample of the arrays: how many are enough, and what a fit costs.

    .venv/bin/python benchmarks/bench_fit_sample.py [--arrays 200] [--sizes 10 25 50 100 200]
                                                    [--preset refined] [--n-jobs 2]

Renders ``--arrays`` synthetic 21 x 21 arrays with known truth (varied gain, offset,
gradient and blur: ``photometric=0.5``) into a temporary folder, and 20 more held out.
For each sample size, a model is fitted with :func:`sklearn_pillars.fit_arrays` on a
random sample of that many arrays (in a fresh process, for its peak memory), then
scored on the held-out arrays: macro-F1 against the truth, and the share of tiles
labelled as the model fitted on all the arrays labels them. Figures, not pass/fail.
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench_scale import measure

HELD_OUT = 20


def fit_worker(preset, folder, size, n_jobs, model_path):
    import random

    from sklearn_pillars import LayeredPeelClassifier
    from sklearn_pillars.batch import fit_arrays_profiled as _fit_arrays
    from sklearn_pillars.persist import save_model

    paths = sorted(Path(folder).glob("train_*.png"))
    sample = sorted(random.Random(0).sample(paths, size))
    start = time.perf_counter()
    model, profiles, _ = _fit_arrays(
        LayeredPeelClassifier(preset), sample, 21, 32, n_jobs, None, "raise"
    )
    seconds = time.perf_counter() - start
    save_model(model, model_path, grid_size=21, tile_half=32, profiles=profiles)
    print(f"{seconds:.3f} {len(model.labels_)}")


def render(folder, n_arrays):
    import cv2
    import numpy as np

    from sklearn_pillars import make_pillar_arrays

    truth = []
    for start in range(0, n_arrays + HELD_OUT, 10):  # ten at a time: bounded memory
        count = min(10, n_arrays + HELD_OUT - start)
        tiles = make_pillar_arrays(
            n_arrays=count, grid_size=21, random_state=1000 + start, photometric=0.5
        )
        for k, image in enumerate(tiles.array_images):
            index = start + k
            name = f"train_{index:05d}" if index < n_arrays else f"held_{index:05d}"
            cv2.imwrite(str(Path(folder) / f"{name}.png"), image)
            if index >= n_arrays:
                truth.append(tiles.y[tiles.positions[:, 0] == k])
    return np.concatenate(truth)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrays", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50, 100, 200])
    parser.add_argument("--preset", default="refined", choices=["notebook", "refined"])
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    from sklearn.metrics import f1_score

    from sklearn_pillars import read_arrays
    from sklearn_pillars.persist import load_model

    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"preset {args.preset!r}, fit with n_jobs={args.n_jobs}"
    )
    with tempfile.TemporaryDirectory() as folder:
        truth = render(folder, args.arrays)
        held = read_arrays(sorted(Path(folder).glob("held_*.png")))
        print(
            f"{'arrays':>6} {'tiles':>7} {'seconds':>8} {'peak tree':>10} {'peak proc':>10} "
            f"{'macro-F1':>9} {'agrees':>7}"
        )
        predictions = {}
        for size in sorted(args.sizes, reverse=True):
            model_path = Path(folder) / f"m{size}.skops"
            argv = [
                sys.executable,
                __file__,
                "--worker",
                args.preset,
                folder,
                str(size),
                str(args.n_jobs),
                str(model_path),
            ]
            seconds, tree, largest = measure(argv)
            model, _ = load_model(model_path)
            predictions[size] = model.predict(held.X)
            reference = predictions[max(predictions)]
            print(
                f"{size:>6} {size * 441:>7} {seconds:>8.1f} {tree / 2**20:>7.0f} MB "
                f"{largest / 2**20:>7.0f} MB "
                f"{f1_score(truth, predictions[size], average='macro'):>9.3f} "
                f"{np.mean(predictions[size] == reference):>7.1%}",
                flush=True,
            )
        print(
            "peak tree: the fit and its workers, summed (sampled); peak proc: the largest "
            "process's own; agrees: held-out tiles labelled as by the largest sample's model"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        fit_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        main()
