"""Defect maps: each site of an array marked with its class, drawn over the image."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

from ..constants import GOOD, class_order
from ..utils.arrays import integer_percentiles
from ..utils.files import atomic_path
from ._figures import PNG_PARAMS, _color
from ._tables import yield_counts

#: Image pixels a report figure is drawn from, at most.
FIGURE_PIXELS = 4 * 2**20


# -- figures ----------------------------------------------------------------------
def shrink(image, max_pixels=None):
    """The image reduced by a whole factor (area averaging) to at most ``max_pixels`` pixels.

    Returns the image unchanged when it is small enough, and the factor.
    """

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
    low, high = integer_percentiles(image, [0.5, 99.5])
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
        centers = (lattice.centers + 0.5) * scale
        hx, hy = (p * scale / 2 - inset for p in lattice.pitch)

        def site_box(r, c):
            x, y = centers[r - 1, c - 1]
            return round(x - hx), round(y - hy), round(x + hx), round(y + hy)

        marks = np.rint(centers.reshape(-1, 2)).astype(np.int32)
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
    ok, png = cv2.imencode(".png", canvas, PNG_PARAMS)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise RuntimeError("could not encode the defect map as PNG")
    return png.tobytes()
