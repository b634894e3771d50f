"""LayeredPeelClassifier speed: against the notebook's own pipeline on its three arrays, and
fit / predict throughput at 1k, 10k, 100k synthetic tiles.

    .venv/bin/python benchmarks/bench_classifier.py [--sizes 1000 10000 100000] [--repeat 3]

The notebook side runs the notebook's own functions (read from ../shared/seed at run time):
segment_array writing tile files, reading them back as the notebook does, its eight feature
functions, StandardScaler + PCA + KMeans per layer and LOF (no plots, no t-SNE). It runs when
../shared is present. Figures, not pass/fail.
"""

import argparse
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

import _common
import numpy as np

from sklearn_pillars import LayeredPeelClassifier, read_arrays


def notebook_pipeline(seed, paths, workdir):
    """The notebook's steps from image files to labels, with its own functions."""
    import cv2
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.preprocessing import StandardScaler

    for path in paths:
        seed["segment_array"](str(path), str(workdir))
    tiles = []
    for path in paths:  # read back as the notebook does
        for file in (Path(workdir) / path.stem).glob("*.bmp"):
            row, col = map(int, file.stem.split("_")[-1].split(","))
            tiles.append(
                {
                    "array": path.stem,
                    "row": row,
                    "col": col,
                    "image": cv2.imread(str(file), cv2.IMREAD_GRAYSCALE),
                }
            )

    def peel(layer_tiles, features):
        X = StandardScaler().fit_transform(np.nan_to_num(features, nan=0, posinf=0, neginf=0))
        X = PCA(n_components=min(5, X.shape[1])).fit_transform(X)
        labels = KMeans(n_clusters=3, random_state=42, n_init=10).fit_predict(X)
        counts = Counter(labels)
        smallest = min(counts, key=counts.get)
        return (
            [t for t, c in zip(layer_tiles, labels, strict=True) if c == smallest],
            [t for t, c in zip(layer_tiles, labels, strict=True) if c != smallest],
        )

    for t in tiles:
        t["label"] = "Good"
    rest = tiles
    for label, function in [
        ("Missing", "extract_center_intensity"),
        ("Collapsed", "extract_darkness_area"),
        ("Stitching", "extract_stitching_features"),
    ]:
        peeled, rest = peel(rest, seed[function](rest))
        for t in peeled:
            t["label"] = label
    contextual = np.hstack(
        [
            seed["compute_rotation_symmetry"](rest),
            seed["compute_neighbor_deviation"](rest, None),
            seed["compute_anisotropy"](rest),
            seed["compute_curvature_irregularity"](rest),
            seed["compute_radial_deviation"](rest),
        ]
    )
    X = StandardScaler().fit_transform(np.nan_to_num(contextual, nan=0, posinf=0, neginf=0))
    outliers = LocalOutlierFactor(n_neighbors=20, contamination="auto").fit_predict(X) == -1
    for t, outlier in zip(rest, outliers, strict=True):
        if outlier:
            t["label"] = "Irregular"
    return {(t["array"], t["row"], t["col"]): t["label"] for t in tiles}


#: The grid each preset is compared on: the notebook's own uniform 21 x 21 grid for the
#: notebook preset (which reproduces it there), the default found lattices for refined.
GRIDS = {"notebook": 21, "refined": "auto"}


def package_pipeline(paths, preset="notebook"):
    tiles = read_arrays(paths, GRIDS[preset])
    labels = LayeredPeelClassifier(preset).fit_predict(tiles.X)
    return {
        (tiles.array_names[a], int(r), int(c)): label
        for (a, r, c), label in zip(tiles.positions, labels, strict=True)
    }


def against_notebook(repeat):
    seed_notebook = _common.seed_notebook()
    if seed_notebook is None:
        print("\n(../shared absent: no comparison with the notebook)")
        return
    seed = seed_notebook.load_functions(extra_names=("segment_array",))
    seed.update(os=__import__("os"))
    seed_times, ours_times = [], {"notebook": [], "refined": []}
    for _ in range(repeat):  # interleaved, so all see the same machine conditions
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            seed_labels = notebook_pipeline(seed, _common.SEED_ARRAYS, workdir)
            seed_times.append(time.perf_counter() - start)
        for preset, times in ours_times.items():
            start = time.perf_counter()
            labels = package_pipeline(_common.SEED_ARRAYS, preset)
            times.append(time.perf_counter() - start)
            if preset == "notebook":
                our_labels = labels
    agree = np.mean([seed_labels[k] == our_labels[k] for k in seed_labels])
    t_seed = min(seed_times)
    print(
        f"\n## Against the notebook's pipeline on arrays 1-3 ({len(seed_labels)} tiles; "
        f"best of {repeat}, interleaved in this run)"
    )
    print(f"notebook (tile files, features, 3 x KMeans, LOF): {t_seed * 1e3:8.0f} ms")
    for preset, times in ours_times.items():
        t_ours = min(times)
        print(
            f"read_arrays (grid {GRIDS[preset]}) + LayeredPeelClassifier({preset!r})"
            f".fit_predict: {t_ours * 1e3:7.0f} ms, {t_seed / t_ours:.1f}x faster"
        )
    print(f"'notebook' labels agree with the notebook's on {agree:.2%} of the tiles")


def throughput(sizes, repeat):
    print(f"\n## Throughput on synthetic tiles (tiles/s, best of {repeat}; 1 for 100k and more)")
    print(f"{'':>10}{'notebook':>24}{'refined':>24}")
    print(f"{'tiles':>10}" + f"{'fit':>12}{'predict':>12}" * 2)
    for n in sizes:
        train, test = _common.synthetic_x(n, seed=0), _common.synthetic_x(n, seed=1)
        reps = repeat if n < 100_000 else 1
        row = f"{n:>10,}"
        for preset in ("notebook", "refined"):
            fit_times, predict_times = [], []
            for _ in range(reps):
                start = time.perf_counter()
                model = LayeredPeelClassifier(preset).fit(train)
                fit_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                model.predict(test)
                predict_times.append(time.perf_counter() - start)
            row += f"{n / min(fit_times):>12,.0f}{n / min(predict_times):>12,.0f}"
        print(row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"# sklearn-pillars classifier benchmark — {platform.machine()}, "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
    )
    against_notebook(args.repeat)
    throughput(args.sizes, args.repeat)


if __name__ == "__main__":
    main()
