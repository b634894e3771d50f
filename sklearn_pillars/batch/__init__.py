"""Many arrays at a time: classifying one array, :func:`iter_inspect`,
:func:`inspect_arrays`, :func:`fit_arrays` and :func:`predict_in_bands`."""

from ._classify import (
    classify_array,
    predict_in_bands,
)
from ._evaluate import (
    Evaluation,
    evaluate,
)
from ._fit import (
    fit_arrays,
    fit_arrays_profiled,
)
from ._inspect import (
    MAX_SHOWN_WARNINGS,
    describe_model,
    inspect_arrays,
    iter_inspect,
    noted_warnings,
    report_details,
    write_streamed_report,
)
from ._result import (
    ArrayResult,
)

__all__ = [
    "ArrayResult",
    "Evaluation",
    "MAX_SHOWN_WARNINGS",
    "classify_array",
    "describe_model",
    "evaluate",
    "fit_arrays",
    "fit_arrays_profiled",
    "inspect_arrays",
    "iter_inspect",
    "noted_warnings",
    "predict_in_bands",
    "report_details",
    "write_streamed_report",
]
