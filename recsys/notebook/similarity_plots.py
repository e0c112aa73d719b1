"""Figures of notebook 05 (similarity measures) that need more than a few lines.

Each function draws on axes it is given and returns nothing; titles that name the data are left
to the notebook, which knows them. Colours: one per measure, the same in every figure of every
chapter (:data:`recsys.notebook.plotting.MEASURE_STYLES`), and one each for vectors before and after
the MIPS transform (:data:`recsys.notebook.plotting.TRANSFORM_COLOURS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from recsys.notebook.plotting import MEASURE_COLOURS, TRANSFORM_COLOURS


def three_orders(ax, query: np.ndarray, items: np.ndarray, names: Sequence[str]) -> None:
    """The classic picture: the query and items as arrows from the origin, with the query's unit circle."""
    theta = np.linspace(0, 2 * np.pi, 200)
    radius = float(np.linalg.norm(query))
    ax.plot(radius * np.cos(theta), radius * np.sin(theta), color="0.8", lw=1, zorder=0)
    ax.annotate("", xy=query, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "black", "lw": 2})
    ax.text(query[0] / 2, query[1] - 0.08, "q", ha="center", va="top", fontsize=12, fontweight="bold")
    for name, point in zip(names, items):
        ax.annotate("", xy=point, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "tab:purple", "lw": 1.5})
        ax.plot(*point, "o", color="tab:purple")
        ax.text(point[0] + 0.08, point[1] + 0.08, name, fontsize=12, color="tab:purple")
        ax.plot([query[0], point[0]], [query[1], point[1]], ls=":", color=MEASURE_COLOURS["euclidean"], lw=1.2)
    ax.plot([], [], ls=":", color=MEASURE_COLOURS["euclidean"], label="distance to q")
    ax.plot([], [], color="0.8", label="circle of radius |q|")
    ax.legend(loc="upper left")
    span = max(np.abs(items).max(), radius) * 1.15
    ax.set(xlim=(-0.3, span), ylim=(-0.5, span), aspect="equal", xlabel="dimension 1", ylabel="dimension 2")


def measure_bars(
    axes,
    table: pd.DataFrame,
    columns: Sequence[str],
    labels: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
) -> None:
    """One panel per column of a (model, measure)-indexed table: grouped bars, one colour per measure."""
    labels = list(labels or columns)
    titles = list(titles or [""] * len(labels))
    models = list(dict.fromkeys(table.index.get_level_values(0)))
    measures = list(dict.fromkeys(table.index.get_level_values(1)))
    width = 0.8 / len(measures)
    x = np.arange(len(models))
    for ax, column, label, title in zip(np.atleast_1d(axes), columns, labels, titles):
        for j, measure in enumerate(measures):
            values = [table.loc[(model, measure), column] for model in models]
            ax.bar(x + (j - (len(measures) - 1) / 2) * width, values, width, label=measure,
                   color=MEASURE_COLOURS[measure])  # fmt: skip
        ax.set_xticks(x, models, rotation=20, ha="right")
        ax.set(ylabel=label, title=title)
    np.atleast_1d(axes)[0].legend(title="scored by")


def overlap_boxes(ax, overlaps: Mapping[str, Mapping[str, np.ndarray]], k: int) -> None:
    """Per-user Jaccard@k between the measures' lists: one box per (model, pair of measures)."""
    models = list(overlaps)
    pairs = list(next(iter(overlaps.values())))
    width = 0.8 / len(pairs)
    colours = ["tab:purple", "tab:olive", "tab:cyan"]
    for j, pair in enumerate(pairs):
        positions = np.arange(len(models)) + (j - (len(pairs) - 1) / 2) * width
        box = ax.boxplot([overlaps[m][pair] for m in models], positions=positions, widths=width * 0.9,
                         patch_artist=True, showfliers=False, medianprops={"color": "black"})  # fmt: skip
        for patch in box["boxes"]:
            patch.set_facecolor(colours[j % len(colours)])
            patch.set_alpha(0.7)
        ax.plot([], [], "s", color=colours[j % len(colours)], alpha=0.7, label=pair)
    ax.set_xticks(np.arange(len(models)), models)
    ax.set(ylabel=f"Jaccard overlap of the top-{k} lists", ylim=(-0.03, 1.03))
    ax.legend(loc="upper left", ncols=len(pairs))


def plot_norm_popularity_by_model(axes, norms: Mapping[str, np.ndarray], popularity: np.ndarray) -> None:
    """One panel per model: item vector length against training popularity (log x), seen items only."""
    seen = popularity > 0
    for ax, (name, values) in zip(np.atleast_1d(axes), norms.items()):
        ax.scatter(popularity[seen], values[seen], s=3, alpha=0.25, color="tab:blue", rasterized=True)
        ax.set(xscale="log", xlabel="training interactions of the item (log)", title=name)
    np.atleast_1d(axes)[0].set_ylabel("item vector length")


def norms_against_max(ax, norms: Mapping[str, np.ndarray]) -> None:
    """Cumulative distribution of ``|x| / M`` per model (M = that model's largest item norm)."""
    for name, values in norms.items():
        ratio = np.sort(values / values.max())
        ax.plot(ratio, np.arange(1, ratio.size + 1) / ratio.size, label=name)
    ax.axvline(1.0, color="grey", ls=":")
    ax.set(xlabel="item norm as a share of the largest, |x| / M", ylabel="share of items at or below", xlim=(0, 1.02))
    ax.legend(loc="lower right")


def angle_histograms(ax, before: np.ndarray, after: np.ndarray, top: np.ndarray) -> None:
    """Angles between users and items before and after the MIPS transform; the top-k marked.

    ``before``/``after`` are (n_users, n_items) angles in degrees, ``top`` the (n_users, k)
    inner-product top-k, whose angles are drawn as thin lines on the same axes.
    """
    rows = np.arange(top.shape[0])[:, None]
    bins = np.linspace(0, 180, 91)
    for values, label, colour in (
        (before, "raw vectors", TRANSFORM_COLOURS["raw"]),
        (after, "after the MIPS transform", TRANSFORM_COLOURS["mips"]),
    ):
        ax.hist(values.ravel(), bins=bins, density=True, alpha=0.35, color=colour, label=f"all items, {label}")
        ax.hist(values[rows, top].ravel(), bins=bins, density=True, histtype="step", lw=1.8, color=colour,
                label=f"inner-product top-{top.shape[1]}, {label}")  # fmt: skip
    ax.axvline(90, color="grey", ls=":")
    low = min(float(before[rows, top].min()), float(after[rows, top].min()), float(before.min()))
    high = max(float(before.max()), float(after.max()))
    ax.set(xlabel="angle between user and item vector (degrees)", ylabel="density",
           xlim=(max(0.0, low - 5), min(180.0, high + 5)))  # fmt: skip
    ax.legend(loc="upper left")


def part_bars(axes, table: pd.DataFrame, column: str, parts: Sequence[str] = ("warm", "cold", "all")) -> None:
    """One panel per part of a (model, part)-indexed table: horizontal bars of ``column``."""
    models = list(dict.fromkeys(table.index.get_level_values(0)))
    for ax, part in zip(np.atleast_1d(axes), parts):
        values = [table.loc[(model, part), column] for model in models]
        colours = [_model_colour(m) for m in models]
        ax.barh(models[::-1], values[::-1], color=colours[::-1])
        ax.set(xlabel=column, title=f"{part} items")


def _model_colour(name: str) -> str:
    if name.startswith("content"):
        return "tab:orange"
    if name.startswith("control"):
        return "tab:brown"
    if name.startswith("hybrid"):
        return "tab:purple"
    return "tab:grey" if name == "popularity" else "tab:blue"
