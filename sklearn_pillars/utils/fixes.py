"""Every private scikit-learn name the package relies on, in one place.

scikit-learn's public API lacks a few pieces that estimators written to its
conventions need: the parameter constraints checked by ``_validate_params``
(``Interval``, ``StrOptions``), the named-sub-estimator machinery of
:class:`~sklearn.pipeline.Pipeline` (``_BaseComposition``), the check of
``get_feature_names_out``'s ``input_features``, and the module names of the
search trees a fitted :class:`~sklearn.neighbors.LocalOutlierFactor` holds
(needed to load skops files safely). They are imported here only, so that a
scikit-learn release that moves one breaks this module, with a message that
says so, and not the package at random places; CI runs the tests against the
oldest supported and the newest scikit-learn."""

from __future__ import annotations

import sklearn

try:
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.metaestimators import _BaseComposition
    from sklearn.utils.validation import _check_feature_names_in
except ImportError as exc:  # pragma: no cover - only with an unsupported scikit-learn
    raise ImportError(
        f"sklearn-pillars needs private scikit-learn helpers that scikit-learn "
        f"{sklearn.__version__} no longer has ({exc}); install a scikit-learn release "
        f"that sklearn-pillars supports (see its pyproject.toml) or a newer sklearn-pillars"
    ) from exc


# module prefixes of the search trees and distance metrics of a fitted
# LocalOutlierFactor (rebuilt from arrays when loaded, they hold no code)
NEIGHBOR_TREE_MODULES = (
    "sklearn.neighbors._kd_tree.",
    "sklearn.neighbors._ball_tree.",
    "sklearn.metrics._dist_metrics.",
)


#: Public names of the private ones above, for the rest of the package.
BaseComposition = _BaseComposition
check_feature_names_in = _check_feature_names_in

__all__ = [
    "BaseComposition",
    "check_feature_names_in",
    "NEIGHBOR_TREE_MODULES",
    "Interval",
    "StrOptions",
    "_BaseComposition",
    "_check_feature_names_in",
]
