"""The inspection report of any number of arrays, written one array at a time.

``tiles.csv`` and ``summary.csv`` grow a row at a time, each array's defect map
is drawn as it comes, and what the page shows of all the tiles is bounded: a
uniform sample of each class (reservoir sampling, so the same arrays in the
same order give the same sample) and the most and least inconsistent tiles.
There are no per-layer figures: they would need every tile's features. ``index.html`` (written last)
has the per-array table, worst yield first and sortable, linking each map.
Memory holds one array and those bounded samples."""

from __future__ import annotations

import csv
import heapq
import html
from collections import Counter
from pathlib import Path

import numpy as np

from ..constants import class_order
from ..utils.files import write_text
from ._figures import GALLERY_MAX, tile_mosaic
from ._html import CLICK_SCRIPT, REVIEW_LINK, clickable, extremes_html, page_head
from ._maps import defect_map
from ._review import write_review_array, write_review_page
from ._tables import UNCERTAIN, YIELD_NOTE, slugs, uneven_illumination, yield_columns, yield_counts

#: The columns of a streamed report's tiles.csv.
TILE_FIELDS = [
    "array",
    "row",
    "col",
    "label",
    "stitch_kind",
    "inconsistency",
    "x0",
    "y0",
    "x1",
    "y1",
]


#: The worst arrays' maps shown on the page; all are linked from the table.
INLINE_MAPS = 6


class StreamingReport:
    """Write an inspection report array by array into ``folder``.

    Parameters
    ----------
    folder : path-like
        An existing, empty folder (the staging folder of
        :func:`~sklearn_pillars.utils.files.staged_report`).
    grid_size : int or "auto"
        The uniform grid's sites per row and column; with ``"auto"``, each
        array's found lattice (``TileSet.lattices`` or ``ArrayResult.lattice``)
        places its sites on the map.
    title : str
    details : sequence of (str, str)
        Lines for the page header; ``"warning"`` lines are shown in a red box.
    classes : sequence of str, default=()
        The model's classes (``classes_``), each with its columns in
        summary.csv and its gallery; empty means the five default classes.
        A tile of any other class is refused (``add`` raises ValueError).
    random_state : int, default=0
        The galleries' sample.

    Examples
    --------
    >>> report = StreamingReport(folder, grid_size=21, title="Wafer 7")  # doctest: +SKIP
    >>> for result in iter_inspect(paths, model):  # doctest: +SKIP
    ...     report.add(result)
    >>> report.close()  # doctest: +SKIP
    """

    def __init__(self, folder, *, grid_size, title, details=(), classes=(), random_state=0):
        self.folder = Path(folder)
        self.classes = class_order(classes)
        self.grid_size = grid_size
        self.title = title
        self.details = list(details)
        self._rng = np.random.default_rng(random_state)
        self._tiles_file = (self.folder / "tiles.csv").open("w", newline="", encoding="utf-8")
        self._tiles = csv.DictWriter(self._tiles_file, fieldnames=TILE_FIELDS)
        self._tiles.writeheader()
        self._summary_file = (self.folder / "summary.csv").open("w", newline="", encoding="utf-8")
        self._summary = csv.DictWriter(self._summary_file, fieldnames=self._summary_fields())
        self._summary.writeheader()
        self._arrays = []  # (name, counts, n, map file, yield_counts)
        self._totals = Counter()
        self._made = Counter()  # the yield_counts of all arrays
        self._seen = Counter()  # tiles of each class so far (for the reservoirs)
        self._samples = {cls: [] for cls in self.classes}  # (tile, caption) of each class
        self._most, self._least = [], []  # heaps of (key, -order, score, tile, caption)
        self._order = 0
        self._slugs = set()
        self._reviewed = []  # (name, slug, tiles, tiles not Good) of each array

    @property
    def counts(self):
        """Tiles of each class so far, over all arrays."""
        return Counter(self._totals)

    @property
    def n_tiles(self):
        """Tiles so far."""
        return sum(entry[2] for entry in self._arrays)

    def _summary_fields(self):
        fields = ["array", "tiles"]
        for cls in self.classes:
            fields += [f"n_{cls}", f"share_{cls}"]
        return fields + ["n_seam", "n_field", "yield"]

    def _slug(self, name):
        slug = slugs([name])[0]
        base, k = slug, 1
        while slug.lower() in self._slugs:
            k += 1
            slug = f"{base}_{k}"
        self._slugs.add(slug.lower())
        return slug

    def add(self, result):
        """Add one array's :class:`~sklearn_pillars.ArrayResult`: its rows, its map, samples."""
        labels = np.asarray(result.labels).astype(str)
        unknown = sorted(set(labels.tolist()) - set(self.classes))
        if unknown:
            raise ValueError(
                f"{result.name}: tiles of class(es) {unknown} that the report "
                f"was not opened for (classes={self.classes}); pass the model's "
                "classes_"
            )
        scores = np.asarray(result.scores, dtype=float)
        kinds = np.asarray(result.kinds).astype(str)
        for (r, c), label, score, kind, (x0, y0, x1, y1) in zip(
            result.positions, labels, scores, kinds, result.boxes, strict=True
        ):
            self._tiles.writerow(
                {
                    "array": result.name,
                    "row": int(r),
                    "col": int(c),
                    "label": label,
                    "stitch_kind": kind,
                    "inconsistency": "" if np.isnan(score) else f"{score:.6g}",
                    "x0": int(x0),
                    "y0": int(y0),
                    "x1": int(x1),
                    "y1": int(y1),
                }
            )
        counts = Counter(labels.tolist())
        n = len(labels)
        made = yield_counts(labels, kinds)
        made["uncertain"] = any(map(uneven_illumination, getattr(result, "notes", ())))
        self._summary.writerow(self._summary_row(result.name, counts, n, made))
        self._tiles_file.flush()
        self._summary_file.flush()
        self._totals.update(counts)
        self._made.update({key: made[key] for key in ("good", "seam", "field", "counted")})
        slug = self._slug(result.name)
        map_file = f"map_{slug}.png"
        if getattr(result, "map_png", None):  # drawn where it was classified
            (self.folder / map_file).write_bytes(result.map_png)
        else:
            defect_map(
                self.folder / map_file,
                result.image,
                result.name,
                self.grid_size,
                result.positions,
                labels,
                kinds,
                lattice=getattr(result, "lattice", None),
                classes=self.classes,
            )
        write_review_array(
            self.folder,
            result.name,
            slug,
            result.image,
            result.positions,
            result.boxes,
            labels,
            kinds,
            scores,
            self.classes,
        )
        self._arrays.append((result.name, counts, n, map_file, made))
        self._reviewed.append((result.name, slug, n, n - counts.get("Good", 0)))
        self._sample(result, labels, scores)

    def _summary_row(self, name, counts, n, made):
        row = {"array": name, "tiles": n}
        for cls in self.classes:
            row[f"n_{cls}"] = counts.get(cls, 0)
            row[f"share_{cls}"] = f"{counts.get(cls, 0) / n:.4f}" if n else ""
        row.update(yield_columns(made))
        return row

    def yield_counts(self):
        """:func:`~sklearn_pillars.report.yield_counts` of all the arrays so far."""
        made = {key: self._made.get(key, 0) for key in ("good", "seam", "field", "counted")}
        made["yield"] = made["good"] / made["counted"] if made["counted"] else float("nan")
        return made

    def _crop(self, result, i):
        """Tile ``i``'s pixels, caption and place on the review page (array slug, row, col)."""
        x0, y0, x1, y1 = result.boxes[i]
        r, c = result.positions[i]
        target = (self._reviewed[-1][1], int(r), int(c))  # add() has just added the array
        return result.image[y0:y1, x0:x1].copy(), f"{result.name[:12]}:{r},{c}", target

    def _sample(self, result, labels, scores):
        """Reservoir samples of each class, and the extremes of the inconsistency score."""
        for i, label in enumerate(labels):
            if label not in self._samples:
                continue
            self._seen[label] += 1
            reservoir = self._samples[label]
            if len(reservoir) < GALLERY_MAX:
                reservoir.append(self._crop(result, i))
            else:
                j = int(self._rng.integers(self._seen[label]))
                if j < GALLERY_MAX:
                    reservoir[j] = self._crop(result, i)
        for i in np.flatnonzero(np.isfinite(scores)):
            self._order += 1  # ties: the earlier tile first, as a stable sort would
            for heap, key in ((self._most, scores[i]), (self._least, -scores[i])):
                entry = (float(key), -self._order)
                if len(heap) < GALLERY_MAX:
                    heapq.heappush(heap, (*entry, float(scores[i]), *self._crop(result, i)))
                elif entry > heap[0][:2]:
                    heapq.heapreplace(heap, (*entry, float(scores[i]), *self._crop(result, i)))

    def abort(self):
        """Close the tables without finishing the report (a run that failed or was stopped)."""
        self._tiles_file.close()
        self._summary_file.close()

    def close(self):
        """Write the overall summary row, the galleries and ``index.html``; return the files."""
        total = self.n_tiles
        if len(self._arrays) > 1:
            self._summary.writerow(
                self._summary_row("(all arrays)", self._totals, total, self.yield_counts())
            )
        self._tiles_file.close()
        self._summary_file.close()
        galleries = []
        for cls, slug in zip(self.classes, slugs(self.classes), strict=True):
            reservoir = self._samples[cls]
            if not reservoir:
                continue
            n = self._seen[cls]
            more = f", {len(reservoir)} sampled at random shown" if n > len(reservoir) else ""
            file = f"gallery_{slug}.png"
            cells = tile_mosaic(
                [t for t, _, _ in reservoir],
                [c for _, c, _ in reservoir],
                self.folder / file,
                f"{cls}: {n} tiles{more}",
            )
            galleries.append((cls, n, file, clickable(cells, [t for _, _, t in reservoir])))
        extremes = []
        for kind, heap in (("most", self._most), ("least", self._least)):
            if not heap:
                continue
            chosen = sorted(heap, reverse=True)
            file = f"inconsistent_{kind}.png"
            cells = tile_mosaic(
                [e[3] for e in chosen],
                [f"{e[4]} {e[2]:.2f}" for e in chosen],
                self.folder / file,
                f"The {len(chosen)} {kind} inconsistent tiles (score)",
            )
            extremes.append((kind, file, clickable(cells, [e[5] for e in chosen])))
        write_review_page(self.folder, self.title, self._reviewed, self.classes)
        write_text(self.folder / "index.html", self._html(galleries, extremes, total))
        return sorted(self.folder.iterdir())

    def _html(self, galleries, extremes, total):
        e = html.escape
        made = self.yield_counts()

        def shown(value):
            return "n/a" if np.isnan(value) else f"{value:.1%}"

        worst = sorted(
            self._arrays, key=lambda a: (-1 if np.isnan(a[4]["yield"]) else a[4]["yield"], a[0])
        )
        lines = page_head(
            self.title,
            self.details,
            self.classes,
            css="th{cursor:pointer} th:hover{background:#e8e8e8}",
        ) + [
            "<h2>Summary</h2>",
            f"<p>{len(self._arrays)} arrays, {total} tiles, yield "
            f"{shown(made['yield'])}"
            f"{UNCERTAIN if any(a[4]['uncertain'] for a in self._arrays) else ''}: "
            + ", ".join(f"{c} {self._totals.get(c, 0)}" for c in self.classes)
            + f" ({made['seam']} under image seams, {made['field']} on write-field lines)"
            + '. Per tile: <a href="tiles.csv">tiles.csv</a> · per array: '
            '<a href="summary.csv">summary.csv</a></p>',
            REVIEW_LINK,
            YIELD_NOTE,
            "<p>Worst yield first; click a column to sort.</p>",
            '<table id="arrays"><tr><th>array</th><th>tiles</th>'
            + "".join(f"<th>{e(c)}</th>" for c in self.classes)
            + "<th>seam</th><th>field</th><th>yield</th><th>map</th></tr>",
        ]
        for name, counts, n, file, array_made in worst:
            cells = "".join(f"<td>{counts.get(c, 0)}</td>" for c in self.classes)
            lines.append(
                f"<tr><td>{e(name)}</td><td>{n}</td>{cells}"
                f"<td>{array_made['seam']}</td><td>{array_made['field']}</td>"
                f"<td>{shown(array_made['yield'])}"
                f"{UNCERTAIN if array_made['uncertain'] else ''}</td>"
                f'<td><a href="{e(file)}">map</a> · <a href="review.html#array='
                f'{e(file[len("map_") : -len(".png")])}">review</a></td></tr>'
            )
        lines.append("</table>")
        lines.append(f"<h2>Defect maps of the {min(INLINE_MAPS, len(worst))} worst arrays</h2>")
        for name, _, _, file, _ in worst[:INLINE_MAPS]:
            slug = file[len("map_") : -len(".png")]
            lines.append(
                f'<figure><a href="review.html#array={e(slug)}" title="review this array">'
                f'<img src="{e(file)}" alt="defect map of {e(name)}"></a>'
                f"<figcaption>{e(name)}: non-Good sites outlined in their class "
                "colour (Stitching: dashed for image seams, solid for write-field "
                "lines); click to review it</figcaption></figure>"
            )
        lines.append("<h2>Tiles by class</h2>")
        for cls, n, file, cells in galleries:
            lines.append(
                f'<figure><img src="{e(file)}" alt="{e(cls)} tiles"{cells}>'
                f"<figcaption>{e(cls)}: {n} tiles (captions: array:row,col; click one to "
                "review it)</figcaption></figure>"
            )
        lines += extremes_html(extremes)
        lines.append(CLICK_SCRIPT)
        lines.append(_SORT_SCRIPT)
        lines.append("</body></html>")
        return "\n".join(lines) + "\n"


_SORT_SCRIPT = """<script>
document.querySelectorAll("#arrays th").forEach((th, col) => th.addEventListener("click", () => {
  const table = th.closest("table"), rows = [...table.rows].slice(1);
  const key = r => { const t = r.cells[col].textContent; const v = parseFloat(t);
                     return isNaN(v) ? t : v; };
  const up = th.dataset.up !== "1"; th.dataset.up = up ? "1" : "0";
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (up ? 1 : -1));
  rows.forEach(r => table.appendChild(r));
}));
</script>"""
