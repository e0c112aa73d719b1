"""Figures of notebook 06: recall-QPS frontiers ann-benchmarks style, costs, scaling, and the 2-D
pictures of how each family works.

Conventions: recall on a logit axis (the interesting part is 0.9, 0.99, 0.999, which a linear axis
crams into its right edge) and QPS on a log axis; one colour per method (the same in every figure
of a run), one marker per family (graph o, tree ^, LSH s, quantisation D, exact *), so families
stay distinguishable when colours are close (the markers and line styles, and the colours of the
MIPS transform, are :mod:`recsys.notebook.plotting`'s palette).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd

from recsys.ann.bench import operating_points, pareto_frontier
from recsys.notebook.plotting import ANN_FAMILY_LINES as FAMILY_LINES
from recsys.notebook.plotting import ANN_FAMILY_MARKERS as FAMILY_MARKERS
from recsys.notebook.plotting import TRANSFORM_COLOURS

FAMILY_NAMES = {"graph": "graphs", "tree": "trees", "lsh": "LSH", "quantization": "quantisation", "exact": "exact"}
FAMILY_NAMES |= {"pruning": "exact with pruning bounds"}


def method_styles(methods: Sequence[str], families: Mapping[str, str]) -> dict[str, dict]:
    """One colour per method (tab20, in the given order), marker and line style by family."""
    colours = mpl.colormaps["tab20"].colors
    styles = {}
    for i, method in enumerate(dict.fromkeys(methods)):
        family = families.get(method, "exact")
        styles[method] = {
            "color": colours[(2 * i) % 20 if i < 10 else (2 * (i - 10) + 1) % 20],
            "marker": FAMILY_MARKERS.get(family, "x"),
            "linestyle": FAMILY_LINES.get(family, "-"),
        }
    return styles


def styles_for(table: pd.DataFrame) -> dict[str, dict]:
    """:func:`method_styles` for the methods of a results table (in table order)."""
    families = dict(zip(table["method"], table["family"]))
    return method_styles(list(families), families)


def _logit_recall(recall: np.ndarray, top: float) -> np.ndarray:
    return np.clip(np.asarray(recall, dtype=float), 1e-3, top)


def recall_axis(ax, top: float, axis: str = "x", values=None) -> None:
    """A logit recall axis with ticks at 0.1, 0.5, 0.9, 0.99, ... up to ``top``.

    With ``values`` (the recalls drawn), the axis spans those values and a little margin, and only
    the ticks inside that span are drawn: ticks past the data would otherwise stretch the axis
    (matplotlib widens the view to every tick), leaving most of the width empty.
    """
    scale, set_ticks, set_limits, minor = (
        (ax.set_xscale, ax.set_xticks, ax.set_xlim, ax.xaxis)
        if axis == "x"
        else (ax.set_yscale, ax.set_yticks, ax.set_ylim, ax.yaxis)
    )
    scale("logit")
    ticks = [t for t in (0.1, 0.5, 0.9, 0.99, 0.999, 0.9999) if t <= top]
    if values is not None and len(np.asarray(values)):
        low, high = recall_span(values, top)
        set_limits(low, high)
        ticks = [t for t in ticks if low <= t <= high]
    set_ticks(ticks, [f"{t:g}" for t in ticks])
    minor.set_minor_formatter(mpl.ticker.NullFormatter())


def recall_span(values, top: float, margin: float = 0.3) -> tuple[float, float]:
    """The limits of a logit recall axis showing ``values`` (clipped to [1e-3, ``top``]) with
    ``margin`` logits on each side, never past ``top`` plus the margin."""
    v = _logit_recall(np.asarray(values, dtype=float).ravel(), top)
    logit = np.log(v / (1 - v))
    low, high = logit.min() - margin, logit.max() + margin
    return float(1 / (1 + np.exp(-low))), float(1 / (1 + np.exp(-high)))


def outside_legend(ax, **kwargs) -> None:
    """The legend outside the axes, where it cannot cover a line (the saved figure grows to hold
    it): to the right of a panel with no panel beside it, under the panel otherwise."""
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is None or spec.is_last_col():
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)
    else:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, **kwargs)


def recall_ceiling(table: pd.DataFrame) -> float:
    """Where recall 1.0 is drawn on a logit axis: half a hit below perfect."""
    n = int((table["n_queries"] * table["k"]).max()) if len(table) else 1000
    return 1.0 - 0.5 / max(n, 2)


def frontier(
    ax,
    table: pd.DataFrame,
    *,
    y: str = "qps",
    title: str = "",
    styles: Mapping[str, dict] | None = None,
    exact_lines: bool = True,
    legend: bool = True,
) -> None:
    """ann-benchmarks' plot: each method's Pareto frontier of recall (logit) against ``y`` (log).

    Exact methods are drawn as horizontal lines at their ``y`` (the price of not approximating).
    """
    styles = styles or styles_for(table)
    top = recall_ceiling(table)
    approx = table[table["family"] != "exact"]
    drawn = pareto_frontier(approx, y=y, by=("method",))
    for method, rows in drawn.groupby("method", sort=False):
        s = styles[method]
        ax.plot(
            _logit_recall(rows["recall"], top),
            rows[y],
            color=s["color"],
            marker=s["marker"],
            linestyle=s["linestyle"],
            ms=4,
            lw=1.4,
            label=rows["label"].iloc[0],
        )
    if exact_lines:
        for method, rows in table[table["family"] == "exact"].groupby("method", sort=False):
            s = styles[method]
            ax.axhline(rows[y].max(), color=s["color"], lw=1, ls=":", label=f"{rows['label'].iloc[0]} (exact)")
    recall_axis(ax, top, values=drawn["recall"])
    ax.set_yscale("log")
    k = int(table["k"].iloc[0]) if len(table) else 10
    ax.set(xlabel=f"recall@{k} (logit scale)", ylabel=_label(y), title=title)
    if legend:
        outside_legend(ax)


def _label(column: str) -> str:
    return {
        "qps": "queries per second, 1 thread, 1 query per call (log)",
        "batch_qps": "queries per second, batched, all threads (log)",
        "build_s": "build time, s (log)",
        "memory_bytes": "index memory, bytes (log)",
        "bytes_per_item": "index memory per item, bytes (log)",
    }.get(column, column)


def cost_scatter(ax, table: pd.DataFrame, y: str, *, title: str = "", styles=None, legend: bool = False) -> None:
    """Build time or memory (``y``, log) against recall (logit): one marker per grid point on each
    method's QPS frontier, so the points line up with the frontier figure."""
    styles = styles or styles_for(table)
    top = recall_ceiling(table)
    drawn = pareto_frontier(table[table["family"] != "exact"], by=("method",))
    for method, rows in drawn.groupby("method", sort=False):
        s = styles[method]
        ax.scatter(
            _logit_recall(rows["recall"], top),
            rows[y],
            color=s["color"],
            marker=s["marker"],
            s=18,
            label=rows["label"].iloc[0],
        )
    for method, rows in table[table["family"] == "exact"].groupby("method", sort=False):
        ax.axhline(rows[y].max(), color=styles[method]["color"], lw=1, ls=":", label=f"{rows['label'].iloc[0]} (exact)")
    recall_axis(ax, top, values=drawn["recall"])
    ax.set_yscale("log")
    k = int(table["k"].iloc[0]) if len(table) else 10
    ax.set(xlabel=f"recall@{k} (logit scale)", ylabel=_label(y), title=title)
    if legend:
        outside_legend(ax)


def scaling(
    ax, table: pd.DataFrame, y: str, target: float, *, title: str = "", styles=None, legend: bool = False
) -> None:
    """``y`` against catalogue size (log-log) at each method's fastest point reaching ``target``;
    exact search (recall 1) as the reference line."""
    styles = styles or styles_for(table)
    points = operating_points(table[table["family"] != "exact"], target, by=("n_items", "method"))
    for method, rows in points.groupby("method", sort=False):
        rows = rows.sort_values("n_items")
        s = styles[method]
        ax.plot(
            rows["n_items"], rows[y], color=s["color"], marker=s["marker"], linestyle=s["linestyle"], ms=4, label=method
        )
    exact = table[table["family"] == "exact"]
    for method, rows in exact.groupby("method", sort=False):
        rows = rows.groupby("n_items")[y].max() if y in ("qps", "batch_qps") else rows.groupby("n_items")[y].min()
        s = styles[method]
        ax.plot(
            rows.index, rows.to_numpy(), color=s["color"], marker=s["marker"], lw=2, ls=":", label=f"{method} (exact)"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="catalogue size, items (log)", ylabel=_label(y), title=title)
    if legend:
        ax.legend(fontsize=7, ncol=2)


def family_legend(fig, styles: Mapping[str, dict], families: Mapping[str, str], **kwargs) -> None:
    """One legend for a figure of several panels: each method with its colour and family marker."""
    handles = [
        mpl.lines.Line2D(
            [],
            [],
            color=s["color"],
            marker=s["marker"],
            linestyle=s["linestyle"],
            label=f"{m} ({FAMILY_NAMES.get(families.get(m, ''), '')})",
        )
        for m, s in styles.items()
    ]
    fig.legend(
        handles=handles, fontsize=7, ncol=kwargs.pop("ncol", 4), loc=kwargs.pop("loc", "outside lower center"), **kwargs
    )


def ndcg_vs_recall(
    ax,
    cost: pd.DataFrame,
    k: int = 10,
    *,
    styles=None,
    title: str = "",
    tolerance: float | None = None,
    x: str = "served_recall",
) -> None:
    """Each operating point's nDCG@k loss against exact retrieval, with its 95 % paired interval
    over users, against the recall of the lists it serves (``x``; logit scale)."""
    exact = cost[cost["method"] == "exact"].iloc[0]
    points = cost[cost["method"] != "exact"]
    families = dict(zip(points["method"], points["family"]))
    styles = styles or method_styles(list(families), families)
    top = 1 - 1e-3
    for method, rows in points.groupby("method", sort=False):
        s = styles[method]
        rows = rows.sort_values(x)
        loss = rows["ndcg_loss"].to_numpy()
        ax.errorbar(
            _logit_recall(rows[x], top),
            loss,
            yerr=[loss - rows["ndcg_loss_low"].to_numpy(), rows["ndcg_loss_high"].to_numpy() - loss],
            color=s["color"],
            marker=s["marker"],
            linestyle=s["linestyle"],
            ms=4,
            capsize=2,
            elinewidth=0.8,
            label=method,
        )
    ax.axhline(0.0, color="black", lw=1.2, label=f"exact retrieval (nDCG@{k} {exact[f'ndcg@{k}']:.4f})")
    if tolerance:
        ax.axhspan(-tolerance, tolerance, color="grey", alpha=0.15, label=f"loss within ±{tolerance:g}")
    recall_axis(ax, top, values=points[x])
    what = "served lists' recall" if x == "served_recall" else "index recall"
    ax.set(
        xlabel=f"{what}@{k} against exact retrieval's (logit scale)",
        ylabel=f"nDCG@{k} loss vs exact (95 % interval over users)",
        title=title,
    )
    outside_legend(ax)


def shape_figure(axes, real, synthetic, *, n_pairs: int = 20_000, seed: int = 0) -> None:
    """Real vs synthetic catalogue: item norms (log) and query-item cosines, as overlaid densities."""
    from recsys.ann.workloads import _query_cosines

    rng = np.random.default_rng(seed)
    norms = [np.linalg.norm(w.items, axis=1) for w in (real, synthetic)]
    bins = np.geomspace(max(1e-3, min(n.min() for n in norms)), max(n.max() for n in norms), 60)
    for values, label, colour in zip(norms, ("real", "synthetic"), ("tab:blue", "tab:orange")):
        axes[0].hist(values, bins=bins, density=True, histtype="step", lw=1.6, color=colour, label=label)
    axes[0].set_xscale("log")
    axes[0].set(xlabel="item vector norm (log)", ylabel="density", title="item norms")
    cosines = [_query_cosines(w.queries, w.items, n_pairs, rng) for w in (real, synthetic)]
    bins = np.linspace(-1, 1, 81)
    for values, label, colour in zip(cosines, ("real", "synthetic"), ("tab:blue", "tab:orange")):
        axes[1].hist(values, bins=bins, density=True, histtype="step", lw=1.6, color=colour, label=label)
    axes[1].set(
        xlabel="cosine of a random (query, item) pair", ylabel="density", title="angles between queries and items"
    )
    for ax in axes:
        ax.legend()


def transform_figure(ax, workload, *, n_pairs: int = 20_000, seed: int = 0) -> None:
    """Query-item cosines before and after the MIPS transform (the squeeze towards 90 degrees)."""
    from recsys.ann.workloads import _query_cosines
    from recsys.similarity import mips_transform

    items_t, queries_t, _ = mips_transform(workload.items, workload.queries)
    bins = np.linspace(-1, 1, 161)
    for X, Q, label, colour in (
        (workload.items, workload.queries, "original vectors", TRANSFORM_COLOURS["raw"]),
        (items_t, queries_t, "after the MIPS transform", TRANSFORM_COLOURS["mips"]),
    ):
        values = _query_cosines(Q, X, n_pairs, np.random.default_rng(seed))
        ax.hist(values, bins=bins, density=True, histtype="step", lw=1.6, color=colour, label=label)
    ax.set(xlabel="cosine of a random (query, item) pair", ylabel="density", xlim=(-0.6, 0.6))
    ax.legend()


# -- the 2-D pictures -------------------------------------------------------------------------------------


def rp_tree_picture(ax, points, tree, query=None, title: str = "") -> None:
    """The plane cut by a random-projection tree: split lines (thicker = nearer the root), points
    coloured by leaf, the query's leaf shaded."""
    P = np.asarray(points)
    depth_max = max((d for _, d in tree.splits), default=0)
    colours = mpl.colormaps["tab20"].colors
    for i, (polygon, members) in enumerate(tree.leaves):
        ax.scatter(P[members, 0], P[members, 1], s=8, color=colours[i % 20])
        if query is not None and len(polygon) >= 3 and mpl.path.Path(polygon).contains_point(query):
            ax.fill(polygon[:, 0], polygon[:, 1], color="gold", alpha=0.35, zorder=0)
    for segment, depth in tree.splits:
        ax.plot(segment[:, 0], segment[:, 1], color="black", lw=2.6 * (1 - depth / (depth_max + 1)) + 0.4)
    if query is not None:
        ax.scatter(*query, marker="*", s=180, color="red", edgecolor="black", zorder=5, label="query")
        ax.legend(loc="upper right")
    ax.set(title=title, xticks=[], yticks=[])
    ax.set_aspect("equal")


def candidates_picture(ax, points, candidates, true, query, title: str = "") -> None:
    """Which points an index inspects (green) and where the true nearest ones are (rings)."""
    P = np.asarray(points)
    ax.scatter(P[:, 0], P[:, 1], s=6, color="lightgrey")
    ax.scatter(P[candidates, 0], P[candidates, 1], s=10, color="tab:green", label=f"inspected ({len(candidates)})")
    ax.scatter(P[true, 0], P[true, 1], s=50, facecolor="none", edgecolor="black", label=f"true {len(true)} nearest")
    ax.scatter(*query, marker="*", s=180, color="red", edgecolor="black", zorder=5, label="query")
    ax.set(title=title, xticks=[], yticks=[])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)


def lsh_picture(ax, points, lsh, query, probes: int = 1, title: str = "") -> None:
    """Random hyperplanes through the origin, points coloured by bucket, the query's probed buckets' points ringed."""
    P = np.asarray(points)
    codes = lsh.hash(P)[:, 0]
    colours = mpl.colormaps["tab20"].colors
    reach = np.abs(P).max() * 1.1
    for h in lsh.planes_.T:
        direction = np.array([-h[1], h[0]]) / np.linalg.norm(h)
        ax.plot(*np.stack([-reach * direction, reach * direction]).T, color="black", lw=1)
    ax.scatter(P[:, 0], P[:, 1], s=8, c=[colours[c % 20] for c in codes])
    probed = lsh.probe_codes(np.asarray(query, dtype=np.float32) @ lsh.planes_, probes)[0]
    hit = np.isin(codes, probed)
    ax.scatter(
        P[hit, 0],
        P[hit, 1],
        s=40,
        facecolor="none",
        edgecolor="black",
        lw=0.8,
        label=f"candidates ({probes} bucket{'s' * (probes > 1)})",
    )
    ax.scatter(*query, marker="*", s=180, color="red", edgecolor="black", zorder=5, label="query")
    ax.set(xlim=(-reach, reach), ylim=(-reach, reach), title=title, xticks=[], yticks=[])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)


def pq_picture(ax, points, pq, title: str = "") -> None:
    """2-D product quantisation with two 1-D sub-spaces: each axis has its own codebook, their
    product is a grid of reconstruction points; every item is moved to its grid point."""
    P = np.asarray(points)
    recon = pq.decode(pq.encode(P))
    cx, cy = pq.codebooks_[0][:, 0], pq.codebooks_[1][:, 0]
    for x in cx:
        ax.axvline(x, color="tab:blue", lw=0.6, alpha=0.5)
    for y in cy:
        ax.axhline(y, color="tab:orange", lw=0.6, alpha=0.5)
    ax.scatter(P[:, 0], P[:, 1], s=6, color="grey", label="items")
    ax.plot(np.stack([P[:, 0], recon[:, 0]]), np.stack([P[:, 1], recon[:, 1]]), color="grey", lw=0.3, alpha=0.6)
    gx, gy = np.meshgrid(cx, cy)
    ax.scatter(gx.ravel(), gy.ravel(), marker="s", s=30, color="black", label=f"{cx.size} x {cy.size} reconstructions")
    ax.scatter(
        cx,
        np.full_like(cx, P[:, 1].min() - 0.1 * np.ptp(P[:, 1])),
        marker="|",
        s=200,
        color="tab:blue",
        label="codebook 1 (x)",
    )
    ax.scatter(
        np.full_like(cy, P[:, 0].min() - 0.1 * np.ptp(P[:, 0])),
        cy,
        marker="_",
        s=200,
        color="tab:orange",
        label="codebook 2 (y)",
    )
    ax.set(title=title, xticks=[], yticks=[])
    ax.legend(loc="best", fontsize=7, framealpha=0.9, frameon=True)


def graph_picture(ax, points, graph, path, query, title: str = "") -> None:
    """A navigable small-world graph with a greedy search path from the entry point to the query."""
    P = np.asarray(points)
    for a, neighbours in enumerate(graph):
        for b in neighbours:
            if a < b:
                ax.plot(P[[a, b], 0], P[[a, b], 1], color="lightgrey", lw=0.6, zorder=0)
    ax.scatter(P[:, 0], P[:, 1], s=8, color="tab:blue", zorder=1)
    ax.plot(
        P[path, 0],
        P[path, 1],
        color="red",
        lw=2,
        marker="o",
        ms=4,
        zorder=3,
        label=f"greedy path ({len(path) - 1} hops)",
    )
    ax.scatter(*P[path[0]], s=90, color="green", edgecolor="black", zorder=4, label="entry point")
    ax.scatter(*query, marker="*", s=180, color="red", edgecolor="black", zorder=5, label="query")
    ax.set(title=title, xticks=[], yticks=[])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)


# -- norm-ordered exact search ------------------------------------------------------------------------

#: The two curves of a norm-ordered scan, and the stop.
SCAN_COLOURS: dict[str, str] = {"bound": "#d62728", "kth": "#1f77b4", "scores": "#bbbbbb"}


def norm_scan_picture(ax, scan, k: int, title: str = "") -> None:
    """One query's scan, items longest first (:func:`recsys.ann.teaching.norm_scan`): every item's
    score in scan order, the Cauchy-Schwarz bound of the items not yet read, the k-th best score
    so far, and where the two cross (the scan stops). Items read on a log axis."""
    n = len(scan.order)
    x = np.arange(1, n + 1)
    ax.scatter(
        x, scan.scores, s=3, color=SCAN_COLOURS["scores"], rasterized=True, label="q·x of each item, in scan order"
    )
    ax.plot(x, scan.bound, color=SCAN_COLOURS["bound"], lw=2, label="|q| |x|: the most any unread item can score")
    ax.plot(x, scan.kth_best, color=SCAN_COLOURS["kth"], lw=2, label=f"k-th best score so far (k = {k})")
    ax.axvline(
        scan.stop,
        color="black",
        ls="--",
        lw=1.2,
        label=f"stop: {scan.stop:,} of {n:,} items read ({scan.share_read:.1%})",
    )
    ax.set(xscale="log", xlabel="items read, longest first", ylabel="inner product", title=title)
    ax.legend(loc="upper right", fontsize="small")


def share_read_picture(ax, x, shares: Mapping[str, np.ndarray], *, xlabel: str, title: str = "", bins: int = 8) -> None:
    """The share of the catalogue an exact search read per query against a property of the query
    (a user's activity, say), one colour per way of searching: points for the queries, a line
    through the median of each of ``bins`` log-spaced bins of ``x``. Both axes logarithmic."""
    x = np.asarray(x, dtype=float)
    edges = np.unique(np.geomspace(max(x.min(), 1e-12), x.max(), bins + 1))
    colours = iter((SCAN_COLOURS["bound"], SCAN_COLOURS["kth"], "#2ca02c", "#9467bd"))
    for label, share in shares.items():
        share = np.asarray(share, dtype=float)
        colour = next(colours)
        ax.scatter(x, share, s=5, alpha=0.35, color=colour)
        which = np.clip(np.digitize(x, edges[1:-1]), 0, len(edges) - 2)
        filled = [b for b in range(len(edges) - 1) if np.any(which == b)]
        centres = [np.median(x[which == b]) for b in filled]
        ax.plot(centres, [np.median(share[which == b]) for b in filled], color=colour, lw=2, marker="o", label=label)
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="share of the catalogue scored", title=title)
    ax.legend(fontsize="small")


def share_by_size_picture(ax, table: pd.DataFrame, *, title: str = "") -> None:
    """The share of the catalogue an exact search read against the catalogue's size: one colour per
    way of searching (the columns ``"<way>: median"`` and ``"<way>: p90"`` of ``table``, indexed by
    the number of items), the median solid, the 90th percentile dashed. Both axes logarithmic."""
    ways = list(dict.fromkeys(c.rsplit(": ", 1)[0] for c in table.columns if c.endswith((": median", ": p90"))))
    colours = (SCAN_COLOURS["bound"], SCAN_COLOURS["kth"], "#2ca02c", "#9467bd")
    for way, colour in zip(ways, colours):
        ax.plot(table.index, table[f"{way}: median"], color=colour, lw=2, marker="o", label=f"{way}: median")
        if f"{way}: p90" in table:
            ax.plot(
                table.index,
                table[f"{way}: p90"],
                color=colour,
                lw=1.2,
                ls="--",
                marker="o",
                ms=3,
                label=f"{way}: 90th pct",
            )
    ax.set(
        xscale="log", yscale="log", xlabel="items in the catalogue", ylabel="share of the catalogue scored", title=title
    )
    ax.legend(fontsize="small")
