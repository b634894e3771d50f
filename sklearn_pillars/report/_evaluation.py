"""An evaluation's folder: its tables, the confusion matrix as a picture, a gallery of each
kind of disagreement, and one page that shows them."""

from __future__ import annotations

import csv
import html
from pathlib import Path

import numpy as np

from ..utils.files import atomic_path, write_text
from ._figures import GALLERY_MAX, _figure, _save, tile_mosaic
from ._html import page_head
from ._tables import slugs

#: The files of an evaluation folder (names and glob patterns): a new one replaces them all.
EVALUATION_PATTERNS = (
    "index.html",
    "metrics.csv",
    "confusion.csv",
    "confusion.png",
    "arrays.csv",
    "tiles.csv",
    "unmatched.csv",
    "disagreements_*.png",
)


def _write_rows(path, fields, rows):
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        writer.writerows(rows)


def _figure_value(value):
    return "" if value != value else f"{value:.4f}"  # NaN: empty


def confusion_figure(path, matrix, classes, title):
    """The confusion matrix as a heat map (row: the person's class, column: the model's),
    each cell with its count and its share of the row."""
    matrix = np.asarray(matrix)
    n = len(classes)
    fig = _figure(1.4 + 1.1 * n, 1.2 + 0.9 * n)
    ax = fig.add_subplot(1, 1, 1)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{matrix[i, j]}\n{shares[i, j]:.0%}" if matrix[i, j] else "0",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shares[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(n), classes, rotation=30, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("model")
    ax.set_ylabel("labels")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def write_evaluation(out_dir, evaluation, tiles, *, title="Evaluation", details=()):
    """Write an :class:`~sklearn_pillars.Evaluation` into ``out_dir`` (which must exist).

    Parameters
    ----------
    out_dir : path-like
        An existing folder; each file is written atomically under a fixed
        name (:data:`EVALUATION_PATTERNS`).
    evaluation : Evaluation
        What :func:`~sklearn_pillars.evaluate` returned.
    tiles : TileSet
        The tiles it evaluated (their images go in the galleries).
    title : str, default="Evaluation"
        The page's title.
    details : sequence of (str, str)
        Lines for the page header; ``"warning"`` lines are shown in a red box.

    Returns
    -------
    list of Path
        ``metrics.csv`` (each class's precision, recall, F1 and support, then
        accuracy, macro and weighted averages), ``confusion.csv`` and
        ``confusion.png``, ``arrays.csv`` (each array's figures),
        ``tiles.csv`` (each labelled tile both ways), ``unmatched.csv`` (the
        labels that match no tile), one ``disagreements_<label>_as_<class>.png``
        per kind of disagreement, and ``index.html``.
    """
    out = Path(out_dir)
    classes = list(evaluation.classes)
    report = evaluation.report()
    written = []

    _write_rows(
        out / "metrics.csv",
        ["class", "precision", "recall", "f1", "support"],
        [
            [
                name,
                *(f"{report[name][k]:.4f}" for k in ("precision", "recall", "f1-score")),
                int(report[name]["support"]),
            ]
            for name in [*classes, "macro avg", "weighted avg"]
        ]
        + [["accuracy", "", "", f"{evaluation.accuracy:.4f}", evaluation.n_labelled]],
    )
    matrix = evaluation.confusion()
    _write_rows(
        out / "confusion.csv",
        ["labels \\ model", *classes],
        [[name, *map(int, row)] for name, row in zip(classes, matrix, strict=True)],
    )
    confusion_figure(
        out / "confusion.png",
        matrix,
        classes,
        f"{evaluation.n_labelled} labelled tiles: accuracy {evaluation.accuracy:.1%}, "
        f"macro-F1 {evaluation.macro_f1:.3f}",
    )
    per_array = evaluation.per_array()
    _write_rows(
        out / "arrays.csv",
        ["array", "tiles", "labelled", "accuracy", "macro_f1"],
        [
            [
                row["array"],
                row["tiles"],
                row["labelled"],
                _figure_value(row["accuracy"]),
                _figure_value(row["macro_f1"]),
            ]
            for row in per_array
        ],
    )
    _write_rows(
        out / "tiles.csv",
        ["array", "row", "col", "label", "predicted", "stitch_type", "predicted_kind"],
        [
            [evaluation.array_names[a], int(r), int(c), truth, found, kind, called]
            for (a, r, c), truth, found, kind, called in zip(
                evaluation.positions,
                evaluation.y_true,
                evaluation.y_pred,
                evaluation.kinds_true,
                evaluation.kinds_pred,
                strict=True,
            )
        ],
    )
    _write_rows(out / "unmatched.csv", ["array", "row", "col", "label"], evaluation.unmatched)
    written += [out / name for name in ("metrics.csv", "confusion.csv", "confusion.png")]
    written += [out / name for name in ("arrays.csv", "tiles.csv", "unmatched.csv")]

    galleries = []
    pairs = evaluation.disagreements()
    names = slugs([f"{truth}_as_{found}" for truth, found in pairs])
    many = len(evaluation.array_names) > 1
    for ((truth, found), members), slug in zip(pairs.items(), names, strict=True):
        shown = np.asarray(members)[
            np.linspace(0, len(members) - 1, min(len(members), GALLERY_MAX), dtype=int)
        ]
        captions = []
        for i in shown:
            a, r, c = evaluation.positions[i]
            captions.append(f"{a + 1}:{r},{c}" if many else f"{r},{c}")
        path = out / f"disagreements_{slug}.png"
        more = f", {len(shown)} spread over them shown" if len(shown) < len(members) else ""
        tile_mosaic(
            [tiles.images[evaluation.tiles[i]] for i in shown],
            captions,
            path,
            f"Labelled {truth}, called {found}: {len(members)} tiles{more}",
        )
        galleries.append((truth, found, len(members), path.name))
        written.append(path)

    page = _page(evaluation, report, matrix, per_array, galleries, title, details)
    write_text(out / "index.html", page)
    written.append(out / "index.html")
    return written


def _page(evaluation, report, matrix, per_array, galleries, title, details):
    e = html.escape
    classes = list(evaluation.classes)
    how = (
        "fitted on these arrays, then scored on its own tiles"
        if evaluation.self_fit
        else "predicting these arrays"
    )
    lines = page_head(title, details, classes) + [
        "<h2>Figures</h2>",
        f"<p>{evaluation.n_labelled} labelled tiles of {len(evaluation.array_names)} array(s), "
        f"the model {how}: accuracy <b>{evaluation.accuracy:.1%}</b>, macro-F1 "
        f"<b>{evaluation.macro_f1:.3f}</b>."
        + (
            f" {evaluation.n_unlabelled} tiles without a label are not evaluated."
            if evaluation.n_unlabelled
            else ""
        )
        + "</p>",
        '<table id="metrics"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>'
        "<th>support</th></tr>",
    ]
    for name in [*classes, "macro avg", "weighted avg"]:
        row = report[name]
        lines.append(
            f"<tr><td>{e(name)}</td><td>{row['precision']:.3f}</td><td>{row['recall']:.3f}</td>"
            f"<td>{row['f1-score']:.3f}</td><td>{int(row['support'])}</td></tr>"
        )
    lines.append(
        f"<tr><td>accuracy</td><td></td><td></td><td>{evaluation.accuracy:.3f}</td>"
        f"<td>{evaluation.n_labelled}</td></tr></table>"
    )
    right, kinded, called = evaluation.stitch_kinds()
    if kinded:
        lines.append(
            f"<p>Stitching kind (seam or field): of the {kinded} tiles labelled with a kind, "
            f"the model calls {called} Stitching, {right} of them of the labelled kind.</p>"
        )
    lines += [
        "<h2>Confusion matrix</h2>",
        '<table id="confusion"><tr><th>labels \\ model</th>'
        + "".join(f"<th>{e(c)}</th>" for c in classes)
        + "</tr>",
    ]
    for name, row in zip(classes, matrix, strict=True):
        lines.append(
            f"<tr><td>{e(name)}</td>" + "".join(f"<td>{int(v)}</td>" for v in row) + "</tr>"
        )
    lines += [
        "</table>",
        '<figure><img src="confusion.png" alt="confusion matrix"></figure>',
        "<h2>Arrays</h2>",
        '<table id="arrays"><tr><th>array</th><th>tiles</th><th>labelled</th><th>accuracy</th>'
        "<th>macro-F1</th></tr>",
    ]
    for row in per_array:
        shown = [
            "n/a" if row[k] != row[k] else f"{row[k]:{spec}}"
            for k, spec in (("accuracy", ".1%"), ("macro_f1", ".3f"))
        ]
        lines.append(
            f"<tr><td>{e(row['array'])}</td><td>{row['tiles']}</td><td>{row['labelled']}</td>"
            f"<td>{shown[0]}</td>"
            f"<td>{shown[1]}</td></tr>"
        )
    lines.append("</table>")
    unmatched = evaluation.unmatched
    lines.append("<h2>Labels that match no tile</h2>")
    if unmatched:
        listed = ", ".join(f"{e(a)} {r},{c}" for a, r, c, _ in unmatched[:20])
        lines.append(
            f'<p class="warning">{len(unmatched)} label(s) match no tile (an array not '
            f"given, or a site outside its grid): {listed}"
            f"{' ...' if len(unmatched) > 20 else ''}; all in "
            '<a href="unmatched.csv">unmatched.csv</a>.</p>'
        )
    else:
        lines.append("<p>None: every label matched a tile.</p>")
    lines.append("<h2>Disagreements</h2>")
    if not galleries:
        lines.append("<p>None: the model gives every labelled tile its label.</p>")
    for truth, found, n, file in galleries:
        lines.append(
            f'<figure><img src="{e(file)}" alt="labelled {e(truth)}, called {e(found)}">'
            f"<figcaption>Labelled {e(truth)}, called {e(found)}: {n} tiles (captions: "
            f"{'array:' if len(evaluation.array_names) > 1 else ''}row,col)</figcaption>"
            "</figure>"
        )
    lines.append(
        '<p>Each labelled tile both ways: <a href="tiles.csv">tiles.csv</a> · per class: '
        '<a href="metrics.csv">metrics.csv</a> · per array: <a href="arrays.csv">arrays.csv</a>'
        "</p>"
    )
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"
