"""Synthetic pillar-array images with ground-truth tile labels.

The renderer imitates the optical-microscope images of the real arrays: round
pillars with a dark rim (darkest at the bottom), a lighter interior with a
faint highlight and a dark halo, on a brighter substrate with a gentle
illumination gradient, slight blur and sensor noise. Every length of the model
is given at the real pitch of 54 pixels and scales with ``pitch``.

:func:`apply_conditions` alters any grey image the way another microscope
session would (illumination, vignetting, noise, focus, JPEG, magnification);
:data:`CONDITIONS` holds the strongest setting of each that the detector
should withstand."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ..constants import DEFAULT_GRID_SIZE, DEFAULT_TILE_HALF
from ..lattice import Lattice
from ..tiling import concat_tilesets, tile_array
from ..utils.validation import check_positive_int
from ._conditions import _check_make_conditions, _condition_array
from ._render import _REF_PITCH, _check_rates, _draw_photometry, _make_array

_MIN_PITCH = 8


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
        image, y, stitch, centers = _make_array(
            rng, side, pitch, tile_half, rates, noise, field_period, photometry, frame
        )
        if conditions is not None:
            seed_of_array = int(conditions_rng.integers(2**32))
            image, centers = _condition_array(image, centers, conditions, seed_of_array)
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
                    lattice=Lattice.from_centers(centers, image.shape),
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


def _check_number(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value < np.inf:
        raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")
    return float(value)
