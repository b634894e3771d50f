"""
Find the lattice of a rotated frame
===================================

Find the lattice of an uncropped, rotated frame and classify the tiles cut around it.

Without an image it renders a synthetic frame as a microscope would take it: a 12 x 16
array of pillars rotated by 3.5 degrees inside a margin of substrate, under an
illumination gradient. ``find_lattice`` gets the grid, pitch, rotation and a centre for
every site from the image alone; ``tile_array(image, "auto")`` turns the frame upright
and cuts one tile around each site; the defect map shows the sites found. On a frame of
your own::

    python examples/find_the_lattice.py [FRAME_IMAGE] [--map MAP.png]
"""

import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_pillars import (
    LayeredPeelClassifier,
    find_lattice,
    make_pillar_arrays,
    read_image,
    tile_array,
)
from sklearn_pillars.report import defect_map, defect_map_png

args = sys.argv[1:]
map_path = Path(args.pop(args.index("--map") + 1)) if "--map" in args else None
args = [a for a in args if a != "--map"]
if args:
    image, truth, name = read_image(args[0]), None, Path(args[0]).stem
else:
    frame = make_pillar_arrays(
        n_arrays=1,
        shape=(12, 16),
        rotation=3.5,
        random_state=3,
        margin=(1.5, 1.0, 0.8, 2.0),
        gradient=30,
        derotate=False,
    )
    image, truth, name = frame.array_images[0], frame.lattices[0], "synthetic frame"

lattice = find_lattice(image)
print(f"{name} ({image.shape[1]} x {image.shape[0]} px): {lattice}")
if truth is not None:
    error = np.sqrt(np.mean(np.sum((lattice.centers - truth.centers) ** 2, axis=-1)))
    print(
        f"  true grid {truth.shape[0]} x {truth.shape[1]}, rotated {truth.angle:+.2f} deg; "
        f"site centres within {error:.2f} px RMS of the truth"
    )

tiles = tile_array(image, lattice=lattice, name=name)  # turned upright (> 0.5 deg)
print(
    f"  {len(tiles)} tiles of {tiles.tile_size} px cut around the refined centres; the "
    f"upright image is {tiles.array_images[0].shape[1]} x {tiles.array_images[0].shape[0]} px"
)

# The default ("refined") preset compares each tile with its own array: fitted on this
# frame alone.
model = LayeredPeelClassifier().fit(tiles.X)
result = model.trace(tiles.X)
print("  labels:", dict(sorted(Counter(result.labels.tolist()).items())))

with tempfile.TemporaryDirectory() as folder:
    out = map_path or Path(folder) / "map.png"
    defect_map(
        out,
        tiles.array_images[0],
        name,
        "auto",
        tiles.positions[:, 1:],
        result.labels,
        result.kinds,
        lattice=tiles.lattices[0],
    )
    print(
        f"  defect map with every site marked: {out if map_path else 'map.png'} "
        f"({out.stat().st_size // 1024} kB)"
    )

# %%
# Left, the frame as given, with the centre of every site found; right, the defect map of
# the upright frame, as the report draws it.
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5))
left.imshow(image, cmap="gray")
left.plot(*lattice.centers.reshape(-1, 2).T, "+", color="tab:red", markersize=5)
left.set_title(
    f"{name}: {lattice.shape[0]} x {lattice.shape[1]} sites found, rotated {lattice.angle:+.1f} deg"
)
png = defect_map_png(
    tiles.array_images[0],
    name,
    "auto",
    tiles.positions[:, 1:],
    result.labels,
    result.kinds,
    lattice=tiles.lattices[0],
)
right.imshow(plt.imread(io.BytesIO(png)))
for ax in (left, right):
    ax.set_axis_off()
fig.tight_layout()
