"""Private scikit-learn names are used through sklearn_pillars.utils.fixes only."""

import re
from pathlib import Path

import sklearn_pillars
from sklearn_pillars.utils import fixes

PACKAGE = Path(sklearn_pillars.__file__).parent
# a private module (sklearn.x._y) or a private name imported from any scikit-learn module
PRIVATE = re.compile(r"sklearn\.[a-z_.]*\._|from sklearn[\w.]* import [^#\n]*\b_[a-z]")


def private_uses(text):
    return [line for line in text.splitlines() if PRIVATE.search(line)]


def test_the_pattern_sees_private_imports():
    assert private_uses("from sklearn.utils._param_validation import Interval")
    assert private_uses("from sklearn.utils.validation import check_is_fitted, _check_x")
    assert private_uses('TYPES = ("sklearn.neighbors._kd_tree.",)')
    assert not private_uses("from sklearn.utils.validation import check_is_fitted")
    assert not private_uses("from ..utils.fixes import StrOptions")


def test_private_scikit_learn_names_appear_only_in_the_compat_module():
    found = {
        path.name: private_uses(path.read_text())
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "utils" / "fixes.py"
    }
    assert not {name: lines for name, lines in found.items() if lines}
    assert private_uses((PACKAGE / "utils" / "fixes.py").read_text())


def test_the_compat_names_are_scikit_learns():
    from sklearn.utils import _param_validation, metaestimators, validation

    assert fixes.StrOptions is _param_validation.StrOptions
    assert fixes.Interval is _param_validation.Interval
    assert fixes._BaseComposition is metaestimators._BaseComposition
    assert fixes._check_feature_names_in is validation._check_feature_names_in
    assert fixes.BaseComposition is metaestimators._BaseComposition
    assert fixes.check_feature_names_in is validation._check_feature_names_in
