"""Resource limits: the memory a run needs, estimated from image headers before allocating.

A run holds every array image (one byte a pixel), the tiles' ``X`` (float32,
``(2 * tile_half)**2 + 5`` values a tile) and the classifier's working copies
of it. Everything is estimated from the file headers, the grid and the tile
size, so an impossible request is refused in milliseconds instead of after
minutes of swapping.
"""

from __future__ import annotations

import numbers
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from .constants import NOTEBOOK_PRESET, REFINED_PRESET
from .exceptions import ResourceLimitError  # noqa: F401 (also importable from here)
from .tileset import N_META, X_DTYPE

#: Classification and report work per preset, as a multiple of the size of X.
#: Measured peaks of ``sklearn-pillars inspect`` on 7,056 tiles of 64 pixels
#: (X 110 MiB) were 3.4x X ("notebook") and 10.8x X ("refined", which holds
#: each array's aligned tiles and residuals) above the interpreter's own.
WORK_PER_X_BYTE = {NOTEBOOK_PRESET: 4, REFINED_PRESET: 12}
#: A fit from features (fit_arrays) holds, per tile, its features and the
#: stages' work on them (LOF's neighbour graph: 100 neighbours with "refined").
#: Measured (benchmarks/bench_scale.py --fit 200) on 88,200 tiles: about 1.4 kB
#: ("notebook") and 5.5 kB ("refined") a tile above the interpreter.
FIT_BYTES_PER_TILE = {NOTEBOOK_PRESET: 2_000, REFINED_PRESET: 6_000}
#: The interpreter with NumPy, scikit-learn, OpenCV and matplotlib loaded.
BASE_BYTES = 400 * 2**20
#: Image pixels a report figure is drawn from, at most.
FIGURE_PIXELS = 4 * 2**20
#: The X of one band of a large array classified band by band (one array at a time) with
#: the ``"notebook"`` preset; bands are smaller for presets with more work per tile.
BAND_BYTES = 64 * 2**20
#: Working memory of finding an image's lattice (find_lattice), per pixel of the image:
#: its float32 copies (flattened, padded), the template scores, and what turning it upright
#: adds. Measured: 17-18 bytes a pixel on 3,000 and 6,000 pixel squares.
LATTICE_BYTES_PER_PIXEL = 24

_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 10**3,
    "kib": 2**10,
    "m": 2**20,
    "mb": 10**6,
    "mib": 2**20,
    "g": 2**30,
    "gb": 10**9,
    "gib": 2**30,
    "t": 2**40,
    "tb": 10**12,
    "tib": 2**40,
}


def machine_memory():
    """Bytes of memory this process may use: the RAM, or a smaller cgroup (container) limit."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        total = 16 * 2**30
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = int(Path(limit_file).read_text().strip())
        except (OSError, ValueError):  # absent, or "max"
            continue
        total = min(total, limit)
    return total


def default_max_memory():
    """Half of :func:`machine_memory`: the default limit of a run."""
    return machine_memory() // 2


def parse_size(value, name="max_memory"):
    """A size in bytes from an int or a string such as ``"2G"``, ``"1.5GB"`` or ``"512MiB"``.

    Bare ``K``, ``M``, ``G``, ``T`` are binary (GiB); ``KB``, ``MB``, ``GB``
    are decimal. ``None`` means :func:`default_max_memory`.
    """
    if value is None:
        return default_max_memory()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        size = int(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", value)
        unit = match and match.group(2).lower()
        if not match or unit not in _UNITS:
            raise ValueError(f"{name}={value!r} is not a size; write e.g. 8G, 500M or 2GB")
        size = int(float(match.group(1)) * _UNITS[unit])
    else:
        raise ValueError(
            f"{name} must be a number of bytes or a string such as '8G', got {value!r}"
        )
    if size <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return size


def format_size(n_bytes):
    """``1536 -> '1.5 KiB'``: a size for people."""
    size = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError  # pragma: no cover


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: size in pixels, channels and bytes per sample."""

    width: int
    height: int
    channels: int
    sample_bytes: int
    format: str

    @property
    def decoded_bytes(self):
        """Bytes of the image decoded at its full depth (the decoder's largest buffer)."""
        return self.width * self.height * self.channels * self.sample_bytes


_PIL_CHANNELS = {
    "1": (1, 1),
    "L": (1, 1),
    "P": (1, 1),
    "I;16": (1, 2),
    "I;16B": (1, 2),
    "I;16L": (1, 2),
    "I;16N": (1, 2),
    "I": (1, 4),
    "F": (1, 4),
    "LA": (2, 1),
    "RGB": (3, 1),
    "RGBA": (4, 1),
    "CMYK": (4, 1),
    "RGBX": (4, 1),
    "YCbCr": (3, 1),
    "LAB": (3, 1),
    "HSV": (3, 1),
}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


def _png_header(head):
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR" or len(head) < 26:
        return None
    width, height = struct.unpack(">II", head[16:24])
    depth, colour = head[24], head[25]
    return ImageHeader(width, height, _PNG_CHANNELS.get(colour, 4), 2 if depth == 16 else 1, "PNG")


def _bmp_header(head):
    if head[:2] != b"BM" or len(head) < 30:
        return None
    width, height = struct.unpack("<ii", head[18:26])
    bits = struct.unpack("<H", head[28:30])[0]
    return ImageHeader(abs(width), abs(height), max(1, bits // 8), 1, "BMP")


def read_image_header(path):
    """The size of an image from its header, reading only its first bytes.

    PNG and BMP headers are read directly, other formats with Pillow.
    Returns ``None`` when the format is not known (OpenCV may still read it).
    """
    with open(path, "rb") as f:
        head = f.read(32)
    header = _png_header(head) or _bmp_header(head)
    if header is not None:
        return header
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own (bomb, corrupt EXIF): we decide
            with Image.open(path) as image:
                width, height, mode, fmt = image.width, image.height, image.mode, image.format
    except Image.DecompressionBombError as exc:
        # Pillow refuses above ~179 Mpixel without saying the sides: its message has the count
        counts = [int(n) for n in re.findall(r"\d+", str(exc))]
        side = int((counts[0] if counts else 2**31) ** 0.5) + 1
        return ImageHeader(side, side, 4, 2, "unknown")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    channels, sample_bytes = _PIL_CHANNELS.get(mode, (4, 2))
    return ImageHeader(int(width), int(height), channels, sample_bytes, str(fmt))


def x_bytes(n_tiles, tile_half):
    """Bytes of the X of ``n_tiles`` tiles of side ``2 * tile_half``."""
    import numpy as np

    return n_tiles * ((2 * tile_half) ** 2 + N_META) * np.dtype(X_DTYPE).itemsize


def band_rows(grid_size, tile_half, n_cols=None, preset=None):
    """Grid rows per band when classifying an array at once would exceed the band's work.

    A band's work is that of :data:`BAND_BYTES` of X with the ``"notebook"``
    preset: a preset with more work per byte of X (:data:`WORK_PER_X_BYTE`;
    None: the most) gets bands that much smaller, so memory is bounded alike.
    ``grid_size`` rows of ``n_cols`` sites (default ``grid_size``: a square grid).
    Returns None when the whole array fits.
    """
    factor = WORK_PER_X_BYTE.get(preset, max(WORK_PER_X_BYTE.values()))
    budget = BAND_BYTES * WORK_PER_X_BYTE[NOTEBOOK_PRESET] // factor
    per_row = x_bytes(grid_size if n_cols is None else n_cols, tile_half)
    if per_row * grid_size <= budget:
        return None
    return max(1, budget // per_row)


def estimate_memory(
    headers,
    grid_size,
    tile_half,
    *,
    file_bytes=0,
    classify=True,
    preset=None,
    banded=False,
    fit_tiles=0,
    n_sites=None,
    lattice=False,
):
    """Peak memory of reading (and classifying) arrays, from their headers.

    Parameters
    ----------
    headers : sequence of ImageHeader
    grid_size, tile_half : int
    file_bytes : int, default=0
        Size of the largest file (read whole before decoding).
    classify : bool, default=True
        Include the classifier's and the report's work, not only the tiles.
    preset : str, optional
        The classifier's preset; custom stages (None) are counted as the
        costliest preset.
    banded : bool, default=False
        Large arrays are classified band by band (:func:`band_rows`), one
        band's tiles at a time.
    fit_tiles : int, default=0
        Tiles a model is fitted on from their features
        (:func:`~sklearn_pillars.fit_arrays`): :data:`FIT_BYTES_PER_TILE`
        each, for the features, the clustering and the outlier detector.
    n_sites : int, optional
        Sites of all the arrays together, where known (a found lattice),
        instead of ``grid_size**2`` per array.
    lattice : bool, default=False
        The lattice of the images is found first (``grid_size="auto"``):
        :data:`LATTICE_BYTES_PER_PIXEL` of the largest image more.

    Returns
    -------
    int
        Bytes.
    """
    if not headers:
        return 0
    images = sum(h.width * h.height for h in headers)  # held as grey uint8
    decoding = file_bytes + max(h.decoded_bytes for h in headers)
    if n_sites is None:
        n_sites = len(headers) * grid_size * grid_size
    tiles = x_bytes(n_sites, tile_half)
    if banded:
        rows = band_rows(grid_size, tile_half, preset=preset) or grid_size
        tiles = len(headers) * x_bytes(min(grid_size, rows + 2) * grid_size, tile_half)
    factor = WORK_PER_X_BYTE.get(preset, max(WORK_PER_X_BYTE.values()))
    work = factor * tiles + BASE_BYTES if classify else 0
    fit = fit_tiles * FIT_BYTES_PER_TILE.get(preset, max(FIT_BYTES_PER_TILE.values()))
    finding = LATTICE_BYTES_PER_PIXEL * max(h.width * h.height for h in headers) if lattice else 0
    return images + decoding + tiles + work + fit + finding


def check_memory(needed, max_memory, *, what, hint=None):
    """Raise :class:`ResourceLimitError` when ``needed`` bytes exceed ``max_memory``."""
    limit = parse_size(max_memory)
    if needed > limit:
        raise ResourceLimitError(
            f"{what} would need about {format_size(needed)} of memory, more than the limit of "
            f"{format_size(limit)} (max_memory, --max-memory; default half the machine's "
            f"RAM){'; ' + hint if hint else ''}"
        )
