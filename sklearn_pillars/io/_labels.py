"""Reading tile label files and matching them to tiles."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..constants import CLASSES


def read_labels(path):
    """Read a tile label CSV into ``{(array, row, col): (label, stitch_type)}``.

    The format is the lab's (``hand_labels.csv``, and what the report's
    review page downloads)::

        array,row,col,label,confidence,stitch_type,note
        Array_1Crop,1,4,Collapsed,high,,
        Array_1Crop,16,3,Stitching,low,field,split line faint

    ``array`` is the array's name (its image file's name without suffix),
    ``row`` and ``col`` the 1-based site, ``label`` one of the five classes of
    :data:`~sklearn_pillars.CLASSES` (``seed_label`` is read where there is
    no ``label``), ``stitch_type`` ``seam`` or ``field`` for Stitching (or
    empty). Only ``array``, ``row``, ``col`` and the label are required;
    ``confidence``, ``note`` and any other column are kept in the file for
    people and ignored here. A site met twice keeps its last row.

    Parameters
    ----------
    path : str or path-like
        The CSV file (UTF-8). ``row`` and ``col`` are the 1-based grid row
        and column, ``array`` the array's name (its file name without
        suffix).

    Returns
    -------
    dict
        ``(array, row, col)`` to ``(label, stitch_type)``, ``stitch_type``
        ``""`` where the file has none.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If a column is missing, a label is not one of the classes, or a row
        or col is not an integer.

    See Also
    --------
    read_arrays : Its ``labels`` argument fills ``TileSet.y`` from such a file.
    evaluate : Scores a model against such a file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_pillars import read_labels
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "labels.csv")
    ...     _ = path.write_text("array,row,col,label\\nwafer_a,1,2,Missing\\n")
    ...     read_labels(path)
    {('wafer_a', 1, 2): ('Missing', '')}
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        label_col = next((c for c in ("label", "seed_label") if c in fields), None)
        missing = {"array", "row", "col"} - set(fields)
        if missing or label_col is None:
            raise ValueError(
                f"{path}: a label file needs columns array, row, col and label (or seed_label); "
                f"it has {fields}"
            )
        table = {}
        for line, rec in enumerate(reader, start=2):
            label = rec[label_col]
            if label not in CLASSES:
                raise ValueError(
                    f"{path}, line {line}: unknown label {label!r}; expected one of {CLASSES}"
                )
            try:
                key = (rec["array"], int(rec["row"]), int(rec["col"]))
            except ValueError:
                raise ValueError(f"{path}, line {line}: row and col must be integers") from None
            table[key] = (label, rec.get("stitch_type") or "")
    return table


def lookup_labels(path, tiles):
    table = read_labels(path)
    y, stitch = [], []
    for (a, r, c), name in zip(tiles.positions, tiles.tile_names, strict=True):
        key = (tiles.array_names[a], int(r), int(c))
        if key not in table:
            raise ValueError(f"{path}: no label for tile {name}")
        label, kind = table[key]
        y.append(label)
        stitch.append(kind)
    return np.asarray(y, dtype=str), np.asarray(stitch, dtype=str)
