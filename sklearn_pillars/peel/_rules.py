"""Rules that choose the defect cluster of a cluster stage."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator

from ..utils.fixes import Interval


def smallest_cluster(cluster_labels, embedding=None):
    """The default selection rule of a cluster stage: the cluster with the fewest tiles.

    Ties go to the cluster that appears first in ``cluster_labels`` (as with
    ``min`` over a ``collections.Counter``). When the tiles fall into a
    single cluster there is nothing to tell apart, and no cluster is chosen.
    Otherwise a cluster is always chosen, whether or not its tiles hold a
    defect. This is the rule of the ``"notebook"`` preset
    (``rule="smallest"`` of :class:`~sklearn_pillars.PeelStage`).

    Parameters
    ----------
    cluster_labels : ndarray of shape (n_tiles,)
        Cluster of each tile.
    embedding : ndarray of shape (n_tiles, n_components), default=None
        The tiles' scaled, reduced features (unused by this rule; accepted so
        that every rule is called alike).

    Returns
    -------
    list of int
        The chosen cluster: one label, or none when there is a single
        cluster.

    See Also
    --------
    SeparatedClusters : Peels only the clusters that lie far from the bulk.
    PeelStage : Calls a rule on its training tiles' clusters.

    Examples
    --------
    >>> from sklearn_pillars import smallest_cluster
    >>> smallest_cluster([0, 0, 2, 1, 1, 2, 0])
    [2]
    >>> smallest_cluster([3, 3, 3])
    []
    """
    ids, first, counts = np.unique(cluster_labels, return_index=True, return_counts=True)
    if len(ids) < 2:
        return []
    order = np.argsort(first, kind="stable")  # order of first appearance
    ids, counts = ids[order], counts[order]
    return [int(ids[np.argmin(counts)])]


class SeparatedClusters(BaseEstimator):
    """A selection rule that peels only clusters lying far from the bulk of the tiles.

    A cluster is chosen when the median of its tiles lies at least
    ``min_distance`` from the median of all the tiles (the typical tile, as
    long as defects are fewer than half), in the units of the space the
    tiles were clustered in. With
    features on a common scale, such as the refined preset's robust
    deviations from each array's typical tile, the rule reads "the typical
    tile of this cluster is at least ``min_distance`` deviations away from
    the typical tile": tiles that are all alike split into neighbouring
    clusters a couple of deviations apart, so an array without the defect
    loses nothing, while a cluster of defects lies far out.

    Parameters
    ----------
    min_distance : float, default=6.0
        Distance between the medians of a cluster and of all the tiles from
        which the cluster is peeled.
    max_share : float, default=0.5
        A cluster holding more than this share of the tiles is never peeled.

    See Also
    --------
    smallest_cluster : The rule that always peels the smallest cluster.
    PeelStage : Calls the rule on its training tiles' clusters.
    make_stages : The ``"refined"`` preset peels every cluster stage with this rule.

    Notes
    -----
    An instance is called as ``rule(cluster_labels, embedding)`` and returns
    the list of chosen cluster labels (possibly empty); it has no fitted
    state. The parameters are validated on each call (an invalid one raises
    ``InvalidParameterError``, a ValueError).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = np.r_[rng.normal(0, 1, (95, 2)), rng.normal(12, 1, (5, 2))]
    >>> labels = np.r_[np.zeros(95, int), np.ones(5, int)]
    >>> SeparatedClusters()(labels, Z)
    [1]
    >>> Z = rng.normal(0, 1, (100, 2))
    >>> SeparatedClusters()((Z[:, 0] > 1).astype(int), Z)
    []
    """

    _parameter_constraints = {
        "min_distance": [Interval(Real, 0, None, closed="left")],
        "max_share": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, min_distance=6.0, max_share=0.5):
        self.min_distance = min_distance
        self.max_share = max_share

    def distances(self, cluster_labels, embedding):
        """Distance of each cluster's median from the median of all the tiles.

        Parameters
        ----------
        cluster_labels : array-like of shape (n_tiles,)
            Cluster of each tile.
        embedding : array-like of shape (n_tiles, n_components)
            The tiles in the space they were clustered in.

        Returns
        -------
        ids : ndarray of shape (n_clusters,)
            The cluster labels found, sorted.
        distances : ndarray of shape (n_clusters,)
            Euclidean distance of each cluster's (per-coordinate) median from
            that of all the tiles.
        """
        Z = np.asarray(embedding, dtype=np.float64)
        cluster_labels = np.asarray(cluster_labels)
        ids = np.unique(cluster_labels)
        center = np.median(Z, axis=0)
        medians = np.array([np.median(Z[cluster_labels == i], axis=0) for i in ids])
        return ids, np.linalg.norm(medians - center, axis=1)

    def __call__(self, cluster_labels, embedding):
        """The clusters to peel: far enough out, and not too large.

        Parameters
        ----------
        cluster_labels : array-like of shape (n_tiles,)
            Cluster of each tile.
        embedding : array-like of shape (n_tiles, n_components)
            The tiles in the space they were clustered in.

        Returns
        -------
        list of int
            The labels of the clusters whose median lies at least
            ``min_distance`` from all the tiles' and that hold at most
            ``max_share`` of the tiles; possibly empty.
        """
        self._validate_params()
        cluster_labels = np.asarray(cluster_labels)
        ids, distances = self.distances(cluster_labels, embedding)
        counts = np.array([np.sum(cluster_labels == i) for i in ids])
        chosen = (distances >= self.min_distance) & (counts <= self.max_share * counts.sum())
        return [int(i) for i in ids[chosen]]


_RULES = {"smallest": lambda: smallest_cluster, "separated": SeparatedClusters}
