"""The report's review page: ``review.html`` lets a person correct the labels site by site and
download them as a labels file. It loads one array at a time (``review_<array>.js`` and its
image), so a report of any number of arrays opens at once."""

from __future__ import annotations

import json
import secrets
from importlib import resources

import cv2
import numpy as np

from ..utils.files import atomic_path, write_text
from ._figures import CLASS_COLORS, _color

#: The longer side, in pixels, of the array image shown on the review page (at most).
REVIEW_SIDE = 1200

#: JPEG quality of that image.
REVIEW_JPEG_QUALITY = 85

#: The files of the review page, for REPORT_PATTERNS.
REVIEW_PATTERNS = ("review.html", "review_*.js", "review_*.jpg")


def review_order(labels, scores):
    """The order in which "Review next" visits an array's sites: the model's least sure
    first. Sites the last layer scored come first, nearest the array's cut between
    Irregular and Good (its lowest Irregular score, or its highest score when none is
    Irregular); then the sites peeled earlier, in site order."""
    labels = np.asarray(labels).astype(str)
    scores = np.asarray(scores, dtype=float)
    scored = np.isfinite(scores)
    if not scored.any():
        return np.arange(len(labels))
    irregular = scored & (labels == "Irregular")
    cut = scores[irregular].min() if irregular.any() else scores[scored].max()
    first = np.flatnonzero(scored)
    first = first[np.argsort(np.abs(scores[first] - cut), kind="stable")]
    return np.concatenate([first, np.flatnonzero(~scored)])


def _cells(positions, boxes):
    """Each site's cell ``(x0, y0, x1, y1)``: a square of 0.92 of the pitch around its
    tile's centre (tiles overlap their neighbours; cells do not). The pitch is the median
    distance between the centres of neighbouring sites, else the tiles' median side."""
    centers = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
    where = {(int(r), int(c)): i for i, (r, c) in enumerate(positions)}
    steps = [
        np.hypot(*(centers[j] - centers[i]))
        for (r, c), i in where.items()
        for j in (where.get((r, c + 1)), where.get((r + 1, c)))
        if j is not None
    ]
    pitch = np.median(steps) if steps else np.median(boxes[:, 2:] - boxes[:, :2])
    half = 0.46 * pitch
    return np.column_stack([centers - half, centers + half])


def write_review_array(folder, name, slug, image, positions, boxes, labels, kinds, scores, classes):
    """Write one array's ``review_<slug>.jpg`` (its image, at most :data:`REVIEW_SIDE`
    pixels a side, contrast stretched) and ``review_<slug>.js`` (its sites: row, column,
    label, stitch kind, cell on that image, inconsistency, and the review order).
    Returns the paths."""
    image = np.asarray(image)
    height, width = image.shape[:2]
    scale = min(1.0, REVIEW_SIDE / max(height, width))
    shown = image
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        shown = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # the 1st to 99th percentiles stretched over the grey scale: a dim array made legible
    low, high = np.percentile(shown[::4, ::4], [1, 99])
    gain = 255.0 / max(float(high - low), 1.0)
    shown = cv2.convertScaleAbs(shown, alpha=gain, beta=-gain * float(low))
    picture = folder / f"review_{slug}.jpg"
    ok, encoded = cv2.imencode(".jpg", shown, (cv2.IMWRITE_JPEG_QUALITY, REVIEW_JPEG_QUALITY))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError(f"could not encode {picture} as JPEG")
    with atomic_path(picture) as tmp:
        tmp.write_bytes(encoded.tobytes())
    index = {cls: k for k, cls in enumerate(classes)}
    cells = _cells(np.asarray(positions), np.asarray(boxes, dtype=float)) * scale
    labels = np.asarray(labels).astype(str)
    kinds = np.full(len(labels), "") if kinds is None else np.asarray(kinds).astype(str)
    scores = np.asarray(scores, dtype=float)
    sites = [
        [
            int(r),
            int(c),
            index[label],
            kind,
            *(round(float(v), 1) for v in cell),
            None if not np.isfinite(score) else round(float(score), 3),
        ]
        for (r, c), label, kind, cell, score in zip(
            np.asarray(positions), labels, kinds, cells, scores, strict=True
        )
    ]
    data = {
        "name": str(name),
        "slug": slug,
        "image": picture.name,
        "width": shown.shape[1],
        "height": shown.shape[0],
        "sites": sites,
        "order": review_order(labels, scores).tolist(),
    }
    script = folder / f"review_{slug}.js"
    write_text(
        script,
        f"PILLARS_REVIEW_ARRAY({json.dumps(slug)}, {json.dumps(data, separators=(',', ':'))});\n",
    )
    return [picture, script]


def write_review_page(folder, title, arrays, classes):
    """Write ``review_arrays.js`` (the arrays: name, slug, tiles, tiles not Good) and
    ``review.html``. Corrections are kept in the browser under a key of this report's
    own (a new report starts afresh). Returns the paths."""
    data = {
        "id": secrets.token_hex(8),
        "title": str(title),
        "classes": [str(c) for c in classes],
        "colors": {
            str(c): CLASS_COLORS.get(str(c), _color(str(c), k)) for k, c in enumerate(classes)
        },
        "arrays": [[str(n), s, int(t), int(d)] for n, s, t, d in arrays],
    }
    index = folder / "review_arrays.js"
    write_text(index, f"window.PILLARS_REVIEW = {json.dumps(data, separators=(',', ':'))};\n")
    page = folder / "review.html"
    write_text(page, resources.files(__package__).joinpath("review.html").read_text("utf-8"))
    return [index, page]
