"""Array reductions the lattice, feature and report code share: medians over stacks of
tiles, percentiles of grey levels."""

from __future__ import annotations

import cv2
import numpy as np


def median_of(stack):
    """Pixel-wise median of a non-empty stack of float images (n, ...) without NaN: the
    values of ``np.median(stack, axis=0)``, from a sort along a contiguous axis, several
    times faster than NumPy's partition across the stack."""
    stack = np.asarray(stack)
    n, rest = stack.shape[0], stack.shape[1:]
    ordered = np.sort(np.ascontiguousarray(stack.reshape(n, -1).T), axis=1)
    middle = ordered[:, n // 2]
    if n % 2 == 0:
        middle = (ordered[:, n // 2 - 1] + middle) / 2
    return np.ascontiguousarray(middle).reshape(rest)  # not a view of the whole sort


def nan_median_of(stack):
    """Pixel-wise median of a non-empty stack of float images (n, ...) ignoring NaN, NaN
    where all are: the values of ``np.nanmedian(stack, axis=0)``, from one sort."""
    stack = np.asarray(stack)
    n, rest = stack.shape[0], stack.shape[1:]
    ordered = np.sort(np.ascontiguousarray(stack.reshape(n, -1).T), axis=1)  # NaN last
    count = (~np.isnan(ordered)).sum(axis=1)
    pixels = np.arange(ordered.shape[0])
    low = ordered[pixels, np.maximum((count - 1) // 2, 0)]
    high = ordered[pixels, np.maximum(count // 2, 0)]
    with np.errstate(invalid="ignore"):  # -inf and inf in the middle: NaN, as NumPy's
        middle = np.where(count > 0, (low + high) / 2, np.nan)
    return middle.astype(stack.dtype).reshape(rest)


def integer_percentiles(values, q):
    """``np.percentile(values, q)`` (linear interpolation) of unsigned integers, from their
    histogram: the same values without sorting a million pixels."""
    values = np.asarray(values)
    if values.dtype not in (np.uint8, np.uint16) or values.size == 0:
        return np.percentile(values, q)
    if values.dtype == np.uint8 and values.size < 2**24:  # counts exact in float32
        # OpenCV's histogram: no conversion of every value to a 64-bit integer
        flat = np.ascontiguousarray(values.reshape(-1, 1))
        counts = cv2.calcHist([flat], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    else:
        counts = np.bincount(values.ravel())
    cumulative = np.cumsum(counts)
    position = np.asarray(q, float) / 100 * (values.size - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, values.size - 1)
    # the k-th smallest value (from 0) is the first level whose cumulative count exceeds k
    low = np.searchsorted(cumulative, below, side="right")
    high = np.searchsorted(cumulative, above, side="right")
    return low + (position - below) * (high - low)
