"""Many arrays: throughput (tiles/s) and peak memory of inspecting them with a saved model.

    .venv/bin/python benchmarks/bench_scale.py [--arrays 10 100 1000] [--n-jobs 1 2]
        [--modes iter cli python dask] [--preset refined] [--grid auto] [--fit 200]
        [--steps]

Synthetic 21 x 21 arrays are rendered into a temporary folder (ten distinct ones, copied
to make up the count); a model fitted on three others is saved and loaded as a user
would; ``--grid`` is how its tiles and the arrays' are cut (``auto``, the default: around
the lattice found in each image; ``21``: the uniform grid). Each run is a fresh process.
Modes:

- ``iter``: :func:`sklearn_pillars.iter_inspect` alone (read, featurise, classify);
- ``python``: :func:`sklearn_pillars.inspect_arrays`, the report included;
- ``cli``: ``sklearn-pillars inspect FOLDER --model ... --n-jobs N``, the report included;
- ``dask``: :func:`~sklearn_pillars.inspect_arrays` on a ``LocalCluster`` of N worker
  processes (one thread each), started in the run's process, the report included.

Peak memory is measured two ways: the largest single process (its ``VmHWM``, the run's
own process or any of its workers) and the whole process tree (the run and all its
workers, their resident sizes summed, sampled every 0.1 s). *tiles.csv* is the start of
the report table's SHA-256: the same for every way of running the same arrays. ``--fit N``
also times :func:`sklearn_pillars.fit_arrays` on N arrays. ``--steps`` first prints where
one array's time goes, step by step, in this process (median over the distinct arrays, one
thread): read, check (is it a pillar array?), lattice (finding and placing it; the uniform
grid's boxes), tiling, features (the stages' shared pass), classify (the rest of predict),
map (drawing and encoding the defect map) and write (the report's rows). Figures, not
pass/fail.
"""

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DISTINCT = 10
PAGE = os.sysconf("SC_PAGE_SIZE")


def run_worker(mode, model_path, folder, n_arrays, n_jobs, out):
    """The body of one measured run, in its own process; prints seconds and tiles."""
    from sklearn_pillars import inspect_arrays, iter_inspect
    from sklearn_pillars.persist import load_model

    paths = sorted(Path(folder).glob("*.png"))[:n_arrays]
    start = time.perf_counter()
    if mode == "iter":
        model, info = load_model(model_path)
        tiles = sum(
            len(r.labels)
            for r in iter_inspect(paths, model, info["grid_size"], info["tile_half"], n_jobs=n_jobs)
        )
    elif mode == "python":
        tiles = inspect_arrays(paths, model_path, out, n_jobs=n_jobs).n_tiles
    elif mode == "dask":
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=n_jobs, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            start = time.perf_counter()  # the cluster's start-up is not counted
            tiles = inspect_arrays(paths, model_path, out, client=client).n_tiles
    elif mode == "fit":
        from sklearn_pillars import LayeredPeelClassifier, fit_arrays

        model, _ = load_model(model_path)
        fitted = fit_arrays(LayeredPeelClassifier(model.preset_), paths, n_jobs=n_jobs)
        tiles = len(fitted.labels_)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(f"{time.perf_counter() - start:.3f} {tiles}")


def _tree(pid):
    """``pid`` and all its descendants (Linux: /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in children.read_text().split()]
            except OSError:
                continue
    return found


def _rss(pids):
    total, largest = 0, 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                rss = int(f.read().split()[1]) * PAGE
            with open(f"/proc/{p}/status") as f:
                hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))
        except (OSError, StopIteration):
            continue
        total += rss
        largest = max(largest, hwm)
    return total, largest


def measure(argv):
    """Seconds, tiles, peak summed RSS of the process tree and the largest process's peak."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    peak = {"tree": 0, "largest": 0}
    done = threading.Event()

    def poll():
        while not done.wait(0.1):
            total, largest = _rss(_tree(proc.pid))
            peak["tree"] = max(peak["tree"], total)
            peak["largest"] = max(peak["largest"], largest)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out = proc.stdout.read()
    _, status, _ = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    poller.join()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"failed: {' '.join(argv)}")
    # not ru_maxrss: a forked child's counts this (large) process's pages from before exec
    largest = peak["largest"]
    fields = out.split()
    if fields:  # the run timed itself (without interpreter and cluster start-up)
        seconds = float(fields[0])
    return seconds, peak["tree"], largest


def prepare(folder, n_arrays, preset, grid):
    import cv2

    from sklearn_pillars import (
        LayeredPeelClassifier,
        concat_tilesets,
        make_pillar_arrays,
        tile_array,
    )
    from sklearn_pillars.persist import save_model

    train = make_pillar_arrays(n_arrays=3, grid_size=21, random_state=100)
    if grid == "auto":  # cut as the arrays will be
        train = concat_tilesets([tile_array(image, "auto") for image in train.array_images])
    model = LayeredPeelClassifier(preset).fit(train.X)
    model_path = Path(folder) / "model.skops"
    save_model(model, model_path, grid_size=21 if grid == "21" else "auto", tile_half=32)
    arrays = Path(folder) / "arrays"
    arrays.mkdir()
    distinct = make_pillar_arrays(n_arrays=DISTINCT, grid_size=21, random_state=0, photometric=0.5)
    for index, image in enumerate(distinct.array_images):
        cv2.imwrite(str(arrays / f"array_{index:05d}.png"), image)
    for index in range(DISTINCT, n_arrays):
        shutil.copyfile(
            arrays / f"array_{index % DISTINCT:05d}.png", arrays / f"array_{index:05d}.png"
        )
    return model_path, arrays


def steps(model_path, arrays):
    """Median milliseconds of each step of inspecting one array, over the distinct arrays."""
    from threadpoolctl import threadpool_limits

    from sklearn_pillars import ArrayResult
    from sklearn_pillars.io import read_image
    from sklearn_pillars.peel import classify_tiles, load_model, shared_features
    from sklearn_pillars.report import StreamingReport, defect_map_png
    from sklearn_pillars.tiling import build_tileset, place_lattice, profile_arrays, tile_boxes

    model, info = load_model(model_path)
    grid = info["grid_size"]
    features = [stage.features_ for _, stage in model.stages_]
    times = {}

    def timed(step, function, *args, **kwargs):
        start = time.perf_counter()
        value = function(*args, **kwargs)
        times.setdefault(step, []).append(1000 * (time.perf_counter() - start))
        return value

    paths = sorted(arrays.glob("*.png"))[:DISTINCT]
    with tempfile.TemporaryDirectory() as out, threadpool_limits(1):
        report = StreamingReport(out, grid_size=grid, title="steps", classes=model.classes_)
        for repeat in range(2):  # the first round warms caches up; the second is measured
            if repeat:
                times.clear()
            for path in paths:
                grey = timed("read", read_image, path)
                if grid == "auto":
                    grey, lattice = timed("lattice", place_lattice, grey, "auto", tile_half=32)
                    lattices, grid_size = [lattice], None
                else:
                    timed("lattice", tile_boxes, *grey.shape, grid_size=grid, tile_half=32)
                    lattices, grid_size = None, grid
                timed("check", profile_arrays, [grey], [path.stem], grid_size, "raise", lattices)
                tiles = timed(
                    "tiling", build_tileset, [grey], [path.stem], grid_size, 32, lattices=lattices
                )
                timed("features", shared_features, features, tiles.X)
                start = time.perf_counter()
                labels, scores, kinds = classify_tiles(model, tiles.X)
                whole = 1000 * (time.perf_counter() - start)
                times.setdefault("classify", []).append(whole - times["features"][-1])
                positions = tiles.positions[:, 1:]
                png = timed(
                    "map",
                    defect_map_png,
                    grey,
                    path.stem,
                    grid_size or "auto",
                    positions,
                    labels.astype(str),
                    kinds,
                    lattice=lattices and lattices[0],
                    classes=model.classes_,
                )
                result = ArrayResult(
                    name=f"{path.stem}_{repeat}",
                    path=path,
                    labels=labels,
                    scores=scores,
                    kinds=kinds,
                    positions=positions,
                    boxes=tiles.boxes,
                    image=grey,
                    map_png=png,
                )
                timed("write", report.add, result)
        report.abort()
    total = sum(statistics.median(v) for v in times.values())
    print(f"{'step':<9} {'ms/array':>9} {'share':>6}   (median of {len(paths)} arrays, 1 thread)")
    for step in ("read", "check", "lattice", "tiling", "features", "classify", "map", "write"):
        ms = statistics.median(times[step])
        print(f"{step:<9} {ms:>9.1f} {ms / total:>6.1%}")
    print(f"{'total':<9} {total:>9.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrays", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--n-jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--modes",
        nargs="*",
        default=["iter", "python", "cli", "dask"],
        choices=["iter", "python", "cli", "dask"],
    )
    parser.add_argument("--preset", default="refined", choices=["refined", "notebook"])
    parser.add_argument("--grid", default="auto", choices=["auto", "21"])
    parser.add_argument(
        "--fit",
        type=int,
        nargs="*",
        default=[],
        help="also time fit_arrays on these numbers of arrays",
    )
    parser.add_argument("--steps", action="store_true", help="first, the time of each step")
    args = parser.parse_args()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"preset {args.preset!r}, grid {args.grid}"
    )
    with tempfile.TemporaryDirectory() as folder:
        model_path, arrays = prepare(folder, max(args.arrays + args.fit), args.preset, args.grid)
        if args.steps:
            steps(model_path, arrays)
            if not args.modes:
                return
        out = Path(folder) / "out"
        print(
            f"{'mode':<7} {'arrays':>6} {'tiles':>7} {'n_jobs':>6} {'seconds':>8} "
            f"{'tiles/s':>8} {'peak tree':>10} {'peak proc':>10} {'1M tiles':>9} "
            f"{'tiles.csv':>10}"
        )
        runs = [(mode, n, j) for mode in args.modes for n in args.arrays for j in args.n_jobs]
        runs += [("fit", n, j) for n in args.fit for j in args.n_jobs]
        for mode, n_arrays, n_jobs in runs:
            if mode == "dask" and n_jobs == 1:
                continue  # a cluster of one worker says nothing the serial run does not
            if mode == "cli":
                argv = [
                    sys.executable,
                    "-m",
                    "sklearn_pillars",
                    "inspect",
                    str(arrays),
                    "--model",
                    str(model_path),
                    "--out",
                    str(out),
                    "--n-jobs",
                    str(n_jobs),
                    "-q",
                ]
                if n_arrays < len(list(arrays.glob("*.png"))):
                    argv[4:5] = map(str, sorted(arrays.glob("*.png"))[:n_arrays])
            else:
                argv = [
                    sys.executable,
                    __file__,
                    "--worker",
                    mode,
                    str(model_path),
                    str(arrays),
                    str(n_arrays),
                    str(n_jobs),
                    str(out),
                ]
            seconds, tree, largest = measure(argv)
            table = out / "tiles.csv"
            digest = hashlib.sha256(table.read_bytes()).hexdigest()[:10] if table.exists() else "-"
            shutil.rmtree(out, ignore_errors=True)
            tiles = n_arrays * 441
            rate = tiles / seconds
            print(
                f"{mode:<7} {n_arrays:>6} {tiles:>7} {n_jobs:>6} {seconds:>8.1f} "
                f"{rate:>8.0f} {tree / 2**20:>7.0f} MB {largest / 2**20:>7.0f} MB "
                f"{1e6 / rate / 60:>6.1f} min {digest:>10}",
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        run_worker(
            sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
        )
    else:
        main()
