"""Drawing the sites of a synthetic array: the defect states, the lines and the pillars."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType

import cv2
import numpy as np

from ..tiling import tile_boxes

DEFAULT_DEFECT_RATES = MappingProxyType(
    {"Missing": 0.052, "Collapsed": 0.052, "Stitching": 0.14, "Irregular": 0.02}
)
"""Share of tiles per defect class when ``defect_rates`` is None (the hand-label shares)."""


_MISSING, _COLLAPSED, _IRREGULAR, _GOOD = range(4)  # site states, drawn per lattice site


_MARGIN = 5  # a line closer than this to a tile's edge only grazes the tile


_REF_PITCH = 54


_RADIUS = 17.5  # pillar radius at the reference pitch


def _place_in_frame(image, centers, pitch, frame):
    """The square array ``image`` (float32) cropped to ``frame["shape"]`` sites, rotated,
    in a frame that holds it whole with ``frame["margin"]`` of substrate around its
    bounding box, and tilted by the gradient; and its site ``centers`` (rows, cols, 2)
    moved alike."""
    rows, cols = frame["shape"]
    image = image[: rows * pitch, : cols * pitch]
    centers = centers[:rows, :cols]
    top, right, bottom, left = (int(round(m * pitch)) for m in frame["margin"])
    warp = cv2.getRotationMatrix2D(
        ((cols * pitch - 1) / 2, (rows * pitch - 1) / 2), frame["rotation"], 1.0
    )
    # the rotated array's bounding box, with the margins around it, is the frame
    corners = (
        np.array(
            [
                [-0.5, -0.5],
                [cols * pitch - 0.5, -0.5],
                [-0.5, rows * pitch - 0.5],
                [cols * pitch - 0.5, rows * pitch - 0.5],
            ]
        )
        @ warp[:, :2].T
        + warp[:, 2]
    )
    low, high = np.floor(corners.min(axis=0) + 0.5), np.ceil(corners.max(axis=0) - 0.5)
    warp[:, 2] += np.array([left, top]) - low
    width, height = (int(v) for v in high - low + 1 + np.array([left + right, top + bottom]))
    substrate = float(np.percentile(image, 90))
    out = cv2.warpAffine(
        image,
        warp,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=substrate,
    )
    if frame["gradient"]:
        cos, sin = math.cos(frame["gradient_angle"]), math.sin(frame["gradient_angle"])
        scale = 0.5 * frame["gradient"] / (abs(cos) + abs(sin))
        ramp_y = np.linspace(-1, 1, height, dtype=np.float32)
        ramp_x = np.linspace(-1, 1, width, dtype=np.float32)
        out += scale * sin * ramp_y[:, None] + scale * cos * ramp_x[None, :]
    return out, centers @ warp[:, :2].T + warp[:, 2]


def _draw_photometry(rng, p, s):
    """One array's photometric variation of strength ``p`` (None when ``p`` is 0).

    The same five numbers are drawn for every ``p``, so that an array's variation only
    scales with ``p``.
    """
    if p == 0:
        return None
    u_gain, offset, amplitude, angle, blur = rng.uniform(
        [-0.35, -25, 0, 0, 0], [0.35, 25, 12, 2 * np.pi, 0.8]
    )
    return {  # Python floats: they keep the image float32
        "gain": float(np.exp(u_gain * p)),
        "offset": float(offset * p),
        "amplitude": float(amplitude * p),
        "angle": float(angle),
        "blur": float(blur * p * s),
    }


def _apply_photometry(image, photometry):
    """``image`` (float32) blurred, stretched around its mean, shifted and tilted."""
    if photometry["blur"] >= 0.05:
        image = cv2.GaussianBlur(image, (0, 0), photometry["blur"])
    mean = image.mean()
    image = mean + photometry["gain"] * (image - mean) + photometry["offset"]
    # A plane of zero mean whose peak-to-peak across the image is the amplitude.
    cos, sin = math.cos(photometry["angle"]), math.sin(photometry["angle"])
    scale = 0.5 * photometry["amplitude"] / (abs(cos) + abs(sin))
    ramp_y = np.linspace(-1, 1, image.shape[0], dtype=np.float32)
    ramp_x = np.linspace(-1, 1, image.shape[1], dtype=np.float32)
    image += scale * sin * ramp_y[:, None] + scale * cos * ramp_x[None, :]
    return image


def _check_rates(defect_rates):
    if defect_rates is None:
        defect_rates = {}
    if not isinstance(defect_rates, Mapping):
        raise ValueError(
            f"defect_rates must be a dict of class name -> rate or None, got {defect_rates!r}"
        )
    unknown = set(defect_rates) - set(DEFAULT_DEFECT_RATES)
    if unknown:
        raise ValueError(
            f"defect_rates has unknown class(es) {sorted(map(str, unknown))}; allowed: "
            f"{sorted(DEFAULT_DEFECT_RATES)} (Good is the rest)"
        )
    rates = {**DEFAULT_DEFECT_RATES, **defect_rates}
    for name, rate in rates.items():
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError(f"defect_rates[{name!r}] must be a number in [0, 1], got {rate!r}")
    total = sum(rates.values())
    if total > 1 + 1e-9:
        raise ValueError(f"defect_rates sum to {total:g} (with defaults for absent keys); max 1")
    return {name: float(rate) for name, rate in rates.items()}


def _site_probabilities(rates):
    """Share of grid rows (and of columns) on a line, and the Missing/Collapsed/Irregular cuts.

    Missing and Collapsed take precedence over Stitching, which takes precedence over
    Irregular, so lines and Irregular sites are drawn more often to make up for it.
    """
    left = 1 - rates["Missing"] - rates["Collapsed"]
    covered = min(1.0, rates["Stitching"] / left) if rates["Stitching"] > 0 and left > 0 else 0
    irregular = min(1.0, rates["Irregular"] / (1 - covered)) if rates["Irregular"] > 0 else 0
    # A site is on a line if its row or its column is: 1 - (1 - density)**2 == covered.
    density = 1 - np.sqrt(1 - covered)
    return density, np.cumsum([rates["Missing"], rates["Collapsed"], irregular])


def _line_plan(rng, g, density, field_period):
    """Seams ``[(axis, site, offset in pitches)]`` and the field-line sites of each axis.

    Axis 0 is a horizontal line (through a grid row), axis 1 a vertical one. Half of
    the ``density`` goes to field lines, half to seams on the remaining rows / columns.
    """
    field = [np.zeros(0, int), np.zeros(0, int)]
    seams = []
    if density == 0:
        return seams, field
    period = min(field_period, 2 / density)
    for axis in (0, 1):
        if rng.random() < density * period / 2:  # write-field lines in this direction
            sites = np.floor(rng.uniform(0, period) + period * np.arange(g / period + 1))
            field[axis] = sites[sites < g].astype(int)
    expected = density * g
    n_seams = int(expected) + int(rng.random() < expected % 1)
    axes = rng.integers(2, size=n_seams)
    for axis in (0, 1):
        free = np.setdiff1d(np.arange(g), field[axis])
        n = min(free.size, int(np.sum(axes == axis)))
        for site in rng.choice(free, size=n, replace=False):
            seams.append((axis, int(site), rng.uniform(-0.3, 0.3)))
    return seams, field


def _site_params(rng, states, field, g, s):
    """Per-site drawing parameters, each a float32 array of shape (g, g) (or (2, g, g))."""
    n = g * g
    states = states.ravel()
    radius = _RADIUS * s
    pillar = (states == _GOOD) | (states == _IRREGULAR)
    collapsed, irregular = states == _COLLAPSED, states == _IRREGULAR
    a = radius * np.clip(1 + rng.normal(0, 0.025, n), 0.94, 1.06)
    b = a * (1 - rng.uniform(0, 0.04, n))
    offset = np.clip(rng.normal(0, 0.5 * s, (2, n)), -1.2 * s, 1.2 * s)
    angle = rng.uniform(0, 2 * np.pi, n)
    direction = np.stack([np.cos(angle), np.sin(angle)])
    amp = rng.uniform(0.88, 1.12, n) * ~(states == _MISSING)
    p = {
        "theta": rng.uniform(0, np.pi, n),
        "halo": 14 * amp,
        "inner": np.where(pillar, 6.0, rng.uniform(28, 36, n)) * amp,
        "rim": np.where(pillar, 14.0, 6.0) * amp,
        "light": np.where(pillar, 4.0, 0.0) * amp,
        "edge": np.where(pillar, 1.0, 2.5) * s,
    }

    # Collapsed: a bigger dark blob pushed toward a neighbour, short of its pillar
    blob = rng.uniform(1.05, 1.25, n)
    a = np.where(collapsed, a * blob, a)
    b = np.where(collapsed, b * blob * rng.uniform(0.85, 1.0, n), b)
    # (at most 0.6 of the short semi-axis, so that the blob still covers the site centre)
    shift = np.minimum(rng.uniform(0.1, 0.2, n) * _REF_PITCH * s, 0.6 * b)
    offset = np.where(collapsed, shift * direction, offset)

    # Irregular: elliptical, clearly smaller or larger, or off-centre.
    kind = np.where(irregular, rng.integers(3, size=n), -1)
    ratio = rng.uniform(0.5, 0.72, n)
    a = np.where(kind == 0, radius / np.sqrt(ratio), a)
    b = np.where(kind == 0, radius * np.sqrt(ratio), b)
    small = rng.random(n) < 0.5
    scale = np.where(small, rng.uniform(0.62, 0.74, n), rng.uniform(1.26, 1.38, n))
    a, b = np.where(kind == 1, a * scale, a), np.where(kind == 1, b * scale, b)
    p["rim"] = np.where((kind == 1) & small, 1.3 * p["rim"], p["rim"])
    offset = np.where(kind == 2, rng.uniform(0.13, 0.2, n) * _REF_PITCH * s * direction, offset)

    # Missing: sometimes a faint smudge of residue near the site centre.
    p["smudge"] = np.where((states == _MISSING) & (rng.random(n) < 0.35), rng.uniform(3, 8, n), 0)
    p["smudge_xy"] = rng.uniform(-0.3, 0.3, (2, n)) * _REF_PITCH * s
    p["smudge_size"] = rng.uniform(2, 5, n) * s

    # Field lines: one straight line per grid row / column, splitting its pillars.
    rows, cols = np.divmod(np.arange(n), g)
    for name, lines, site_line in (("field_h", field[0], rows), ("field_v", field[1], cols)):
        strength = np.where(rng.random(g) < 0.75, -rng.uniform(14, 24, g), rng.uniform(10, 16, g))
        p[name] = np.where(pillar & np.isin(site_line, lines), strength[site_line], 0)
        p[name + "_at"] = (rng.uniform(-0.3, 0.3, g) * radius)[site_line]
        p[name + "_width"] = (rng.uniform(0.5, 0.9, g) * s)[site_line]
        p[name + "_side"] = (rng.choice([-1.0, 1.0], g) * rng.uniform(2, 5, g))[site_line]

    p["ox"], p["oy"] = offset
    p["a"], p["b"] = a, b
    return {k: np.asarray(v, np.float32).reshape(v.shape[:-1] + (g, g)) for k, v in p.items()}


def _render_sites(p, g, pitch, s):
    """Sum of every site's drawing, as a (g*pitch, g*pitch) float32 image.

    Each site is drawn on a 2*pitch square patch centred on its lattice centre;
    the patches of a grid row are evaluated at once and overlap-added.
    """
    canvas = np.zeros(((g + 1) * pitch, (g + 1) * pitch), np.float32)
    coords = np.arange(-pitch, pitch, dtype=np.float32)
    u, v = coords[None, None, :], coords[None, :, None]
    radius, rim_w, halo_w, light_w = _RADIUS * s, 3.0 * s, 10.0 * s, 6.0 * s
    for r in range(g):
        q = {k: val[..., r, :, None, None] for k, val in p.items()}
        x, y = u - q["ox"], v - q["oy"]
        cos, sin = np.cos(q["theta"]), np.sin(q["theta"])
        qa, qb = (x * cos + y * sin) / q["a"], (y * cos - x * sin) / q["b"]
        rho = np.sqrt(qa * qa + qb * qb)
        # (rho - 1) / |grad rho|: the signed distance to the outline, near the outline.
        dist = (rho - 1) * rho / (np.sqrt((qa / q["a"]) ** 2 + (qb / q["b"]) ** 2) + 1e-6)
        inside = 1 / (1 + np.exp(np.clip(dist / q["edge"], -30, 30)))
        shade = 1 + 0.75 * np.clip(y / radius, -1, 1)  # oblique light: rim darkest at the bottom
        patch = -q["halo"] * np.exp(-0.5 * (np.maximum(dist, 0) / halo_w) ** 2)
        patch -= q["inner"] * inside
        patch -= q["rim"] * shade * np.exp(-0.5 * (dist / rim_w) ** 2)
        highlight = np.exp(-(x * x + (y + 0.4 * radius) ** 2) / (2 * light_w**2))
        patch += q["light"] * inside * highlight
        for name, across in (("field_h", v), ("field_v", u)):
            sites = np.flatnonzero(p[name][r])
            if sites.size:
                f = {k: p[name + k][r, sites, None, None] for k in ("", "_at", "_width", "_side")}
                split = across - f["_at"]
                line = f[""] * np.exp(-0.5 * (split / f["_width"]) ** 2) + f["_side"] * (split < 0)
                patch[sites] += line * inside[sites]
        sites = np.flatnonzero(p["smudge"][r])
        if sites.size:
            sx, sy = (p["smudge_xy"][i, r, sites, None, None] for i in (0, 1))
            size = p["smudge_size"][r, sites, None, None]
            patch[sites] -= p["smudge"][r, sites, None, None] * np.exp(
                -((u - sx) ** 2 + (v - sy) ** 2) / (2 * size * size)
            )
        blocks = patch.reshape(g, 2, pitch, 2, pitch)
        band = canvas[r * pitch : (r + 2) * pitch].reshape(2, pitch, g + 1, pitch)
        for i in (0, 1):
            for j in (0, 1):
                band[i, :, j : j + g] += blocks[:, i, :, j].transpose(1, 0, 2)
    start = pitch - pitch // 2
    return canvas[start : start + g * pitch, start : start + g * pitch]


def _shift(a, k, axis):
    """Shift ``a`` in place by ``k`` pixels along ``axis``, repeating the edge."""
    a = np.moveaxis(a, axis, 0)
    if k > 0:
        a[k:] = a[:-k]
        a[:k] = a[k]
    elif k < 0:
        a[:k] = a[-k:]
        a[k:] = a[k - 1]


def _toward_zero(rng, current, low, high):
    """A step of ``low..high`` from ``current`` toward zero (random sign at zero)."""
    return (-np.sign(current) or rng.choice([-1, 1])) * rng.uniform(low, high)


def _crosses(position, low, high):
    """Whether a line at ``position`` runs through the interior of [low, high)."""
    return (position - low > _MARGIN) & (high - position > _MARGIN)


def _make_array(rng, g, pitch, tile_half, rates, noise, field_period, photometry=None, frame=None):
    """One array image with its (g, g) labels, stitch kinds and site centres ``(x, y)``:
    where each site's pillar is drawn, with the seams' shifts but not the pillars' own
    jitter or defects; (g, g, 2), or (rows, cols, 2) in a ``frame``.

    ``photometry`` (from :func:`_draw_photometry`, or None for none) varies the image
    before the noise; so does ``frame`` (from :func:`_check_frame`, or None), which
    places the array in a frame (:func:`_place_in_frame`) before the photometry. Neither
    draws from ``rng``.
    """
    s = pitch / _REF_PITCH
    size = g * pitch
    density, cuts = _site_probabilities(rates)
    states = np.searchsorted(cuts, rng.random((g, g)), side="right")
    seams, field = _line_plan(rng, g, density, field_period)

    params = _site_params(rng, states, field, g, s)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    gy, gx = rng.uniform(-2.5, 2.5, 2)
    image = _render_sites(params, g, pitch, s)
    image += rng.uniform(89, 92) + gy * ramp[:, None] + gx * ramp[None, :]
    # Uneven substrate: smooth low-frequency mottling of about a grey level.
    coarse = rng.normal(0, 1.5, (max(2, g), max(2, g))).astype(np.float32)
    image += cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    image = cv2.GaussianBlur(image, (0, 0), 1.3 * s)

    centers = ((np.arange(g) + 0.5) * pitch).astype(int)  # as tile_boxes computes them
    boxes = tile_boxes(size, size, g, tile_half).reshape(g, g, 4)
    spans = (boxes[:, 0, 1], boxes[:, 0, 3]), (boxes[0, :, 0], boxes[0, :, 2])
    on_seam = np.zeros((g, g), bool)
    moved = np.zeros((g, g, 2))  # where each site's pillar went, (x, y) pixels
    # Beyond a seam the frame is shifted along it, brighter or darker, maybe in other focus.
    # Each seam steps back toward the first frame, so that several do not add up.
    shift, level, mean = [0, 0], [0.0, 0.0], image.mean()
    for axis, site, offset in sorted(seams):
        at = int(centers[site] + round(offset * pitch))
        after = image[at:] if axis == 0 else image[:, at:]
        jump = round(_toward_zero(rng, shift[axis], 2, 3))
        _shift(after, jump, 1 - axis)
        if rng.random() < 0.5:
            after[...] = cv2.GaussianBlur(after, (0, 0), rng.uniform(0.6, 1.2) * s)
        step = _toward_zero(rng, level[axis], 3, 7)
        after += step
        shift[axis] += jump
        level[axis] += step
        beyond = centers >= at
        if axis == 0:
            moved[beyond, :, 0] += jump
        else:
            moved[:, beyond, 1] += jump
        hit = _crosses(at, *spans[axis])
        on_seam |= hit[:, None] if axis == 0 else hit[None, :]
    image += mean - image.mean()
    on_field = np.zeros((g, g), bool)
    at = centers[:, None] + 0.5 + params["field_h_at"]  # line centre, pixel-edge coordinates
    on_field |= (params["field_h"] != 0) & _crosses(at, *(b[:, None] for b in spans[0]))
    at = centers[None, :] + 0.5 + params["field_v_at"]
    on_field |= (params["field_v"] != 0) & _crosses(at, *(b[None, :] for b in spans[1]))

    sites = np.arange(g) * pitch + pitch // 2  # where _render_sites centres them
    moved += np.stack(np.meshgrid(sites, sites), axis=-1)
    if frame is not None:
        image, moved = _place_in_frame(image, moved, pitch, frame)
    if photometry is not None:
        image = _apply_photometry(image, photometry)
    if noise:
        square = rng.standard_normal((size, size), dtype=np.float32)  # drawn alike in a frame
        image += noise * (
            square if frame is None else frame["rng"].standard_normal(image.shape, dtype=np.float32)
        )
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)

    labels = np.full((g, g), "Good", dtype=object)
    labels[states == _IRREGULAR] = "Irregular"
    labels[on_seam | on_field] = "Stitching"
    labels[states == _COLLAPSED] = "Collapsed"
    labels[states == _MISSING] = "Missing"
    stitch = np.where(labels == "Stitching", np.where(on_seam, "seam", "field"), "")
    return image, labels.astype(str), stitch.astype(str), moved
