"""The example scripts run and say what they should."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script, expected", [
    ("synthetic_tiles.py", "stitching kinds"),
    ("reproduce_notebook.py", "agreement with"),
    ("save_and_reuse.py", "most inconsistent tiles"),
])
def test_example_runs(script, expected, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [script])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    assert expected in capsys.readouterr().out
