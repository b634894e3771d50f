"""How well a model labels arrays that a person labelled: :func:`evaluate`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
)
from sklearn.utils.validation import check_is_fitted

from ..constants import STITCHING, class_order
from ..io import read_labels
from ..peel import load_model


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A model's labels against a person's, tile by tile (see :func:`evaluate`).

    Only the tiles that have a label are evaluated.

    Attributes
    ----------
    classes : tuple of str
        The model's classes (``classes_``), in display order (the peel order,
        Good last): the rows and columns of every table.
    y_true, y_pred : ndarray of str, shape (n_labelled,)
        The person's and the model's label of each labelled tile.
    kinds_true, kinds_pred : ndarray of str, shape (n_labelled,)
        The stitch kind (``"seam"``, ``"field"`` or ``""``) each gives.
    tiles : ndarray of int, shape (n_labelled,)
        Each labelled tile's index in the :class:`~sklearn_pillars.TileSet`.
    positions : ndarray of int, shape (n_labelled, 3)
        Array index, 1-based row and column of each labelled tile.
    array_names : tuple of str
        The arrays' names (``TileSet.array_names``).
    array_tiles : ndarray of int
        Each array's tiles in the TileSet, labelled or not.
    unmatched : list of tuple
        ``(array, row, col, label)`` of each label that matches no tile (an
        array not given, or a site outside its grid), sorted.
    n_unlabelled : int
        Tiles without a label (not evaluated).
    self_fit : bool
        Whether the model was fitted on these tiles (an unfitted model was
        given) rather than predicting them.
    """

    classes: tuple
    y_true: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)
    kinds_true: np.ndarray = field(repr=False)
    kinds_pred: np.ndarray = field(repr=False)
    tiles: np.ndarray = field(repr=False)
    positions: np.ndarray = field(repr=False)
    array_names: tuple
    array_tiles: np.ndarray = field(repr=False)
    unmatched: list = field(repr=False)
    n_unlabelled: int
    self_fit: bool

    @property
    def n_labelled(self):
        """Tiles evaluated."""
        return len(self.y_true)

    @property
    def accuracy(self):
        """Share of the labelled tiles given the person's class."""
        return float(accuracy_score(self.y_true, self.y_pred))

    @property
    def macro_f1(self):
        """The mean of the classes' F1 scores (a class absent from both counts as 0)."""
        return float(
            f1_score(
                self.y_true,
                self.y_pred,
                labels=list(self.classes),
                average="macro",
                zero_division=0,
            )
        )

    def report(self):
        """scikit-learn's :func:`~sklearn.metrics.classification_report` as a dict: each
        class's precision, recall, F1 and support, ``"accuracy"``, ``"macro avg"`` and
        ``"weighted avg"``."""
        return classification_report(
            self.y_true,
            self.y_pred,
            labels=list(self.classes),
            output_dict=True,
            zero_division=0,
        )

    def confusion(self):
        """The confusion matrix: row the person's class, column the model's, in
        :attr:`classes` order (scikit-learn's :func:`~sklearn.metrics.confusion_matrix`)."""
        return confusion_matrix(self.y_true, self.y_pred, labels=list(self.classes))

    def per_array(self):
        """Each array's figures: a list of dicts with ``array``, ``tiles``,
        ``labelled``, ``accuracy`` and ``macro_f1`` (NaN for an array without
        labelled tiles), for the arrays with tiles."""
        rows = []
        for index, name in enumerate(self.array_names):
            if not self.array_tiles[index]:
                continue
            member = self.positions[:, 0] == index
            if member.any():
                truth, found = self.y_true[member], self.y_pred[member]
                accuracy = float(accuracy_score(truth, found))
                macro = float(
                    f1_score(
                        truth, found, labels=list(self.classes), average="macro", zero_division=0
                    )
                )
            else:
                accuracy = macro = float("nan")
            rows.append(
                {
                    "array": name,
                    "tiles": int(self.array_tiles[index]),
                    "labelled": int(member.sum()),
                    "accuracy": accuracy,
                    "macro_f1": macro,
                }
            )
        return rows

    def disagreements(self):
        """The labelled tiles the model labels otherwise, by (person's, model's) class:
        a dict of pairs to indices into the evaluated tiles, most frequent pair first."""
        pairs = {}
        for i in np.flatnonzero(self.y_true != self.y_pred):
            pairs.setdefault((str(self.y_true[i]), str(self.y_pred[i])), []).append(int(i))
        return dict(sorted(pairs.items(), key=lambda item: (-len(item[1]), item[0])))

    def stitch_kinds(self):
        """How well the kind of the labelled Stitching tiles is told: ``(right, labelled,
        called)``: tiles of a kind the model calls Stitching of that kind, tiles the
        person gave a kind, and those of them the model calls Stitching."""
        kinded = self.kinds_true != ""
        called = kinded & (self.y_pred == STITCHING)
        right = called & (self.kinds_pred == self.kinds_true)
        return int(right.sum()), int(kinded.sum()), int(called.sum())


def evaluate(model, tiles, labels):
    """Score a model's labels of tiles against labels a person gave them.

    Parameters
    ----------
    model : LayeredPeelClassifier or path-like
        A fitted model predicts the tiles; an unfitted one is fitted on them
        first (a clone: what the notebook does, and ``inspect`` without a
        model), which scores it on its own training tiles. A path loads a
        model file saved by :func:`~sklearn_pillars.peel.save_model` (only a
        ``.skops`` file; load a trusted ``.joblib`` with ``load_model``).
    tiles : TileSet
        The tiles of the labelled arrays, e.g. from
        :func:`~sklearn_pillars.read_arrays`; an array's name is its file
        name without suffix.
    labels : path-like or dict
        A label file (``array,row,col,label`` and optionally
        ``stitch_type``, as :func:`~sklearn_pillars.read_labels` reads and
        the review page downloads), or what ``read_labels`` returns.

    Returns
    -------
    Evaluation
        The labelled tiles' labels both ways, with the figures:
        ``accuracy``, ``macro_f1``, ``report()``, ``confusion()``,
        ``per_array()``, ``disagreements()``, and the labels that matched no
        tile (``unmatched``). :func:`~sklearn_pillars.report.write_evaluation`
        writes them as a folder of tables, pictures and a page.

    Raises
    ------
    ValueError
        When no label matches a tile.

    See Also
    --------
    read_labels : The label file's format.
    sklearn.metrics.classification_report : The per-class figures.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_pillars import LayeredPeelClassifier, evaluate, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=9, random_state=0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "labels.csv")
    ...     rows = ["array,row,col,label"] + [
    ...         f"{tiles.array_names[a]},{r},{c},{y}"
    ...         for (a, r, c), y in zip(tiles.positions, tiles.y)
    ...     ]
    ...     _ = path.write_text("\\n".join(rows) + "\\n")
    ...     result = evaluate(LayeredPeelClassifier(random_state=0), tiles, path)
    >>> result.n_labelled, 0 <= result.macro_f1 <= 1, result.unmatched
    (81, True, [])
    """
    table = labels if isinstance(labels, dict) else read_labels(labels)
    if isinstance(model, (str, os.PathLike)):
        model, _ = load_model(model)
    try:
        check_is_fitted(model)
        self_fit = False
    except NotFittedError:
        self_fit = True
    if self_fit:
        model = clone(model).fit(tiles.X)
        predicted, kinds = np.asarray(model.labels_), np.asarray(model.kinds_)
    else:
        traced = model.trace(tiles.X)
        predicted, kinds = np.asarray(traced.labels), np.asarray(traced.kinds)
    keys = [(tiles.array_names[a], int(r), int(c)) for a, r, c in tiles.positions]
    labelled = np.array([key in table for key in keys], dtype=bool)
    if not labelled.any():
        some = ", ".join(sorted({key[0] for key in table})[:3])
        raise ValueError(
            f"no label matches a tile: the labels name array(s) {some or '(none)'}, the tiles "
            f"{', '.join(tiles.array_names[:3])}{' ...' if len(tiles.array_names) > 3 else ''} "
            "(an array's name is its file name without suffix)"
        )
    index = np.flatnonzero(labelled)
    truth = [table[keys[i]] for i in index]
    known = set(keys)
    unmatched = sorted(
        (array, row, col, label)
        for (array, row, col), (label, _) in table.items()
        if (array, row, col) not in known
    )
    return Evaluation(
        classes=tuple(class_order([str(c) for c in model.classes_])),
        y_true=np.array([label for label, _ in truth], dtype=str),
        y_pred=predicted[index].astype(str),
        kinds_true=np.array([kind for _, kind in truth], dtype=str),
        kinds_pred=kinds[index].astype(str),
        tiles=index,
        positions=np.asarray(tiles.positions)[index],
        array_names=tuple(tiles.array_names),
        array_tiles=np.bincount(
            np.asarray(tiles.positions)[:, 0], minlength=len(tiles.array_names)
        ),
        unmatched=unmatched,
        n_unlabelled=int((~labelled).sum()),
        self_fit=self_fit,
    )
