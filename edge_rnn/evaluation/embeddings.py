"""A map of a language model's word embeddings: the most frequent words (and any asked for) in
two dimensions, by PCA or t-SNE, as data and as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_rnn.progress import Progress
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import atomic_path

from .embedding_table import EmbeddingTable, load_table
from .projection import pca, tsne

METHODS = ("pca", "tsne")
PLAIN = {"color": "#1f2d3d", "zorder": 2}
MARKED = {"color": "#c0392b", "fontweight": "bold", "zorder": 4,  # on a light box: legible over other words
          "bbox": {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8}}


def choose_words(table: EmbeddingTable, count: int, highlight: list[str], specials: bool = False) -> list[int]:
    """Token ids to draw: the `count` most frequent words (the vocabulary is in frequency order
    after its special words, which are left out unless `specials`), then the highlighted ones."""
    index = {w: i for i, w in enumerate(table.vocab)}
    highlight = list(dict.fromkeys(highlight))
    missing = [w for w in highlight if w not in index]
    if missing:
        raise UserError(f"--highlight: {', '.join(missing[:5])} not in the model's vocabulary of "
                        f"{len(table.vocab)} words")
    ids = [i for i in range(len(table.vocab)) if specials or i not in table.specials][:count]
    ids += [index[w] for w in highlight if index[w] not in ids]  # rarer words asked for come last
    if len(ids) < 3:
        raise UserError("a map needs at least 3 words; raise --words")
    return ids


def embedding_map(source: str | Path, words: int = 200, highlight: list[str] = (), method: str = "pca",
                  perplexity: float | None = None, specials: bool = False, quiet: bool = False) -> dict:
    """Coordinates of the chosen words, and what the two axes mean. perplexity (t-SNE): None for
    30, or less when there are too few words for it."""
    if method not in METHODS:
        raise UserError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    table = load_table(source)
    ids = choose_words(table, words, list(highlight), specials)
    vectors = table.vectors[ids]  # (n, embedding)
    frequent = min(words, len(table.vocab) - (0 if specials else len(table.specials)))
    result = {"model": table.source, "form": table.form, "vocab": len(table.vocab),
              "embedding": int(table.vectors.shape[1]), "method": method, "words": len(ids),
              "most_frequent": frequent}
    if method == "pca":
        coords, shares = pca(vectors)
        result["variance"] = [round(s, 6) for s in shares]
    else:
        perplexity = perplexity if perplexity is not None else min(30.0, (len(ids) - 1) / 3)
        with Progress(1000, "t-SNE (iterations)", enabled=not quiet) as bar:
            coords, kl = tsne(vectors, perplexity, on_progress=bar.update)
        result.update(perplexity=perplexity, kl_divergence=round(kl, 6))
    marked = set(highlight)
    result["points"] = [{"word": table.vocab[i], "id": i, "x": round(float(x), 6), "y": round(float(y), 6),
                         "highlight": table.vocab[i] in marked} for i, (x, y) in zip(ids, coords)]
    return result


def map_title(result: dict) -> str:
    """What the picture shows, in words: the model, the method and what the axes keep."""
    name = result["model"] if len(result["model"]) <= 40 else Path(result["model"]).name
    extra = result["words"] - result["most_frequent"]
    what = (f"{name}: word embeddings ({result['embedding']} numbers) of the {result['most_frequent']} most "
            "frequent words" + (f" and {extra} more" if extra else ""))
    if result["method"] == "pca":
        a, b = (100 * v for v in result["variance"])
        return f"{what}\nPCA of these words: the axes keep {a:.1f}% + {b:.1f}% = {a + b:.1f}% of their variance"
    return (f"{what}\nt-SNE (exact, perplexity {result['perplexity']:g}, KL {result['kl_divergence']:.3f}): "
            "near means similar, distances between groups mean little")


def _free_offset(ax, point: dict, fontsize: float, taken: list) -> tuple[float, float]:
    """An offset (points) for a word's label beside its dot that overlaps no label placed so far
    (the first place tried when all overlap); the label's box is added to `taken` (pixels)."""
    px, py = ax.transData.transform((point["x"], point["y"]))
    scale = ax.figure.dpi / 72  # pixels per point
    width, height = 0.6 * fontsize * len(point["word"]), fontsize  # about, in points
    tries = [(2, 2), (2, -2 - height), (-2 - width, 2), (-2 - width, -2 - height), (2, 2 + height),
             (2, -2 - 2 * height)]
    boxes = [(px + dx * scale, py + dy * scale, px + (dx + width) * scale, py + (dy + height) * scale)
             for dx, dy in tries]
    free = [i for i, box in enumerate(boxes)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken)]
    chosen = free[0] if free else 0
    taken.append(boxes[chosen])
    return tries[chosen]


def plot_map(result: dict, path: Path, plt) -> None:
    """The words at their coordinates, highlighted ones in red; `plt` from check_plot()."""
    points = result["points"]
    x = np.array([p["x"] for p in points])
    y = np.array([p["y"] for p in points])
    marked = np.array([p["highlight"] for p in points])
    fig, ax = plt.subplots(figsize=(11, 9), dpi=80)
    ax.scatter(x[~marked], y[~marked], s=6, color="#8fa8c8", zorder=1)
    ax.scatter(x[marked], y[marked], s=24, color="#c0392b", zorder=3)
    axis, variance = ("principal component", result["variance"]) if result["method"] == "pca" else ("t-SNE axis", None)
    ax.set_xlabel(f"{axis} 1" + (f" ({100 * variance[0]:.1f}% of the variance)" if variance else ""))
    ax.set_ylabel(f"{axis} 2" + (f" ({100 * variance[1]:.1f}% of the variance)" if variance else ""))
    ax.set_title(map_title(result), fontsize=11)
    ax.grid(True, alpha=0.25)
    fig.tight_layout()
    fig.canvas.draw()  # the axes' final place and limits, for placing labels in pixels
    size = 9 if len(points) <= 120 else 8 if len(points) <= 250 else 6
    taken: list[tuple[float, float, float, float]] = []
    for p in sorted(points, key=lambda p: not p["highlight"]):  # marked words first, then by frequency
        style = {**MARKED, "fontsize": size + 3} if p["highlight"] else {**PLAIN, "fontsize": size}
        offset = _free_offset(ax, p, style["fontsize"], taken)
        ax.annotate(p["word"], (p["x"], p["y"]), xytext=offset, textcoords="offset points", **style)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
