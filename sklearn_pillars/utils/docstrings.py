"""Docstring text shared by several estimators, written once and filled in at import.

A docstring line holding only ``%(name)s`` (indented as a section's entries are) is
replaced by the block :data:`BLOCKS` holds under that name."""

from __future__ import annotations

#: Blocks of numpydoc text, indented as the entries of a class docstring's sections.
BLOCKS = {
    "tile_parameters": """\
    layout : {"tiles", "strip"}, default="tiles"
        How to read a row of X: the tile-set layout, or a 1-pixel-high image
        of any width (for generic 2-D data; see the :ref:`X layout <x_layout>`).
    batch_size : int, default=32
        Tiles decoded and processed together; bounds the memory of
        temporaries.
    n_jobs : int, default=None
        Joblib processes for large inputs (X of 4096 rows or more; ``None``
        means 1, -1 all cores).""",
    "array_parameters": """\
    downsample : int, default=2
        The tiles are compared after averaging blocks of this many pixels a
        side (2: four times less work; a pillar 35 pixels across and a line
        2 pixels wide still show). It must divide the tile size and leave at
        least 8 pixels a side, else ``fit`` and ``transform`` raise
        ValueError.
    n_jobs : int, default=None
        Arrays computed at once, in threads (``None`` means 1, -1 all
        cores).""",
    "fitted_input": """\
    n_features_in_ : int
        Number of columns of X seen in fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns of X seen in fit. Defined only when X has
        feature names that are all strings.""",
}


def fill_doc(obj):
    """Replace each ``%(name)s`` line of ``obj.__doc__`` by ``BLOCKS[name]``; return ``obj``.

    A placeholder without a block raises KeyError at import, so a typo cannot ship.
    """
    if obj.__doc__:
        lines = []
        for line in obj.__doc__.split("\n"):
            stripped = line.strip()
            if stripped.startswith("%(") and stripped.endswith(")s"):
                lines.append(BLOCKS[stripped[2:-2]])
            else:
                lines.append(line)
        obj.__doc__ = "\n".join(lines)
    return obj
