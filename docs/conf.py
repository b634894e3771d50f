"""Sphinx configuration of the sklearn-pillars documentation.

Build it with ``python3 tasks.py docs`` (a virtualenv ``.venv-docs`` with the ``docs``
extra; ``sphinx-build -W --keep-going -b html docs docs/_build/html``: warnings are errors).
The gallery runs every script in ``examples/`` on every full build.
"""

import re
import sys
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

import sklearn_pillars
from sklearn_pillars._version import __version__

HERE = Path(__file__).resolve().parent

project = "sklearn-pillars"
author = "the sklearn-pillars developers"
copyright = "the sklearn-pillars developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
default_role = "literal"  # `x` in a docstring is code, as in the package's docstrings

# No intersphinx: this build has to work offline (numpy.org, scikit-learn.org and
# docs.python.org are not reachable from the machines it runs on). To link to them, add
# "sphinx.ext.intersphinx" above and
# intersphinx_mapping = {"python": ("https://docs.python.org/3", None),
#                        "numpy": ("https://numpy.org/doc/stable", None),
#                        "sklearn": ("https://scikit-learn.org/stable", None)}

# -- autodoc, autosummary, numpydoc ----------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections say the types
autodoc_member_order = "groupwise"
numpydoc_show_class_members = False  # the class template lists members: no duplicates
numpydoc_class_members_toctree = False

# -- MyST (the design notes in docs/*.md) ----------------------------------------------------
myst_heading_anchors = 3

# -- sphinx-gallery --------------------------------------------------------------------------
sys.path.insert(0, str(HERE / "_ext"))  # pillars_gallery: the order and argv of the examples

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/",  # execute every example, not only plot_*.py
    "within_subsection_order": "pillars_gallery.ExampleOrder",
    "image_scrapers": ("matplotlib",),
    "reset_argv": "pillars_gallery.example_argv",
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "capture_repr": (),  # no repr of a block's last expression (e.g. a figure title)
    "doc_module": ("sklearn_pillars",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_pillars": None},
}

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-pillars {version}"
toc_object_entries_show_parents = "hide"  # "fit()", not "LayeredPeelClassifier.fit()"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_show_sourcelink = False
html_static_path = []


# -- the API page lists everything in sklearn_pillars.__all__ --------------------------------
def check_api_page(app):
    """Warn (an error with -W) about a public name that api.rst does not document."""
    text = (HERE / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s+~?(?:sklearn_pillars\.)?(\w+)\s*$", text, re.MULTILINE))
    listed |= set(
        re.findall(r"^\.\. auto\w+:: (?:sklearn_pillars\.)?(\w+)\s*$", text, re.MULTILINE)
    )
    missing = sorted(set(sklearn_pillars.__all__) - listed - {"__version__"})
    if missing:
        from sphinx.util import logging

        logging.getLogger(__name__).warning(
            "docs/api.rst does not list these names of sklearn_pillars.__all__: %s",
            ", ".join(missing),
        )


# -- inherited scikit-learn methods ---------------------------------------------------------
# The estimators' pages show the methods they inherit from scikit-learn (get_params,
# set_params, fit_transform, score, ...), except the metadata-routing ones
# (get_metadata_routing, set_fit_request, set_score_request, ...) and set_output: their
# docstrings link into scikit-learn's own user guide (:ref:`metadata_routing`,
# :ref:`df_output_transform`, the 'meta-estimator' glossary term), which cannot be
# resolved without intersphinx, that is, offline.
SKLEARN_LINKED_MODULES = ("sklearn.utils._metadata_requests", "sklearn.utils._set_output")


def skip_sklearn_linked_members(app, what, name, obj, skip, options):
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module.startswith(SKLEARN_LINKED_MODULES):
        return True
    return None


# -- constants: their "#:" comment where they are defined -----------------------------------
def constant_docstrings(app, what, name, obj, options, lines):
    """The doc comment of a constant re-exported by sklearn_pillars, not its type's docstring.

    autodoc looks for a ``#:`` comment in the module a name is documented in
    (``sklearn_pillars``); the comments are in the modules that define the values.
    Without one, the value alone is shown (not, say, tuple's docstring).
    """
    if what != "data" or not name.startswith("sklearn_pillars."):
        return
    short = name.rsplit(".", 1)[-1]
    for modname in sorted(m for m in sys.modules if m.startswith("sklearn_pillars.")):
        if getattr(sys.modules[modname], short, None) is obj:
            comment = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", short))
            if comment:
                lines[:] = list(comment)
                return
    lines.clear()  # what autodoc found is the docstring of the value's type


def setup(app):
    app.connect("builder-inited", check_api_page)
    # before numpydoc (priority 500) rewrites the docstring
    app.connect("autodoc-process-docstring", constant_docstrings, priority=400)
    app.connect("autodoc-skip-member", skip_sklearn_linked_members)
