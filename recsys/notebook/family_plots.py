"""Notebook 07's figures: training curves, item maps, serving frontiers, a user's graph neighbourhood.

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
    "plot_curves",
    "plot_maps",
    "plot_serving",
    "plot_two_hop",
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


def plot_two_hop(ax, X: sp.csr_matrix, user: int, *, max_users: int = 24, seed: int = 0, labels=None) -> dict:
    """One user's 2-hop neighbourhood in the user-item graph, edges weighted as LightGCN weighs them.

    Centre: the user; middle ring: their items (1 hop); outer ring: up to ``max_users`` other users
    of those items (2 hops). Each edge's width is ``1 / sqrt(|N(u)| |N(i)|)``, its weight in one
    propagation step, so popular items (many neighbours) pass on less of each neighbour. Returns
    the counts drawn.
    """
    rng = np.random.default_rng(seed)
    X = sp.csr_matrix(X)
    du = np.diff(X.indptr)
    di = np.asarray((X != 0).sum(axis=0)).ravel()
    items = X[user].indices
    XT = sp.csr_matrix(X.T)
    neighbours = np.unique(np.concatenate([XT[i].indices for i in items]) if items.size else np.zeros(0, int))
    neighbours = neighbours[neighbours != user]
    shown = np.sort(rng.choice(neighbours, size=min(max_users, neighbours.size), replace=False))
    angle_i = np.linspace(0, 2 * np.pi, items.size, endpoint=False)
    item_xy = {i: (np.cos(a), np.sin(a)) for i, a in zip(items, angle_i)}
    angle_u = np.linspace(0, 2 * np.pi, max(shown.size, 1), endpoint=False) + np.pi / max(shown.size, 1)
    user_xy = {v: (2.2 * np.cos(a), 2.2 * np.sin(a)) for v, a in zip(shown, angle_u)}
    weight = lambda u, i: 1.0 / np.sqrt(du[u] * di[i])  # noqa: E731
    scale = 6.0 / max(weight(user, i) for i in items) if items.size else 1.0
    for i in items:
        ax.plot([0, item_xy[i][0]], [0, item_xy[i][1]], color="C0", lw=scale * weight(user, i), alpha=0.8, zorder=1)
    shown_set = set(shown.tolist())
    for i in items:
        for v in XT[i].indices:
            if v in shown_set:
                (x0, y0), (x1, y1) = item_xy[i], user_xy[v]
                ax.plot([x0, x1], [y0, y1], color="C1", lw=scale * weight(v, i), alpha=0.5, zorder=0)
    ax.scatter([0], [0], s=260, c="C3", zorder=3, label="the user")
    if items.size:
        ax.scatter(
            *np.array([item_xy[i] for i in items]).T,
            s=12 + 4 * np.sqrt(di[items]),
            c="C0",
            zorder=2,
            label="their items (1 hop)",
        )
    if shown.size:
        ax.scatter(
            *np.array([user_xy[v] for v in shown]).T, s=40, c="C1", zorder=2, label="users of those items (2 hops)"
        )
    if labels is not None:
        for i in items:
            ax.annotate(labels[i], item_xy[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xticks=[], yticks=[], aspect="equal")
    ax.legend(loc="upper left", fontsize=8)
    return {"items": int(items.size), "two_hop_users": int(neighbours.size), "shown_users": int(shown.size)}
