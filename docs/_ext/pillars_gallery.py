"""sphinx-gallery helpers of the sklearn-pillars docs, named by string in docs/conf.py.

They live in a module of their own (not in conf.py) so that Sphinx can pickle the
configuration, which names them, and rebuild incrementally.
"""

from pathlib import Path

#: The gallery's order: from the data to the model, then a raw frame; others after, by name.
EXAMPLE_ORDER = [
    "synthetic_tiles.py",
    "reproduce_notebook.py",
    "grid_search_clusters.py",
    "save_and_reuse.py",
    "find_the_lattice.py",
]


class ExampleOrder:
    """Sort key of the gallery's examples: EXAMPLE_ORDER, then any other, by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        rank = EXAMPLE_ORDER.index(name) if name in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
        return rank, name


def example_argv(gallery_conf, script_vars):
    """Run each example without arguments, as ``python examples/NAME.py`` would.

    sphinx-gallery does not define ``__file__`` in an example (its issues #166 and
    #212); two examples look for the real arrays beside the repository through it, as a
    script run from the command line may, so it is defined here as the script's path.
    """
    script_vars["example_globals"]["__file__"] = str(script_vars["src_file"])
    return []
