"""Altering an image the way another microscope session would: illumination, vignetting,
noise, focus, JPEG, magnification."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from types import MappingProxyType

import cv2
import numpy as np
from sklearn.utils import check_random_state

#: The strongest setting of each ordinary microscope condition the detector should
#: withstand (its robustness targets): name -> keyword arguments of
#: :func:`apply_conditions` (or ``conditions`` of :func:`make_pillar_arrays`). Read-only.
CONDITIONS = MappingProxyType(
    {
        name: MappingProxyType(kwargs)
        for name, kwargs in {
            "gradient 40": {"gradient": 40},
            "ramp 0.5-1": {"ramp": 0.5},
            "vignetting 35%": {"vignetting": 0.35},
            "noise sd 8": {"noise": 8},
            "blur 2": {"blur": 2},
            "jpeg 40": {"jpeg_quality": 40},
            "scale 0.8": {"scale": 0.8},
            "scale 1.25": {"scale": 1.25},
        }.items()
    }
)


_MIN_SIDE = 8  # smallest side (pixels) of an image apply_conditions gives


_MAX_PIXELS = 2**31 - 1  # largest image apply_conditions gives (OpenCV's int sizes)


_CONDITION_NAMES = ("gradient", "ramp", "vignetting", "noise", "blur", "jpeg_quality", "scale")


def apply_conditions(
    image,
    *,
    gradient=0.0,
    ramp=1.0,
    vignetting=0.0,
    noise=0.0,
    blur=0.0,
    jpeg_quality=None,
    scale=1.0,
    random_state=None,
):
    """Alter a grey image the way another microscope session would.

    Applied in physical order, in float32: the magnification (``scale``),
    the focus (``blur``), the multiplicative illumination (``ramp`` and
    ``vignetting``), the additive ``gradient``, the sensor ``noise``; then
    rounded to the nearest grey level and clipped to 0-255 once, and last
    encoded and decoded as JPEG. The defaults leave the image unchanged.

    Parameters
    ----------
    image : ndarray of shape (H, W), uint8
        Grey image.
    gradient : float, default=0.0
        Additive illumination ramp in grey levels, from ``-gradient / 2`` on
        the left edge to ``+gradient / 2`` on the right (>= 0).
    ramp : float, default=1.0
        Multiplicative brightness ramp: the left edge times ``ramp``, the
        right edge times 1, linear in x (> 0; 0.5 halves the left edge).
    vignetting : float, default=0.0
        Radial darkening in [0, 1): the image times
        ``1 - vignetting * (r / r_corner)**2``, ``r`` the distance to the
        image centre, so the corners are ``vignetting`` darker.
    noise : float, default=0.0
        Standard deviation of Gaussian sensor noise, in grey levels (>= 0).
    blur : float, default=0.0
        Defocus: sigma in pixels of a Gaussian blur (>= 0; 0 for none).
    jpeg_quality : int, optional
        Encode and decode as JPEG at this quality (1-100); None for none.
    scale : float, default=1.0
        Magnification: the image is resized by this factor (> 0; area
        interpolation when shrinking, cubic when enlarging) to
        ``round(H * scale) x round(W * scale)`` pixels, at least 8 a side.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise.

    Returns
    -------
    ndarray of shape (round(H * scale), round(W * scale)), uint8
        The altered image (a new array).

    Raises
    ------
    ValueError
        If ``image`` is not a 2-D uint8 array, or a parameter is out of its
        range (the message names it).

    See Also
    --------
    sklearn_pillars.synthetic.CONDITIONS : The strongest setting of each condition.
    make_pillar_arrays : Synthetic arrays, altered with ``conditions``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import apply_conditions
    >>> flat = np.full((100, 200), 100, np.uint8)
    >>> tilted = apply_conditions(flat, gradient=40)
    >>> int(tilted[0, 0]), int(tilted[0, -1])
    (80, 120)
    >>> dimmed = apply_conditions(flat, ramp=0.5)
    >>> int(dimmed[0, 0]), int(dimmed[0, -1])
    (50, 100)
    >>> apply_conditions(flat, scale=0.5, noise=2, random_state=0).shape
    (50, 100)
    """
    if not (isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype == np.uint8):
        described = (
            f"a {image.ndim}-D {image.dtype} array"
            if isinstance(image, np.ndarray)
            else type(image).__name__
        )
        raise ValueError(f"image must be a 2-D uint8 (grey) array, got {described}")
    params = _check_conditions(
        gradient=gradient,
        ramp=ramp,
        vignetting=vignetting,
        noise=noise,
        blur=blur,
        jpeg_quality=jpeg_quality,
        scale=scale,
    )
    _scaled_shape(image.shape, params["scale"])  # validates the size
    try:
        random_state = check_random_state(random_state)
    except ValueError as error:
        raise ValueError(f"random_state: {error}") from None
    return _apply_conditions(image, params, random_state)


def _check_real(value, name, low, *, open_low=False, high=np.inf, open_high=True):
    """``value`` as a float, or a ValueError naming ``name`` and the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    above = value > low if open_low else value >= low
    below = value < high if open_high else value <= high
    if not (above and below):
        lower = f"{'>' if open_low else '>='} {low:g}"
        upper = "" if high == np.inf else f" and {'<' if open_high else '<='} {high:g}"
        raise ValueError(f"{name} must be {lower}{upper}, got {value!r}")
    return float(value)


def _check_conditions(
    gradient=0.0, ramp=1.0, vignetting=0.0, noise=0.0, blur=0.0, jpeg_quality=None, scale=1.0
):
    """The arguments of :func:`apply_conditions` (but the image) checked, as a dict."""
    if jpeg_quality is not None and (
        isinstance(jpeg_quality, bool)
        or not isinstance(jpeg_quality, numbers.Integral)
        or not 1 <= jpeg_quality <= 100
    ):
        raise ValueError(f"jpeg_quality must be None or an integer 1..100, got {jpeg_quality!r}")
    return {
        "gradient": _check_real(gradient, "gradient", 0.0),
        "ramp": _check_real(ramp, "ramp", 0.0, open_low=True),
        "vignetting": _check_real(vignetting, "vignetting", 0.0, high=1.0),
        "noise": _check_real(noise, "noise", 0.0),
        "blur": _check_real(blur, "blur", 0.0),
        "jpeg_quality": None if jpeg_quality is None else int(jpeg_quality),
        "scale": _check_real(scale, "scale", 0.0, open_low=True),
    }


def _scaled_shape(shape, scale):
    """(height, width) of an image of ``shape`` resized by ``scale``, checked."""
    height, width = (max(1, round(side * scale)) for side in shape)
    if min(height, width) < _MIN_SIDE:
        raise ValueError(
            f"scale={scale:g} would resize the {shape[0]} x {shape[1]} image to "
            f"{height} x {width} pixels; at least {_MIN_SIDE} a side are needed"
        )
    if height * width > _MAX_PIXELS:
        raise ValueError(
            f"scale={scale:g} would resize the {shape[0]} x {shape[1]} image to "
            f"{height} x {width} pixels, more than {_MAX_PIXELS:,}"
        )
    return height, width


def _apply_conditions(image, params, random_state):
    """:func:`apply_conditions` with checked ``params`` and a RandomState."""
    out = image.astype(np.float32)
    height, width = _scaled_shape(image.shape, params["scale"])
    if (height, width) != image.shape:
        shrink = params["scale"] < 1
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
        out = cv2.resize(out, (width, height), interpolation=interpolation)
    if params["blur"] > 0:
        out = cv2.GaussianBlur(out, (0, 0), params["blur"])
    if params["ramp"] != 1:
        out *= np.linspace(params["ramp"], 1, width, dtype=np.float32)[None, :]
    if params["vignetting"] > 0:
        dy = np.arange(height, dtype=np.float32) - (height - 1) / 2
        dx = np.arange(width, dtype=np.float32) - (width - 1) / 2
        corner2 = ((height - 1) / 2) ** 2 + ((width - 1) / 2) ** 2
        out *= 1 - params["vignetting"] * (dy[:, None] ** 2 + dx[None, :] ** 2) / corner2
    if params["gradient"] > 0:
        half = params["gradient"] / 2
        out += np.linspace(-half, half, width, dtype=np.float32)[None, :]
    if params["noise"] > 0:
        seed = random_state.randint(2**32, size=4, dtype=np.uint64)
        normal = np.random.default_rng(seed).standard_normal(out.shape, dtype=np.float32)
        out += params["noise"] * normal
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if params["jpeg_quality"] is not None:
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, params["jpeg_quality"]])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 grey image
            raise RuntimeError("OpenCV could not encode the image as JPEG")
        out = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return out


def _check_make_conditions(conditions):
    """``conditions`` of :func:`make_pillar_arrays` checked, as a dict, or None."""
    if conditions is None:
        return None
    if not isinstance(conditions, Mapping):
        raise ValueError(
            f"conditions must be a dict of apply_conditions arguments or None, got {conditions!r}"
        )
    unknown = set(conditions) - set(_CONDITION_NAMES)
    if unknown:
        why = " (it is drawn from random_state)" if "random_state" in unknown else ""
        raise ValueError(
            f"conditions has unknown key(s) {sorted(map(str, unknown))}{why}; allowed: "
            f"{list(_CONDITION_NAMES)}"
        )
    try:
        return _check_conditions(**conditions)
    except ValueError as error:
        raise ValueError(f"conditions: {error}") from None


def _condition_array(image, centers, params, seed):
    """``image`` altered by :func:`apply_conditions` with ``params``, and its site
    ``centers`` (..., 2) as ``(x, y)`` moved with the magnification."""
    try:
        _scaled_shape(image.shape, params["scale"])
    except ValueError as error:
        raise ValueError(f"conditions: {error}") from None
    altered = _apply_conditions(image, params, check_random_state(seed))
    if altered.shape != image.shape:
        # cv2.resize maps the pixel centre x to (x + 0.5) * new / old - 0.5
        factor = np.array(altered.shape[::-1], float) / image.shape[::-1]
        centers = (centers + 0.5) * factor - 0.5
    return altered, centers
