"""Every exception and warning type of sklearn-pillars, in one place.

Each is also importable from the top-level package (``sklearn_pillars.NotAnArrayError``)
and, for code written against 0.1 and 0.2, from the module that raised it there.
"""

__all__ = [
    "FolderAccessError",
    "FolderInUseError",
    "ModelFileError",
    "NoLatticeError",
    "NotAnArrayError",
    "NotebookGridWarning",
    "ResourceLimitError",
    "UnevenIlluminationWarning",
    "UsageError",
]


class NotAnArrayError(ValueError):
    """An image that does not show a pillar array of the given grid.

    Raised by :func:`~sklearn_pillars.check_pillar_array` (and so by
    :func:`~sklearn_pillars.read_arrays` and the functions built on it with
    ``input_check="raise"``) for an image that is blank (grey levels spanning
    less than ``MIN_CONTRAST``) or whose sites do not look alike (lattice
    score below ``MIN_LATTICE_SCORE``: not a pillar array, or a wrong
    ``grid_size``). A subclass of :class:`ValueError`;
    :class:`~sklearn_pillars.NoLatticeError` is a subclass of it.

    See Also
    --------
    check_pillar_array : Raises it.
    NoLatticeError : No lattice found with ``grid_size="auto"``.
    ArrayProfile : The statistics checked.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import NotAnArrayError, check_pillar_array
    >>> noise = np.random.default_rng(0).integers(0, 256, (324, 324), dtype=np.uint8)
    >>> try:
    ...     check_pillar_array(noise, 6, name="noise")
    ... except NotAnArrayError as error:
    ...     print(str(error)[:33])
    noise shows no lattice of 6 x 6 p
    """


class NoLatticeError(NotAnArrayError):
    """An image in which no periodic lattice of pillars is found.

    Raised by :func:`find_lattice` (and so by ``grid_size="auto"`` in
    :func:`~sklearn_pillars.read_arrays`, :func:`~sklearn_pillars.tile_array`
    and the functions built on them) for noise, a blank frame, a photograph
    of something else, or an image too small to hold 3 x 3 sites; the
    message names the file when there is one. A subclass of
    :class:`~sklearn_pillars.NotAnArrayError`, so one ``except`` catches
    both; unlike that check, it is raised whatever ``input_check`` says:
    without a lattice there are no sites to cut.

    See Also
    --------
    find_lattice : Raises it.
    NotAnArrayError : Its base: an image that does not show a pillar array.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pillars import NoLatticeError, NotAnArrayError, find_lattice
    >>> try:
    ...     find_lattice(np.full((200, 200), 128, np.uint8))
    ... except NoLatticeError as error:
    ...     print(isinstance(error, NotAnArrayError))
    True
    """


class ResourceLimitError(ValueError):
    """A request that would need more memory than the limit allows.

    The memory a run needs (the image files and their decoded pixels, the
    tiles' ``X``, the classifier's work on it, finding lattices) is
    estimated from the image headers, the grid and the tile size before
    anything large is allocated; beyond ``max_memory`` (default half the
    machine's RAM, or of a smaller container limit) this is raised, in
    milliseconds instead of after minutes of swapping. A subclass of
    :class:`ValueError`.

    See Also
    --------
    read_arrays : Raises it beyond its ``max_memory``.
    read_image : Raises it for an image too large to decode.
    fit_arrays : Fits on many arrays in the memory of one at a time.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> import numpy as np
    >>> from sklearn_pillars import ResourceLimitError, read_image
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "large.png")
    ...     _ = cv2.imwrite(str(path), np.zeros((1000, 1000), np.uint8))
    ...     try:
    ...         read_image(path, max_memory="1M")
    ...     except ResourceLimitError as error:
    ...         print(str(error).split(": ")[1][:56])
    decoding this 1000 x 1000 image would need about 1.9 MiB
    """


class ModelFileError(ValueError):
    """A model file that cannot be used (unknown format, untrusted content, not a model).

    Raised by :func:`save_model` and :func:`load_model` for a path that does
    not end in ``.skops`` or ``.joblib``, and by :func:`load_model` for a
    ``.joblib`` file without ``trusted=True``, a folder, a ``.skops`` file
    holding types other than scikit-learn's, NumPy's or sklearn-pillars', and
    a file that is not a readable sklearn-pillars model holding a fitted
    :class:`~sklearn_pillars.LayeredPeelClassifier`. A subclass of
    :class:`ValueError`.

    See Also
    --------
    load_model : Raises it for a file it will not load.
    save_model : Raises it for a path of another suffix.

    Examples
    --------
    >>> from sklearn_pillars.persist import ModelFileError, load_model
    >>> try:
    ...     load_model("pillars.pkl")
    ... except ModelFileError as error:
    ...     print(error)
    pillars.pkl: a model file must end in .skops (safe to load) or .joblib (a pickle)
    """


class FolderInUseError(RuntimeError):
    """Another run holds the lock of an output folder."""


class FolderAccessError(OSError):
    """An output folder that cannot be created or written to."""


class UnevenIlluminationWarning(UserWarning):
    """Part of an array is lit too weakly for its labels to be trusted.

    The tiles are brought to a common photometric scale site by site (ramps,
    vignetting and gradients are divided out), but where the substrate-to-rim
    contrast falls below ``MIN_CONTRAST_SHARE`` of the best-lit part's,
    or below ``MIN_SITE_CONTRAST`` grey levels (``sklearn_pillars.features``), noise outweighs the
    pillars.
    """


class NotebookGridWarning(UserWarning):
    """The ``"notebook"`` preset on tiles of a found lattice, where its labels are unreliable.

    The notebook's layers peel each layer's smallest KMeans cluster; which
    cluster that is depends on how the tiles were cut. On its own uniform
    grid (``grid_size=21``) the preset reproduces the original notebook;
    on the tiles of a found lattice it can swap Missing and Collapsed and
    flag most of a new array Irregular.
    """


class UsageError(Exception):
    """A problem with the command line: exit code 2."""
