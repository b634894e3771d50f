"""
Synthetic arrays and their tiles
================================

Build a synthetic pillar-array set, tile it, and count tiles and ground-truth classes.

Run with ``python3 tasks.py demo`` (or ``python examples/synthetic_tiles.py`` in an
environment with sklearn-pillars installed).
"""

import tempfile
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np

from sklearn_pillars import CLASSES, make_pillar_arrays, read_arrays

synthetic = make_pillar_arrays(n_arrays=3, grid_size=21, random_state=0)

# Round trip through image files, as real arrays arrive: write, read back, tile.
with tempfile.TemporaryDirectory() as folder:
    paths = []
    for name, image in zip(synthetic.array_names, synthetic.array_images, strict=True):
        paths.append(Path(folder) / f"{name}.png")
        cv2.imwrite(str(paths[-1]), image)
    tiles = read_arrays(paths, grid_size=21)
assert np.array_equal(tiles.X, synthetic.X), "file round trip changed the tiles"

print(f"{len(tiles)} tiles of {tiles.tile_size}x{tiles.tile_size} px; X is {tiles.X.shape}")
header = f"{'array':<14}{'tiles':>6}" + "".join(f"{c:>11}" for c in CLASSES)
print(header)
for index, name in enumerate(tiles.array_names):
    in_array = tiles.positions[:, 0] == index
    counts = [np.sum(synthetic.y[in_array] == c) for c in CLASSES]
    print(f"{name:<14}{in_array.sum():>6}" + "".join(f"{n:>11}" for n in counts))
kinds, n = np.unique(synthetic.stitch_type[synthetic.y == "Stitching"], return_counts=True)
print("stitching kinds:", dict(zip(kinds.tolist(), n.tolist(), strict=True)))

# %%
# The first synthetic array, and the first tiles of each ground-truth class in it.
fig, ax = plt.subplots(figsize=(6, 6))
ax.imshow(synthetic.array_images[0], cmap="gray")
ax.set_title(f"{synthetic.array_names[0]}: {int(np.sum(tiles.positions[:, 0] == 0))} tiles")
ax.set_axis_off()

n_shown = 8
low, high = np.percentile(synthetic.array_images[0], [0.5, 99.5])  # the array's grey range
fig, axes = plt.subplots(len(CLASSES), n_shown, figsize=(n_shown, len(CLASSES) + 0.5))
for cls, row in zip(CLASSES, axes, strict=True):
    picks = np.flatnonzero((synthetic.y == cls) & (synthetic.positions[:, 0] == 0))[:n_shown]
    for ax, i in zip(row, picks, strict=False):
        ax.imshow(synthetic.images[i], cmap="gray", vmin=low, vmax=high)
    for ax in row:
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(cls)
fig.suptitle("tiles of each class (ground truth)")
