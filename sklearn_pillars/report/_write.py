"""The inspection report of arrays classified at once: CSVs, defect maps, galleries,
per-layer diagnostics and one HTML page that shows them. Every file is written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..constants import IRREGULAR, class_order
from ..utils.files import write_text
from ._figures import GALLERY_MAX, _tsne, stage_figure, tile_mosaic
from ._html import _caption, _html, clickable
from ._maps import defect_map
from ._review import write_review_array, write_review_page
from ._tables import _write_csv, slugs, summary_rows, tile_rows


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
        ``index.html``, the page that shows them all; and the review page,
        ``review.html``, with ``review_arrays.js`` and one ``review_<array>.js``
        and ``review_<array>.jpg`` per array.

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

    maps, reviewed = [], []
    shown_classes = class_order(classes, labels)
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
        maps.append((name, path.name, slug))
        written.append(path)
        written += write_review_array(
            out,
            name,
            slug,
            tiles.array_images[index],
            tiles.positions[member, 1:],
            tiles.boxes[member],
            labels[member],
            None if kinds is None else np.asarray(kinds)[member],
            np.asarray(scores, dtype=float)[member],
            shown_classes,
        )
        reviewed.append((name, slug, int(member.sum()), int((labels[member] != "Good").sum())))

    array_slugs = slugs(tiles.array_names)

    def targets(chosen):  # the review page's array, row and column of each tile
        return [
            (array_slugs[tiles.positions[i, 0]], int(tiles.positions[i, 1]),
             int(tiles.positions[i, 2]))
            for i in chosen
        ]  # fmt: skip

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
        cells = tile_mosaic(
            [tiles.images[i] for i in shown],
            [_caption(tiles, i) for i in shown],
            path,
            f"{cls}: {len(members)} tiles{more}",
        )
        galleries.append((cls, len(members), path.name, clickable(cells, targets(shown))))
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
            cells = tile_mosaic(
                [tiles.images[i] for i in chosen],
                [f"{_caption(tiles, i)} {scores[i]:.2f}" for i in chosen],
                path,
                f"The {len(chosen)} {kind} inconsistent tiles (score)",
            )
            extremes.append((kind, path.name, clickable(cells, targets(chosen))))
            written.append(path)

    written += write_review_page(out, title, reviewed, shown_classes)
    step("index.html")
    page = _html(title, details, summary, maps, galleries, stage_files, extremes, tiles, labels)
    write_text(out / "index.html", page)
    written.append(out / "index.html")
    return written
