#!/usr/bin/env python3
"""Set up a local virtualenv (.venv) when missing and run a project task.

    python3 tasks.py demo            # inspect built-in synthetic arrays: report in demo-report/
    python3 tasks.py test [ARGS...]  # ruff check, ruff format --check + the whole test suite
    python3 tasks.py test --fast     # the same without the tests marked slow (over ~1.5 s each:
                                     # subprocess loops, browsers, the real arrays' figures)
    python3 tasks.py test-min        # the tests with the oldest supported dependencies
    python3 tasks.py docs [ARGS...]  # the Sphinx site in docs/_build/html, warnings as errors
                                     # (its own .venv-docs; runs every example; ARGS go to
                                     # sphinx-build, e.g. -E to rebuild every page)

Needs only Python >= 3.10 with pip and venv; everything else is installed into .venv.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"


def python_of(venv_dir):
    return (
        venv_dir
        / ("Scripts" if os.name == "nt" else "bin")
        / ("python.exe" if os.name == "nt" else "python")
    )


PYTHON = python_of(VENV)


def run(*args):
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.call([str(a) for a in args], cwd=ROOT)


def ensure_venv(extra, venv_dir=VENV, constraints=None):
    """Create a virtualenv and (re)install the project with `extra` when its inputs changed."""
    python = python_of(venv_dir)
    if not python.exists():
        print(f"creating virtualenv {venv_dir}", flush=True)
        try:
            venv.create(venv_dir, with_pip=True)
        except Exception as exc:  # e.g. Debian/Ubuntu without the python3-venv package
            sys.exit(
                f"could not create {venv_dir} ({exc}); on Debian or Ubuntu install the "
                f"python3-venv package first"
            )
        if run(python, "-m", "pip", "install", "-q", "--upgrade", "pip"):
            sys.exit(f"could not upgrade pip in {venv_dir}")
    spec = f".[{extra}]" if extra else "."
    pinned = ["-c", constraints] if constraints else []
    inputs = (ROOT / "pyproject.toml").read_bytes() + spec.encode()
    if constraints:
        inputs += Path(constraints).read_bytes()
    digest = hashlib.sha256(inputs).hexdigest()
    stamp = venv_dir / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return python
    if run(python, "-m", "pip", "install", "-q", *pinned, "-e", spec):
        sys.exit(f"could not install {spec} into {venv_dir}")
    stamp.write_text(digest)
    return python


def demo(args):
    ensure_venv("cli")
    status = run(
        PYTHON,
        "-m",
        "sklearn_pillars",
        "inspect",
        "--demo",
        "--out",
        "demo-report",
        "--force",
        *args,
    )
    if status == 0:
        print(f"open {ROOT / 'demo-report' / 'index.html'} in a browser")
    return status


def test(args):
    ensure_venv("dev")
    if "--fast" in args:  # pytest reports how many tests it left out ("N deselected")
        args = [a for a in args if a != "--fast"] + ["-m", "not slow"]
    status = run(PYTHON, "-m", "ruff", "check", ".")
    status = status or run(PYTHON, "-m", "ruff", "format", "--check", ".")
    return status or run(PYTHON, "-m", "pytest", *args)


def test_min(args):
    python = ensure_venv("dev", ROOT / ".venv-min", ROOT / "constraints" / "minimum.txt")
    return run(python, "-m", "pytest", "-W", "ignore::DeprecationWarning", *args)


def docs(args):
    python = ensure_venv("docs", ROOT / ".venv-docs")
    out = ROOT / "docs" / "_build" / "html"
    status = run(
        python.parent / "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        *args,
        ROOT / "docs",
        out,
    )
    if status == 0:
        print(f"open {out / 'index.html'} in a browser")
    return status


TASKS = {"demo": demo, "test": test, "test-min": test_min, "docs": docs}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))
