"""Many arrays: throughput (tiles/s) and peak memory of classifying with a saved model.

    .venv/bin/python benchmarks/bench_scale.py [--arrays 10 100 1000] [--n-jobs 1 2]
                                               [--preset notebook]

Synthetic 21 x 21 arrays are rendered into a temporary folder (ten distinct ones, copied
to make up the count); a model fitted on three others is saved and loaded as a user
would. Each run is a subprocess, so its peak RSS (``ru_maxrss`` from ``wait4``) is its
own. Two ways are timed: :func:`sklearn_pillars.iter_inspect` alone (read, featurise and
classify one array at a time), and ``sklearn-pillars inspect --model`` with its streamed
report. Figures, not pass/fail.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DISTINCT = 10


def worker(model_path, folder, n_arrays, n_jobs):
    from sklearn_pillars import iter_inspect
    from sklearn_pillars.persist import load_model

    model, info = load_model(model_path)
    paths = sorted(Path(folder).glob("*.png"))[:n_arrays]
    start = time.perf_counter()
    tiles = good = 0
    for result in iter_inspect(paths, model, info["grid_size"], info["tile_half"],
                               n_jobs=n_jobs):
        tiles += len(result.labels)
        good += int((result.labels == "Good").sum())
    elapsed = time.perf_counter() - start
    print(f"{elapsed:.3f} {tiles} {good} {_children_peak()}")


def _children_peak():
    """Summed peak RSS (bytes) of this process's live children: the loky workers (Linux)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(os.getpid()) and "VmHWM" in fields:
            total += int(fields["VmHWM"].split()[0]) * 1024
    return total


def measure(model_path, folder, n_arrays, n_jobs):
    """Seconds, tiles and peak RSS (bytes) of one streamed run in a fresh process."""
    argv = [sys.executable, __file__, "--worker", str(model_path), str(folder), str(n_arrays),
            str(n_jobs)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"run of {n_arrays} arrays with n_jobs={n_jobs} failed")
    seconds, tiles, _, children = out.split()
    # ru_maxrss is the main process's; the loky workers' peaks are added (they run at once)
    return float(seconds), int(tiles), usage.ru_maxrss * 1024 + int(children)


def measure_cli(model_path, folder, n_arrays, n_jobs, out):
    """Seconds and peak RSS of ``sklearn-pillars inspect --model``, report included.

    The peak is the largest of the command's process and its worker processes.
    """
    paths = sorted(Path(folder).glob("*.png"))[:n_arrays]
    argv = [sys.executable, "-m", "sklearn_pillars", "inspect", *map(str, paths), "--model",
            str(model_path), "--out", str(out), "--n-jobs", str(n_jobs), "-q"]
    start = time.perf_counter()
    proc = subprocess.Popen(argv)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"inspect of {n_arrays} arrays with --n-jobs {n_jobs} failed")
    shutil.rmtree(out)
    return seconds, n_arrays * 441, usage.ru_maxrss * 1024


def prepare(folder, n_arrays, preset):
    import cv2

    from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays
    from sklearn_pillars.persist import save_model

    train = make_pillar_arrays(n_arrays=3, grid_size=21, random_state=100)
    model = LayeredPeelClassifier(preset).fit(train.X)
    model_path = Path(folder) / "model.skops"
    save_model(model, model_path, grid_size=21, tile_half=32)
    arrays = Path(folder) / "arrays"
    arrays.mkdir()
    distinct = make_pillar_arrays(n_arrays=DISTINCT, grid_size=21, random_state=0,
                                  photometric=0.5)
    for index, image in enumerate(distinct.array_images):
        cv2.imwrite(str(arrays / f"array_{index:05d}.png"), image)
    for index in range(DISTINCT, n_arrays):
        shutil.copyfile(arrays / f"array_{index % DISTINCT:05d}.png",
                        arrays / f"array_{index:05d}.png")
    return model_path, arrays


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrays", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--n-jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--preset", default="notebook", choices=["notebook", "refined"])
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"preset {args.preset!r}")
    with tempfile.TemporaryDirectory() as folder:
        model_path, arrays = prepare(folder, max(args.arrays), args.preset)
        print(f"{'arrays':>7} {'tiles':>8} {'n_jobs':>6} {'seconds':>8} {'tiles/s':>8} "
              f"{'peak RSS':>9} {'1M tiles':>9}")
        for what, run in (("iter_inspect", measure), ("inspect CLI", measure_cli)):
            print(what + (" (classification only; peak RSS of the main process plus its "
                          "workers')" if run is measure else
                          " (report included; peak RSS of the largest process)"))
            for n_arrays in args.arrays:
                for n_jobs in args.n_jobs:
                    extra = (Path(folder) / "out",) if run is measure_cli else ()
                    seconds, tiles, peak = run(model_path, arrays, n_arrays, n_jobs, *extra)
                    rate = tiles / seconds
                    print(f"{n_arrays:>7} {tiles:>8} {n_jobs:>6} {seconds:>8.1f} {rate:>8.0f} "
                          f"{peak / 2**20:>7.0f} MB {1e6 / rate / 60:>6.1f} min", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
