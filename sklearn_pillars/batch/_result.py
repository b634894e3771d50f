"""The result of classifying one array."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(eq=False)
class ArrayResult:
    """One array's classification.

    What :func:`classify_array` returns and :func:`iter_inspect` yields: the
    class of every site of one array image, with the image and what is
    needed to draw or report it, so that the tiles themselves need not be
    kept.

    Attributes
    ----------
    name : str
        The array's name (file name without suffix, as in :func:`~sklearn_pillars.read_arrays`).
    path : Path
        The array image file (as given to :func:`iter_inspect`).
    labels, scores, kinds : ndarray of shape (n_sites,)
        Class, inconsistency score (NaN where not scored) and defect kind
        (``"seam"``/``"field"`` for Stitching where the model tells them
        apart, ``""`` elsewhere) of each site, row-major (``grid_size**2``
        sites, or rows x cols of a found lattice).
    positions : ndarray of shape (n_sites, 2)
        1-based row and column of each site.
    boxes : ndarray of shape (n_sites, 4)
        ``x0, y0, x1, y1`` of each tile in ``image``.
    image : ndarray of shape (H, W), uint8
        The grey array image.
    profile : ArrayProfile or None
        Its basic statistics, where the input was checked.
    notes : list of str
        The warnings raised while reading and classifying it (such as an
        image that is not a pillar array, with ``input_check="warn"``).
    map_png : bytes or None
        Its defect map as PNG bytes, when
        asked for (``draw_map``).
    lattice : Lattice or None
        The lattice found in the image (``grid_size="auto"``), in ``image``
        (turned upright if it was rotated); None for the uniform grid.

    See Also
    --------
    classify_array : Classify one array image.
    iter_inspect : Classify many, one result at a time.
    sklearn_pillars.report.defect_map : Draw a result's defect map to a file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import cv2
    >>> from sklearn_pillars import LayeredPeelClassifier, classify_array, make_pillar_arrays
    >>> tiles = make_pillar_arrays(n_arrays=1, grid_size=6, random_state=0)
    >>> model = LayeredPeelClassifier().fit(tiles.X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "wafer_a.png")
    ...     _ = cv2.imwrite(str(path), tiles.array_images[0])
    ...     result = classify_array(path, model, grid_size=6, draw_map=True)
    >>> result.positions[:2].tolist(), result.boxes.shape, result.image.shape
    ([[1, 1], [1, 2]], (36, 4), (324, 324))
    >>> result.map_png[:4]
    b'\\x89PNG'
    """

    name: str
    path: Path
    labels: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    image: np.ndarray
    profile: object = None
    notes: list = field(default_factory=list)
    map_png: bytes | None = None
    lattice: object = None
