"""Checks of the arguments several subpackages take: positive integers, ``"auto"`` flags,
the grid size, ``n_jobs``."""

from __future__ import annotations

import numbers

import numpy as np

from .fixes import Interval

#: ``_parameter_constraints`` entry of an ``n_jobs`` parameter, as joblib reads it: None,
#: a positive count, or -1, -2, ... (all CPUs, all but one, ...); 0 means nothing.
N_JOBS_CONSTRAINT = [
    None,
    Interval(numbers.Integral, 1, None, closed="left"),
    Interval(numbers.Integral, None, -1, closed="right"),
]


def check_n_jobs(n_jobs, name="n_jobs"):
    """``n_jobs`` when it is None or a non-zero integer (not a bool); ValueError naming
    ``name`` otherwise."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(
            f"{name} must be None or an integer (1, 2, ... workers; -1 all CPUs), got {n_jobs!r}"
        )
    if n_jobs == 0:
        raise ValueError(f"{name} must not be 0: 1 works here, -1 on every CPU")
    return int(n_jobs)


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
