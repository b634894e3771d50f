"""Load the original notebook's functions from ../shared/seed at run time.

The notebook is the specification: comparing against its own functions (not
a copy of them) is the strongest test of faithfulness. Nothing of it is
stored in this repository; when ../shared is absent, the tests that need it
skip.
"""

from __future__ import annotations

import re
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "seed"
NOTEBOOK = SEED_DIR / "layered_clustering_notebook.txt"

FEATURE_FUNCTIONS = (
    "extract_center_intensity",
    "extract_darkness_area",
    "extract_stitching_features",
    "compute_rotation_symmetry",
    "compute_base_features",
    "compute_neighbor_deviation",
    "compute_anisotropy",
    "compute_curvature_irregularity",
    "compute_radial_profile",
    "compute_radial_deviation",
)


def available():
    return NOTEBOOK.is_file()


def function_source(text, name):
    """The source of top-level function `name`: its def line up to the next unindented line."""
    match = re.search(rf"^def {name}\(", text, flags=re.MULTILINE)
    if match is None:
        raise LookupError(f"{name} not found in {NOTEBOOK}")
    lines = text[match.start() :].splitlines()
    body = [lines[0]]
    for line in lines[1:]:
        if line.strip() and not line[0].isspace():
            break
        body.append(line)
    return "\n".join(body) + "\n"


def load_functions(names=FEATURE_FUNCTIONS, extra_names=()):
    """Execute the named notebook functions in a namespace with the notebook's imports."""
    import cv2
    import numpy as np
    from scipy import ndimage
    from skimage.metrics import structural_similarity as ssim

    text = NOTEBOOK.read_text(encoding="utf-8")
    namespace = {"cv2": cv2, "np": np, "ndimage": ndimage, "ssim": ssim}
    for name in (*names, *extra_names):
        exec(compile(function_source(text, name), f"<notebook:{name}>", "exec"), namespace)
    return namespace


def tile_dicts(tileset):
    """The notebook's per-tile records for a TileSet."""
    return [
        {"array": tileset.array_names[a], "row": int(r), "col": int(c), "image": image}
        for (a, r, c), image in zip(tileset.positions, tileset.images, strict=True)
    ]
