"""Checks of the arguments several subpackages take: positive integers, ``"auto"`` flags,
the grid size."""

from __future__ import annotations

import numbers

import numpy as np


def check_positive_int(value, name):
    """``value`` as an int when it is a positive integer (not a bool); ValueError naming
    ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_auto_flag(value, name):
    """``value`` (``derotate``, ``rescale``) as ``"auto"``, True or False; ValueError naming
    ``name`` for anything else."""
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be 'auto', True or False, got {value!r}")


def check_grid_size(grid_size):
    """``grid_size`` as a positive int, or ``"auto"`` (any case); ValueError otherwise."""
    if isinstance(grid_size, str) and grid_size.strip().lower() == "auto":
        return "auto"
    if isinstance(grid_size, bool) or not isinstance(grid_size, numbers.Integral) or grid_size <= 0:
        raise ValueError(f"grid_size must be a positive integer or 'auto', got {grid_size!r}")
    return int(grid_size)
