"""
Reproduce the original notebook
===============================

Reproduce the original notebook's labels on its three arrays with one estimator: the
``"notebook"`` preset on the notebook's own uniform 21 x 21 grid. This is a special case,
kept exact for reference; the package's default (the ``"refined"`` preset on the lattice
found in each image, as in the other examples) finds far more of the real defects.

Defaults to the real arrays in ../shared/data when present; otherwise it runs on a
synthetic array set and compares with the ground truth instead. On arrays of your own::

    python examples/reproduce_notebook.py [ARRAY_1 ARRAY_2 ARRAY_3 [SEED_LABELS_CSV]]
"""

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays, read_arrays

shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
arrays = [Path(p) for p in sys.argv[1:4]] or [
    shared / "arrays" / f"Array_{i}Crop.bmp" for i in (1, 2, 3)
]
labels = Path(sys.argv[4]) if len(sys.argv) > 4 else shared / "labels" / "seed_labels.csv"

if all(p.is_file() for p in arrays):
    tiles = read_arrays(arrays, grid_size=21, labels=labels if labels.is_file() else None)
    reference = "the notebook's own labels"
else:
    print("real arrays not found: using a synthetic array set")
    tiles = make_pillar_arrays(n_arrays=3, random_state=0)
    reference = "the synthetic ground truth"

model = LayeredPeelClassifier(stages="notebook")  # the notebook's four layers, exactly
predicted = model.fit_predict(tiles.X)

print(f"{len(tiles)} tiles from {', '.join(tiles.array_names)}")
for name, stage in model.stages_:
    if hasattr(stage, "cluster_sizes_"):
        print(
            f"  {name:<10} cluster sizes {stage.cluster_sizes_.tolist()}, "
            f"peeled cluster {stage.selected_clusters_.tolist()}: {stage.peeled_.sum()} tiles"
        )
    else:
        print(f"  {name:<10} LOF over {len(stage.peeled_)} tiles: {stage.peeled_.sum()} outliers")
print("classes:", dict(sorted(Counter(predicted.tolist()).items())))
if tiles.y is not None:
    print(f"agreement with {reference}: {np.mean(predicted == tiles.y):.2%}")
