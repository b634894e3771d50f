"""The report's figures: tile galleries (OpenCV) and per-layer diagnostics (matplotlib's
object-oriented API on the Agg canvas: no global pyplot state, no display)."""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from ..constants import COLLAPSED, GOOD, IRREGULAR, MISSING, STITCHING
from ..utils.files import atomic_path

#: Colour of each default class on defect maps, legends and figures.
CLASS_COLORS = {
    MISSING: "#e74c3c",
    COLLAPSED: "#8e44ad",
    STITCHING: "#2e86de",
    IRREGULAR: "#f39c12",
    GOOD: "#27ae60",
}


#: Colours of other classes and of clusters in the stage figures, in turn.
CLUSTER_COLORS = [
    "#2ecc71",
    "#e74c3c",
    "#3498db",
    "#9b59b6",
    "#f39c12",
    "#1abc9c",
    "#34495e",
    "#e67e22",
]


#: Tiles shown at most in a class's gallery and in each list of most and least inconsistent.
#: OpenCV's PNG settings for maps and galleries: zlib level 1 (a file about a fifth larger
#: than level 3's) and, where OpenCV has the setting (recent versions; older ones try
#: five filters on every row), each row filtered as the difference from the row above:
#: a 1,134 px map in 21 ms instead of 33 ms (level 1, every filter) or 47 ms (level 3),
#: for a file 3% larger than level 1's with every filter.
PNG_PARAMS = (cv2.IMWRITE_PNG_COMPRESSION, 1)
if hasattr(cv2, "IMWRITE_PNG_FILTER"):
    PNG_PARAMS += (cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP)

GALLERY_MAX = 100


#: Tiles larger than this (pixels a side) are shrunk in galleries...
MOSAIC_TILE_MAX = 160


#: ... and smaller ones enlarged about this far, for their captions.
MOSAIC_CELL = 128


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # optional extra [cli]
    from matplotlib.figure import Figure  # optional extra [cli]

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _color(label, index=0):
    return CLASS_COLORS.get(label, CLUSTER_COLORS[index % len(CLUSTER_COLORS)])


def tile_mosaic(images, captions, path, title, columns=10):
    """Tiles side by side (padded to a common size) with a caption each, in one PNG image.

    Drawn with OpenCV; tiles are enlarged (nearest neighbour) to about
    :data:`MOSAIC_CELL` pixels so that captions fit, or shrunk to at most
    :data:`MOSAIC_TILE_MAX` pixels. Returns each tile's cell ``(x, y, width,
    height)`` in the image (for a page to tell which tile was clicked).
    """

    largest = max(max(im.shape) for im in images)
    if largest > MOSAIC_TILE_MAX:  # bound the canvas: shrink every tile alike
        scale = MOSAIC_TILE_MAX / largest
        images = [
            cv2.resize(
                im,
                (max(1, round(im.shape[1] * scale)), max(1, round(im.shape[0] * scale))),
                interpolation=cv2.INTER_AREA,
            )
            for im in images
        ]
    # one grey scale for all tiles, so that darker tiles look darker
    lo, hi = np.percentile(np.concatenate([im.ravel() for im in images]), [0.5, 99.5])
    zoom = max(1, -(-MOSAIC_CELL // max(max(im.shape) for im in images)))
    images = [
        cv2.resize(
            cv2.convertScaleAbs(im, alpha=255 / max(hi - lo, 1), beta=-255 * lo / max(hi - lo, 1)),
            None,
            fx=zoom,
            fy=zoom,
            interpolation=cv2.INTER_NEAREST,
        )
        for im in images
    ]
    font, text_scale, gap, head = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 4, 30
    size = max(max(im.shape) for im in images)
    n = len(images)
    rows, cols = -(-n // columns), min(columns, n)
    width = max(cols * (size + gap) + gap, 480)
    canvas = np.full((head + rows * (size + gap) + gap, width, 3), 255, np.uint8)
    cv2.putText(canvas, title, (gap + 2, head - 10), font, 0.6, (0, 0, 0), 2, cv2.LINE_AA)
    cells = []
    for i, (im, text) in enumerate(zip(images, captions, strict=True)):
        r, c = divmod(i, columns)
        y, x = head + r * (size + gap), gap + c * (size + gap)
        cells.append((x, y, size, size))
        canvas[y : y + im.shape[0], x : x + im.shape[1]] = im[:, :, None]
        (tw, th), base = cv2.getTextSize(text, font, text_scale, 1)
        bottom = y + max(im.shape[0], th + base + 4)  # on the tile, even a clipped edge tile
        box = canvas[bottom - th - base - 4 : bottom, x : x + min(tw + 4, size)]
        box[...] = (box * 0.45).astype(np.uint8)  # a dark band under the caption
        cv2.putText(
            canvas,
            text,
            (x + 2, bottom - base - 2),
            font,
            text_scale,
            (0, 230, 255),
            1,
            cv2.LINE_AA,
        )
    with atomic_path(path) as tmp:
        ok, png = cv2.imencode(".png", canvas, PNG_PARAMS)
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
            raise RuntimeError(f"could not encode {path} as PNG")
        tmp.write_bytes(png.tobytes())
    return cells


def _scatter_clusters(ax, embedding, clusters, selected, ratio):
    ids = np.unique(clusters)
    for k, cid in enumerate(ids):
        member = clusters == cid
        chosen = cid in set(np.atleast_1d(selected))
        ax.scatter(
            embedding[member, 0],
            embedding[member, 1] if embedding.shape[1] > 1 else np.zeros(member.sum()),
            s=14 if chosen else 8,
            alpha=0.7,
            color=CLUSTER_COLORS[k % len(CLUSTER_COLORS)],
            edgecolors="black" if chosen else "none",
            linewidths=0.6,
            label=f"C{cid} (n={member.sum()}){' peeled' if chosen else ''}",
        )
    pc1 = f" ({ratio[0]:.1%})" if ratio is not None and len(ratio) else ""
    pc2 = f" ({ratio[1]:.1%})" if ratio is not None and len(ratio) > 1 else ""
    ax.set_xlabel(f"PC1{pc1}")
    ax.set_ylabel(f"PC2{pc2}")
    ax.legend(fontsize=7)


def stage_figure(path, diag, tsne=None):
    """A stage's diagnostics: PCA scatter and cluster sizes, or the score histogram."""
    panels = 2 + (tsne is not None)
    fig = _figure(5 * panels, 4)
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    if diag.kind == "clusters":
        ids, sizes = np.unique(diag.clusters, return_counts=True)
        _scatter_clusters(
            axes[0], diag.embedding, diag.clusters, diag.selected, diag.explained_variance_ratio
        )
        axes[0].set_title("PCA of the stage's features")
        chosen = np.isin(ids, diag.selected)
        bars = axes[1].bar(
            [f"C{i}" for i in ids],
            sizes,
            color=[CLUSTER_COLORS[k % 8] for k in range(len(ids))],
            edgecolor="black",
            hatch=None,
        )
        for bar, is_chosen, size in zip(bars, chosen, sizes, strict=True):
            bar.set_hatch("//" if is_chosen else None)
            axes[1].text(
                bar.get_x() + bar.get_width() / 2,
                size,
                str(size),
                ha="center",
                va="bottom",
                fontsize=8,
                weight="bold",
            )
        axes[1].set_title(f"Cluster sizes (hatched: peeled as {diag.label})")
        if tsne is not None:
            _scatter_clusters(axes[2], tsne, diag.clusters, diag.selected, None)
            axes[2].set_xlabel("t-SNE 1")
            axes[2].set_ylabel("t-SNE 2")
            axes[2].set_title("t-SNE")
    else:
        scores = diag.scores
        axes[0].hist(scores, bins=50, color="steelblue", edgecolor="black", alpha=0.8)
        axes[0].axvline(
            diag.threshold,
            color="red",
            linestyle="--",
            label=f"cut {diag.threshold:.2f}: {int(diag.peeled.sum())} {diag.label}",
        )
        axes[0].set_xlabel("inconsistency score")
        axes[0].set_ylabel("tiles")
        axes[0].legend(fontsize=8)
        axes[0].set_title("Inconsistency score distribution")
        emb, ratio = _pca2(diag.embedding)
        ax = axes[1]
        ax.scatter(
            emb[~diag.peeled, 0],
            emb[~diag.peeled, 1],
            s=8,
            alpha=0.5,
            color=CLASS_COLORS[GOOD],
            label="inliers",
        )
        ax.scatter(
            emb[diag.peeled, 0],
            emb[diag.peeled, 1],
            s=16,
            alpha=0.9,
            color=_color(diag.label),
            label=diag.label,
        )
        ax.set_xlabel(f"PC1 ({ratio[0]:.1%})")
        ax.set_ylabel(f"PC2 ({ratio[1]:.1%})")
        ax.legend(fontsize=8)
        ax.set_title("PCA of the scaled features")
        if tsne is not None:
            axes[2].scatter(tsne[:, 0], tsne[:, 1], c=scores, cmap="RdYlGn_r", s=10)
            axes[2].set_title("t-SNE by inconsistency")
    fig.suptitle(f"Stage {diag.name!r}: {diag.kind}", fontsize=11, weight="bold")
    fig.tight_layout()
    _save(fig, path)


def _pca2(embedding):
    """The first two principal components (zeros where there are fewer) and their ratios."""

    k = min(2, embedding.shape[1], embedding.shape[0])
    coords, ratio = np.zeros((len(embedding), 2)), np.zeros(2)
    if k:
        pca = PCA(n_components=k).fit(embedding)
        coords[:, :k] = pca.transform(embedding)
        ratio[:k] = np.nan_to_num(pca.explained_variance_ratio_)
    return coords, ratio


def _tsne(embedding):

    n = len(embedding)
    if n < 5:
        return None
    return TSNE(
        n_components=2, perplexity=max(2, min(30, n // 4)), random_state=42, init="pca"
    ).fit_transform(embedding[:, : min(3, embedding.shape[1])])
