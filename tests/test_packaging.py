"""What a wheel holds: the package as users install it, not the editable source tree the
other tests import."""

import ast
import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import sklearn_pillars

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sklearn_pillars"


def _stub():
    return ast.parse((PACKAGE / "__init__.pyi").read_text(encoding="utf-8"))


def test_the_stub_lists_every_public_name_where_it_is_defined():
    stub = _stub()
    (listed,) = [
        node.value
        for node in stub.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "__all__"
    ]
    assert ast.literal_eval(listed) == sklearn_pillars.__all__
    imported = {
        alias.name: node.module
        for node in stub.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert sorted(imported) == sorted(sklearn_pillars.__all__)
    for name, module in imported.items():
        home = importlib.import_module(f"sklearn_pillars.{module}")
        assert getattr(sklearn_pillars, name) is getattr(home, name), name


@pytest.mark.slow
def test_the_wheel_holds_every_file_the_package_reads(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(
        PACKAGE, source / "sklearn_pillars", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("sklearn_pillars-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    files = {
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert {"sklearn_pillars/__init__.pyi", "sklearn_pillars/py.typed"} <= files
    assert "sklearn_pillars/report/review.html" in files
    assert sorted(files - names) == []
    # the installed package finds its public names (read from the stub) and its page
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlib import resources\n"
            "import sklearn_pillars as sp\n"
            "print(sp.__file__)\n"
            "page = resources.files('sklearn_pillars.report').joinpath('review.html')\n"
            "print(sp.LayeredPeelClassifier.__name__, len(sp.__all__),\n"
            "      '</html>' in page.read_text())\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(unpacked)},
        cwd=tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    where, what = shown.stdout.splitlines()
    assert Path(where).is_relative_to(unpacked)
    assert what == f"LayeredPeelClassifier {len(sklearn_pillars.__all__)} True"
