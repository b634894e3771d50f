"""
Save a model and reuse it on a new array
========================================

Fit on some arrays, save the model, load it later and classify an array it has never seen.

Defaults to arrays 1-3 of ../shared/data for training and Array_4 as the new array when
present; otherwise synthetic arrays. It uses the defaults: each image's lattice is found
and the tiles cut around its pillars, and the "refined" preset's features compare each tile
with its own array, so that a saved model transfers to an array of another brightness,
contrast or focus; the model is saved as .skops (safe to load). On arrays of your own::

    python examples/save_and_reuse.py [TRAIN_ARRAY ... NEW_ARRAY]
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
    concat_tilesets,
    make_pillar_arrays,
    read_arrays,
    tile_array,
)
from sklearn_pillars.persist import load_model, save_model
from sklearn_pillars.report import defect_map_png
from sklearn_pillars.sanity import drift_warnings

shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "arrays"
paths = [Path(p) for p in sys.argv[1:]] or [
    shared / name
    for name in ("Array_1Crop.bmp", "Array_2Crop.bmp", "Array_3Crop.bmp", "Array_4.bmp")
]
if len(paths) >= 2 and all(p.is_file() for p in paths):
    train, new = read_arrays(paths[:-1]), read_arrays(paths[-1])
else:
    print("real arrays not found: using synthetic arrays")
    images = make_pillar_arrays(n_arrays=4, random_state=0)
    found = [  # as read_arrays does: each image's lattice found, the tiles cut around it
        tile_array(image, name=name)
        for image, name in zip(images.array_images, images.array_names, strict=True)
    ]
    train, new = concat_tilesets(found[:-1]), found[-1]

model = LayeredPeelClassifier().fit(train.X)
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "pillars.skops"
    # the training arrays' statistics travel with the model: a new array far outside them
    # (another magnification, contrast or pillar size) gets a warning
    save_model(model, path, profiles=train.array_profiles)
    loaded, info = load_model(path)

result = loaded.trace(new.X)  # labels, inconsistency scores and stitch kinds in one pass
labels, scores = result.labels, result.scores
assert np.array_equal(labels, model.predict(new.X))
print(
    f"fitted on {', '.join(train.array_names)} (preset {info['preset']!r}); "
    f"classified {new.array_names[0]}:"
)
for message in drift_warnings(new.array_profiles or [], info["profiles"], new.array_names):
    print("  warning:", message)
print(" ", dict(sorted(Counter(labels.tolist()).items())))
print("  stitching kinds:", dict(Counter(result.kinds[labels == "Stitching"].tolist())))
worst = np.argsort(np.nan_to_num(scores, nan=-np.inf))[::-1][:5]
print(
    "  most inconsistent tiles:", ", ".join(f"{new.tile_names[i]} ({scores[i]:.2f})" for i in worst)
)

# %%
# The new array's defect map, as the report draws it: each defect outlined in its class
# colour, image seams dashed and write-field lines solid.
png = defect_map_png(
    new.array_images[0],
    new.array_names[0],
    "auto",
    new.positions[:, 1:],
    labels,
    result.kinds,
    lattice=new.lattices[0],
)
fig, ax = plt.subplots(figsize=(8, 8.5))
ax.imshow(plt.imread(io.BytesIO(png)))
ax.set_axis_off()
fig.tight_layout()
