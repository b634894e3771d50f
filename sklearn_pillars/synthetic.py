"""Synthetic pillar-array images with ground-truth tile labels.

The renderer imitates the optical-microscope images of the real arrays: round
pillars with a dark rim (darkest at the bottom), a lighter interior with a
faint highlight and a dark halo, on a brighter substrate with a gentle
illumination gradient, slight blur and sensor noise. Every length of the model
is given at the real pitch of 54 pixels and scales with ``pitch``.

:func:`apply_conditions` alters any grey image the way another microscope
session would (illumination, vignetting, noise, focus, JPEG, magnification);
:data:`CONDITIONS` holds the strongest setting of each that the detector
should withstand.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType

import cv2
import numpy as np
from sklearn.utils import check_random_state

from .constants import DEFAULT_GRID_SIZE, DEFAULT_TILE_HALF, check_positive_int
from .lattice import Lattice
from .tileset import concat_tilesets
from .tiling import tile_array, tile_boxes

DEFAULT_DEFECT_RATES = MappingProxyType(
    {"Missing": 0.052, "Collapsed": 0.052, "Stitching": 0.14, "Irregular": 0.02}
)
"""Share of tiles per defect class when ``defect_rates`` is None (the hand-label shares)."""

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

_MISSING, _COLLAPSED, _IRREGULAR, _GOOD = range(4)  # site states, drawn per lattice site
_MARGIN = 5  # a line closer than this to a tile's edge only grazes the tile
_REF_PITCH = 54
_MIN_PITCH = 8
_RADIUS = 17.5  # pillar radius at the reference pitch
_MIN_SIDE = 8  # smallest side (pixels) of an image apply_conditions gives
_MAX_PIXELS = 2**31 - 1  # largest image apply_conditions gives (OpenCV's int sizes)
_CONDITION_NAMES = ("gradient", "ramp", "vignetting", "noise", "blur", "jpeg_quality", "scale")


def make_pillar_arrays(
    n_arrays=3,
    grid_size=DEFAULT_GRID_SIZE,
    defect_rates=None,
    random_state=None,
    *,
    tile_half=DEFAULT_TILE_HALF,
    pitch=54,
    noise=0.5,
    field_period=15,
    photometric=0.0,
    shape=None,
    rotation=0.0,
    margin=0.0,
    gradient=0.0,
    derotate="auto",
    rescale=False,
    conditions=None,
):
    """Render synthetic pillar-array images and cut them into labelled tiles.

    Each array is a ``grid_size * pitch`` pixel square grey image with one
    pillar site at each centre of the :func:`~sklearn_pillars.tile_boxes`
    lattice. The label of a tile is what the tile shows, with the hand-label
    rule: the pillar at the tile centre decides, and where several classes
    apply the first of Missing, Collapsed, Stitching, Irregular wins.

    - **Good**: a round pillar, 0.65 pitch across (~0.75 with its dark rim),
      with a few percent of size jitter and about a pixel of position jitter
      (up to 3 pixels more beyond a seam, see below).
    - **Missing**: no pillar, sometimes a faint smudge of residue.
    - **Collapsed**: a dark filled blob, as large as a pillar or a little
      larger, displaced by 0.1-0.2 pitch in a random direction (but still
      covering the site centre); it stays clear of the neighbouring pillars.
    - **Irregular**: a pillar that is elliptical (axis ratio 0.5-0.72), much
      smaller (0.62-0.74x) or larger (1.26-1.38x), or off-centre by
      0.13-0.2 pitch.
    - **Stitching**, kind ``"seam"``: a straight line across the whole image
      where the content on one side is brighter or darker by 3-7 grey levels,
      shifted by 2-3 pixels along the line and sometimes more blurred
      (stitched microscope frames; the frames stay within 3 pixels and 7
      grey levels of the first one, so Good pillars stay near their centres).
      Seams cross one row or column of sites within 0.3 pitch of the centres.
    - **Stitching**, kind ``"field"``: a thin (1-2 px) dark or bright line
      splitting every pillar along one row or column of sites (lithography
      write-field stitching), repeating every ``field_period`` sites.

    With ``photometric > 0`` the arrays also differ from one another in
    brightness, contrast, illumination and focus, as the real arrays do; the
    pillars, defects, labels and lines stay the same as with 0.

    Parameters
    ----------
    n_arrays : int, default=3
        Number of array images.
    grid_size : int, default=21
        Sites per row and per column of each array.
    defect_rates : dict or None, default=None
        Expected share of tiles of each defect class, keyed by ``"Missing"``,
        ``"Collapsed"``, ``"Stitching"``, ``"Irregular"``; absent keys take
        the default, None takes all defaults (Missing 0.052, Collapsed 0.052,
        Stitching 0.14, Irregular 0.02: the hand-label shares of the real
        arrays). Good tiles are the rest. The rates must sum to at most 1;
        a rate of 0 gives no tile of that class (Stitching 0: no lines).

        Missing, Collapsed and Irregular are drawn independently per site
        (Irregular a little more often, to make up for the sites that a line
        turns into Stitching). Stitching comes from lines through whole rows
        or columns of sites, drawn so that the expected share of sites on a
        line is ``t = rate / (1 - Missing - Collapsed)`` (those two take
        precedence): a share ``d = 1 - sqrt(1 - t)`` of the rows, and of the
        columns, carries a line, half field lines and half seams. Field lines
        repeat every ``P = min(field_period, 2 / d)`` sites and are in an
        array's rows, and independently in its columns, with probability
        ``d * P / 2``; an array has ``d * grid_size`` seams on average, on
        rows or columns without a field line. The realised Stitching share
        therefore scatters widely over few arrays. Lines lie within 0.3 pitch
        of the site centres, so with a ``tile_half`` below about
        ``0.3 * pitch + 5`` some miss the tile interiors and there are fewer
        Stitching tiles.
    random_state : int, RandomState instance or None, default=None
        Seed of the images and labels; an int gives the same result every call.
    tile_half : int, default=32
        Half the side of a tile, as in :func:`~sklearn_pillars.tile_array`.
    pitch : int, default=54
        Lattice pitch in pixels (at least 8); the real arrays have about 54.
    noise : float, default=0.5
        Standard deviation of the sensor noise in grey levels.
    field_period : float, default=15
        Sites between write-field lines (15 in the real arrays); shorter
        where the Stitching rate needs more lines.
    photometric : float, default=0.0
        Strength ``p >= 0`` of the per-array photometric variation; 1 is about
        as much as the real arrays differ by. Each array independently gets,
        with ranges at ``p = 1`` (each range scales with ``p``):

        - a Gaussian blur (focus) of sigma uniform in 0-0.8 pixels at pitch
          54, proportional to ``pitch`` (none below 0.05 pixels);
        - a contrast gain ``exp(u)``, ``u`` uniform in -0.35..0.35 (0.70x to
          1.42x), around the array's mean grey level;
        - a brightness offset uniform in -25..25 grey levels;
        - an extra linear illumination gradient in a uniformly random
          direction, a plane with zero mean and a peak-to-peak amplitude
          uniform in 0-12 grey levels across the image;

        in that order, before the sensor noise and the clipping to 0-255.
        They come from their own random stream (seeded from
        ``random_state``), so the labels, ``stitch_type`` and everything else
        drawn do not depend on ``photometric``: the same ``random_state``
        gives the same arrays, only their photometry differs. 0 gives exactly
        the images of the default.
    shape : tuple of int, optional
        ``(rows, cols)`` of sites, for rectangular arrays; default
        ``(grid_size, grid_size)``.
    rotation : float, default=0.0
        Rotation of the array in the frame, in degrees counter-clockwise
        (at most 45 either way).
    margin : float or tuple of 4 floats, default=0.0
        Substrate around the array, in pitches: one for every side, or
        ``(top, right, bottom, left)``.
    gradient : float, default=0.0
        Peak-to-peak grey levels of an extra linear illumination gradient
        across the frame, in a random direction.

        With ``shape`` given, or any of the other three not 0, each array is a
        *frame*, as a microscope takes it: the array (cropped to ``shape``),
        rotated, whole, with the margin around it. The tiles are cut
        around the true site centres (``tiles.lattices`` holds each frame's true
        :class:`~sklearn_pillars.Lattice`; a frame rotated by more than
        :data:`~sklearn_pillars.tiling.DEROTATE_ANGLE` degrees is turned
        upright first, as :func:`~sklearn_pillars.tile_array` does), so the
        labels stay those of the sites. Their random draws have a stream of
        their own: the same ``random_state`` gives the same pillars and labels
        (a rectangular ``shape`` is cut from the square array of
        ``max(shape)`` sites a side: the same as for ``grid_size=max(shape)``).
    derotate : {"auto", True, False}, default="auto"
        For a frame, as in :func:`~sklearn_pillars.tile_array`; ``False`` keeps
        ``array_images`` as the microscope would give them (rotated), with
        their true lattices, to test :func:`~sklearn_pillars.find_lattice`.
    rescale : {"auto", True, False}, default=False
        For a frame, as in :func:`~sklearn_pillars.tile_array`: ``False``
        keeps the pitch drawn (``pitch``, times a ``scale`` condition);
        ``"auto"`` brings a pitch far from the tiles' (``2 * tile_half /
        TILE_PITCHES``) to it, as reading such a frame does.
    conditions : dict, optional
        Keyword arguments of :func:`apply_conditions` (without
        ``random_state``, which is drawn from ``random_state`` in a stream
        of its own), e.g. a value of
        :data:`~sklearn_pillars.synthetic.CONDITIONS`: each rendered
        image, square array or frame, is altered so before it is cut. The
        labels and everything drawn stay those of the same ``random_state``
        without ``conditions``. With ``scale`` the image is resized: the
        uniform grid still cuts it into ``grid_size`` cells a side, one per
        site, and a frame's true lattice (``tiles.lattices``) is scaled
        with it; ``tile_half`` stays in pixels of the altered image.

    Returns
    -------
    TileSet
        ``grid_size**2 * n_arrays`` (or ``rows * cols * n_arrays``) tiles with
        ``y`` (the five classes of :data:`~sklearn_pillars.CLASSES`), ``stitch_type`` (``"seam"`` or
        ``"field"`` for Stitching tiles, a seam winning where both cross;
        ``""`` elsewhere), ``array_images`` (uint8) and ``array_names``
        ``"synthetic_0"``, ``"synthetic_1"``, ...

    Raises
    ------
    ValueError
        For a parameter out of its range (a count that is not a positive
        integer, a pitch below 8, rates summing to more than 1, ...).

    See Also
    --------
    read_arrays : The same kind of tile set from real images.
    LayeredPeelClassifier : Classify the tiles.

    Examples
    --------
    >>> from sklearn_pillars import make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=1, random_state=0)
    >>> len(tiles), tiles.array_images[0].shape, tiles.X.shape
    (441, (1134, 1134), (441, 4101))
    >>> tiles.array_names, tiles.y.dtype.kind
    (['synthetic_0'], 'U')
    """
    n_arrays = check_positive_int(n_arrays, "n_arrays")
    grid_size = check_positive_int(grid_size, "grid_size")
    tile_half = check_positive_int(tile_half, "tile_half")
    pitch = check_positive_int(pitch, "pitch")
    if pitch < _MIN_PITCH:
        raise ValueError(f"pitch must be at least {_MIN_PITCH} pixels, got {pitch}")
    noise = _check_number(noise, "noise", low=0.0)
    field_period = _check_number(field_period, "field_period", low=1.0)
    photometric = _check_number(photometric, "photometric", low=0.0)
    rates = _check_rates(defect_rates)
    frame = _check_frame(grid_size, shape, rotation, margin, gradient)
    conditions = _check_make_conditions(conditions)
    try:
        random_state = check_random_state(random_state)
    except ValueError as error:
        raise ValueError(f"random_state: {error}") from None
    # A Generator for speed (float32 normals), seeded through sklearn's random_state contract.
    seed = random_state.randint(2**32, size=4, dtype=np.uint64)
    rng = np.random.default_rng(seed)
    # Photometry and the frame have streams of their own, so that they leave the content
    # of the arrays unchanged.
    photo_rng = np.random.default_rng([*seed, 1])
    frame_rng = np.random.default_rng([*seed, 2])
    conditions_rng = np.random.default_rng([*seed, 3])

    parts, labels, kinds = [], [], []
    for index in range(n_arrays):
        photometry = _draw_photometry(photo_rng, photometric, pitch / _REF_PITCH)
        if frame is not None:
            frame.update(gradient_angle=float(frame_rng.uniform(0, 2 * np.pi)), rng=frame_rng)
        side = grid_size if frame is None else max(frame["shape"])
        image, y, stitch, centres = _make_array(
            rng, side, pitch, tile_half, rates, noise, field_period, photometry, frame
        )
        if conditions is not None:
            seed_of_array = int(conditions_rng.integers(2**32))
            image, centres = _condition_array(image, centres, conditions, seed_of_array)
        name = f"synthetic_{index}"
        if frame is None:
            parts.append(tile_array(image, grid_size, tile_half, name=name, input_check="skip"))
        else:
            rows, cols = frame["shape"]
            y, stitch = y[:rows, :cols], stitch[:rows, :cols]
            parts.append(
                tile_array(
                    image,
                    tile_half=tile_half,
                    name=name,
                    input_check="skip",
                    lattice=Lattice.from_centers(centres, image.shape),
                    derotate=derotate,
                    rescale=rescale,
                )
            )
        labels.append(y.ravel())
        kinds.append(stitch.ravel())
    tiles = concat_tilesets(parts)
    tiles.y = np.concatenate(labels)
    tiles.stitch_type = np.concatenate(kinds)
    return tiles


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


def _condition_array(image, centres, params, seed):
    """``image`` altered by :func:`apply_conditions` with ``params``, and its site
    ``centres`` (..., 2) as ``(x, y)`` moved with the magnification."""
    try:
        _scaled_shape(image.shape, params["scale"])
    except ValueError as error:
        raise ValueError(f"conditions: {error}") from None
    altered = _apply_conditions(image, params, check_random_state(seed))
    if altered.shape != image.shape:
        # cv2.resize maps the pixel centre x to (x + 0.5) * new / old - 0.5
        factor = np.array(altered.shape[::-1], float) / image.shape[::-1]
        centres = (centres + 0.5) * factor - 0.5
    return altered, centres


def _check_frame(grid_size, shape, rotation, margin, gradient):
    """The frame geometry of :func:`make_pillar_arrays` as a dict, or None for none."""
    framed = shape is not None
    if shape is None:
        shape = (grid_size, grid_size)
    else:
        if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
            raise ValueError(f"shape must be a pair (rows, cols), got {shape!r}")
        shape = tuple(check_positive_int(n, "shape") for n in shape)
        if min(shape) < 2:
            raise ValueError(f"shape needs at least 2 rows and 2 columns, got {shape}")
    rotation = _check_number(rotation, "rotation", low=-45.0)
    if rotation > 45:
        raise ValueError(f"rotation must be within -45..45 degrees, got {rotation}")
    margins = margin if isinstance(margin, (tuple, list)) else (margin,) * 4
    if len(margins) != 4:
        raise ValueError(f"margin must be a number or (top, right, bottom, left), got {margin!r}")
    margins = tuple(_check_number(m, "margin", low=0.0) for m in margins)
    gradient = _check_number(gradient, "gradient", low=0.0)
    if not framed and rotation == 0 and not any(margins) and not gradient:
        return None
    if min(shape) < 2:
        raise ValueError(
            f"a frame (rotation, margin, gradient) needs at least 2 x 2 sites, "
            f"got grid_size={grid_size}"
        )
    return {"shape": shape, "rotation": rotation, "margin": margins, "gradient": gradient}


def _place_in_frame(image, centres, pitch, frame):
    """The square array ``image`` (float32) cropped to ``frame["shape"]`` sites, rotated,
    in a frame that holds it whole with ``frame["margin"]`` of substrate around its
    bounding box, and tilted by the gradient; and its site ``centres`` (rows, cols, 2)
    moved alike."""
    rows, cols = frame["shape"]
    image = image[: rows * pitch, : cols * pitch]
    centres = centres[:rows, :cols]
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
    return out, centres @ warp[:, :2].T + warp[:, 2]


def _check_number(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value < np.inf:
        raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")
    return float(value)


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

    centres = ((np.arange(g) + 0.5) * pitch).astype(int)  # as tile_boxes computes them
    boxes = tile_boxes(size, size, g, tile_half).reshape(g, g, 4)
    spans = (boxes[:, 0, 1], boxes[:, 0, 3]), (boxes[0, :, 0], boxes[0, :, 2])
    on_seam = np.zeros((g, g), bool)
    moved = np.zeros((g, g, 2))  # where each site's pillar went, (x, y) pixels
    # Beyond a seam the frame is shifted along it, brighter or darker, maybe in other focus.
    # Each seam steps back toward the first frame, so that several do not add up.
    shift, level, mean = [0, 0], [0.0, 0.0], image.mean()
    for axis, site, offset in sorted(seams):
        at = int(centres[site] + round(offset * pitch))
        after = image[at:] if axis == 0 else image[:, at:]
        jump = round(_toward_zero(rng, shift[axis], 2, 3))
        _shift(after, jump, 1 - axis)
        if rng.random() < 0.5:
            after[...] = cv2.GaussianBlur(after, (0, 0), rng.uniform(0.6, 1.2) * s)
        step = _toward_zero(rng, level[axis], 3, 7)
        after += step
        shift[axis] += jump
        level[axis] += step
        beyond = centres >= at
        if axis == 0:
            moved[beyond, :, 0] += jump
        else:
            moved[:, beyond, 1] += jump
        hit = _crosses(at, *spans[axis])
        on_seam |= hit[:, None] if axis == 0 else hit[None, :]
    image += mean - image.mean()
    on_field = np.zeros((g, g), bool)
    at = centres[:, None] + 0.5 + params["field_h_at"]  # line centre, pixel-edge coordinates
    on_field |= (params["field_h"] != 0) & _crosses(at, *(b[:, None] for b in spans[0]))
    at = centres[None, :] + 0.5 + params["field_v_at"]
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
