"""Memory limits: parsing and printing sizes, the machine's memory, refusing a run that
would exceed the limit."""

from __future__ import annotations

import numbers
import os
import re
from pathlib import Path

from ..exceptions import ResourceLimitError

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


def check_memory(needed, max_memory, *, what, hint=None):
    """Raise :class:`ResourceLimitError` when ``needed`` bytes exceed ``max_memory``."""
    limit = parse_size(max_memory)
    if needed > limit:
        raise ResourceLimitError(
            f"{what} would need about {format_size(needed)} of memory, more than the limit of "
            f"{format_size(limit)} (max_memory, --max-memory; default half the machine's "
            f"RAM){'; ' + hint if hint else ''}"
        )
