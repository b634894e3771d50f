"""Named stage lists of :class:`~sklearn_pillars.LayeredPeelClassifier`, built afresh each time."""

from __future__ import annotations

import warnings

from ..constants import (
    COLLAPSED,
    DEFAULT_PRESET,
    IRREGULAR,
    MISSING,
    NOTEBOOK_PRESET,
    PRESETS,
    REFINED_PRESET,
    STITCHING,
)
from ..exceptions import NotebookGridWarning
from ..features import (
    CenterIntensity,
    CollapsedContext,
    ContextualFeatures,
    DarknessArea,
    LineContext,
    MissingContext,
    ShapeContext,
    StitchingFeatures,
)
from ._outlier import OutlierStage
from ._rules import SeparatedClusters
from ._stages import PeelStage, default_clusterer, default_detector


def _notebook_stages():
    kmeans = default_clusterer
    return [
        ("missing", PeelStage(CenterIntensity(), kmeans(), label=MISSING)),
        ("collapsed", PeelStage(DarknessArea(), kmeans(), label=COLLAPSED)),
        ("stitching", PeelStage(StitchingFeatures(), kmeans(), label=STITCHING)),
        (
            "irregular",
            OutlierStage(
                ContextualFeatures(),
                default_detector(),
                label=IRREGULAR,
            ),
        ),
    ]


def _refined_stages():
    kmeans = default_clusterer
    return [
        (
            "missing",
            PeelStage(
                MissingContext(),
                kmeans(),
                rule=SeparatedClusters(4.5),
                label=MISSING,
                n_components=None,
                scale=False,
            ),
        ),
        (
            "collapsed",
            PeelStage(
                CollapsedContext(),
                kmeans(),
                rule=SeparatedClusters(7.0),
                label=COLLAPSED,
                n_components=None,
                scale=False,
            ),
        ),
        (
            "stitching",
            PeelStage(
                LineContext(),
                kmeans(12),
                rule=SeparatedClusters(4.0),
                label=STITCHING,
                n_components=None,
                scale=False,
            ),
        ),
        (
            "irregular",
            OutlierStage(
                ShapeContext(),
                default_detector(n_neighbors=100),
                label=IRREGULAR,
                threshold=2.5,
            ),
        ),
    ]


_FACTORIES = {NOTEBOOK_PRESET: _notebook_stages, REFINED_PRESET: _refined_stages}


def make_stages(preset=DEFAULT_PRESET):
    """A new list of the stages of a preset, sharing no estimator with any other call.

    Parameters
    ----------
    preset : {"refined", "notebook"}, default="refined"
        ``"refined"``: features that compare each tile with its own array
        and a rule that peels only clusters that stand apart (see
        :class:`~sklearn_pillars.LayeredPeelClassifier`). ``"notebook"``:
        the four layers of the original analysis notebook, reproducing its
        labels exactly on its uniform grid.

    Returns
    -------
    list of (str, stage)
        ``("missing", PeelStage)``, ``("collapsed", PeelStage)``,
        ``("stitching", PeelStage)``, ``("irregular", OutlierStage)``.

    Raises
    ------
    ValueError
        If ``preset`` is not one of :data:`~sklearn_pillars.PRESETS`.

    See Also
    --------
    LayeredPeelClassifier : Takes a preset's name or a (changed) stage list.
    PRESETS : The preset names.

    Examples
    --------
    >>> from sklearn_pillars import make_stages
    >>> [name for name, _ in make_stages()]
    ['missing', 'collapsed', 'stitching', 'irregular']
    >>> make_stages("notebook")[0][1] is make_stages("notebook")[0][1]
    False
    """
    if preset not in _FACTORIES:
        raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    return _FACTORIES[preset]()


def preset_of(model):
    """The preset name of a model (fitted or not), or None for a stage list."""
    preset = getattr(model, "preset_", None)
    if preset is None and isinstance(getattr(model, "stages", None), str):
        preset = model.stages
    return preset


def notebook_lattice_note(model, grid_size):
    """The :class:`NotebookGridWarning` message for a ``"notebook"`` model on found lattices.

    Parameters
    ----------
    model : LayeredPeelClassifier
        The model that classifies (or is fitted on) the tiles.
    grid_size : int, "auto" or None
        How the tiles are cut: ``"auto"`` (or None with a lattice given)
        means around a found lattice.

    Returns
    -------
    str or None
        The message, or None when the model's preset is not ``"notebook"``
        or the grid is uniform.
    """
    if preset_of(model) != NOTEBOOK_PRESET or not (grid_size is None or grid_size == "auto"):
        return None
    return (
        "the 'notebook' preset reproduces the original notebook on its uniform grid; on "
        "tiles cut around a found lattice its layers peel the wrong clusters and its "
        "labels are unreliable. Pass grid_size=21 (--grid-size 21) to reproduce the "
        "notebook, or use the default 'refined' preset."
    )


def warn_notebook_on_lattice(model, grid_size, stacklevel=3):
    """Warn (:class:`NotebookGridWarning`) when a ``"notebook"`` model meets found lattices.

    ``model`` and ``grid_size`` as for :func:`notebook_lattice_note`;
    ``stacklevel`` as for :func:`warnings.warn`.
    """
    note = notebook_lattice_note(model, grid_size)
    if note is not None:
        warnings.warn(note, NotebookGridWarning, stacklevel=stacklevel)
