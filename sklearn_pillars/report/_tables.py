"""The report's tables: per-tile rows, per-array yield and counts, written as CSV."""

from __future__ import annotations

import csv
import re
from collections import Counter

import numpy as np

from ..constants import GOOD, STITCHING, UNEVEN_ILLUMINATION, class_order
from ..utils.files import atomic_path


def slugs(names):
    """File-name-safe versions of names, unique even on case-insensitive file systems."""
    out, used = [], set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "x"
        slug, k = base, 1
        while slug.lower() in used:
            k += 1
            slug = f"{base}_{k}"
        used.add(slug.lower())
        out.append(slug)
    return out


#: The files of a report (names and glob patterns): a new report replaces all of them.
REPORT_PATTERNS = (
    "tiles.csv",
    "summary.csv",
    "index.html",
    "map_*.png",
    "gallery_*.png",
    "stage_*.png",
    "inconsistent_*.png",
    "review.html",
    "review_*.js",
    "review_*.jpg",
)


# -- tables -----------------------------------------------------------------------
def tile_rows(tiles, labels, scores, kinds=None):
    """One dict per tile: array, row, col, label, stitch kind, inconsistency, box (and truth).

    ``stitch_kind`` is ``"seam"`` or ``"field"`` for Stitching tiles when the
    model tells the kinds apart (``kinds``), empty otherwise.
    """
    rows = []
    for i, (a, r, c) in enumerate(tiles.positions):
        x0, y0, x1, y1 = tiles.boxes[i]
        row = {
            "array": tiles.array_names[a],
            "row": int(r),
            "col": int(c),
            "label": str(labels[i]),
            "stitch_kind": "" if kinds is None else str(kinds[i]),
            "inconsistency": "" if np.isnan(scores[i]) else f"{scores[i]:.6g}",
            "x0": int(x0),
            "y0": int(y0),
            "x1": int(x1),
            "y1": int(y1),
        }
        if tiles.y is not None:
            row["truth"] = str(tiles.y[i])
        rows.append(row)
    return rows


def yield_counts(labels, kinds=None):
    """What the fabrication yield is made of: Good sites among the sites that count.

    A site labelled Stitching of kind ``"seam"`` lies under a seam where
    stitched microscope images meet: a measurement artefact, so its pillar
    was not seen clearly and it counts neither as good nor as bad. Every
    other site counts, write-field lines (``"field"``, a fabrication
    defect) and Stitching without a kind (a preset that tells none apart)
    among the defects.

    Parameters
    ----------
    labels : array-like of str
        The sites' classes.
    kinds : array-like of str, optional
        Their kinds (``"seam"``, ``"field"`` or ``""``).

    Returns
    -------
    dict
        ``good``, ``seam``, ``field`` (site counts), ``counted`` (the sites
        that count: all but the seam sites) and ``yield`` (``good /
        counted``, NaN when no site counts).

    Examples
    --------
    >>> yield_counts(["Good", "Good", "Stitching", "Stitching", "Missing"],
    ...              ["", "", "seam", "field", ""])["yield"]
    0.5
    """
    labels = np.asarray(labels).astype(str)
    kinds = np.full(len(labels), "") if kinds is None else np.asarray(kinds).astype(str)
    stitched = labels == STITCHING
    seam = int(np.sum(stitched & (kinds == "seam")))
    good = int(np.sum(labels == GOOD))
    counted = len(labels) - seam
    return {
        "good": good,
        "seam": seam,
        "field": int(np.sum(stitched & (kinds == "field"))),
        "counted": counted,
        "yield": good / counted if counted else float("nan"),
    }


def yield_columns(counts):
    """The summary.csv columns of :func:`yield_counts`: ``n_seam``, ``n_field``, ``yield``."""
    value = counts["yield"]
    return {
        "n_seam": counts["seam"],
        "n_field": counts["field"],
        "yield": "" if np.isnan(value) else f"{value:.4f}",
    }


def summary_rows(tiles, labels, classes=(), kinds=None):
    """Per array and overall: tile count, count and share of each class, seam and
    field-line sites, and the yield (:func:`yield_counts`).

    ``classes``: the model's (``classes_``), so that a class without tiles has
    its columns too; labels outside them get columns as well.
    """
    classes = class_order(classes, labels)
    kinds = np.full(len(labels), "") if kinds is None else np.asarray(kinds).astype(str)
    groups = [(name, tiles.positions[:, 0] == i) for i, name in enumerate(tiles.array_names)]
    if len(groups) > 1:
        groups.append(("(all arrays)", np.ones(len(labels), bool)))
    rows = []
    for name, member in groups:
        n = int(member.sum())
        counts = Counter(map(str, labels[member]))
        row = {"array": name, "tiles": n}
        for cls in classes:
            row[f"n_{cls}"] = counts.get(cls, 0)
            row[f"share_{cls}"] = f"{counts.get(cls, 0) / n:.4f}" if n else ""
        row.update(yield_columns(yield_counts(labels[member], kinds[member])))
        rows.append(row)
    return rows


#: What follows a yield measured where part of an array was lit too weakly.
UNCERTAIN = " (uncertain: uneven illumination, see the warning)"


def uneven_illumination(note):
    """Whether a warning's text is an :class:`~sklearn_pillars.UnevenIlluminationWarning`'s."""
    return str(note).startswith(UNEVEN_ILLUMINATION)


#: What the report says the yield is.
YIELD_NOTE = (
    "<p>Yield: the share of Good sites among the sites that count. Sites under an image "
    "seam (Stitching, kind seam: where stitched microscope images meet) were not seen "
    "clearly and count neither way; write-field lines (kind field) are fabrication "
    "defects and count as such.</p>"
)


def _write_csv(path, rows):
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)
