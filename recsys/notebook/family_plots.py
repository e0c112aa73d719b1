"""Notebook 07's figures (training curves, item maps, serving frontiers, a user's graph neighbourhood)
and notebook 09's leaderboard (:func:`plot_board`).

The chapter's computations live in the experiment layer: tuning and early stopping in
:mod:`recsys.experiments.tuning`, the family study and embedding geometry in
:mod:`recsys.experiments.families`, serving from ANN indexes in :mod:`recsys.experiments.serving`,
cold start in :mod:`recsys.experiments.cold_start`. Here are only the figures drawn from their
results (:func:`plot_curves`, :func:`plot_maps`, :func:`plot_serving`, :func:`plot_two_hop`).

Like the rest of :mod:`recsys.notebook`, this imports the domain and is never imported by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from recsys.experiments.tuning import Tuned

__all__ = [
    "BOARD_COLOURS",
    "plot_board",
    "plot_curves",
    "plot_maps",
    "plot_serving",
    "plot_two_hop",
    "two_hop_weights",
]


# --------------------------------------------------------------------------------------------- #
# Figures.                                                                                      #
# --------------------------------------------------------------------------------------------- #


def plot_curves(axes, tuned: Mapping[str, Tuned], *, k: int = 10, title: str = "") -> None:
    """Training loss (left) and validation nDCG@k (right) per epoch; a dot marks the chosen epoch."""
    from recsys.notebook.plotting import styled

    loss_ax, val_ax = axes
    for i, (name, result) in enumerate(tuned.items()):
        history = [h for h in result.history if "train_loss" in h]
        if len(history) < 2:
            continue
        style = styled(i)
        style.pop("marker", None)
        epochs = [h["iteration"] for h in history]
        first = history[0]["train_loss"]
        loss_ax.plot(epochs, [h["train_loss"] / first for h in history], label=name, **style)
        metric = result.metric
        val_ax.plot(epochs, [h.get(metric, np.nan) for h in history], label=name, **style)
        best = result.params.get("iterations")
        if best is not None:
            value = next(h[metric] for h in history if h["iteration"] == best)
            val_ax.plot([best], [value], "o", color=val_ax.lines[-1].get_color(), markersize=6)
    loss_ax.set(xlabel="epoch", ylabel="training loss / first epoch's", title=f"{title}training loss")
    val_ax.set(xlabel="epoch", ylabel=f"validation nDCG@{k}", title=f"{title}validation nDCG@{k} (dot: chosen epoch)")
    val_ax.legend()


def plot_maps(axes, coordinates: Mapping[str, np.ndarray], groups: np.ndarray, popularity: np.ndarray, title: str = ""):
    """One scatter per model of its 2-D item map, coloured by genre group, sized by popularity."""
    labels = [g for g in pd.unique(groups) if g != "other"] + (["other"] if "other" in set(groups) else [])
    colours = {g: f"C{j}" for j, g in enumerate(labels)}
    colours["other"] = "lightgrey"
    size = 4 + 30 * (np.log1p(popularity) / max(np.log1p(popularity).max(), 1e-12)) ** 2
    for ax, (name, xy) in zip(np.ravel(axes), coordinates.items()):
        for label in reversed(labels):
            mask = groups == label
            ax.scatter(xy[mask, 0], xy[mask, 1], s=size[mask], c=colours[label], alpha=0.7, linewidths=0, label=label)
        ax.set(title=f"{title}{name}", xticks=[], yticks=[])
    handles = [
        __import__("matplotlib").lines.Line2D([], [], marker="o", ls="", color=colours[g], label=g) for g in labels
    ]
    np.ravel(axes)[0].figure.legend(handles=handles, loc="outside lower center", ncols=min(len(labels), 6))


def plot_serving(axes, points: pd.DataFrame, names: Sequence[str], *, k: int = 10, title: str = "") -> None:
    """Recall@k against queries per second (log), one panel per ANN method, one line per model."""
    from recsys.notebook.plotting import styled

    methods = list(pd.unique(points["method"]))
    for ax, method in zip(np.ravel(axes), methods):
        for i, name in enumerate(names):
            rows = points[(points["method"] == method) & (points["model"] == name)].sort_values("recall")
            if len(rows):
                ax.plot(rows["recall"], rows["qps"], label=name, **styled(i))
        ax.set(yscale="log", xlabel=f"recall@{k}", ylabel="queries per second (log)", title=f"{title}{method}")
        ax.axvline(0.95, color="grey", lw=0.8, ls=":")
    np.ravel(axes)[0].legend()


def two_hop_weights(X: sp.csr_matrix, user: int) -> pd.Series:
    """How much each other user reaches ``user`` in two LightGCN propagation steps:
    ``sum_i w(user, i) w(v, i)`` over the items ``i`` both rated, with ``w(u, i) = 1 / sqrt(|N(u)| |N(i)|)``.

    Indexed by user index, largest first (ties by index); the users sharing no item are left out.
    """
    X = sp.csr_matrix(X)
    du = np.diff(X.indptr).astype(float)
    di = np.asarray((X != 0).sum(axis=0)).ravel().astype(float)
    B = X.copy()
    B.data = np.ones_like(B.data, dtype=float)
    items = B[user].indices
    if items.size == 0:
        return pd.Series(dtype=float, name="two_hop_weight")
    # w(user, i) w(v, i) = 1 / (sqrt(|N(user)| |N(v)|) |N(i)|): sum the item part, then divide by sqrt(|N(v)|)
    per_item = 1.0 / (np.sqrt(du[user]) * di[items])
    reach = np.asarray(B[:, items] @ per_item).ravel()
    with np.errstate(divide="ignore"):
        reach = reach / np.sqrt(np.where(du > 0, du, np.inf))
    reach[user] = 0.0
    others = np.flatnonzero(reach > 0)
    order = np.lexsort((others, -reach[others]))
    return pd.Series(reach[others[order]], index=others[order], name="two_hop_weight")


def plot_two_hop(ax, X: sp.csr_matrix, user: int, *, max_users: int = 24, labels=None) -> dict:
    """One user's 2-hop neighbourhood in the user-item graph, edges weighted as LightGCN weighs them.

    Centre: the user; middle ring: their films (1 hop), most popular first, each marker's area in
    proportion to the film's number of users (a size key says how many); outer ring: for each film,
    the other users it passes most to the user in one propagation step (the largest
    ``w(v, i) = 1 / sqrt(|N(v)| |N(i)|)``, so the lightest users), about ``max_users`` in all, each
    drawn beside its film with that one edge. Drawing every edge of every 2-hop user is a hairball:
    the users who share most films with this one reach it through all of them (their summed
    two-step weight is :func:`two_hop_weights`). Each edge's width is its weight in one propagation
    step: popular films pass on less of each neighbour. Nothing is random. Returns the counts drawn.
    """
    from matplotlib.lines import Line2D

    X = sp.csr_matrix(X)
    du = np.diff(X.indptr)
    di = np.asarray((X != 0).sum(axis=0)).ravel()
    items = X[user].indices
    items = items[np.lexsort((items, -di[items]))]  # most popular first, around the ring
    XT = sp.csr_matrix(X.T)
    weight = lambda u, i: 1.0 / np.sqrt(du[u] * di[i])  # noqa: E731
    per_item = max(1, max_users // max(items.size, 1))
    chosen: dict[int, list[int]] = {}
    taken: set[int] = {user}
    for i in items:
        others = np.array([v for v in XT[i].indices if v not in taken], dtype=int)
        others = others[np.lexsort((others, du[others]))][:per_item] if others.size else others
        chosen[int(i)] = [int(v) for v in others]
        taken.update(chosen[int(i)])
    angle_i = np.linspace(0, 2 * np.pi, items.size, endpoint=False) + np.pi / 2
    step = 2 * np.pi / max(items.size, 1)
    scale = 6.0 / max(weight(user, i) for i in items) if items.size else 1.0
    for i, a in zip(items, angle_i):
        x, y = np.cos(a), np.sin(a)
        ax.plot([0, x], [0, y], color="C0", lw=scale * weight(user, i), alpha=0.8, zorder=1)
        fan = chosen[int(i)]
        for j, v in enumerate(fan):
            b = a + step * 0.6 * ((j + 0.5) / len(fan) - 0.5)
            ax.plot(
                [x, 2.2 * np.cos(b)], [y, 2.2 * np.sin(b)], color="C1", lw=scale * weight(v, i), alpha=0.6, zorder=0
            )
            ax.scatter([2.2 * np.cos(b)], [2.2 * np.sin(b)], s=30, c="C1", zorder=2)
    top = int(di[items].max()) if items.size else 1
    area = lambda n: 15 + 485 * np.asarray(n) / top  # noqa: E731  marker area in proportion to popularity
    ax.scatter([0], [0], s=260, c="C3", zorder=3)
    if items.size:
        ax.scatter(np.cos(angle_i), np.sin(angle_i), s=area(di[items]), c="C0", zorder=2)
    shown = sorted(taken - {user})
    reach = two_hop_weights(X, user)
    handles = [
        Line2D([], [], marker="o", ls="", color="C3", ms=np.sqrt(260), label="the user"),
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            color="C1",
            ms=np.sqrt(30),
            label=f"2 hops: {len(shown)} of the {reach.size:,} other users of\nthose films, each film's most weighted",
        ),
    ]
    for n in sorted({top, max(1, top // 4)}, reverse=True):
        handles.append(
            Line2D([], [], marker="o", ls="", color="C0", ms=np.sqrt(float(area(n))), label=f"a film with {n:,} users")
        )
    if labels is not None:
        for i, a in zip(items, angle_i):
            ax.annotate(
                f"{labels[i]} ({di[i]:,})",
                (1.12 * np.cos(a), 1.12 * np.sin(a)),
                fontsize=7,
                ha="left" if np.cos(a) >= 0 else "right",
                va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                zorder=4,
            )
    ax.set(xticks=[], yticks=[], aspect="equal", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, labelspacing=1.2)
    return {
        "items": int(items.size),
        "two_hop_users": int(reach.size),
        "shown_users": len(shown),
        "shown": chosen,
        "item_sizes": area(di[items]) if items.size else np.zeros(0),
    }


#: Colours of the leaderboard's families (:data:`recsys.experiments.leaderboard.FAMILIES`).
BOARD_COLOURS = {
    "baseline": "tab:gray",
    "neighbourhood": "tab:olive",
    "graph walk": "tab:cyan",
    "linear": "tab:orange",
    "MF": "tab:blue",
    "neural": "tab:purple",
}


def plot_board(ax, table: pd.DataFrame, families: Mapping[str, str], column: str, *, title: str = "") -> None:
    """Each model's ``column`` (a mean with ``{column}_low`` and ``{column}_high``) as a dot with its
    95 % interval, best at the top, coloured by family, the value printed beside it (so the figure
    reads in greyscale and on a projector)."""
    order = table[column].sort_values()
    y = np.arange(len(order))
    low = table.loc[order.index, f"{column}_low"].to_numpy(dtype=float)
    high = table.loc[order.index, f"{column}_high"].to_numpy(dtype=float)
    colours = [BOARD_COLOURS.get(families.get(name, ""), "black") for name in order.index]
    for i, (value, lo, hi, colour) in enumerate(zip(order.to_numpy(), low, high, colours, strict=True)):
        if np.isfinite(lo) and np.isfinite(hi):
            ax.plot([lo, hi], [i, i], color=colour, lw=2.2, solid_capstyle="butt")
        ax.plot(value, i, "o", color=colour, ms=6)
        ax.annotate(f"{value:.3f}", (np.nanmax([value, hi]), i), xytext=(6, 0), textcoords="offset points", va="center")
    ax.set_yticks(y, [f"{name} ({families.get(name, '')})" for name in order.index])
    ax.set_xlabel(f"{column} (mean, 95 % interval)")
    ax.grid(axis="x", alpha=0.3)
    left, right = np.nanmin(np.r_[low, order.to_numpy()]), np.nanmax(np.r_[high, order.to_numpy()])
    ax.set_xlim(left - 0.02 * (right - left + 1e-9), right + 0.15 * (right - left + 1e-9))
    if title:
        ax.set_title(title)
