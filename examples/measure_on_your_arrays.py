"""
Measure it on your arrays
=========================

How well does the classifier do on *your* arrays? Label some of their tiles (the
report's review page downloads a ``labels.csv``; here the synthetic arrays' known truth
stands in for a person's labels), score a model against them with
:func:`~sklearn_pillars.evaluate`, and search the classifier's parameters with the same
labels, keeping each array whole in a fold (``GroupKFold``).
Run it with::

    python examples/measure_on_your_arrays.py
"""

import csv
import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_pillars import LayeredPeelClassifier, evaluate, make_pillar_arrays, read_labels
from sklearn_pillars.report import write_evaluation

# Four synthetic arrays; the first two train a model, the other two are "yours".
tiles = make_pillar_arrays(n_arrays=4, grid_size=15, random_state=1)
first_two = tiles.positions[:, 0] < 2
model = LayeredPeelClassifier(random_state=0).fit(tiles.X[first_two])

# The labels file, in the format the review page downloads: only the sites a person
# checked need to be there (here: every other site of arrays 3 and 4).
folder = Path(tempfile.mkdtemp())
labels = folder / "labels.csv"
with labels.open("w", newline="", encoding="utf-8") as f:
    rows = csv.writer(f)
    rows.writerow(["array", "row", "col", "label", "confidence", "stitch_type", "note"])
    for i in np.flatnonzero(~first_two)[::2]:
        a, r, c = tiles.positions[i]
        rows.writerow([tiles.array_names[a], r, c, tiles.y[i], "high", tiles.stitch_type[i], ""])
print(f"{len(read_labels(labels))} labelled sites in {labels.name}")

# %%
# Score the saved (here: fitted) model on the labelled arrays. Only labelled tiles count;
# labels that match no tile are listed, not dropped silently.
yours = tiles[tiles.positions[:, 0] >= 2]
result = evaluate(model, yours, labels)
print(
    f"{result.n_labelled} labelled tiles: accuracy {result.accuracy:.1%}, "
    f"macro-F1 {result.macro_f1:.3f}; {result.n_unlabelled} tiles without a label"
)
report = result.report()
for name in result.classes:
    print(
        f"  {name:10s} precision {report[name]['precision']:.3f} recall "
        f"{report[name]['recall']:.3f} F1 {report[name]['f1-score']:.3f} "
        f"({int(report[name]['support'])} tiles)"
    )
for array in result.per_array():
    print(
        f"  {array['array']}: {array['labelled']} of {array['tiles']} tiles labelled, "
        f"accuracy {array['accuracy']:.1%}"
    )

# %%
# The folder ``sklearn-pillars evaluate`` writes: tables, the confusion matrix as a
# picture, a gallery of each kind of disagreement, and an index.html.
out = folder / "eval"
out.mkdir()
write_evaluation(out, result, yours, title="Arrays 3 and 4")
fig, ax = plt.subplots(figsize=(6, 5))
ax.imshow(mpimg.imread(out / "confusion.png"))
ax.set_axis_off()
plt.show()

# %%
# The same labels choose the parameters: a grid search scored by macro-F1, each fold
# leaving whole arrays out. Tiles without a label are left out of the search.
search = GridSearchCV(
    LayeredPeelClassifier(random_state=0),
    {"irregular__threshold": [1.5, 2.5]},
    scoring="f1_macro",
    cv=GroupKFold(n_splits=2),
)
search.fit(yours.X[result.tiles], result.y_true, groups=result.positions[:, 0])
print("best:", search.best_params_, f"macro-F1 {search.best_score_:.3f}")
