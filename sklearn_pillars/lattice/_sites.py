"""The pillar sites of a found lattice: the mean cell and pillar template, matching it
at every candidate site, the robust fit of the lattice and the array's extent."""

from __future__ import annotations

import cv2
import numpy as np

from ..exceptions import NoLatticeError
from ..utils.arrays import median_of
from ._lattice import _look_up

#: Largest square (pixels a side) of the image's centre used for the autocorrelation.
ACF_CROP = 1024


#: Smallest share of a grid row or column that must hold pillars.
MIN_ROW_SHARE = 0.5


def mean_cell(flat, vectors):
    """The mean unit cell of ``flat`` and the position of its pillar.

    Every pixel is folded onto the lattice's unit cell and the cells are
    averaged; :func:`_cell_center` finds the pillar in it.

    Returns
    -------
    template : ndarray, float32
        The mean cell centred on its pillar, about 0.8 of a pitch a side.
    phase : ndarray of shape (2,)
        ``(x, y)`` of a pillar centre in the image.
    """
    height, width = flat.shape
    top, left = max(0, (height - ACF_CROP) // 2), max(0, (width - ACF_CROP) // 2)
    crop = flat[top : top + ACF_CROP, left : left + ACF_CROP]
    n = max(8, int(round(max(np.hypot(*vectors[0]), np.hypot(*vectors[1])))))
    inverse = np.linalg.inv(vectors.T)
    xs = np.arange(crop.shape[1], dtype=np.float64)[None, :]
    ys = np.arange(crop.shape[0], dtype=np.float64)[:, None]
    bins = [
        np.floor(((row[0] * xs + row[1] * ys) % 1.0) * n).astype(np.intp).clip(0, n - 1)
        for row in inverse
    ]  # each pixel's bin along the two lattice vectors
    flat_bins = (bins[1] * n + bins[0]).ravel()
    sums = np.bincount(flat_bins, weights=crop.ravel(), minlength=n * n)
    counts = np.bincount(flat_bins, minlength=n * n)
    cell = (sums / np.maximum(counts, 1)).reshape(n, n)
    phase = vectors.T @ (_cell_center(cell) / n) + (left, top)
    template = _average_patches(crop, vectors, phase - (left, top), _template_side(vectors))
    return template, phase


def _template_side(vectors):
    """Side (pixels, odd) of the pillar template of a lattice: 0.9 of its shorter step."""
    return int(round(0.9 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1])))) | 1


def _average_patches(image, vectors, phase, side):
    """Median of the ``side``-square patches of ``image`` at the lattice sites (sub-pixel)."""
    height, width = image.shape
    half = side // 2
    index, sites = _candidate_sites(phase, vectors, (height, width))
    ok = (
        (sites[:, 0] >= half + 1)
        & (sites[:, 0] < width - half - 2)
        & (sites[:, 1] >= half + 1)
        & (sites[:, 1] < height - half - 2)
    )
    if not ok.any():
        raise NoLatticeError("no periodic pillar lattice found: no whole cell in the image")
    return _median_patches(image, sites[ok], side)


def _median_patches(image, sites, side):
    """Median of the ``side``-square patches of ``image`` centred at ``sites`` (x, y;
    sub-pixel; at most 200 of them, evenly spread)."""
    if len(sites) > 200:
        sites = sites[np.linspace(0, len(sites) - 1, 200).astype(int)]
    half = side // 2
    offsets = np.arange(-half, half + 1, dtype=np.float32)
    map_x = (sites[:, 0, None, None] + offsets[None, None, :]).astype(np.float32)
    map_y = (sites[:, 1, None, None] + offsets[None, :, None]).astype(np.float32)
    map_x = np.broadcast_to(map_x, (len(sites), side, side)).reshape(-1, side)
    map_y = np.broadcast_to(map_y, (len(sites), side, side)).reshape(-1, side)
    patches = cv2.remap(
        image,
        np.ascontiguousarray(map_x),
        np.ascontiguousarray(map_y),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return median_of(patches.reshape(len(sites), side, side)).astype(np.float32)


_CELL_BINS = 48


#: Most pillars (evenly spread) whose median makes an aligned cell.
ALIGNED_SITES = 400


def _aligned_cell(flat, sites, vectors, bins=_CELL_BINS, most=ALIGNED_SITES):
    """Median unit cell (``bins`` x ``bins``, along the lattice vectors) of ``flat`` around
    each of ``sites`` (x, y; at most ``most`` of them, evenly spread), its centre at the
    site."""
    height, width = flat.shape
    reach = 0.5 * (np.abs(vectors[0]) + np.abs(vectors[1]))
    inside = np.all(
        (sites >= reach + 1) & (sites < (width - 2 - reach[0], height - 2 - reach[1])), axis=1
    )
    sites = sites[inside] if inside.sum() >= 4 else sites
    if len(sites) > most:
        sites = sites[np.linspace(0, len(sites) - 1, most).astype(int)]
    steps = (np.arange(bins) + 0.5) / bins - 0.5
    grid = steps[None, :, None] * vectors[0] + steps[:, None, None] * vectors[1]  # (b, b, 2)
    grid, sites = grid.astype(np.float32), sites.astype(np.float32)
    map_x = sites[:, 0, None, None] + grid[None, :, :, 0]
    map_y = sites[:, 1, None, None] + grid[None, :, :, 1]
    cells = cv2.remap(
        flat.astype(np.float32, copy=False),
        map_x.reshape(-1, bins),
        map_y.reshape(-1, bins),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return median_of(cells.reshape(len(sites), bins, bins))


def _cell_center(cell):
    """Position (x, y), in bins, of the pillar in a periodic mean cell of ``n x n`` bins.

    The brightest point of the smoothed cell is a centre of symmetry of the
    lattice: the substrate between four pillars or, where pillars look bright
    inside their dark rim, a pillar's centre. Either way the pillar is there
    or half a cell away in x, y or both. Of those four points it is the one
    nearest the centre of the circles the cell's edges draw (the pillars'
    outlines, :func:`_circle_votes`). That centre itself is not used: a
    pillar lit obliquely has a dark crescent on one side, which pulls its
    edges, and the centre of symmetry of its look, toward that side (2 px on
    synthetic arrays lit so), while the brightest point, bounded by pillars
    all around, stays.
    """
    n = cell.shape[0]
    tiled = cv2.GaussianBlur(np.tile(cell, (3, 3)).astype(np.float32), (0, 0), 0.1 * n)
    smooth = tiled[n : 2 * n, n : 2 * n]
    y, x = np.unravel_index(np.argmax(smooth), smooth.shape)
    sx = _parabola_peak(tiled[n + y, n + x - 1 : n + x + 2])
    sy = _parabola_peak(tiled[n + y - 1 : n + y + 2, n + x])
    bright = np.array([x + 0.5 + sx, y + 0.5 + sy])  # bin b spans [b, b + 1)
    candidates = (bright + np.array([[0, 0], [n / 2, 0], [0, n / 2], [n / 2, n / 2]])) % n
    votes = _circle_votes(cell)
    outline = np.array(np.unravel_index(np.argmax(votes), votes.shape)[::-1]) + 0.5
    gap = (candidates - outline + n / 2) % n - n / 2
    return candidates[np.argmin(np.hypot(*gap.T))]


def _circle_votes(cell):
    """Circle Hough transform of a periodic cell: every edge pixel votes for the points
    0.2-0.45 of a cell away across its gradient (either way: a pillar may be darker or
    brighter than the substrate), weighted by the gradient's magnitude."""
    n = cell.shape[0]
    tiled = cv2.GaussianBlur(np.tile(cell, (3, 3)).astype(np.float32), (0, 0), 0.04 * n)
    gx = cv2.Sobel(tiled, cv2.CV_32F, 1, 0)[n : 2 * n, n : 2 * n]
    gy = cv2.Sobel(tiled, cv2.CV_32F, 0, 1)[n : 2 * n, n : 2 * n]
    magnitude = np.hypot(gx, gy)
    with np.errstate(invalid="ignore", divide="ignore"):
        ux, uy = np.nan_to_num(gx / magnitude), np.nan_to_num(gy / magnitude)
    yy, xx = np.mgrid[:n, :n].astype(np.float32) + 0.5  # + 0.5: truncation rounds
    radii = np.concatenate([r := np.arange(0.2 * n, 0.45 * n, 0.5), -r]).astype(np.float32)
    # every vote lands within half a cell of its pixel: one cell added keeps it positive
    vx = (xx + n + radii[:, None, None] * ux).astype(np.intp) % n
    vy = (yy + n + radii[:, None, None] * uy).astype(np.intp) % n
    weights = np.broadcast_to(magnitude, vx.shape)
    votes = np.bincount((vy * n + vx).ravel(), weights.ravel(), minlength=n * n).reshape(n, n)
    return cv2.GaussianBlur(np.tile(votes, (3, 3)), (0, 0), 0.04 * n)[n : 2 * n, n : 2 * n]


def _parabola_peak(values):
    """Sub-pixel offset (-0.5..0.5) of the top of a parabola through three samples."""
    left, mid, right = np.asarray(values, float)
    return float(_parabola_offsets(left, mid, right))


def _candidate_sites(origin, vectors, image_shape):
    """Lattice indices (row, col) and positions (x, y) of the sites with their centre in
    the image."""
    height, width = image_shape
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]])
    frac = np.linalg.solve(vectors.T, (corners - origin).T)
    lo, hi = np.floor(frac.min(axis=1)) - 1, np.ceil(frac.max(axis=1)) + 1
    cols, rows = np.mgrid[int(lo[0]) : int(hi[0]) + 1, int(lo[1]) : int(hi[1]) + 1]
    cols, rows = cols.ravel(), rows.ravel()
    positions = origin + cols[:, None] * vectors[0] + rows[:, None] * vectors[1]
    inside = (
        (positions[:, 0] >= 0)
        & (positions[:, 0] <= width - 1)
        & (positions[:, 1] >= 0)
        & (positions[:, 1] <= height - 1)
    )
    return np.stack([rows[inside], cols[inside]], axis=1), positions[inside]


def match_template(image, template):
    """Normalised cross-correlation of ``template`` at every position in ``image``: the
    values of ``cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)``, from an
    unnormalised correlation and two box filters (OpenCV's own normalisation takes
    twice as long as the correlation). Windows without variance, and every window for a
    template without variance, score 0 (OpenCV gives such a template 1); rounding may take
    a score a few millionths beyond 1."""
    template = template.astype(np.float32) - np.float32(template.mean())
    norm = float(np.linalg.norm(template))
    th, tw = template.shape
    image = np.asarray(image, dtype=np.float32)
    sample = image[::8, ::8]
    if abs(float(sample.mean())) > 4 * float(sample.std()):
        # far from zero mean: moved there, so that the window sums of squares keep the
        # variance's digits (a flattened image is there already)
        image = cv2.subtract(image, float(sample.mean()))
    scores = cv2.matchTemplate(image, template, cv2.TM_CCORR)
    if norm == 0:
        return np.zeros_like(scores)
    height, width = scores.shape
    # sums over each window, anchored at its top-left corner as the correlation's
    sums = cv2.boxFilter(image, cv2.CV_32F, (tw, th), anchor=(0, 0), normalize=False)
    sums = sums[:height, :width]
    squares = cv2.sqrBoxFilter(image, cv2.CV_32F, (tw, th), anchor=(0, 0), normalize=False)
    squares = squares[:height, :width]
    mean_squared = cv2.multiply(sums, sums, scale=1 / (tw * th))
    deviations = cv2.subtract(squares, mean_squared)
    # Below the sums' rounding a window has no variance: inf makes its score 0.
    flat = cv2.compare(deviations, cv2.multiply(squares, 64 * _FLOAT32_EPS), cv2.CMP_LE)
    spread = cv2.sqrt(cv2.max(deviations, 0.0))
    spread[flat != 0] = np.inf
    return cv2.divide(scores, spread, scale=1 / norm)


_FLOAT32_EPS = float(np.finfo(np.float32).eps)


def _padded(flat, template_shape):
    """``flat`` padded (edge pixels repeated) so that the template fits at every pixel."""
    half = template_shape[0] // 2
    pad = half + 1
    return cv2.copyMakeBorder(flat, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad - half


def _match_sites(scores, predicted, template_shape, pad, vectors):
    """Best template match within a quarter pitch of each predicted site: (x, y) and score."""
    reach = max(2, int(0.25 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1]))))
    offsets = np.arange(-reach, reach + 1)
    # scores[i, j] is the match of the template centred on image pixel (j - pad, i - pad)
    ix = np.rint(predicted[:, 0]).astype(int) + pad
    iy = np.rint(predicted[:, 1]).astype(int) + pad
    height, width = scores.shape
    xs = np.clip(ix[:, None, None] + offsets[None, None, :], 0, width - 1)
    ys = np.clip(iy[:, None, None] + offsets[None, :, None], 0, height - 1)
    windows = scores[ys, xs]  # (n, 2 reach + 1, 2 reach + 1)
    flat_best = windows.reshape(len(windows), -1).argmax(axis=1)
    by, bx = np.divmod(flat_best, 2 * reach + 1)
    n = np.arange(len(windows))
    best = windows[n, by, bx]
    # sub-pixel: a parabola through the best sample and its neighbours along x and along y
    left = windows[n, by, np.maximum(bx - 1, 0)]
    right = windows[n, by, np.minimum(bx + 1, 2 * reach)]
    up = windows[n, np.maximum(by - 1, 0), bx]
    down = windows[n, np.minimum(by + 1, 2 * reach), bx]
    sx = _parabola_offsets(left, best, right)
    sy = _parabola_offsets(up, best, down)
    found = np.stack([xs[n, 0, bx] - pad + sx, ys[n, by, 0] - pad + sy], axis=1)
    return found.astype(float), best.astype(float)


def _parabola_offsets(left, mid, right):
    """:func:`_parabola_peak` of many triples at once (0 where they have no top)."""
    curve = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curve < 0, 0.5 * (left - right) / curve, 0.0)
    return np.clip(np.nan_to_num(offset), -0.5, 0.5)


def _local_contrast(flat, sites, vectors):
    """Standard deviation of ``flat`` in a square of 0.6 pitch around each site (x, y)
    (edges reflected; every other pixel of it, enough for a deviation)."""
    side = max(3, int(round(0.6 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1]))))) | 1
    half = side // 2
    x = np.clip(np.rint(sites[:, 0]).astype(np.intp), 0, flat.shape[1] - 1)
    y = np.clip(np.rint(sites[:, 1]).astype(np.intp), 0, flat.shape[0] - 1)
    padded = cv2.copyMakeBorder(flat, half, half, half, half, cv2.BORDER_REFLECT)
    offsets = np.arange(0, side, 2)
    squares = padded[(y[:, None] + offsets)[:, :, None], (x[:, None] + offsets)[:, None, :]]
    return squares.reshape(len(sites), -1).std(axis=1)


def _array_extent(index, pillars):
    """First and last row and column of the array: the block of lattice rows and columns
    where at least :data:`MIN_ROW_SHARE` of the sites in the image hold pillars."""
    rows, cols = index[:, 0], index[:, 1]
    r0, r1 = rows[pillars].min(), rows[pillars].max()
    c0, c1 = cols[pillars].min(), cols[pillars].max()
    while r0 <= r1 and c0 <= c1:
        block = (rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)
        trimmed = False
        for line, low, high in ((rows, r0, r1), (cols, c0, c1)):
            for end in (low, high):
                on = block & (line == end)
                if on.any() and pillars[on].mean() < MIN_ROW_SHARE:
                    if line is rows:
                        r0, r1 = (r0 + 1, r1) if end == low else (r0, r1 - 1)
                    else:
                        c0, c1 = (c0 + 1, c1) if end == low else (c0, c1 - 1)
                    trimmed = True
                    break
            if trimmed:
                break
        if not trimmed:
            break
    return (int(r0), int(r1)), (int(c0), int(c1))


#: Consecutive rows (or columns) inside an array that may hold few pillars (under
#: ``MIN_ROW_SHARE`` of their sites) before the image counts as two arrays with a gap
#: between them: one such line is a defect to report (a row of missing pillars).
MAX_EMPTY_LINES = 1


def _empty_gap(index, occupied, row_span, col_span):
    """The first run of more than :data:`MAX_EMPTY_LINES` consecutive rows or columns of
    the block (0-based, within it) that hold few pillars, as ``("rows" | "columns", first,
    last)``; None when there is none."""
    rows, cols = index[:, 0], index[:, 1]
    (r0, r1), (c0, c1) = row_span, col_span
    block = (rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)
    for name, line, low, high in (("rows", rows, r0, r1), ("columns", cols, c0, c1)):
        totals = np.bincount(line[block] - low, minlength=high - low + 1)
        held = np.bincount(line[block] - low, occupied[block], minlength=high - low + 1)
        few = held < MIN_ROW_SHARE * np.maximum(totals, 1)
        run = 0
        for at, empty in enumerate(few):
            run = run + 1 if empty else 0
            if run > MAX_EMPTY_LINES:
                last = at
                while last + 1 < len(few) and few[last + 1]:
                    last += 1
                return name, at - run + 1, last
    return None


def _inside_extent(row_span, col_span, origin, vectors, field, image_shape):
    """The block of rows and columns trimmed, edge by edge, until no site's centre lies
    more than a quarter pitch outside the image (a rotated array can run out of its
    frame at the corners: such a site's pillar is not in the image)."""
    (r0, r1), (c0, c1) = row_span, col_span
    reach = 0.25 * min(np.hypot(*vectors[0]), np.hypot(*vectors[1]))
    height, width = image_shape
    while r0 < r1 and c0 < c1:
        rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
        sites = np.stack([rr.ravel(), cc.ravel()], axis=1)
        centers = (
            origin
            + sites[:, 1:2] * vectors[0]
            + sites[:, 0:1] * vectors[1]
            + _look_up(field, sites)
        )
        outside = (
            ((centers < -reach) | (centers > (width - 1 + reach, height - 1 + reach)))
            .any(axis=1)
            .reshape(rr.shape)
        )
        if not outside.any():
            break
        # the edge with the most sites outside goes first
        edges = {
            "top": outside[0].sum(),
            "bottom": outside[-1].sum(),
            "left": outside[:, 0].sum(),
            "right": outside[:, -1].sum(),
        }
        edge = max(edges, key=edges.get)
        r0, r1, c0, c1 = (
            r0 + (edge == "top"),
            r1 - (edge == "bottom"),
            c0 + (edge == "left"),
            c1 - (edge == "right"),
        )
    return (int(r0), int(r1)), (int(c0), int(c1))
