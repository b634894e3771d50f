"""Refined features of a pillar against the array's reference: how much lighter (Missing)
or darker (Collapsed) it is, and how."""

from __future__ import annotations

import numpy as np

from ._context import _quiet_nan_warnings, row_percentiles

MISSING_NAMES = ("pillar_residual", "centre_level")


MISSING_FLOORS = (0.02, 0.02)  # contrast units


COLLAPSED_NAMES = ("below_rim", "dark_area", "centre_darkness", "median_darkness")


COLLAPSED_FLOORS = (0.01, 0.01, 0.02, 0.02)  # shares of pixels, contrast units


def _middle_slice(size):
    quarter = size // 4
    return slice(quarter, size - quarter)


def _pillar_mask(context):
    """Where each tile's shifted reference is darker than half its depth: the pillar's place."""
    ref = context.shifted_reference
    depth = np.min(context.reference)
    return ref < 0.5 * depth


def _masked_mean(values, mask):
    values = np.where(mask & np.isfinite(values), values, 0.0)
    count = (mask & np.isfinite(values)).sum(axis=(1, 2))
    return values.sum(axis=(1, 2)) / np.maximum(count, 1)


def missing_features(context):
    """Columns :data:`MISSING_NAMES`: is there a pillar at the site?

    ``pillar_residual`` is the mean residual where the reference has its
    pillar (large and positive when the site is bare substrate),
    ``centre_level`` the mean of the tile's centre, in contrast units.
    """
    center = _middle_slice(context.tiles.shape[1])
    with _quiet_nan_warnings():
        level = np.nanmean(context.tiles[:, center, center], axis=(1, 2))
    return np.column_stack([_masked_mean(context.residual, _pillar_mask(context)), level])


def collapsed_features(context):
    """Columns :data:`COLLAPSED_NAMES`: is the site a dark filled blob?

    With 0.8 of the reference pillar's darkest grey level as the line
    between rim and blob darkness: ``below_rim`` is the share of the tile's
    centre darker than it (a filled blob is dark where a pillar is only dark
    on its rim), ``dark_area`` the share of the whole tile (a blob is larger
    than a rim); ``centre_darkness`` and ``median_darkness`` are minus the
    first quartile and the median of the centre's grey levels (a pillar's
    light interior keeps them high).
    """
    tiles = context.tiles
    center = _middle_slice(tiles.shape[1])
    middle = tiles[:, center, center].reshape(len(tiles), -1)
    dark = 0.8 * float(np.min(context.reference))
    valid = np.isfinite(tiles)
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        seen = np.isfinite(middle)
        below_rim = (seen & (middle < dark)).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
        dark_area = (valid & (tiles < dark)).sum(axis=(1, 2)) / np.maximum(
            valid.sum(axis=(1, 2)), 1
        )
        quartile, median = np.nan_to_num(row_percentiles(middle, [25, 50]))
    return np.column_stack([below_rim, dark_area, -quartile, -median])
