"""Feature throughput: tiles/s per transformer at 1k, 10k, 100k synthetic tiles, with peak memory,
and the speed-up over the original notebook's per-tile functions on its 1,323 real tiles.

    .venv/bin/python benchmarks/bench_features.py [--sizes 1000 10000 100000] [--repeat 3]

The notebook comparison runs when ../shared (the notebook and the real arrays) is present.
Figures, not pass/fail: speed goals are read off this output, never asserted in tests.
"""

import argparse
import platform
import tracemalloc

import _common
import numpy as np

from sklearn_pillars import (
    Anisotropy,
    CenterIntensity,
    ContextualFeatures,
    CurvatureIrregularity,
    DarknessArea,
    NeighborDeviation,
    PillarFeatures,
    RadialDeviation,
    RotationSymmetry,
    StitchingFeatures,
    read_arrays,
)

EIGHT = [
    CenterIntensity,
    DarknessArea,
    StitchingFeatures,
    RotationSymmetry,
    NeighborDeviation,
    Anisotropy,
    CurvatureIrregularity,
    RadialDeviation,
]
# the full feature set: the four layers' transformers one after another, or in one pass
FULL_SET = [CenterIntensity, DarknessArea, StitchingFeatures, ContextualFeatures]
FULL_SETS = [
    ("all eight, 4 transformers", FULL_SET),
    ("all eight, PillarFeatures", [PillarFeatures]),
]


def peak_memory(function):
    """Peak bytes allocated through Python's allocators (NumPy included) while running."""
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def throughput(sizes, repeat, n_jobs):
    print(f"\n## Throughput on synthetic tiles (tiles/s; best of {repeat}; n_jobs={n_jobs})")
    header = f"{'transformer':<28}" + "".join(f"{n:>14,}" for n in sizes)
    print(header + f"{'peak MB @' + format(sizes[-1], ','):>18}")
    data = {n: _common.synthetic_x(n) for n in sizes}
    rows = [(cls.__name__, [cls]) for cls in EIGHT + [ContextualFeatures]] + FULL_SETS
    for name, classes in rows:
        line = f"{name:<28}"
        for n in sizes:
            X = data[n]
            reps = repeat if n <= 10_000 else 1

            def run(X=X, classes=classes):
                for cls in classes:
                    cls(n_jobs=n_jobs).fit_transform(X)

            line += f"{n / _common.best_time(run, reps):>14,.0f}"
        peak = peak_memory(
            lambda X=data[sizes[-1]], classes=classes: [
                c(n_jobs=n_jobs).fit_transform(X) for c in classes
            ]
        )
        print(line + f"{peak / 1e6:>18.1f}")
    print(f"(X itself: {data[sizes[-1]].nbytes / 1e6:,.0f} MB at {sizes[-1]:,} tiles)")


def against_notebook(repeat):
    seed_notebook = _common.seed_notebook()
    if seed_notebook is None:
        print("\n(../shared absent: no comparison with the notebook)")
        return
    tiles = read_arrays(_common.SEED_ARRAYS)
    records = seed_notebook.tile_dicts(tiles)
    seed = seed_notebook.load_functions()
    seed_calls = {
        "CenterIntensity": lambda: seed["extract_center_intensity"](records),
        "DarknessArea": lambda: seed["extract_darkness_area"](records),
        "StitchingFeatures": lambda: seed["extract_stitching_features"](records),
        "RotationSymmetry": lambda: seed["compute_rotation_symmetry"](records),
        "NeighborDeviation": lambda: seed["compute_neighbor_deviation"](records, None),
        "Anisotropy": lambda: seed["compute_anisotropy"](records),
        "CurvatureIrregularity": lambda: seed["compute_curvature_irregularity"](records),
        "RadialDeviation": lambda: seed["compute_radial_deviation"](records),
    }
    print(
        f"\n## Against the notebook's per-tile functions: {len(tiles)} real tiles of arrays 1-3"
        f" (best of {repeat}, side by side in this run)"
    )
    print(f"{'transformer':<28}{'notebook ms':>12}{'package ms':>12}{'speed-up':>10}")
    seed_total = 0.0
    for cls in EIGHT:
        t_seed = _common.best_time(seed_calls[cls.__name__], repeat)
        t_ours = _common.best_time(lambda cls=cls: cls().fit_transform(tiles.X), repeat)
        seed_total += t_seed
        print(
            f"{cls.__name__:<28}{t_seed * 1e3:>12.1f}{t_ours * 1e3:>12.1f}{t_seed / t_ours:>9.1f}x"
        )
    for name, classes in FULL_SETS:

        def run(classes=classes):
            for cls in classes:
                cls().fit_transform(tiles.X)

        t_full = _common.best_time(run, repeat)
        print(
            f"{name:<28}{seed_total * 1e3:>12.1f}{t_full * 1e3:>12.1f}{seed_total / t_full:>9.1f}x"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()
    print(
        f"# sklearn-pillars feature benchmark — {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
    )
    against_notebook(args.repeat)
    throughput(args.sizes, args.repeat, args.n_jobs)


if __name__ == "__main__":
    main()
