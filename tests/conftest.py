import os
from pathlib import Path

import pytest
from hypothesis import settings

# On CI (CI set) every hypothesis test draws the same examples each run, so a failure there
# is one a developer can reproduce, never a new draw; a developer's run keeps exploring.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def write_array_images(folder, tiles):
    """Each array image of ``tiles`` as ``folder/<its name>.png``; the paths, in order."""
    import cv2

    paths = []
    for name, image in zip(tiles.array_names, tiles.array_images, strict=True):
        paths.append(Path(folder) / f"{name}.png")
        assert cv2.imwrite(str(paths[-1]), image)
    return paths


SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
SHARED_ARRAYS = SHARED / "data" / "arrays"
SHARED_LABELS = SHARED / "data" / "labels"
SEED_ARRAYS = ["Array_1Crop.bmp", "Array_2Crop.bmp", "Array_3Crop.bmp"]
ALL_ARRAYS = SEED_ARRAYS + ["Array_4.bmp"]


@pytest.fixture(scope="session")
def shared_array_paths():
    """Paths of the four real arrays in ../shared; skips when it is absent."""
    paths = [SHARED_ARRAYS / name for name in ALL_ARRAYS]
    if not all(p.is_file() for p in paths):
        pytest.skip("../shared/data/arrays is not present")
    return paths


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory):
    """`sklearn-pillars inspect --demo` run once for the session: (exit code, folder)."""
    from sklearn_pillars.cli import main

    out = tmp_path_factory.mktemp("demo") / "report"
    return main(["inspect", "--demo", "--out", str(out), "--quiet"]), out
