"""Refined shape features: the pillar's position, size and outline against the array's
reference pillar and its grid neighbours."""

from __future__ import annotations

import cv2
import numpy as np

from ._context import _EPS, neighbor_median

SHAPE_NAMES = (
    "offset_from_neighbours",
    "residual_rms",
    "match",
    "scale_from_neighbours",
    "elongation",
    "deformation_gain",
)


SHAPE_FLOORS = (1.0, 0.02, 0.02, 0.05, 0.02, 0.02)
"""Smallest deviation scale of each shape feature: pixels, contrast units, correlation, ..."""


SHAPE_PART_NAMES = (
    "dy",
    "dx",
    "residual_rms",
    "match",
    "log_scale",
    "elongation",
    "deformation_gain",
)


_SCALES = (0.7, 0.85, 1.0, 1.15, 1.3)


_ASPECTS = (0.75, 0.55)


_ANGLES = (0.0, 45.0, 90.0, 135.0)


def deformed_references(reference):
    """The reference pillar scaled, and stretched along four directions: templates.

    Returns
    -------
    templates : ndarray of shape (k, T, T)
    params : ndarray of shape (k, 2)
        Scale (the square root of the area ratio) and aspect (minor over
        major axis, 1 for a round pillar) of each template.
    """
    size = reference.shape[0]
    center = (size - 1) / 2
    templates, params = [], []
    shapes = [(s, 1.0, 0.0) for s in _SCALES]
    shapes += [(s, a, t) for s in _SCALES for a in _ASPECTS for t in _ANGLES]
    for scale, aspect, angle in shapes:
        theta = np.deg2rad(angle)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        stretch = np.diag([scale / np.sqrt(aspect), scale * np.sqrt(aspect)])
        inverse = np.linalg.inv(rotation @ stretch @ rotation.T)  # template pixel -> reference
        matrix = np.hstack([inverse, (center - inverse @ [center, center])[:, None]])
        templates.append(
            cv2.warpAffine(
                reference.astype(np.float32),
                matrix.astype(np.float32),
                (size, size),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
        params.append((scale, aspect))
    return np.stack(templates), np.array(params)


def best_deformation(context):
    """How the reference pillar best deforms onto each tile: size, elongation, gain.

    Each tile, moved so that its pillar is centred, is correlated (weighted
    towards the pillar, over its own pixels) with every template of
    :func:`deformed_references`. Returns three columns: the log scale at
    which round templates fit best (a parabola through the best scale and
    its neighbours, so that it varies continuously), how much better the
    best stretched template fits than the best round one (elongation), and
    how much better the best template of all fits than the undeformed
    reference.
    """
    tiles = context.tiles
    n, size = tiles.shape[0], tiles.shape[1]
    # centred on the pillar to the nearest pixel (the templates vary by 15%, a pixel is 3%)
    centered = _roll_each(tiles, -np.rint(context.dy).astype(int), -np.rint(context.dx).astype(int))
    window = np.hanning(size + 2)[1:-1].astype(np.float32)
    weight = np.where(np.isfinite(centered), window[:, None] * window[None, :], np.float32(0))
    centered = np.nan_to_num(centered, nan=0.0)
    templates, params = deformed_references(context.reference)
    if size % 2 == 0 and size >= 48:  # a pillar's size and shape show at half the resolution
        templates, centered, weight = (_halve(a) for a in (templates, centered, weight))
    flat_t = templates.reshape(len(templates), -1).T.astype(np.float64)  # (pixels, k)
    w = weight.reshape(n, -1)
    t = centered.reshape(n, -1).astype(np.float64)
    total = np.maximum(w.sum(axis=1, keepdims=True), _EPS)
    mean_t = (w * t).sum(axis=1, keepdims=True) / total
    var_t = (w * t * t).sum(axis=1, keepdims=True) - total * mean_t**2
    sum_k, sum_k2 = w @ flat_t, w @ flat_t**2
    var_k = sum_k2 - sum_k**2 / total
    cov = (w * t) @ flat_t - mean_t * sum_k
    corr = cov / np.sqrt(np.maximum(var_t * var_k, _EPS))
    rows = np.arange(n)
    round_ = corr[:, : len(_SCALES)]  # the round templates come first, by scale
    best = np.clip(round_.argmax(axis=1), 1, len(_SCALES) - 2)
    logs = np.log(_SCALES)
    lower, peak, upper = (round_[rows, best + k] for k in (-1, 0, 1))
    curvature = lower - 2 * peak + upper
    step = np.where(
        curvature < 0, 0.5 * (lower - upper) / np.where(curvature < 0, curvature, -1), 0.0
    )
    log_scale = logs[best] + np.clip(step, -1, 1) * (logs[best + 1] - logs[best - 1]) / 2
    identity = _SCALES.index(1.0)
    elongation = corr[:, len(_SCALES) :].max(axis=1) - round_.max(axis=1)
    return np.column_stack([log_scale, elongation, corr.max(axis=1) - corr[:, identity]])


def _roll_each(images, dy, dx):
    """Each image moved by its own whole-pixel (dy, dx); what comes in is NaN."""
    n, h, w = images.shape
    rows = np.arange(h)[None, :] - dy[:, None]  # source row of each output row
    cols = np.arange(w)[None, :] - dx[:, None]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    moved = images[
        np.arange(n)[:, None, None],
        np.clip(rows, 0, h - 1)[:, :, None],
        np.clip(cols, 0, w - 1)[:, None, :],
    ]
    return np.where(inside, moved, np.nan)


def _halve(images):
    """Mean of each 2 x 2 block of pixels."""
    return 0.25 * (
        images[:, ::2, ::2] + images[:, 1::2, ::2] + images[:, ::2, 1::2] + images[:, 1::2, 1::2]
    )


def shape_parts(context):
    """Per-tile shape measurements, columns :data:`SHAPE_PART_NAMES`.

    ``dy``, ``dx``: the pillar's position against the reference (pixels);
    ``residual_rms``: residual energy around the pillar; ``match``: the
    correlation with the reference; ``log_scale``, ``elongation`` and
    ``deformation_gain``: the :func:`best_deformation` of the reference to
    the tile.
    """
    tiles = context.tiles
    size = tiles.shape[1]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    center = (size - 1) / 2
    cy, cx = center + context.dy, center + context.dx
    near = (yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2 < (0.4 * size) ** 2
    res = np.where(near & np.isfinite(context.residual), context.residual, 0.0)
    rms = np.sqrt((res * res).sum(axis=(1, 2)) / np.maximum(near.sum(axis=(1, 2)), 1))
    return np.column_stack([context.dy, context.dx, rms, context.match, best_deformation(context)])


def shape_features(parts, positions):
    """Columns :data:`SHAPE_NAMES` from :func:`shape_parts` of one array's tiles.

    ``offset_from_neighbours`` is the distance of the pillar's registered
    position from the median of its grid neighbours' (among the tiles
    given), so that a slow drift of the lattice is not an offset;
    ``scale_from_neighbours`` the pillar's log scale minus its neighbours'
    median, so that pillars a little larger over a whole region are not
    irregular; the other columns are those of :func:`shape_parts`.
    """
    dy, dx = parts[:, 0], parts[:, 1]
    offset = np.hypot(dy - neighbor_median(dy, positions), dx - neighbor_median(dx, positions))
    scale = parts[:, 4] - neighbor_median(parts[:, 4], positions)
    return np.column_stack([offset, parts[:, 2], parts[:, 3], scale, parts[:, 5], parts[:, 6]])
