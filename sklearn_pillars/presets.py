"""Named stage lists of :class:`~sklearn_pillars.LayeredPeelClassifier`, built afresh each time."""

from __future__ import annotations

from sklearn.cluster import KMeans
from sklearn.neighbors import LocalOutlierFactor

from .constants import COLLAPSED, IRREGULAR, MISSING, STITCHING
from .stages import OutlierStage, PeelStage, SeparatedClusters
from .transformers import (
    CenterIntensity,
    CollapsedContext,
    ContextualFeatures,
    DarknessArea,
    LineContext,
    MissingContext,
    ShapeContext,
    StitchingFeatures,
)

#: Names of the stage presets of :class:`~sklearn_pillars.LayeredPeelClassifier` and
#: :func:`~sklearn_pillars.make_stages`: ``"notebook"`` (the default: four layers scoring
#: each tile against fixed references, reproducing the original analysis notebook's labels
#: exactly) and ``"refined"`` (each tile compared with the other tiles of its own array).
PRESETS = ("notebook", "refined")


def _notebook_stages():
    def kmeans():
        return KMeans(n_clusters=3, random_state=42, n_init=10)

    return [
        ("missing", PeelStage(CenterIntensity(), kmeans(), label=MISSING)),
        ("collapsed", PeelStage(DarknessArea(), kmeans(), label=COLLAPSED)),
        ("stitching", PeelStage(StitchingFeatures(), kmeans(), label=STITCHING)),
        (
            "irregular",
            OutlierStage(
                ContextualFeatures(),
                LocalOutlierFactor(n_neighbors=20, contamination="auto", novelty=True),
                label=IRREGULAR,
            ),
        ),
    ]


def _refined_stages():
    def kmeans(n_clusters=3):
        return KMeans(n_clusters=n_clusters, random_state=42, n_init=10)

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
                LocalOutlierFactor(n_neighbors=100, novelty=True),
                label=IRREGULAR,
                threshold=2.5,
            ),
        ),
    ]


_FACTORIES = {"notebook": _notebook_stages, "refined": _refined_stages}


def make_stages(preset="notebook"):
    """A new list of the stages of a preset, sharing no estimator with any other call.

    Parameters
    ----------
    preset : {"notebook", "refined"}, default="notebook"
        ``"notebook"``: the four layers of the original analysis notebook,
        reproducing its labels exactly. ``"refined"``: features that compare
        each tile with its own array and a rule that peels only clusters
        that stand apart (see :class:`~sklearn_pillars.LayeredPeelClassifier`).

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
    >>> [name for name, _ in make_stages("notebook")]
    ['missing', 'collapsed', 'stitching', 'irregular']
    >>> make_stages("notebook")[0][1] is make_stages("notebook")[0][1]
    False
    """
    if preset not in _FACTORIES:
        raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    return _FACTORIES[preset]()
