"""Synthetic pillar arrays with ground-truth labels, and the microscope conditions that
alter an image."""

from ._conditions import (
    CONDITIONS,
    apply_conditions,
)
from ._make import (
    make_pillar_arrays,
)
from ._render import (
    DEFAULT_DEFECT_RATES,
)

__all__ = [
    "CONDITIONS",
    "DEFAULT_DEFECT_RATES",
    "apply_conditions",
    "make_pillar_arrays",
]
