"""A slow, per-tile reference of the notebook's feature formulas.

Written for the tests from the formulas the notebook describes, one tile at a
time with the straightforward library calls (OpenCV Otsu and contours, SciPy's
Gaussian filter, scikit-image's SSIM); the package's batched code must agree
with it. Used where ../shared (and so the notebook itself) is absent.
"""

import cv2
import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity


def _largest_contour(img):
    _, mask = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    return max(contours, key=cv2.contourArea)


def center_intensity(img):
    h, w = img.shape
    center = img[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2]
    outside = np.ones(img.shape, bool)
    outside[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2] = False
    c, e = center.astype(float), img[outside].astype(float)
    return [c.mean(), c.std(), c.min(), c.max(), e.mean(), c.mean() - e.mean()]


def darkness_area(img):
    contour = _largest_contour(img)
    area = cv2.contourArea(contour) if contour is not None else 0.0
    return [img.mean(), (img < 80).mean(), (img < 50).mean(), area, area / img.size]


def stitching(img):
    f = img.astype(float)
    h, w = f.shape
    row_jump = np.abs(np.diff(f.mean(axis=1))).max()
    col_jump = np.abs(np.diff(f.mean(axis=0))).max()
    v_split = abs(f[: h // 2].mean() - f[h // 2 :].mean())
    h_split = abs(f[:, : w // 2].mean() - f[:, w // 2 :].mean())
    center = f[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].mean()
    strips = [f[:5].mean(), f[-5:].mean(), f[:, :5].mean(), f[:, -5:].mean()]
    edge_center = max(abs(s - center) for s in strips)
    dy = cv2.Sobel(img, cv2.CV_64F, 0, 1, ksize=3)
    dx = cv2.Sobel(img, cv2.CV_64F, 1, 0, ksize=3)
    jump, split = max(row_jump, col_jump), max(v_split, h_split)
    return [
        row_jump,
        col_jump,
        jump,
        v_split,
        h_split,
        split,
        edge_center,
        np.abs(dy).mean(axis=1).max(),
        np.abs(dx).mean(axis=0).max(),
        jump + split + edge_center,
    ]


def rotation(img):
    s = min(img.shape)
    square = img[:s, :s].astype(float)
    turns = [np.rot90(square, k) for k in range(4)]
    rms, sim = [], []
    for i in range(4):
        for j in range(i + 1, 4):
            rms.append(np.sqrt(np.mean((turns[i] - turns[j]) ** 2)))
            sim.append(structural_similarity(turns[i], turns[j], data_range=255) if s >= 7 else 1.0)
    return [np.mean(rms), np.max(rms), 1 - np.mean(sim), 1 - np.min(sim)]


def base(img):
    contour = _largest_contour(img)
    area = perimeter = 0.0
    if contour is not None:
        area, perimeter = cv2.contourArea(contour), cv2.arcLength(contour, True)
    circularity = 4 * np.pi * area / perimeter**2 if perimeter > 0 else 0.0
    return np.array([img.mean(), img.std(), area / img.size, circularity])


def neighbor(images, positions):
    feats = {tuple(p): base(im) for im, p in zip(images, positions, strict=True)}
    out = []
    for a, r, c in positions:
        near = [
            feats[(a, r + dr, c + dc)]
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr, dc) != (0, 0) and (a, r + dr, c + dc) in feats
        ]
        dev = feats[(a, r, c)] - np.mean(near, axis=0) if near else np.zeros(4)
        out.append([*dev, np.linalg.norm(dev)])
    return np.array(out)


def anisotropy(img):
    f = img.astype(float)
    gx = cv2.Sobel(f, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(f, cv2.CV_64F, 0, 1, ksize=3)
    jxx, jyy, jxy = (ndimage.gaussian_filter(g, sigma=2).sum() for g in (gx * gx, gy * gy, gx * gy))
    trace, det = jxx + jyy, jxx * jyy - jxy**2
    l1 = l2 = aniso = 0.0
    if trace > 0:
        root = np.sqrt(max(0.0, trace**2 - 4 * det))
        l1, l2 = (trace + root) / 2, (trace - root) / 2
        aniso = (l1 - l2) / (l1 + l2 + 1e-10)
    return [aniso, aniso**2, abs(0.5 * np.arctan2(2 * jxy, jxx - jyy)), l1 / (l2 + 1e-10)]


def curvature(img):
    contour = _largest_contour(img)
    if contour is None or len(contour) < 10:
        return [0.0] * 5
    pts = contour.reshape(-1, 2).astype(float)
    dx, dy = np.gradient(pts[:, 0]), np.gradient(pts[:, 1])
    kappa = (dx * np.gradient(dy) - dy * np.gradient(dx)) / ((dx**2 + dy**2) ** 1.5 + 1e-10)
    k = np.abs(kappa)
    kurt = np.mean(k**4) / (np.mean(k**2) ** 2 + 1e-10) - 3
    crossings = np.count_nonzero(np.diff(np.sign(kappa))) / len(kappa)
    return [kurt, k.max(), np.percentile(k, 95), crossings, np.var(kappa)]


def radial_profile(img, n_bins=8):
    h, w = img.shape
    cy, cx = h // 2, w // 2
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(xx - cx, yy - cy)
    edges = np.linspace(0, np.hypot(cx, cy), n_bins + 1)
    f = img.astype(float)
    return np.array(
        [
            f[(r >= lo) & (r < hi)].mean() if ((r >= lo) & (r < hi)).any() else 0.0
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
    )


def radial(images, mean_profile=None):
    profiles = np.array([radial_profile(im) for im in images])
    mean_profile = profiles.mean(axis=0) if mean_profile is None else mean_profile
    dev = profiles - mean_profile
    return np.column_stack(
        [
            np.linalg.norm(dev, axis=1),
            np.abs(dev).max(axis=1),
            np.abs(dev[:, 0]),
            np.abs(dev[:, -1]),
        ]
    )


def per_tile(function, images):
    return np.array([function(im) for im in images], dtype=float)


def contextual(images, positions):
    return np.hstack(
        [
            per_tile(rotation, images),
            neighbor(images, positions),
            per_tile(anisotropy, images),
            per_tile(curvature, images),
            radial(images),
        ]
    )
