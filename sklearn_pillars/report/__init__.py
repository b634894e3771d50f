"""The inspection report: tables, defect maps, figures, the HTML page, and the writer that
streams any number of arrays."""

from ._evaluation import (
    EVALUATION_PATTERNS,
    confusion_figure,
    write_evaluation,
)
from ._figures import (
    CLASS_COLORS,
    CLUSTER_COLORS,
    GALLERY_MAX,
    MOSAIC_CELL,
    MOSAIC_TILE_MAX,
    stage_figure,
    tile_mosaic,
)
from ._html import (
    extremes_html,
    page_head,
)
from ._maps import (
    FIGURE_PIXELS,
    MAP_SITE,
    MAP_WIDTH,
    SITE_MARK,
    defect_map,
    defect_map_png,
    shrink,
)
from ._stream import (
    INLINE_MAPS,
    TILE_FIELDS,
    StreamingReport,
)
from ._tables import (
    REPORT_PATTERNS,
    UNCERTAIN,
    YIELD_NOTE,
    slugs,
    summary_rows,
    tile_rows,
    uneven_illumination,
    yield_columns,
    yield_counts,
)
from ._write import (
    write_report,
)

__all__ = [
    "CLASS_COLORS",
    "CLUSTER_COLORS",
    "EVALUATION_PATTERNS",
    "FIGURE_PIXELS",
    "GALLERY_MAX",
    "INLINE_MAPS",
    "MAP_SITE",
    "MAP_WIDTH",
    "MOSAIC_CELL",
    "MOSAIC_TILE_MAX",
    "REPORT_PATTERNS",
    "SITE_MARK",
    "StreamingReport",
    "TILE_FIELDS",
    "UNCERTAIN",
    "YIELD_NOTE",
    "confusion_figure",
    "defect_map",
    "defect_map_png",
    "extremes_html",
    "page_head",
    "shrink",
    "slugs",
    "stage_figure",
    "summary_rows",
    "tile_mosaic",
    "tile_rows",
    "uneven_illumination",
    "write_evaluation",
    "write_report",
    "yield_columns",
    "yield_counts",
]
