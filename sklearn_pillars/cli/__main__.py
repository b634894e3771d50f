"""``python -m sklearn_pillars.cli``: the command, as ``python -m sklearn_pillars``."""

from ._main import run

if __name__ == "__main__":
    run()
