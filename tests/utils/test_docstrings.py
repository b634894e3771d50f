"""Shared docstring text is written once (sklearn_pillars.utils.docstrings) and filled in."""

import inspect
from pathlib import Path

import pytest

import sklearn_pillars
from sklearn_pillars.utils.docstrings import BLOCKS, fill_doc

PACKAGE = Path(sklearn_pillars.__file__).parent


def public_objects():
    for name in sklearn_pillars.__all__:
        obj = getattr(sklearn_pillars, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield name, obj


@pytest.mark.parametrize(("name", "obj"), list(public_objects()), ids=lambda v: str(v)[:40])
def test_no_placeholder_is_left_in_a_public_docstring(name, obj):
    assert "%(" not in (obj.__doc__ or ""), name


def test_each_block_is_written_once_in_the_source():
    for name, block in BLOCKS.items():
        first_entry = block.splitlines()[0] + "\n" + block.splitlines()[1]
        hits = [p.name for p in PACKAGE.rglob("*.py") if first_entry in p.read_text("utf-8")]
        assert hits == ["docstrings.py"], (name, hits)


def test_the_transformers_get_the_shared_parameters():
    assert BLOCKS["tile_parameters"] in sklearn_pillars.CenterIntensity.__doc__
    assert BLOCKS["array_parameters"] in sklearn_pillars.LineContext.__doc__
    assert BLOCKS["fitted_input"] in sklearn_pillars.PillarFeatures.__doc__


def test_fill_doc_replaces_whole_lines_and_refuses_an_unknown_block():
    class Documented:
        """Title.

        Attributes
        ----------
        %(fitted_input)s
        """

    text = fill_doc(Documented).__doc__
    assert "n_features_in_ : int" in text and "%(" not in text

    class Misspelt:
        """Title.

        %(no_such_block)s
        """

    with pytest.raises(KeyError, match="no_such_block"):
        fill_doc(Misspelt)


def test_no_placeholder_is_left_in_any_docstring_of_the_package():
    import importlib
    import pkgutil

    left = []
    for info in pkgutil.walk_packages(sklearn_pillars.__path__, "sklearn_pillars."):
        if info.name.endswith("__main__") or info.name.endswith(".docstrings"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            members = [obj]
            if inspect.isclass(obj):
                members += [getattr(v, "__func__", v) for v in vars(obj).values()]
            left += [name for m in members if "%(" in (getattr(m, "__doc__", None) or "")]
    assert not left


def test_a_method_gets_its_block_at_its_own_indentation():
    class Stage:
        """Title."""

        def fit(self, X, y=None):
            """Fit.

            Parameters
            ----------
            %(stage_fit_X)s
            """

    text = fill_doc(Stage).fit.__doc__
    assert "\n            X : array-like of shape (n_tiles, n_features)\n" in text
    assert "\n                Ignored." in text and "%(" not in text
