"""The names and defaults the whole package shares: the classes, the presets, the default
grid and tile, and the note that marks uneven illumination."""

from __future__ import annotations

#: Class of a site without a pillar.
MISSING = "Missing"


#: Class of a collapsed pillar.
COLLAPSED = "Collapsed"


#: Class of a site crossed by a stitching defect: an image seam or a write-field line.
STITCHING = "Stitching"


#: Class of a pillar the last layer finds unlike the others (an outlier).
IRREGULAR = "Irregular"


#: Class of a pillar without a defect.
GOOD = "Good"


#: The default stages' classes in the order the layers peel them, the inliers last.
PEEL_ORDER = (MISSING, COLLAPSED, STITCHING, IRREGULAR, GOOD)


#: The default stages' classes, sorted (as ``LayeredPeelClassifier.classes_``).
CLASSES = tuple(sorted(PEEL_ORDER))


#: The preset that compares each tile with the other tiles of its own array.
REFINED_PRESET = "refined"


#: The preset that reproduces the original analysis notebook on its uniform grid.
NOTEBOOK_PRESET = "notebook"


#: Names of the stage presets of ``LayeredPeelClassifier`` and ``make_stages``.
PRESETS = (REFINED_PRESET, NOTEBOOK_PRESET)


#: The preset of ``LayeredPeelClassifier()``, ``make_stages()`` and the command line.
DEFAULT_PRESET = REFINED_PRESET


#: Sites per row and column of the uniform grid where one is drawn or cut without a size
#: (the original analysis' arrays: 21 x 21). The readers find each image's lattice instead,
#: unless given a ``grid_size``.
DEFAULT_GRID_SIZE = 21


#: Half the side of a tile in pixels (tiles of 64 x 64).
DEFAULT_TILE_HALF = 32


def class_order(classes=(), labels=()):
    """Classes in display order: the default ones in peel order, then any other, Good last.

    Parameters
    ----------
    classes : iterable of str, default=()
        The model's classes (``classes_``); empty means :data:`CLASSES`.
    labels : iterable, default=()
        Labels met in the data, added when they are not among ``classes``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> class_order(["Good", "Cracked", "Missing"])
    ['Missing', 'Cracked', 'Good']
    >>> class_order()
    ['Missing', 'Collapsed', 'Stitching', 'Irregular', 'Good']
    """
    names = {str(c) for c in classes} or set(CLASSES)
    names |= {str(label) for label in labels}
    known = [c for c in PEEL_ORDER if c in names and c != GOOD]
    others = sorted(names - set(PEEL_ORDER))
    return known + others + ([GOOD] if GOOD in names else [])


#: How an :class:`UnevenIlluminationWarning` begins (the reports look for it).
UNEVEN_ILLUMINATION = "uneven or dim illumination"
