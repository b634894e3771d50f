"""Import paths users have: every public name, and every path the docs, README and examples use."""

import importlib
import re
from pathlib import Path

import pytest

import sklearn_pillars

ROOT = Path(__file__).resolve().parents[1]
#: Paths the documentation, README and examples used in 0.2, before the subpackages.
PATHS_OF_0_2 = [
    "sklearn_pillars.persist.load_model",
    "sklearn_pillars.persist.save_model",
    "sklearn_pillars.sanity.drift_warnings",
    "sklearn_pillars.report.defect_map",
    "sklearn_pillars.report.defect_map_png",
    "sklearn_pillars.report.write_report",
    "sklearn_pillars.report.yield_counts",
    "sklearn_pillars.report_stream.StreamingReport",
    "sklearn_pillars.tileset.pack_tiles",
    "sklearn_pillars.tileset.unpack_tiles",
    "sklearn_pillars.synthetic.CONDITIONS",
    "sklearn_pillars.lattice.find_lattice",
    "sklearn_pillars.io.read_image",
    "sklearn_pillars.io.find_array_images",
    "sklearn_pillars.features.TileBatch",
    "sklearn_pillars.context.array_context",
    "sklearn_pillars.context.robust_z",
    "sklearn_pillars.cli.main",
    "sklearn_pillars.cli.run",  # the command, as the console script runs it
    "sklearn_pillars.classifier.LayeredPeelClassifier",
    "sklearn_pillars.transformers.MissingContext",
    "sklearn_pillars.stages.PeelStage",
]


def documented_paths():
    """``from sklearn_pillars.x import a`` and ``sklearn_pillars.x.y`` in docs, README, examples."""
    texts = [
        ROOT / "README.md",
        *sorted(
            p
            for p in (ROOT / "docs").rglob("*.*")
            if not {"_build", "generated", "auto_examples"} & set(p.parts)
        ),
        *(ROOT / "examples").glob("*.py"),
    ]
    paths = set()
    for path in texts:
        if path.suffix not in {".md", ".rst", ".py"}:
            continue
        text = path.read_text(encoding="utf-8")
        imports = re.findall(r"from (sklearn_pillars[\w.]*) import \(([\w,\s]+)\)", text)
        imports += re.findall(r"from (sklearn_pillars[\w.]*) import ([\w, ]+)$", text, re.M)
        for module, names in imports:
            paths |= {f"{module}.{n.strip()}" for n in names.split(",") if n.strip()}
        paths |= set(re.findall(r"\bsklearn_pillars(?:\.[A-Za-z_]\w*){2,}", text))
    return sorted(paths)


def resolve(path):
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def test_the_docs_are_read():
    found = documented_paths()
    assert "sklearn_pillars.persist.load_model" in found and len(found) > 10


@pytest.mark.parametrize("path", sorted(set(PATHS_OF_0_2) | set(documented_paths())))
def test_a_documented_path_imports(path):
    assert resolve(path) is not None


@pytest.mark.parametrize("name", sklearn_pillars.__all__)
def test_every_public_name_is_there(name):
    assert getattr(sklearn_pillars, name) is not None
