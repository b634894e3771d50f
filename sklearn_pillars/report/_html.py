"""The report's HTML: the page head, the tables and the extremes."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from .._version import __version__
from ._figures import _color
from ._tables import UNCERTAIN, YIELD_NOTE, uneven_illumination


def clickable(cells, targets):
    """The ``data-cells`` attribute of a gallery image: each tile's cell and the array slug,
    row and column its click opens on the review page (:data:`CLICK_SCRIPT`)."""
    data = [[*map(int, cell), *target] for cell, target in zip(cells, targets, strict=True)]
    return f' class="cells" data-cells="{html.escape(json.dumps(data, separators=(",", ":")))}"'


#: A click on a gallery's tile opens it on the review page.
CLICK_SCRIPT = """<script>
document.querySelectorAll("img.cells").forEach(img => {
  const cells = JSON.parse(img.dataset.cells);
  img.style.cursor = "pointer";
  img.title = "click a tile to review it";
  img.addEventListener("click", e => {
    const k = img.naturalWidth / img.clientWidth, x = e.offsetX * k, y = e.offsetY * k;
    const c = cells.find(([cx, cy, w, h]) => x >= cx && x < cx + w && y >= cy && y < cy + h);
    if (c) location.href = "review.html#array=" + encodeURIComponent(c[4]) + "&row=" + c[5] +
      "&col=" + c[6];
  });
});
</script>"""

#: The line of the report's page that leads to the review page.
REVIEW_LINK = (
    '<p><a href="review.html"><b>Review the labels</b></a>: click a site, correct its class, '
    "and download the corrections as labels.csv (for <code>sklearn-pillars evaluate</code>)."
    "</p>"
)


def _caption(tiles, i):
    a, r, c = tiles.positions[i]
    prefix = f"{a + 1}:" if len(tiles.array_names) > 1 else ""
    return f"{prefix}{r},{c}"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right} th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;border:1px solid #ddd;margin:6px 0}
.meta{color:#555;font-size:.9em} .swatch{display:inline-block;width:.9em;height:.9em;
margin-right:4px;vertical-align:-1px;border-radius:2px}
figure{margin:0 0 18px} figcaption{color:#555;font-size:.9em}
.warning{background:#fdecea;border:1px solid #e74c3c;border-radius:4px;padding:8px 12px;
color:#922}
"""


def _truth_table(truth, labels, classes):
    """Accuracy, macro-F1 and the confusion table against known ground truth."""

    e = html.escape
    truth, labels = np.asarray(truth).astype(str), np.asarray(labels).astype(str)
    names = [c for c in classes if c in set(truth) | set(labels)]
    table = confusion_matrix(truth, labels, labels=names)
    lines = [
        f"<p>Against the ground truth (<code>truth</code> in tiles.csv): accuracy "
        f"{accuracy_score(truth, labels):.1%}, macro-F1 "
        f"{f1_score(truth, labels, labels=names, average='macro', zero_division=0):.3f}"
        "</p>",
        "<table><tr><th>truth \\ found</th>" + "".join(f"<th>{e(c)}</th>" for c in names) + "</tr>",
    ]
    for name, row in zip(names, table, strict=True):
        lines.append(f"<tr><td>{e(name)}</td>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>")
    lines.append("</table>")
    return lines


def page_head(title, details, classes, css=""):
    """The page's opening lines: title, warnings (red box), details, class swatches."""
    e = html.escape
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}{css}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *[f'<p class="warning"><b>Warning</b>: {e(v)}</p>' for k, v in details if k == "warning"],
        '<p class="meta">'
        + "<br>".join(f"<b>{e(k)}</b>: {e(v)}" for k, v in details if k != "warning")
        + f"<br><b>written</b>: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"sklearn-pillars {e(__version__)}</p>",
        "<p>"
        + " ".join(
            f'<span class="swatch" style="background:{_color(c)}"></span>{e(c)}' for c in classes
        )
        + "</p>",
    ]


def extremes_html(extremes):
    """The section of the most and least inconsistent tiles' mosaics."""
    if not extremes:
        return []
    lines = ["<h2>Inconsistency</h2>"]
    for kind, file, cells in extremes:
        lines.append(
            f'<figure><img src="{html.escape(file)}" alt="{kind} inconsistent tiles"{cells}>'
            f"<figcaption>The {kind} inconsistent tiles of the last layer (click one to "
            "review it)</figcaption></figure>"
        )
    return lines


def _html(title, details, summary, maps, galleries, stage_files, extremes, tiles, labels):
    e = html.escape
    classes = [c[2:] for c in summary[0] if c.startswith("n_")] if summary else []
    classes = [c for c in classes if c not in ("seam", "field")]  # kinds, not classes
    dim = any(k == "warning" and uneven_illumination(v) for k, v in details)
    lines = page_head(title, details, classes) + [
        "<h2>Summary</h2>",
        "<table><tr><th>array</th><th>tiles</th>"
        + "".join(f"<th>{e(c)}</th>" for c in classes)
        + "<th>seam</th><th>field</th><th>yield</th></tr>",
    ]
    for row in summary:
        cells = "".join(f"<td>{row[f'n_{c}']}</td>" for c in classes)
        shown = f"{float(row['yield']):.1%}" if row["yield"] else "n/a"
        shown += UNCERTAIN if dim and row["yield"] else ""
        lines.append(
            f"<tr><td>{e(row['array'])}</td><td>{row['tiles']}</td>{cells}"
            f"<td>{row['n_seam']}</td><td>{row['n_field']}</td><td>{shown}</td></tr>"
        )
    lines.append("</table>")
    lines.append(YIELD_NOTE)
    if tiles.y is not None:
        lines += _truth_table(tiles.y, labels, classes)
    lines.append(
        '<p>Per tile: <a href="tiles.csv">tiles.csv</a> · per array: '
        '<a href="summary.csv">summary.csv</a></p>'
    )
    lines.append(REVIEW_LINK)
    lines.append("<h2>Defect maps</h2>")
    for name, file, slug in maps:
        lines.append(
            f'<figure><a href="review.html#array={e(slug)}" title="review this array">'
            f'<img src="{e(file)}" alt="defect map of {e(name)}"></a>'
            f"<figcaption>{e(name)}: non-Good sites outlined in their class colour"
            " (Stitching: dashed for image seams, solid for write-field lines, "
            "when the model tells them apart); click to review it</figcaption></figure>"
        )
    lines.append("<h2>Tiles by class</h2>")
    for cls, n, file, cells in galleries:
        lines.append(
            f'<figure><img src="{e(file)}" alt="{e(cls)} tiles"{cells}>'
            f"<figcaption>{e(cls)}: {n} tiles (captions: row,col"
            f"{'; array:row,col' if len(tiles.array_names) > 1 else ''}; click one to review "
            "it)</figcaption></figure>"
        )
    lines.append("<h2>Layers</h2>")
    for diag, file in stage_files:
        if file is None:
            lines.append(f"<p>Stage <b>{e(diag.name)}</b>: {e(diag.skipped or 'no tiles')}</p>")
            continue
        what = f"{int(diag.peeled.sum())} of {len(diag.rows)} tiles peeled as {diag.label}"
        lines.append(
            f'<figure><img src="{e(file)}" alt="stage {e(diag.name)}">'
            f"<figcaption>Stage <b>{e(diag.name)}</b>: {e(what)}</figcaption></figure>"
        )
    lines += extremes_html(extremes)
    lines.append(CLICK_SCRIPT)
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"
