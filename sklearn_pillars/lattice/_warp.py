"""Turning and magnifying an image so that its lattice rows run along x at the pitch the
tiles are made for."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np


def derotate(grey, lattice):
    """Rotate an image so that its lattice's rows run along x.

    The canvas grows to hold the whole rotated image; the corners it adds
    are filled with the median grey level of the image's border (mostly
    substrate). Bicubic interpolation keeps thin lines sharp.

    Parameters
    ----------
    grey : ndarray of shape (H, W), uint8
    lattice : Lattice
        Found in ``grey``.

    Returns
    -------
    image : ndarray, uint8
        The rotated image.
    lattice : Lattice
        The same lattice in the rotated image (angle about 0).
    """
    return reframe(grey, lattice, angle=lattice.angle)


def reframe(grey, lattice, *, angle=0.0, scale=1.0):
    """Turn an image clockwise by ``angle`` degrees and magnify it by ``scale``.

    The canvas holds the whole result; the corners a rotation adds are filled
    with the median grey level of the image's border (mostly substrate).
    Bicubic interpolation keeps thin lines sharp; a shrunk image is first
    blurred just enough not to alias.

    Parameters
    ----------
    grey : ndarray of shape (H, W), uint8
    lattice : Lattice
        Found in ``grey``.
    angle : float, default=0.0
        Degrees, counter-clockwise as displayed, to take off the rows.
    scale : float, default=1.0
        Magnification, positive.

    Returns
    -------
    image : ndarray, uint8
    lattice : Lattice
        The same lattice in ``image``; ``turned`` adds ``angle``, ``scaled``
        multiplies by ``scale`` and ``warp`` composes this map with any
        earlier one.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    height, width = grey.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), -angle, scale)
    corners = (
        np.array(
            [[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], float
        )
        @ matrix.T
    )
    low = np.floor(corners.min(axis=0))
    size = (np.ceil(corners.max(axis=0)) - low + 1).astype(int)
    matrix[:, 2] -= low
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    fill = float(np.median(border))
    source = grey
    if scale < 1:  # the sampling theorem: no detail finer than the new pixel
        source = cv2.GaussianBlur(grey, (0, 0), 0.5 * math.sqrt(1 / scale**2 - 1))
    image = cv2.warpAffine(
        source,
        matrix,
        (int(size[0]), int(size[1])),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )
    earlier = np.vstack([lattice.warp, [0, 0, 1]]) if lattice.warp is not None else np.eye(3)
    return image, replace(
        lattice.warped(matrix, image.shape),
        turned=lattice.turned + angle,
        scaled=lattice.scaled * scale,
        warp=(np.vstack([matrix, [0, 0, 1]]) @ earlier)[:2],
    )
