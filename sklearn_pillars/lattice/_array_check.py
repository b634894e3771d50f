"""Does an image show a pillar array? Checks run before classifying, and drift of new arrays.

A pillar array repeats with the lattice pitch, so crops at the lattice sites
look alike while crops at random phases of the pitch do not. Blank, noise and
smooth images, and a wrong ``grid_size``, fail that test; a real array passes
it with a margin (measured lattice scores: the four real arrays 0.52-0.74,
synthetic arrays 0.89-0.94; grids of 20 or 22 for the real 21, and a half crop,
0.09-0.25; noise, gradients and blurred noise below 0.05)."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import scipy.fft

from ..exceptions import NotAnArrayError
from ..utils.arrays import integer_percentiles, median_of

#: Grey levels (1st to 99th percentile) below which an image counts as blank.
MIN_CONTRAST = 8.0


#: Lattice score (site crops' likeness minus random-phase crops') below which
#: an image shows no lattice of the given grid.
MIN_LATTICE_SCORE = 0.3


#: Sites sampled for the check (enough for a stable median, bounded for huge grids).
SAMPLE_SITES = 400


#: Samples across each site crop for the pillar size, and for the lattice score (whose crops
#: are blurred by a sixteenth of their side: fewer samples lose little of them and cost a
#: quarter; scores moved by at most 0.05 against 48 samples, 0.03 near the 0.3 refusal
#: line, on real, synthetic and noise images and wrong grids: less than the score's own
#: spread over other samples of sites, about 0.1).
PILLAR_SAMPLES, SCORE_SAMPLES = 48, 24


#: Sampled sites whose crops give the pillar size (the first of the ``SAMPLE_SITES``): its
#: interpolated profile moved by at most 6% (0.9% on average) against all 400, on the real
#: arrays and synthetic ones, less than one step of the profile's whole radii (12-17%).
PILLAR_SITES = 160


#: Likeness of the median site crop and the median crop half a cell away diagonally (the
#: point between four sites, :func:`half_cell_likeness`) at or below which an image is a
#: checkerboard, and at or above which its pattern repeats at half the pitch. A
#: checkerboard is its own negative there, blurred or not (its harmonics are all odd):
#: -0.996 to -0.998 measured, sampling rounds. Pillar arrays: -0.75 to -0.33 on the four
#: real arrays and synthetic ones, on both grids; blur takes their even harmonics away
#: slowly (at a 54 px pitch: down to -0.85 blurred by 6 px, -0.93 by 10 px, -0.96 by 14 px,
#: where the pillars are all but gone).
CHECKERBOARD_LIKENESS, HALF_PITCH_LIKENESS = -0.99, 0.9


#: How far (as a factor) a new array's statistic may stray beyond a model's
#: training range before a warning: contrast, pitch, pillar size. The pitch may
#: stray 10% either way (below: 0.9 times the smallest).
DRIFT_FACTORS = {"contrast": 1.6, "pitch": 1.1, "pillar_size": 1.3}


@dataclass(frozen=True)
class ArrayProfile:
    """Basic statistics of one array image.

    Attributes
    ----------
    contrast : float
        Grey levels from the 1st to the 99th percentile.
    level : float
        Median grey level.
    pitch : float
        Lattice pitch in pixels (mean of the horizontal and vertical).
    pillar_size : float
        Width in pixels of the site's central feature: the diameter at which
        the site crops' mean autocorrelation falls to half.
    lattice_score : float
        Likeness of crops at the lattice sites (median correlation with their
        median) minus that of crops at random phases of the pitch: about 0
        without a lattice of this grid, 0.5-0.95 for real and synthetic arrays.

    See Also
    --------
    array_profile : Compute it.
    check_pillar_array : Check an image with it.
    sklearn_pillars.sanity.drift_warnings : Compare new arrays' profiles with a model's.

    Examples
    --------
    >>> from sklearn_pillars import array_profile, make_pillar_arrays
    >>> image = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).array_images[0]
    >>> profile = array_profile(image, 6)
    >>> sorted(profile.as_dict())
    ['contrast', 'lattice_score', 'level', 'pillar_size', 'pitch']
    """

    contrast: float
    level: float
    pitch: float
    pillar_size: float
    lattice_score: float

    def as_dict(self):
        """The statistics as a dict of floats (as model files store them).

        Returns
        -------
        dict of str to float
            One entry per attribute.
        """
        return {k: float(v) for k, v in asdict(self).items()}


def _crops(grey, centers_y, centers_x, side, samples):
    """Float32 crops of ``samples`` pixels a side spanning ``side`` image pixels (edges clamped).

    Crops wider than ``samples`` are sampled with a stride, so a huge pitch costs no more
    than a small one.
    """
    offsets = np.round(np.linspace(-side / 2, side / 2, samples)).astype(np.int64)
    ys = np.round(centers_y).astype(np.int64)[:, None] + offsets
    xs = np.round(centers_x).astype(np.int64)[:, None] + offsets
    ys = np.clip(ys, 0, grey.shape[0] - 1)
    xs = np.clip(xs, 0, grey.shape[1] - 1)
    # flat indices: one gather, faster than indexing two axes
    index = (ys * grey.shape[1])[:, :, None] + xs[:, None, :]
    return np.take(grey.ravel(), index).astype(np.float32)


def _likeness(crops):
    """Median correlation of each crop with the crops' median."""
    flat = crops.reshape(len(crops), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    reference = median_of(flat[:, None, :])[0]
    reference -= reference.mean()
    norms = np.linalg.norm(flat, axis=1) * np.linalg.norm(reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(norms > 0, flat @ reference / np.maximum(norms, 1e-12), 0.0)
    return float(np.median(corr))


def _smoothed(crops, sigma):
    """Each crop (n, k, k) blurred by a Gaussian of ``sigma`` pixels, as
    ``scipy.ndimage.gaussian_filter(crops, (0, sigma, sigma))`` (edges reflected,
    truncated at 4 sigma) in two OpenCV passes over the stacked crops."""
    n, k, _ = crops.shape
    radius = int(4.0 * sigma + 0.5)
    kernel = cv2.getGaussianKernel(2 * radius + 1, sigma, cv2.CV_32F)
    blurred = cv2.filter2D(crops.reshape(n * k, k), -1, kernel.T, borderType=cv2.BORDER_REFLECT)
    turned = np.ascontiguousarray(blurred.reshape(n, k, k).transpose(0, 2, 1)).reshape(n * k, k)
    blurred = cv2.filter2D(turned, -1, kernel.T, borderType=cv2.BORDER_REFLECT)
    return blurred.reshape(n, k, k).transpose(0, 2, 1)


def _feature_size(crops):
    """Diameter (in crop pixels) at which the crops' mean autocorrelation falls to half.

    The autocorrelation does not depend on where in the crop the pillar sits, so an
    imperfect lattice does not change the size. Its radial profile is interpolated
    linearly between the whole radii around the crossing, so the size moves smoothly
    with the pillars (and little with which sites are sampled).
    """
    flat = crops - crops.mean(axis=(1, 2), keepdims=True)
    n, k = crops.shape[:2]
    # Padded by half a crop: the lags up to k / 2, all the profile reads, do not wrap (a
    # lag j wraps onto j - size, at least k away, where the crops no longer overlap).
    size = scipy.fft.next_fast_len(k + k // 2, real=True)
    # rfft2 in two passes, so that the padding rows are not transformed
    spectrum = scipy.fft.fft(scipy.fft.rfft(flat, n=size, axis=2), n=size, axis=1)
    parts = spectrum.view(np.float32 if spectrum.dtype == np.complex64 else np.float64)
    power = np.einsum("nab,nab->ab", parts, parts).reshape(size, -1, 2).sum(axis=2) / n
    acf = scipy.fft.irfft2(power, s=(size, size))
    if acf[0, 0] <= 0:
        return 0.0
    acf = acf / acf[0, 0]
    lags = np.minimum(np.arange(size), size - np.arange(size))  # circular lag of each index
    radius = np.hypot(lags[:, None], lags[None, :]).astype(np.int64).ravel()
    profile = np.bincount(radius, acf.ravel()) / np.maximum(np.bincount(radius), 1)
    below = np.flatnonzero(profile[: k // 2 + 1] < 0.5)
    if not below.size:
        return float(k)
    j = below[0]  # > 0: the profile starts at 1
    above = profile[j - 1]
    return float(2 * (j - 1 + (above - 0.5) / (above - profile[j])))


def _array_area(grey, lattice):
    """The part of ``grey`` between its lattice's outer site centres: the array's own grey
    levels, not those of a frame or border around it (the outer sites' cells reach to
    the border, whose few pixels would set the 1st percentile)."""
    centers = lattice.centers.reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(centers.min(axis=0)), 0).astype(int)
    x1, y1 = np.ceil(centers.max(axis=0)).astype(int) + 1
    area = grey[y0:y1, x0:x1]
    return area if area.size >= 64 else grey


def _sites_and_pitch(shape, grid_size, lattice):
    """Pitch (x, y; pixels) and number of sites of the uniform grid of ``grid_size`` over
    an image of ``shape``, or of ``lattice``."""
    if lattice is None:
        return shape[1] / grid_size, shape[0] / grid_size, grid_size * grid_size
    pitch_x, pitch_y = lattice.pitch
    return pitch_x, pitch_y, lattice.centers.shape[0] * lattice.centers.shape[1]


def half_cell_likeness(grey, grid_size, *, lattice=None, random_state=0):
    """Correlation of the median site crop with the median crop half a cell away
    diagonally (the point between four sites).

    About -0.8 to 0.1 for pillar arrays (a pillar there, substrate here), -1 for a
    checkerboard (each square the negative of its neighbour), +1 for a pattern that
    repeats at half the pitch (a wrong grid size). Parameters as for
    :func:`array_profile`; ``PILLAR_SITES`` sites are sampled.
    """
    grey = np.asarray(grey)
    rng = np.random.default_rng(random_state)
    pitch_x, pitch_y, n_sites = _sites_and_pitch(grey.shape, grid_size, lattice)
    side = max(4, int(min(pitch_x, pitch_y)))
    coarse = min(side, SCORE_SAMPLES)
    n = min(PILLAR_SITES, n_sites)
    sites = rng.choice(n_sites, size=n, replace=False) if n < n_sites else np.arange(n)
    medians = []
    for shift in (0.0, 0.5):
        if lattice is None:
            rows, cols = np.divmod(sites, grid_size)
            centers_x = (cols + 0.5 + shift) * pitch_x
            centers_y = (rows + 0.5 + shift) * pitch_y
        else:
            centers_x, centers_y = (
                lattice.centers.reshape(-1, 2)[sites] + shift * lattice.vectors.sum(axis=0)
            ).T
        crops = _crops(grey, centers_y, centers_x, side, coarse).reshape(n, 1, -1)
        median = median_of(crops)[0]
        medians.append(median - median.mean())
    norms = float(np.linalg.norm(medians[0]) * np.linalg.norm(medians[1]))
    return float(medians[0] @ medians[1]) / norms if norms > 0 else 0.0


def array_profile(grey, grid_size, *, lattice=None, random_state=0):
    """Basic statistics of an array image: contrast, level, pitch, pillar size, lattice score.

    Parameters
    ----------
    grey : ndarray of shape (H, W), uint8
        The array image, grey.
    grid_size : int or None
        Sites per row and per column of the uniform grid (None with a
        ``lattice``).
    lattice : Lattice, optional
        The lattice found in ``grey``, whose sites and pitch are used instead
        of the uniform grid's (``grid_size`` is then ignored).
    random_state : int, default=0
        Which sites are sampled (at most ``SAMPLE_SITES`` of
        ``sklearn_pillars.lattice``), and the random phases.

    Returns
    -------
    ArrayProfile
        ``contrast`` (1st to 99th percentile of the grey levels; with a
        ``lattice``, of the area its sites cover), ``level`` (their median),
        ``pitch`` (mean site spacing, pixels), ``pillar_size`` and
        ``lattice_score`` (how much more alike the sampled sites are than
        random places: high for a pillar array).

    See Also
    --------
    check_pillar_array : Raise or warn when the profile is not an array's.
    ArrayProfile : The statistics returned.

    Examples
    --------
    >>> from sklearn_pillars import array_profile, make_pillar_arrays
    >>> image = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).array_images[0]
    >>> profile = array_profile(image, 6)
    >>> round(profile.pitch), profile.lattice_score > 0.5
    (54, True)
    """
    grey = np.asarray(grey)
    rng = np.random.default_rng(random_state)
    area = grey if lattice is None else _array_area(grey, lattice)
    step = max(1, area.size // 2**20)  # percentiles of about a million pixels
    low, level, high = integer_percentiles(area.ravel()[::step], [1, 50, 99])
    pitch_x, pitch_y, n_sites = _sites_and_pitch(grey.shape, grid_size, lattice)
    side = max(4, int(min(pitch_x, pitch_y)))
    samples, coarse = min(side, PILLAR_SAMPLES), min(side, SCORE_SAMPLES)
    sigma = max(0.5, coarse / 16)  # tolerate a pixel or two of lattice distortion
    n = min(SAMPLE_SITES, n_sites)
    sites = rng.choice(n_sites, size=n, replace=False) if n < n_sites else np.arange(n)
    scores = []
    for phase_y, phase_x in ((0.5, 0.5), (rng.random(n), rng.random(n))):
        if lattice is None:
            rows, cols = np.divmod(sites, grid_size)
            centers_x, centers_y = (cols + phase_x) * pitch_x, (rows + phase_y) * pitch_y
        else:  # the refined centres, or random phases of the cell around them
            phase = np.column_stack(np.broadcast_arrays(phase_x, phase_y)) - 0.5
            centers_x, centers_y = (
                lattice.centers.reshape(-1, 2)[sites] + phase @ lattice.vectors
            ).T
        if len(scores) == 0:
            few = slice(0, PILLAR_SITES)
            crops = _crops(grey, centers_y[few], centers_x[few], side, samples)
            pillar = _feature_size(crops) * side / samples
        crops = _crops(grey, centers_y, centers_x, side, coarse)
        scores.append(_likeness(_smoothed(crops, sigma)))
    return ArrayProfile(
        contrast=float(high - low),
        level=float(level),
        pitch=float((pitch_x + pitch_y) / 2),
        pillar_size=pillar,
        lattice_score=scores[0] - scores[1],
    )


def check_pillar_array(grey, grid_size, *, name="image", on_fail="raise", lattice=None):
    """Check that an image shows a pillar array of the given grid; return its profile.

    Parameters
    ----------
    grey : ndarray of shape (H, W), uint8
        The array image, grey.
    grid_size : int or None
        Sites per row and column of the uniform grid (None with a
        ``lattice``).
    lattice : Lattice, optional
        The lattice found in ``grey``, checked instead of the uniform grid.
    name : str, default="image"
        Names the image in messages.
    on_fail : {"raise", "warn"}, default="raise"
        Raise :class:`NotAnArrayError`, or warn loudly and go on.

    Returns
    -------
    ArrayProfile
        The image's statistics (:func:`~sklearn_pillars.array_profile`).

    Raises
    ------
    NotAnArrayError
        With ``on_fail="raise"``, when the image is blank (contrast below
        ``MIN_CONTRAST``) or its lattice score is below
        ``MIN_LATTICE_SCORE`` (constants of ``sklearn_pillars.lattice``).
    ValueError
        If ``on_fail`` is neither ``"raise"`` nor ``"warn"``.

    Warns
    -----
    UserWarning
        The same, with ``on_fail="warn"``.

    See Also
    --------
    array_profile : The statistics checked.
    read_arrays : Checks every image it reads (``input_check``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import NotAnArrayError, check_pillar_array, make_pillar_arrays
    >>> image = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0).array_images[0]
    >>> round(check_pillar_array(image, 6).pitch)
    54
    >>> try:
    ...     check_pillar_array(np.full((324, 324), 128, np.uint8), 6, name="grey card")
    ... except NotAnArrayError as error:
    ...     print(str(error)[:22])
    grey card is blank: it
    """
    if on_fail not in ("raise", "warn"):
        raise ValueError(f"on_fail must be 'raise' or 'warn', got {on_fail!r}")
    profile = array_profile(grey, grid_size, lattice=lattice)
    rows, cols = (grid_size, grid_size) if lattice is None else lattice.shape
    problem = None
    if profile.contrast < MIN_CONTRAST:
        problem = (
            f"is blank: its grey levels span only {profile.contrast:.0f} "
            f"(1st to 99th percentile, at least {MIN_CONTRAST:.0f} needed)"
        )
    elif profile.lattice_score < MIN_LATTICE_SCORE:
        problem = (
            f"shows no lattice of {rows} x {cols} pillars (lattice score "
            f"{profile.lattice_score:.2f}, at least {MIN_LATTICE_SCORE} expected: the "
            f"sites do not look alike); check the grid size, or that this is a pillar "
            f"array image"
        )
    else:
        half = half_cell_likeness(grey, grid_size, lattice=lattice)
        if half <= CHECKERBOARD_LIKENESS:
            problem = (
                f"shows a checkerboard, not pillars: half a cell from its {rows} x {cols} "
                f"sites it looks like their negative (correlation {half:.3f})"
            )
        elif half >= HALF_PITCH_LIKENESS:
            problem = (
                f"repeats at half the pitch of its {rows} x {cols} sites: half a cell away "
                f"it looks the same (correlation {half:.2f}); check the grid size"
            )
    if problem is None:
        return profile
    if on_fail == "raise":
        raise NotAnArrayError(
            f"{name} {problem} (--force-input, or input_check='warn', classifies it anyway)"
        )
    warnings.warn(
        f"{name} {problem}; classifying it anyway: the result is likely meaningless",
        UserWarning,
        stacklevel=2,
    )
    return profile


def drift_warnings(profiles, reference, names):
    """Messages for arrays whose statistics lie far outside a model's training range.

    For each new array and each of ``contrast``, ``pitch`` and
    ``pillar_size``, the value is compared with the range of the training
    arrays' values, widened by the factors of ``DRIFT_FACTORS``: contrast may
    reach 1/1.6 of the smallest to 1.6 times the largest, pillar size 1/1.3
    to 1.3 times, and pitch 0.9 to 1.1 times (the features are measured in
    pixels). A value outside gives one message. Statistics that a profile or
    every reference lacks are not compared; no reference, or no profiles,
    give no messages. Nothing is warned here: the callers
    (:func:`~sklearn_pillars.inspect_arrays`, ``sklearn-pillars inspect``)
    raise the messages as warnings.

    Parameters
    ----------
    profiles : sequence of ArrayProfile or dict
        The new arrays' profiles (``TileSet.array_profiles``).
    reference : sequence of ArrayProfile or dict
        The profiles of the arrays the model was fitted on (``info["profiles"]``
        of :func:`~sklearn_pillars.persist.load_model`).
    names : sequence of str
        The new arrays' names, one per profile, to begin the messages with.

    Returns
    -------
    list of str
        One message per array and statistic out of range, in the order of
        ``profiles``; empty when all are in range.

    Raises
    ------
    ValueError
        If ``names`` and ``profiles`` differ in length (and there are
        ``reference`` profiles).

    See Also
    --------
    ArrayProfile : The statistics compared.
    sklearn_pillars.persist.save_model : Records the training arrays' profiles.
    sklearn_pillars.persist.load_model : Returns them as ``info["profiles"]``.

    Examples
    --------
    >>> from sklearn_pillars.sanity import drift_warnings
    >>> trained = [{"contrast": 100.0, "pitch": 54.0, "pillar_size": 20.0}]
    >>> drift_warnings([{"contrast": 110.0, "pitch": 56.0, "pillar_size": 21.0}], trained, ["a"])
    []
    >>> [message[:41] for message in drift_warnings([{"pitch": 64.0}], trained, ["b"])]
    ['b: its pitch 64.0 is far outside the 54.0']
    """
    messages = []
    if not reference or not profiles:
        return messages
    profiles = [p.as_dict() if isinstance(p, ArrayProfile) else p for p in profiles]
    reference = [p.as_dict() if isinstance(p, ArrayProfile) else p for p in reference]
    for profile, name in zip(profiles, names, strict=True):
        for key, factor in DRIFT_FACTORS.items():
            seen = [r[key] for r in reference if key in r]
            if not seen or key not in profile:
                continue
            low, high, value = min(seen) / factor, max(seen) * factor, profile[key]
            if key == "pitch":  # features are measured in pixels: 10% either way
                low = min(seen) * (2 - factor)
            if not low <= value <= high:
                messages.append(
                    f"{name}: its {key.replace('_', ' ')} {value:.1f} is far outside the "
                    f"{min(seen):.1f}-{max(seen):.1f} of the arrays the model was fitted on; "
                    f"its results may not be trustworthy (refit on similar arrays)"
                )
    return messages
