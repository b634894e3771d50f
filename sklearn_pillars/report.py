"""The inspection report: per-tile and per-array CSVs, defect maps, galleries,
per-layer diagnostics and one HTML page that shows them.

Defect maps and tile galleries are drawn with OpenCV (fast enough for one per
array of thousands); the per-layer figures use matplotlib's object-oriented API
with the Agg canvas (no global pyplot state, no display). Every file is
written atomically.
"""

from __future__ import annotations

import csv
import html
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ._files import atomic_path, write_text
from ._version import __version__
from .constants import COLLAPSED, GOOD, IRREGULAR, MISSING, STITCHING, class_order
from .context import UNEVEN_ILLUMINATION

#: Colour of each default class on defect maps, legends and figures.
CLASS_COLORS = {
    MISSING: "#e74c3c",
    COLLAPSED: "#8e44ad",
    STITCHING: "#2e86de",
    IRREGULAR: "#f39c12",
    GOOD: "#27ae60",
}
#: Colours of other classes and of clusters in the stage figures, in turn.
CLUSTER_COLORS = [
    "#2ecc71",
    "#e74c3c",
    "#3498db",
    "#9b59b6",
    "#f39c12",
    "#1abc9c",
    "#34495e",
    "#e67e22",
]
#: Tiles shown at most in a class's gallery and in each list of most and least inconsistent.
GALLERY_MAX = 100
#: Tiles larger than this (pixels a side) are shrunk in galleries...
MOSAIC_TILE_MAX = 160
#: ... and smaller ones enlarged about this far, for their captions.
MOSAIC_CELL = 128


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _color(label, index=0):
    return CLASS_COLORS.get(label, CLUSTER_COLORS[index % len(CLUSTER_COLORS)])


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


# -- figures ----------------------------------------------------------------------
def shrink(image, max_pixels=None):
    """The image reduced by a whole factor (area averaging) to at most ``max_pixels`` pixels.

    Returns the image unchanged when it is small enough, and the factor.
    """
    import cv2

    from .limits import FIGURE_PIXELS

    max_pixels = FIGURE_PIXELS if max_pixels is None else max_pixels
    h, w = image.shape
    factor = int(np.ceil(np.sqrt(h * w / max_pixels)))
    if factor <= 1:
        return image, 1
    small = cv2.resize(
        image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )
    return small, factor


def _display_range(image):
    low, high = np.percentile(image, [0.5, 99.5])
    return float(low), float(max(high, low + 1))


_KIND_STYLES = {"seam": "--", "field": "-"}  # Stitching outlines: dashed seams, solid fields


#: Pixels across a defect map's array picture (small arrays are enlarged)...
MAP_WIDTH = 1000
#: ... or more, up to 4000, so that each site of a large grid is this many pixels.
MAP_SITE = 12
#: Colour of the mark at the centre of every site of a found lattice, on the defect map.
SITE_MARK = "#17becf"


def _bgr(hex_color):
    value = int(hex_color.lstrip("#"), 16)
    return (value & 255, (value >> 8) & 255, value >> 16)


def _dashes(x0, y0, x1, y1, dash=8, gap=5):
    """Segments of a dashed outline of the rectangle (x0, y0)-(x1, y1), as point pairs."""
    segments = []
    for (ax, ay), (bx, by) in (
        ((x0, y0), (x1, y0)),
        ((x1, y0), (x1, y1)),
        ((x1, y1), (x0, y1)),
        ((x0, y1), (x0, y0)),
    ):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, length, dash + gap):
            end = min(start + dash, length)
            t0, t1 = start / max(length, 1), end / max(length, 1)
            segments.append(
                [
                    (round(ax + (bx - ax) * t0), round(ay + (by - ay) * t0)),
                    (round(ax + (bx - ax) * t1), round(ay + (by - ay) * t1)),
                ]
            )
    return segments


def defect_map(
    path, image, name, grid_size, positions, labels, kinds=None, lattice=None, classes=()
):
    """Draw the array image with each non-Good site outlined in its class colour, with a legend.

    With ``kinds``, Stitching sites are outlined dashed for image seams and
    solid for write-field lines. With a ``lattice`` (found in ``image``), the
    sites are its cells, and every site's centre is marked: the overlay of
    the lattice on the image. The legend lists every defect class of
    ``classes`` (the model's ``classes_``; the default ones when empty) and
    of ``labels``, with its number of sites; above the image, the array's
    name and yield (share of Good sites). The image is contrast-stretched
    and drawn ``MAP_WIDTH`` (1000) pixels across, more for large grids
    (``MAP_SITE``, 12 pixels a site, up to 4000), with OpenCV: about 0.1 s
    an array. Written to ``path`` as PNG, atomically.

    Parameters
    ----------
    path : path-like
        The PNG file to write.
    image : ndarray of shape (H, W), uint8
        The grey array image the sites were cut from (``TileSet.array_images``,
        ``ArrayResult.image``).
    name : str
        The array's name, shown above the image.
    grid_size : int or "auto"
        Sites per row and column of the uniform grid, whose cells are the
        sites when there is no ``lattice``; with ``"auto"`` and no
        ``lattice``, the grid is the largest row and column in
        ``positions``.
    positions : array-like of shape (n_sites, 2)
        1-based row and column of each site (``TileSet.positions[:, 1:]`` of
        the array's tiles, ``ArrayResult.positions``).
    labels : array-like of shape (n_sites,)
        Class of each site; ``"Good"`` sites are not outlined.
    kinds : array-like of shape (n_sites,), optional
        Kind of each site's defect (``"seam"`` dashed, ``"field"`` solid,
        ``""`` for none), as ``ArrayResult.kinds``.
    lattice : Lattice, optional
        The lattice found in ``image`` (``TileSet.lattices``,
        ``ArrayResult.lattice``): each site is the cell of one pitch around
        its refined centre, and every centre is marked.
    classes : sequence of str, optional
        The model's classes (``classes_``), in the legend even without sites.

    See Also
    --------
    write_report : Writes one map per array, with the rest of the report.
    sklearn_pillars.classify_array : Draws the map as PNG bytes (``draw_map``).
    sklearn_pillars.find_lattice : The lattice whose overlay is drawn.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays
    >>> from sklearn_pillars.report import defect_map
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> labels = LayeredPeelClassifier().fit_predict(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "map.png")
    ...     defect_map(path, tiles.array_images[0], "wafer_a", 6, tiles.positions[:, 1:], labels)
    ...     picture = cv2.imread(str(path))
    >>> picture.shape[1] >= 1000, picture.shape[2]
    (True, 3)
    """
    png = defect_map_png(image, name, grid_size, positions, labels, kinds, lattice, classes)
    with atomic_path(path) as tmp:
        tmp.write_bytes(png)


def defect_map_png(image, name, grid_size, positions, labels, kinds=None, lattice=None, classes=()):
    """:func:`defect_map` as PNG bytes (to draw it in a worker process).

    Drawn with OpenCV, :data:`MAP_WIDTH` pixels across (more for large
    grids): about 0.1 s an array, and memory bounded by :func:`shrink` for
    any image.
    """
    import cv2

    font, text_scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5
    labels = np.asarray(labels).astype(str)
    kinds = np.full(len(labels), "") if kinds is None else np.asarray(kinds).astype(str)
    h, w = image.shape
    shown, _ = shrink(image)
    positions = np.asarray(positions).reshape(-1, 2)
    if lattice is not None:
        grid = lattice.shape
    elif isinstance(grid_size, str):  # "auto", but this array was cut on a uniform grid
        grid = tuple(positions.max(axis=0)) if len(positions) else (1, 1)
    else:
        grid = (grid_size, grid_size)
    sites_across = max(grid)
    scale = max(MAP_WIDTH, min(MAP_SITE * sites_across, 4000)) / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    shown = cv2.resize(
        shown, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
    )
    low, high = _display_range(shown)
    if high - low <= 1:  # a flat image: shown as it is, not stretched to black
        low, high = 0.0, 255.0
    grey = cv2.convertScaleAbs(shown, alpha=255 / (high - low), beta=-255 * low / (high - low))
    picture = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    inset = 2
    if lattice is None:
        sx, sy = w / grid[1] * scale, h / grid[0] * scale  # one site, in map pixels

        def site_box(r, c):
            return (
                round((c - 1) * sx + inset),
                round((r - 1) * sy + inset),
                round(c * sx - inset),
                round(r * sy - inset),
            )
    else:
        # a site's cell: its refined centre, half a pitch each way (centres at pixel centres)
        centres = (lattice.centers + 0.5) * scale
        hx, hy = (p * scale / 2 - inset for p in lattice.pitch)

        def site_box(r, c):
            x, y = centres[r - 1, c - 1]
            return round(x - hx), round(y - hy), round(x + hx), round(y + hy)

        marks = np.rint(centres.reshape(-1, 2)).astype(np.int32)
        for x, y in marks:  # the overlay: every site found
            cv2.drawMarker(
                picture,
                (int(x), int(y)),
                _bgr(SITE_MARK),
                cv2.MARKER_CROSS,
                max(5, min(15, round(min(lattice.pitch) * scale / 4))),
                1,
            )
    solid, dashed = {}, {}
    for (r, c), label, kind in zip(positions, labels, kinds, strict=True):
        if label == GOOD:
            continue
        box = site_box(r, c)
        (dashed if _KIND_STYLES.get(kind) == "--" else solid).setdefault(label, []).append(box)
    for label, boxes in solid.items():
        for x0, y0, x1, y1 in boxes:
            cv2.rectangle(picture, (x0, y0), (x1, y1), _bgr(_color(label)), 2)
    for label, boxes in dashed.items():
        segments = [s for box in boxes for s in _dashes(*box)]
        cv2.polylines(
            picture, [np.array(s, np.int32) for s in segments], False, _bgr(_color(label)), 2
        )

    counts = Counter(labels.tolist())
    entries = []  # (label, dashed, text) of the legend
    for cls in [c for c in class_order(classes, counts) if c != GOOD]:
        split = Counter(
            k for k, lab in zip(kinds, labels, strict=True) if lab == cls and k in _KIND_STYLES
        )
        if not split:
            entries.append((cls, False, f"{cls} ({counts[cls]})"))
        for kind, style in _KIND_STYLES.items():
            if split[kind]:
                entries.append((cls, style == "--", f"{cls}: {kind} ({split[kind]})"))
    margin, line_height, swatch = 10, 24, 28
    width = max(picture.shape[1] + 2 * margin, 480)
    rows, x = [[]], margin  # the legend, wrapped to the width
    for entry in entries:
        step = swatch + 6 + cv2.getTextSize(entry[2], font, text_scale, 1)[0][0] + 18
        if rows[-1] and x + step > width - margin:
            rows.append([])
            x = margin
        rows[-1].append((x, *entry))
        x += step
    header = line_height * (len(rows) + 1) + 8
    canvas = np.full((header + picture.shape[0] + margin, width, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        y = line_height * (i + 1) - 6
        for x, cls, is_dashed, text in row:
            color = _bgr(_color(cls))
            if is_dashed:
                for a in range(0, swatch, 9):
                    cv2.line(canvas, (x + a, y - 5), (x + min(a + 6, swatch), y - 5), color, 3)
            else:
                cv2.line(canvas, (x, y - 5), (x + swatch, y - 5), color, 3)
            cv2.putText(
                canvas, text, (x + swatch + 6, y), font, text_scale, (40, 40, 40), 1, cv2.LINE_AA
            )
    made = yield_counts(labels, kinds)
    under_seams = f"; {made['seam']} under image seams, not counted" if made["seam"] else ""
    cv2.putText(
        canvas,
        f"{name}: yield {made['good'] / max(made['counted'], 1):.1%} "
        f"({made['good']}/{made['counted']} Good{under_seams})",
        (margin, header - 10),
        font,
        0.6,
        (0, 0, 0),
        2,
        cv2.LINE_AA,
    )
    x0 = (width - picture.shape[1]) // 2
    canvas[header : header + picture.shape[0], x0 : x0 + picture.shape[1]] = picture
    ok, png = cv2.imencode(".png", canvas, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise RuntimeError("could not encode the defect map as PNG")
    return png.tobytes()


def tile_mosaic(images, captions, path, title, columns=10):
    """Tiles side by side (padded to a common size) with a caption each, in one PNG image.

    Drawn with OpenCV; tiles are enlarged (nearest neighbour) to about
    :data:`MOSAIC_CELL` pixels so that captions fit, or shrunk to at most
    :data:`MOSAIC_TILE_MAX` pixels.
    """
    import cv2

    largest = max(max(im.shape) for im in images)
    if largest > MOSAIC_TILE_MAX:  # bound the canvas: shrink every tile alike
        scale = MOSAIC_TILE_MAX / largest
        images = [
            cv2.resize(
                im,
                (max(1, round(im.shape[1] * scale)), max(1, round(im.shape[0] * scale))),
                interpolation=cv2.INTER_AREA,
            )
            for im in images
        ]
    # one grey scale for all tiles, so that darker tiles look darker
    lo, hi = np.percentile(np.concatenate([im.ravel() for im in images]), [0.5, 99.5])
    zoom = max(1, -(-MOSAIC_CELL // max(max(im.shape) for im in images)))
    images = [
        cv2.resize(
            cv2.convertScaleAbs(im, alpha=255 / max(hi - lo, 1), beta=-255 * lo / max(hi - lo, 1)),
            None,
            fx=zoom,
            fy=zoom,
            interpolation=cv2.INTER_NEAREST,
        )
        for im in images
    ]
    font, text_scale, gap, head = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 4, 30
    size = max(max(im.shape) for im in images)
    n = len(images)
    rows, cols = -(-n // columns), min(columns, n)
    width = max(cols * (size + gap) + gap, 480)
    canvas = np.full((head + rows * (size + gap) + gap, width, 3), 255, np.uint8)
    cv2.putText(canvas, title, (gap + 2, head - 10), font, 0.6, (0, 0, 0), 2, cv2.LINE_AA)
    for i, (im, text) in enumerate(zip(images, captions, strict=True)):
        r, c = divmod(i, columns)
        y, x = head + r * (size + gap), gap + c * (size + gap)
        canvas[y : y + im.shape[0], x : x + im.shape[1]] = im[:, :, None]
        (tw, th), base = cv2.getTextSize(text, font, text_scale, 1)
        bottom = y + max(im.shape[0], th + base + 4)  # on the tile, even a clipped edge tile
        box = canvas[bottom - th - base - 4 : bottom, x : x + min(tw + 4, size)]
        box[...] = (box * 0.45).astype(np.uint8)  # a dark band under the caption
        cv2.putText(
            canvas,
            text,
            (x + 2, bottom - base - 2),
            font,
            text_scale,
            (0, 230, 255),
            1,
            cv2.LINE_AA,
        )
    with atomic_path(path) as tmp:
        ok, png = cv2.imencode(".png", canvas, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
            raise RuntimeError(f"could not encode {path} as PNG")
        tmp.write_bytes(png.tobytes())


def _scatter_clusters(ax, embedding, clusters, selected, ratio):
    ids = np.unique(clusters)
    for k, cid in enumerate(ids):
        member = clusters == cid
        chosen = cid in set(np.atleast_1d(selected))
        ax.scatter(
            embedding[member, 0],
            embedding[member, 1] if embedding.shape[1] > 1 else np.zeros(member.sum()),
            s=14 if chosen else 8,
            alpha=0.7,
            color=CLUSTER_COLORS[k % len(CLUSTER_COLORS)],
            edgecolors="black" if chosen else "none",
            linewidths=0.6,
            label=f"C{cid} (n={member.sum()}){' peeled' if chosen else ''}",
        )
    pc1 = f" ({ratio[0]:.1%})" if ratio is not None and len(ratio) else ""
    pc2 = f" ({ratio[1]:.1%})" if ratio is not None and len(ratio) > 1 else ""
    ax.set_xlabel(f"PC1{pc1}")
    ax.set_ylabel(f"PC2{pc2}")
    ax.legend(fontsize=7)


def stage_figure(path, diag, tsne=None):
    """A stage's diagnostics: PCA scatter and cluster sizes, or the score histogram."""
    panels = 2 + (tsne is not None)
    fig = _figure(5 * panels, 4)
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    if diag.kind == "clusters":
        ids, sizes = np.unique(diag.clusters, return_counts=True)
        _scatter_clusters(
            axes[0], diag.embedding, diag.clusters, diag.selected, diag.explained_variance_ratio
        )
        axes[0].set_title("PCA of the stage's features")
        chosen = np.isin(ids, diag.selected)
        bars = axes[1].bar(
            [f"C{i}" for i in ids],
            sizes,
            color=[CLUSTER_COLORS[k % 8] for k in range(len(ids))],
            edgecolor="black",
            hatch=None,
        )
        for bar, is_chosen, size in zip(bars, chosen, sizes, strict=True):
            bar.set_hatch("//" if is_chosen else None)
            axes[1].text(
                bar.get_x() + bar.get_width() / 2,
                size,
                f"{size}{' → ' + diag.label if is_chosen else ''}",
                ha="center",
                va="bottom",
                fontsize=8,
                weight="bold",
            )
        axes[1].set_title("Cluster sizes (hatched: peeled)")
        if tsne is not None:
            _scatter_clusters(axes[2], tsne, diag.clusters, diag.selected, None)
            axes[2].set_xlabel("t-SNE 1")
            axes[2].set_ylabel("t-SNE 2")
            axes[2].set_title("t-SNE")
    else:
        scores = diag.scores
        axes[0].hist(scores, bins=50, color="steelblue", edgecolor="black", alpha=0.8)
        axes[0].axvline(
            diag.threshold,
            color="red",
            linestyle="--",
            label=f"cut {diag.threshold:.2f}: {int(diag.peeled.sum())} {diag.label}",
        )
        axes[0].set_xlabel("inconsistency score")
        axes[0].set_ylabel("tiles")
        axes[0].legend(fontsize=8)
        axes[0].set_title("Inconsistency score distribution")
        emb, ratio = _pca2(diag.embedding)
        ax = axes[1]
        ax.scatter(
            emb[~diag.peeled, 0],
            emb[~diag.peeled, 1],
            s=8,
            alpha=0.5,
            color=CLASS_COLORS[GOOD],
            label="inliers",
        )
        ax.scatter(
            emb[diag.peeled, 0],
            emb[diag.peeled, 1],
            s=16,
            alpha=0.9,
            color=_color(diag.label),
            label=diag.label,
        )
        ax.set_xlabel(f"PC1 ({ratio[0]:.1%})")
        ax.set_ylabel(f"PC2 ({ratio[1]:.1%})")
        ax.legend(fontsize=8)
        ax.set_title("PCA of the scaled features")
        if tsne is not None:
            axes[2].scatter(tsne[:, 0], tsne[:, 1], c=scores, cmap="RdYlGn_r", s=10)
            axes[2].set_title("t-SNE by inconsistency")
    fig.suptitle(f"Stage {diag.name!r}: {diag.kind}", fontsize=11, weight="bold")
    fig.tight_layout()
    _save(fig, path)


def _pca2(embedding):
    """The first two principal components (zeros where there are fewer) and their ratios."""
    from sklearn.decomposition import PCA

    k = min(2, embedding.shape[1], embedding.shape[0])
    coords, ratio = np.zeros((len(embedding), 2)), np.zeros(2)
    if k:
        pca = PCA(n_components=k).fit(embedding)
        coords[:, :k] = pca.transform(embedding)
        ratio[:k] = np.nan_to_num(pca.explained_variance_ratio_)
    return coords, ratio


def _tsne(embedding):
    from sklearn.manifold import TSNE

    n = len(embedding)
    if n < 5:
        return None
    return TSNE(
        n_components=2, perplexity=max(2, min(30, n // 4)), random_state=42, init="pca"
    ).fit_transform(embedding[:, : min(3, embedding.shape[1])])


# -- the report ---------------------------------------------------------------------
def write_report(
    out_dir,
    tiles,
    labels,
    scores,
    diagnostics,
    *,
    grid_size,
    title,
    details=(),
    tsne=False,
    progress=None,
    kinds=None,
    classes=(),
):
    """Write the whole report into ``out_dir`` (which must exist).

    Parameters
    ----------
    out_dir : path-like
        An existing folder. The files are written atomically, each under a
        fixed name (``REPORT_PATTERNS``), replacing any of that name.
    tiles : TileSet
        The tiles inspected (with ``array_images``).
    labels, scores : ndarray of shape (n_tiles,)
        Class and inconsistency score (NaN where not scored) of each tile.
    diagnostics : list of Bunch
        ``LayeredPeelClassifier.stage_diagnostics`` for these tiles.
    grid_size : int or "auto"
        The uniform grid's sites per row and column, for the defect maps
        (:func:`defect_map`). Where ``tiles.lattices`` holds an array's found
        lattice, that lattice places its sites on the map instead.
    title : str
        The page's title.
    details : sequence of (str, str)
        Lines for the page header (inputs, model, ...); those named
        ``"warning"`` are shown in a red box above them.
    tsne : bool, default=False
        Add t-SNE panels to the stage figures (slow).
    progress : callable, optional
        Called with a short description before each step.
    kinds : ndarray of str, optional
        Kind of each tile's defect where the model tells kinds apart
        (``"seam"`` / ``"field"`` for Stitching): the ``stitch_kind`` column
        of tiles.csv and the outline style on the defect maps.
    classes : sequence of str, optional
        The model's classes (``classes_``): every one gets its columns in
        summary.csv and its place in the legends, even without tiles.

    Returns
    -------
    list of Path
        The files written: ``tiles.csv`` (one row per tile), ``summary.csv``
        (count and share of each class and the yield, per array and over
        all of them), one ``map_<array>.png`` per array,
        one ``gallery_<class>.png`` per class present, one
        ``stage_<stage>.png`` per stage that saw tiles, the most and least
        inconsistent tiles (``inconsistent_most.png``,
        ``inconsistent_least.png``) where tiles were scored, and
        ``index.html``, the page that shows them all.

    See Also
    --------
    sklearn_pillars.inspect_arrays : Classify array images and write their report.
    defect_map : One array's defect map.
    sklearn_pillars.LayeredPeelClassifier.stage_diagnostics : The ``diagnostics``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_pillars import LayeredPeelClassifier, make_pillar_arrays
    >>> from sklearn_pillars.report import write_report
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_report(
    ...         folder, tiles, model.labels_, model.inconsistency_,
    ...         model.stage_diagnostics(), grid_size=6, title="Wafer A",
    ...     )
    ...     names = sorted(path.name for path in written)
    >>> names[-3:], "map_synthetic_0.png" in names
    (['stage_stitching.png', 'summary.csv', 'tiles.csv'], True)
    """
    out = Path(out_dir)
    step = progress or (lambda text: None)
    labels = np.asarray(labels)
    written = []

    step("tables")
    _write_csv(out / "tiles.csv", tile_rows(tiles, labels, scores, kinds))
    summary = summary_rows(tiles, labels, classes, kinds)
    _write_csv(out / "summary.csv", summary)
    written += [out / "tiles.csv", out / "summary.csv"]

    maps = []
    for index, (name, slug) in enumerate(
        zip(tiles.array_names, slugs(tiles.array_names), strict=True)
    ):
        step(f"defect map {name}")
        member = tiles.positions[:, 0] == index
        path = out / f"map_{slug}.png"
        defect_map(
            path,
            tiles.array_images[index],
            name,
            grid_size,
            tiles.positions[member, 1:],
            labels[member],
            None if kinds is None else np.asarray(kinds)[member],
            lattice=None if tiles.lattices is None else tiles.lattices[index],
            classes=classes,
        )
        maps.append((name, path.name))
        written.append(path)

    galleries = []
    present = [cls for cls in class_order(classes, labels) if (labels == cls).any()]
    for cls, slug in zip(present, slugs(present), strict=True):
        step(f"gallery {cls}")
        members = np.flatnonzero(labels == cls)
        if cls == IRREGULAR:  # the most irregular first
            members = members[
                np.argsort(-np.nan_to_num(scores[members], nan=-np.inf), kind="stable")
            ]
            shown = members[:GALLERY_MAX]
            more = f", the {GALLERY_MAX} most inconsistent shown"
        else:  # spread over all arrays and rows
            shown = members[
                np.linspace(0, len(members) - 1, min(len(members), GALLERY_MAX), dtype=int)
            ]
            more = f", {GALLERY_MAX} spread over them shown"
        more = more if len(members) > GALLERY_MAX else ""
        path = out / f"gallery_{slug}.png"
        tile_mosaic(
            [tiles.images[i] for i in shown],
            [_caption(tiles, i) for i in shown],
            path,
            f"{cls}: {len(members)} tiles{more}",
        )
        galleries.append((cls, len(members), path.name))
        written.append(path)

    stage_files = []
    for diag, slug in zip(diagnostics, slugs([d.name for d in diagnostics]), strict=True):
        step(f"stage {diag.name}")
        if diag.embedding is None or len(diag.rows) == 0:
            stage_files.append((diag, None))
            continue
        path = out / f"stage_{slug}.png"
        stage_figure(path, diag, _tsne(diag.embedding) if tsne else None)
        stage_files.append((diag, path.name))
        written.append(path)

    extremes = []
    scored = np.flatnonzero(np.isfinite(scores))
    if scored.size:
        step("most and least inconsistent tiles")
        order = scored[np.argsort(-scores[scored], kind="stable")]
        for kind, chosen in (("most", order[:GALLERY_MAX]), ("least", order[::-1][:GALLERY_MAX])):
            path = out / f"inconsistent_{kind}.png"
            tile_mosaic(
                [tiles.images[i] for i in chosen],
                [f"{_caption(tiles, i)} {scores[i]:.2f}" for i in chosen],
                path,
                f"The {len(chosen)} {kind} inconsistent tiles (score)",
            )
            extremes.append((kind, path.name))
            written.append(path)

    step("index.html")
    page = _html(title, details, summary, maps, galleries, stage_files, extremes, tiles, labels)
    write_text(out / "index.html", page)
    written.append(out / "index.html")
    return written


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
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

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
    for kind, file in extremes:
        lines.append(
            f'<figure><img src="{html.escape(file)}" alt="{kind} inconsistent tiles">'
            f"<figcaption>The {kind} inconsistent tiles of the last layer"
            "</figcaption></figure>"
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
    lines.append("<h2>Defect maps</h2>")
    for name, file in maps:
        lines.append(
            f'<figure><img src="{e(file)}" alt="defect map of {e(name)}">'
            f"<figcaption>{e(name)}: non-Good sites outlined in their class colour"
            " (Stitching: dashed for image seams, solid for write-field lines, "
            "when the model tells them apart)</figcaption></figure>"
        )
    lines.append("<h2>Tiles by class</h2>")
    for cls, n, file in galleries:
        lines.append(
            f'<figure><img src="{e(file)}" alt="{e(cls)} tiles">'
            f"<figcaption>{e(cls)}: {n} tiles (captions: row,col"
            f"{'; array:row,col' if len(tiles.array_names) > 1 else ''})"
            "</figcaption></figure>"
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
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"
