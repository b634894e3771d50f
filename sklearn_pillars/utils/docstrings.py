"""Docstring text shared by several estimators, written once and filled in at import.

A docstring line holding only ``%(name)s`` is replaced by the block :data:`BLOCKS` holds
under that name, indented as the placeholder is: a class's or a method's section."""

from __future__ import annotations

import textwrap

#: Blocks of numpydoc text, written as the entries of a class docstring's sections.
BLOCKS = {
    "stage_fit_X": """\
    X : array-like of shape (n_tiles, n_features)
        Tiles in the layout the features read (see the :ref:`X layout <x_layout>`).
    y : None
        Ignored.""",
    "stage_X": """\
    X : array-like of shape (n_tiles, n_features)
        Tiles with as many columns as the X seen in ``fit``.""",
    "model_X": """\
    X : array-like of shape (n_tiles, n_features)
        Tile-set X with as many columns as the X seen in ``fit``.""",
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
    """Replace each ``%(name)s`` line of ``obj.__doc__``, and for a class of its own
    methods' docstrings, by ``BLOCKS[name]``; return ``obj``.

    A placeholder without a block raises KeyError at import, so a typo cannot ship.
    """
    _fill(obj)
    if isinstance(obj, type):
        for value in vars(obj).values():
            function = getattr(value, "__func__", value)  # a staticmethod's or classmethod's
            if callable(function) and getattr(function, "__doc__", None):
                _fill(function)
    return obj


def _fill(obj):
    if not obj.__doc__ or "%(" not in obj.__doc__:
        return
    lines = []
    for line in obj.__doc__.split("\n"):
        stripped = line.strip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            indent = line[: len(line) - len(line.lstrip())]
            block = textwrap.dedent(BLOCKS[stripped[2:-2]])
            lines.extend(indent + entry if entry else entry for entry in block.split("\n"))
        else:
            lines.append(line)
    obj.__doc__ = "\n".join(lines)
