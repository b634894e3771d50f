"""The example scripts run and say what they should."""

import re
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    "script, expected",
    [
        ("synthetic_tiles.py", "stitching kinds"),
        ("reproduce_notebook.py", "agreement with"),
        ("save_and_reuse.py", "most inconsistent tiles"),
        ("find_the_lattice.py", "true grid 12 x 16, rotated +3."),
        ("grid_search_clusters.py", "best: {'irregular__threshold'"),
        ("measure_on_your_arrays.py", "225 labelled tiles: accuracy"),
    ],
)
@pytest.mark.slow
def test_example_runs(script, expected, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [script])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    out = capsys.readouterr().out
    assert expected in out


def test_the_notebook_example_reproduces_the_notebook(capsys, monkeypatch):
    shared = EXAMPLES.parent / ".." / "shared" / "data"
    if not (shared / "labels" / "seed_labels.csv").is_file():
        pytest.skip("../shared/data is not present: the example runs on synthetic arrays")
    monkeypatch.setattr(sys, "argv", ["reproduce_notebook.py"])
    runpy.run_path(str(EXAMPLES / "reproduce_notebook.py"), run_name="__main__")
    out = capsys.readouterr().out
    match = re.search(r"agreement with the notebook's own labels: ([\d.]+)%", out)
    assert match, out
    assert float(match.group(1)) >= 99.0
