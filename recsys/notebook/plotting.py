"""Small plotting helpers shared by the notebooks: one look, and the plots that need more than a few lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd


def setup() -> None:
    """The notebooks' figure style: readable sizes, light grid, no top/right spines."""
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (8, 3.6),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "figure.constrained_layout.use": True,
        }
    )


def long_tail(ax, counts: np.ndarray, what: str, top10_share: float | None = None) -> None:
    """Log-log rank plot of interaction counts (most popular first)."""
    counts = np.asarray(counts)
    ranks = np.arange(1, counts.size + 1)
    ax.loglog(ranks, counts, lw=1.5)
    title = f"{what}: ratings per {what[:-1]} by rank"
    if top10_share is not None:
        title += f"\n(top 10% of {what} hold {top10_share:.0%} of ratings)"
    ax.set(xlabel=f"{what[:-1]} rank (log)", ylabel="ratings (log)", title=title)


def time_cdf(ax, split, title: str = "") -> None:
    """Cumulative distribution of training and test timestamps of a split."""
    for frame, label, style in ((split.train, "train", "-"), (split.test, "test", "--")):
        if len(frame) == 0:
            continue
        t = np.sort(pd.to_datetime(frame["timestamp"], unit="s").to_numpy())
        ax.plot(t, np.arange(1, t.size + 1) / t.size, style, label=f"{label} ({t.size:,})")
    ax.set(title=title, xlabel="time of rating")
    ax.legend(loc="upper left")


def convergence(ax, histories: Mapping[str, Iterable[Mapping]], x: str = "iteration", y: str = "val_rmse") -> None:
    """One line per model: ``y`` against ``x`` from each model's ``history_``."""
    for name, history in histories.items():
        rows = [h for h in history if h.get(y) is not None]
        if rows:
            ax.plot([h[x] for h in rows], [h[y] for h in rows], marker=".", label=name)
    ax.set(xlabel=x.replace("_", " "), ylabel=y.replace("_", " "))
    ax.legend()
