#!/usr/bin/env python3
"""Set up a local virtualenv (.venv) when missing and run a project task.

    python3 tasks.py demo            # inspect built-in synthetic arrays: report in demo-report/
    python3 tasks.py test [ARGS...]  # ruff check + the whole test suite (ARGS go to pytest)

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
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*args):
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.call([str(a) for a in args], cwd=ROOT)


def ensure_venv(extra):
    """Create .venv and (re)install the project with `extra` when pyproject.toml changed."""
    if not PYTHON.exists():
        print(f"creating virtualenv {VENV}", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as exc:  # e.g. Debian/Ubuntu without the python3-venv package
            sys.exit(f"could not create {VENV} ({exc}); on Debian or Ubuntu install the "
                     f"python3-venv package first")
        if run(PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip"):
            sys.exit("could not upgrade pip in .venv")
    spec = f".[{extra}]" if extra else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    if run(PYTHON, "-m", "pip", "install", "-q", "-e", spec):
        sys.exit(f"could not install {spec} into .venv")
    stamp.write_text(digest)


def demo(args):
    ensure_venv("cli")
    status = run(PYTHON, "-m", "sklearn_pillars", "inspect", "--demo", "--out", "demo-report",
                 "--force", *args)
    if status == 0:
        print(f"open {ROOT / 'demo-report' / 'index.html'} in a browser")
    return status


def test(args):
    ensure_venv("dev")
    status = run(PYTHON, "-m", "ruff", "check", ".")
    return status or run(PYTHON, "-m", "pytest", *args)


TASKS = {"demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))
