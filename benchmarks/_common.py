"""What the benchmarks share: synthetic inputs of any size and the notebook's functions."""

import sys
import time
from pathlib import Path

import numpy as np

from sklearn_pillars import make_pillar_arrays

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
SEED_ARRAYS = [SHARED / "data" / "arrays" / f"Array_{i}Crop.bmp" for i in (1, 2, 3)]


def synthetic_x(n_tiles, seed=0):
    """X of n_tiles synthetic tiles: four rendered arrays, repeated as further arrays."""
    base = make_pillar_arrays(n_arrays=4, grid_size=21, random_state=seed).X
    reps = -(-n_tiles // len(base))
    X = np.concatenate([base] * reps)[:n_tiles].copy()
    X[:, 0] += np.repeat(np.arange(reps) * 4, len(base))[:n_tiles]  # distinct arrays
    return X


def seed_notebook():
    """The tests' loader of the notebook's functions, or None when ../shared is absent."""
    sys.path.insert(0, str(ROOT / "tests"))
    import seed_notebook as loader

    if not (loader.available() and all(p.is_file() for p in SEED_ARRAYS)):
        return None
    return loader


def best_time(function, repeat):
    """The shortest of ``repeat`` wall-clock times of ``function()``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
