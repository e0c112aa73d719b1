"""The figures of notebook 04: users and movies in one plane, genre maps, norms, and one hover map.

Static figures are matplotlib (:func:`recsys.notebook.plotting.setup` sets the look, and
:mod:`recsys.notebook.plotting`'s palette the colours of measures and genre groups); they take
coordinates and labels computed by :mod:`recsys.embeddings` and draw them. The figures with
titles written next to points build the whole figure and place the labels last, once the layout
is final, so that no label overlaps another or leaves its panel:

* :func:`factor_planes`: movies as points with a readable subset labelled, users as arrows;
* :func:`measure_panels`: one user's top items by dot product (beyond the iso-score line), by
  cosine (inside the narrowest wedge around the user's direction) and by Euclidean distance
  (inside the smallest circle around the user's point);
* :func:`genre_maps`: 2-D projections coloured by genre group, with landmark titles;
* :func:`coherence_bars`, :func:`plot_norm_popularity`, :func:`matrix_heatmap`: the summary plots.

:func:`hover_map` is the one interactive figure: a plotly scatter with titles on hover that works
offline. plotly.js (4.8 MB) is embedded gzip-compressed (about 2 MB as base64) and unpacked by the
browser (``DecompressionStream``), so the executed notebook and its nbconvert HTML need no
network and stay a few MB. JupyterLab with plotly's extension renders the figure's JSON instead.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from collections.abc import Mapping, Sequence

import matplotlib.patheffects as path_effects
import numpy as np
import pandas as pd
from matplotlib.patches import Circle, Wedge

from recsys.checks import check_integer
from recsys.notebook.plotting import GENRE_COLOURS, MEASURE_COLOURS, MEASURE_MARKERS

#: Genre groups used to colour maps, in priority order (an item takes its first matching group).
GENRE_GROUPS: dict[str, tuple[str, ...]] = {
    "Children & animation": ("Children", "Animation"),
    "Horror": ("Horror",),
    "Documentary": ("Documentary",),
    "Sci-fi & fantasy": ("Sci-Fi", "Fantasy"),
    "Crime & thriller": ("Crime", "Thriller", "Mystery", "Film-Noir"),
    "Romance": ("Romance",),
}
_HALO = [path_effects.withStroke(linewidth=2.5, foreground="white")]


# ------------------------------------------------------------------------------------ labels

#: Label offsets (points) tried around a point, nearest first; the outer ring gets a leader line.
_NEAR = [(4, 3), (4, -9), (-4, 3), (-4, -9), (0, 7), (0, -13), (8, -3), (-8, -3)]
_FAR = [(12, 14), (12, -20), (-12, 14), (-12, -20), (0, 22), (0, -28), (22, -3), (-22, -3)]


def _freeze(fig) -> None:
    """Draw ``fig`` once and stop its layout engine, so that text added next cannot move the axes."""
    fig.canvas.draw()
    fig.set_layout_engine("none")


def label_points(
    ax, xy, labels: Sequence[str], *, fontsize: float = 8, colour="black", avoid=(), **text_kwargs
) -> list:
    """Label the points ``xy`` (k, 2) with ``labels``, each placed where it overlaps no earlier label.

    Greedy: for each point in order (put the most important first), try offsets around it, near
    ones first, then farther ones with a leader line, and keep the first whose text box lies inside
    the axes and clear of the labels already placed (and of ``avoid``, display-space boxes); a label
    with no clear spot is left out. Call it once the figure's layout is final (the figure functions
    here do). ``colour`` is one colour or one per label; ``text_kwargs`` go to ``ax.annotate``.
    Returns the texts drawn.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(labels) != xy.shape[0]:
        raise ValueError(f"{len(labels)} labels for {xy.shape[0]} points")
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed = list(avoid)
    texts = []
    colours = [colour] * len(labels) if isinstance(colour, str) else list(colour)
    for (x, y), label, colour in zip(xy, labels, colours):
        for ring, offsets in enumerate((_NEAR, _FAR)):
            done = False
            for dx, dy in offsets:
                text = ax.annotate(
                    label,
                    (x, y),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    fontsize=fontsize,
                    color=colour,
                    ha="left" if dx > 0 else "right" if dx < 0 else "center",
                    path_effects=_HALO,
                    zorder=5,
                    arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.6, "alpha": 0.7} if ring else None,
                    **text_kwargs,
                )
                box = text.get_window_extent(renderer).expanded(1.04, 1.1)
                inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
                if inside and not any(box.overlaps(other) for other in placed):
                    placed.append(box)
                    texts.append(text)
                    done = True
                    break
                text.remove()
            if done:
                break
    return texts


def _limits(ax, points: np.ndarray, margin: float = 0.08) -> None:
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = (hi - lo) * margin + 1e-9
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])


def _axes_cross(ax) -> None:
    ax.axhline(0, color="black", lw=0.6, alpha=0.4)
    ax.axvline(0, color="black", lw=0.6, alpha=0.4)


def _arrow(ax, tip, colour: str, lw: float = 1.8) -> None:
    ax.annotate(
        "",
        tuple(tip),
        (0, 0),
        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw, "shrinkA": 0, "shrinkB": 0},
        zorder=4,
    )


# ----------------------------------------------------------------------------- the factor plane

_USER_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def factor_planes(panels: Sequence[Mapping], *, suptitle: str | None = None, panel_size=(7.5, 7.2)):
    """One panel per entry of ``panels``: films as grey points, some named, users as arrows.

    Each entry holds ``item_xy`` (n, 2), ``labelled`` (indices into it) with ``labels``,
    ``user_xy`` (the users' 2-D vectors) with ``user_labels``, ``user_scale`` (arrows are drawn at
    that multiple of the vectors' length: user vectors are often longer than film vectors, and
    the direction is what ranks by dot product) and ``title``. Returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(panel_size[0] * len(panels), panel_size[1]), squeeze=False)
    jobs = []
    for ax, panel in zip(axes[0], panels):
        item_xy = np.asarray(panel["item_xy"], dtype=float)
        labelled = np.asarray(panel.get("labelled", ()), dtype=np.int64)
        user_xy = np.asarray(panel.get("user_xy", np.zeros((0, 2))), dtype=float) * float(panel.get("user_scale", 1.0))
        user_labels = list(panel.get("user_labels", ()))
        ax.scatter(*item_xy.T, s=6, color="#9a9a9a", alpha=0.5, linewidths=0)
        _axes_cross(ax)
        for j, tip in enumerate(user_xy):
            _arrow(ax, tip, _USER_COLOURS[j % len(_USER_COLOURS)])
        if labelled.size:
            ax.scatter(*item_xy[labelled].T, s=14, color="black", zorder=3)
        _limits(ax, np.vstack([item_xy, user_xy, np.zeros((1, 2))]))
        ax.set_aspect("equal", adjustable="box")
        ax.set(xlabel="factor 1", ylabel="factor 2", title=panel.get("title", ""))
        jobs.append((ax, item_xy[labelled], list(panel.get("labels", ())), user_xy, user_labels))
    if suptitle:
        fig.suptitle(suptitle)
    _freeze(fig)
    renderer = fig.canvas.get_renderer()
    for ax, points, labels, user_xy, user_labels in jobs:
        names = [user_labels[j] if j < len(user_labels) else f"user {j}" for j in range(len(user_xy))]
        colours = [_USER_COLOURS[j % len(_USER_COLOURS)] for j in range(len(user_xy))]
        users = label_points(ax, user_xy, names, fontsize=9, colour=colours, fontweight="bold")
        label_points(ax, points, labels, avoid=[t.get_window_extent(renderer) for t in users])
    return fig


def measure_panels(
    user_xy,
    item_xy,
    candidates,
    tops: Mapping[str, np.ndarray],
    labels: Mapping[int, str],
    *,
    n_labels: int = 5,
    name: str = "the user",
    suptitle: str | None = None,
):
    """Three panels, one per measure: which of the ``candidates`` are one user's top items, and why.

    ``tops`` maps ``"dot"``, ``"cosine"``, ``"euclidean"`` to the user's top item indices (best
    first, from :func:`recsys.similarity.top_k_items`). Dot product: the items beyond the iso-score
    line through the k-th best score (perpendicular to the user's vector). Cosine: the items inside
    the narrowest wedge around the user's direction. Euclidean: the items inside the smallest
    circle around the user's point. The best ``n_labels`` of each are named (``labels[index]``).
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    user = np.asarray(user_xy, dtype=float).ravel()
    item_xy = np.asarray(item_xy, dtype=float)
    candidates = np.asarray(candidates, dtype=np.int64)
    norm = float(np.linalg.norm(user))
    if norm == 0:
        raise ValueError("the user's vector is zero: no direction to draw")
    direction = user / norm
    cloud = np.vstack([item_xy[candidates], user[None, :], np.zeros((1, 2))])
    fig, axes = plt.subplots(1, 3, figsize=(16, 6.2))
    jobs = []
    for ax, measure in zip(axes, ("dot", "cosine", "euclidean")):
        top = np.asarray(tops[measure], dtype=np.int64)
        colour = MEASURE_COLOURS[measure]
        ax.scatter(*item_xy[candidates].T, s=6, color="#9a9a9a", alpha=0.45, linewidths=0)
        ax.scatter(*item_xy[top].T, s=26, color=colour, marker=MEASURE_MARKERS[measure], zorder=3)
        _arrow(ax, user, "black")
        ax.scatter(*user, marker="*", s=140, color="black", zorder=5)
        _limits(ax, cloud, 0.12)
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        span = 2 * max(x1 - x0, y1 - y0)
        if measure == "dot":
            cut = float(item_xy[top[-1]] @ direction)
            along = np.array([-direction[1], direction[0]])
            line = np.array([cut * direction - span * along, cut * direction + span * along])
            ax.plot(*line.T, color=colour, lw=1.4, ls="--")
            beyond = np.array([line[0], line[1], line[1] + span * direction, line[0] + span * direction])
            ax.fill(*beyond.T, color=colour, alpha=0.07, lw=0)
            how = "beyond the dashed iso-score line\n(perpendicular to the user's vector)"
        elif measure == "cosine":
            cosines = item_xy[top] @ direction / np.linalg.norm(item_xy[top], axis=1)
            half = float(np.degrees(np.arccos(np.clip(cosines, -1, 1))).max())
            centre = float(np.degrees(np.arctan2(direction[1], direction[0])))
            ax.add_patch(Wedge((0, 0), span, centre - half, centre + half, color=colour, alpha=0.08, lw=0))
            for sign in (-1, 1):
                theta = np.radians(centre + sign * half)
                ax.plot([0, span * np.cos(theta)], [0, span * np.sin(theta)], color=colour, lw=1.2, ls="--")
            how = f"inside the dashed ±{half:.1f}° wedge\naround the user's direction"
        else:
            radius = float(np.linalg.norm(item_xy[top[-1]] - user))
            ax.add_patch(Circle(tuple(user), radius, color=colour, alpha=0.08, lw=0))
            ax.add_patch(Circle(tuple(user), radius, fill=False, color=colour, lw=1.2, ls="--"))
            how = "inside the dashed circle\naround the user's point"
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="box")
        _axes_cross(ax)
        ax.set(title=f"{measure}: {name}'s top {top.size} lie\n{how}", xlabel="factor 1", ylabel="factor 2")
        shown = top[:n_labels]
        jobs.append((ax, item_xy[shown], [labels[int(i)] for i in shown], colour))
    if suptitle:
        fig.suptitle(suptitle)
    _freeze(fig)
    for ax, points, texts, colour in jobs:
        label_points(ax, points, texts, colour=colour)
    return fig


# -------------------------------------------------------------------------------- genre maps


def framed_points(xy, quantile: float, keep=()) -> np.ndarray:
    """A mask of the points of ``xy`` (n, 2) between the ``quantile`` and ``1 - quantile``
    quantiles on both axes, widened to include the points ``keep``: what a map frames."""
    xy = np.asarray(xy, dtype=float)
    if not 0 <= quantile < 0.5:
        raise ValueError(f"quantile must be in [0, 0.5), got {quantile!r}")
    lo, hi = np.quantile(xy, quantile, axis=0), np.quantile(xy, 1 - quantile, axis=0)
    keep = np.asarray(keep, dtype=np.int64)
    if keep.size:
        lo, hi = np.minimum(lo, xy[keep].min(axis=0)), np.maximum(hi, xy[keep].max(axis=0))
    return np.all((xy >= lo) & (xy <= hi), axis=1)


def genre_maps(
    coordinates: Mapping[str, np.ndarray],
    groups: Sequence[str],
    *,
    landmarks=(),
    landmark_labels: Sequence[str] = (),
    axis_names: tuple[str, str] = ("component 1", "component 2"),
    suptitle: str | None = None,
    colours: Mapping[str, str] = GENRE_COLOURS,
    panel_size=(5.7, 5.6),
    frame_quantile: float | None = None,
):
    """One 2-D map per entry of ``coordinates`` (title -> (n, 2)), points coloured by genre group.

    ``groups[i]`` is point ``i``'s group (a key of ``colours``); ``landmarks`` (indices) are circled
    and labelled. Films of the ``"other"`` group are drawn first, underneath. One legend for all
    panels, below them. With ``frame_quantile`` (say 0.01) each panel frames the points between
    that quantile and its complement on each axis (landmarks always inside), so a few far points
    do not squeeze the rest into a blob; how many points fall outside is added to the panel's title.
    Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    groups = np.asarray(groups, dtype=object)
    unknown = ~np.isin(groups, list(colours))
    if unknown.any():
        raise ValueError(f"no colour for group(s) {sorted(set(groups[unknown]))}")
    landmarks = np.asarray(landmarks, dtype=np.int64)
    n = len(coordinates)
    fig, axes = plt.subplots(1, n, figsize=(panel_size[0] * n, panel_size[1]), squeeze=False)
    order = [g for g in colours if g == "other"] + [g for g in colours if g != "other"]
    for ax, (title, xy) in zip(axes[0], coordinates.items()):
        xy = np.asarray(xy, dtype=float)
        if xy.shape[0] != groups.shape[0]:
            raise ValueError(f"{groups.shape[0]} groups for {xy.shape[0]} points in {title!r}")
        for group in order:
            mask = groups == group
            if mask.any():
                ax.scatter(*xy[mask].T, s=7 if group == "other" else 9, color=colours[group], alpha=0.8, linewidths=0)
        if landmarks.size:
            ax.scatter(*xy[landmarks].T, s=46, facecolors="none", edgecolors="black", lw=1.3, zorder=4)
        if frame_quantile is None:
            _limits(ax, xy, 0.04)
        else:
            framed = framed_points(xy, frame_quantile, keep=landmarks)
            _limits(ax, xy[framed], 0.04)
            outside = int((~framed).sum())
            if outside:  # said in the title, where no label can cover it
                title = f"{title} ({outside} outside the frame)"
        ax.set(title=title, xlabel=axis_names[0], ylabel=axis_names[1])
    present = [g for g in order[1:] + order[:1] if (groups == g).any()]
    handles = [Line2D([], [], marker="o", ls="", color=colours[g], markersize=6, label=g) for g in present]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 7), frameon=False)
    if suptitle:
        fig.suptitle(suptitle)
    _freeze(fig)
    if landmarks.size:
        for ax, xy in zip(axes[0], coordinates.values()):
            label_points(ax, np.asarray(xy, dtype=float)[landmarks], list(landmark_labels), fontsize=8.5)
    return fig


# ---------------------------------------------------------------------------- summary plots


def norm_popularity_curve(popularity, norms, n_bins: int = 12) -> pd.DataFrame:
    """The median vector length (and its quartiles) in ``n_bins`` bins of log popularity: the
    shape of the relation, drawn as it is (a straight line through a curved relation would hide
    where the length saturates). Rows: ``popularity`` (the bin's geometric centre), ``median``,
    ``q25``, ``q75``, ``n`` (items in the bin); empty bins are left out."""
    popularity = np.asarray(popularity, dtype=float)
    norms = np.asarray(norms, dtype=float)
    keep = popularity > 0
    x, y = popularity[keep], norms[keep]
    if x.size < 3:
        raise ValueError("norm_popularity_curve needs at least 3 items with a positive popularity")
    edges = np.geomspace(x.min(), x.max() * (1 + 1e-9), n_bins + 1)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        inside = y[which == b]
        if inside.size:
            q25, median, q75 = np.quantile(inside, [0.25, 0.5, 0.75])
            rows.append(
                {
                    "popularity": float(np.sqrt(edges[b] * edges[b + 1])),
                    "median": median,
                    "q25": q25,
                    "q75": q75,
                    "n": inside.size,
                }
            )
    return pd.DataFrame(rows)


def plot_norm_popularity(
    ax, popularity, norms, *, spearman: float, threshold: float | None = None, title: str = ""
) -> None:
    """Item vector length against training popularity (log axis): every item, and the median
    length per popularity bin with its quartiles (:func:`norm_popularity_curve`); ``threshold``
    marks where the well-rated items (a chapter's candidates) begin."""
    popularity = np.asarray(popularity, dtype=float)
    norms = np.asarray(norms, dtype=float)
    keep = popularity > 0
    ax.scatter(popularity[keep], norms[keep], s=4, alpha=0.25, color="#1f77b4", linewidths=0)
    curve = norm_popularity_curve(popularity, norms)
    ax.fill_between(curve["popularity"], curve["q25"], curve["q75"], color="#ff7f0e", alpha=0.25, linewidth=0)
    ax.plot(curve["popularity"], curve["median"], color="#ff7f0e", lw=2, marker="o", ms=3,
            label=f"median per bin, quartiles shaded\n(Spearman {spearman:.2f})")  # fmt: skip
    if threshold is not None:
        ax.axvline(threshold, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set(xlabel="training ratings of the item (log)", ylabel="length of the item vector", title=title)
    ax.legend(loc="upper left", fontsize=8)


def coherence_bars(ax, table, measures: Sequence[str] = ("cosine", "dot"), *, title: str = "") -> None:
    """Genre coherence per model and measure (bars) against the popularity-matched baseline (ticks).

    ``table`` is :func:`recsys.embeddings.space_summary`'s ``"coherence"`` DataFrame.
    """
    names = [str(i) for i in table.index]
    x = np.arange(len(names))
    width = 0.8 / len(measures)
    for j, measure in enumerate(measures):
        offset = (j - (len(measures) - 1) / 2) * width
        colour = MEASURE_COLOURS[measure]
        ax.bar(x + offset, table[measure], width * 0.92, color=colour, alpha=0.85, label=f"{measure}: neighbours")
        ax.scatter(
            x + offset,
            table[f"{measure}_baseline"],
            marker="_",
            s=400,
            color="black",
            zorder=3,
            label="popularity-matched random" if j == 0 else None,
        )
    ax.set_xticks(x, names)
    ax.set(ylim=(0, 1), ylabel="share of neighbours sharing a genre", title=title)
    ax.legend(loc="lower right")


def matrix_heatmap(ax, table, *, title: str = "", fmt: str = "{:.2f}", vmin: float = 0, vmax: float = 1) -> None:
    """A square model x model table (a DataFrame) as a labelled heat map with the values written in."""
    values = np.asarray(table, dtype=float)
    image = ax.imshow(values, cmap="Blues", vmin=vmin, vmax=vmax)
    names = [str(c) for c in table.columns]
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), [str(i) for i in table.index])
    ax.grid(False)
    for (r, c), value in np.ndenumerate(values):
        colour = "white" if value > vmin + 0.6 * (vmax - vmin) else "black"
        ax.text(c, r, fmt.format(value), ha="center", va="center", fontsize=9, color=colour)
    ax.set_title(title)
    return image


# ---------------------------------------------------------------------------- interactive map


@functools.lru_cache(maxsize=1)
def _packed_plotlyjs() -> tuple[str, str, int]:
    """(base64 of gzip-compressed plotly.min.js, plotly.js version, raw size in bytes)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    source = get_plotlyjs().encode("utf-8")
    packed = base64.b64encode(gzip.compress(source, compresslevel=9, mtime=0)).decode("ascii")
    return packed, get_plotlyjs_version(), len(source)


_LOADER = """<div id="{div}" style="width:100%;max-width:{width}px;height:{height}px">
<p style="font-family:sans-serif;color:#666">Interactive map ({n} films): it needs JavaScript. In Jupyter, trust
the notebook; in the HTML report it draws by itself, offline.</p></div>
<script type="text/javascript">
(function () {{
  var target = document.getElementById("{div}");
  var figure = {figure};
  function draw() {{
    target.innerHTML = "";
    window.Plotly.newPlot(target, figure.data, figure.layout, {{responsive: true, displaylogo: false}});
  }}
  if (window.Plotly && window.Plotly.newPlot) {{ draw(); return; }}
  if (!window.__recsysPlotly) {{
    if (typeof DecompressionStream === "undefined") {{
      target.innerHTML = "<p>This browser cannot unpack the embedded plotly.js (no DecompressionStream).</p>";
      return;
    }}
    var packed = "{packed}";
    var bytes = Uint8Array.from(atob(packed), function (c) {{ return c.charCodeAt(0); }});
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    window.__recsysPlotly = new Response(stream).text().then(function (code) {{
      var amd = window.define;  /* plotly.js is UMD: hide require.js so that it sets window.Plotly */
      window.define = undefined;
      try {{ (0, eval)(code); }} finally {{ window.define = amd; }}
    }});
  }}
  window.__recsysPlotly.then(draw);
}})();
</script>"""


class InteractiveFigure:
    """A plotly figure that displays offline: self-contained HTML (plotly.js embedded, compressed).

    In a notebook its mime bundle carries the HTML (for nbconvert and classic Jupyter) and plotly's
    own JSON (``application/vnd.plotly.v1+json``, for JupyterLab's plotly renderer).
    """

    def __init__(self, figure, *, width: int = 900, height: int = 650, div_id: str = "recsys-hover-map"):
        self.figure = figure
        self.width = check_integer("width", width, 100)
        self.height = check_integer("height", height, 100)
        self.div_id = div_id

    def to_html(self) -> str:
        """The figure as an HTML fragment that draws itself with no network."""
        packed, _, _ = _packed_plotlyjs()
        figure = self.figure.to_plotly_json()
        payload = json.dumps({"data": figure["data"], "layout": figure["layout"]}, default=_plain)
        n = sum(len(trace.get("x", ())) for trace in figure["data"])
        return _LOADER.format(
            div=self.div_id,
            width=self.width,
            height=self.height,
            figure=payload.replace("</", "<\\/"),
            packed=packed,
            n=n,
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        figure = self.figure.to_plotly_json()
        return {
            "text/html": self.to_html(),
            "application/vnd.plotly.v1+json": json.loads(json.dumps(figure, default=_plain)),
            "text/plain": f"<interactive map: {len(figure['data'])} trace(s); open in Jupyter or the HTML report>",
        }


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def hover_lines(catalogue, indices) -> list[str]:
    """One hover text per item of a :class:`recsys.catalogue.Catalogue`: title, genres, training ratings."""
    from html import escape

    lines = []
    for i in np.asarray(indices, dtype=np.int64).ravel():
        genres = ", ".join(sorted(catalogue.genres[i])) or "no genre"
        lines.append(
            f"<b>{escape(str(catalogue.titles[i]))}</b><br>{escape(genres)}<br>"
            f"{int(catalogue.popularity[i]):,} training ratings"
        )
    return lines


def plotly_available() -> bool:
    """True when plotly is installed (the hover map needs it; every other figure is matplotlib)."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def plotlyjs_cost() -> dict:
    """What embedding plotly.js costs: its version, raw size and embedded (gzip + base64) size in bytes."""
    packed, version, raw = _packed_plotlyjs()
    return {"plotly.js": version, "raw_bytes": raw, "embedded_bytes": len(packed)}


def hover_map(
    xy,
    hover: Sequence[str],
    groups: Sequence[str],
    *,
    title: str = "",
    colours: Mapping[str, str] = GENRE_COLOURS,
    axis_names: tuple[str, str] = ("component 1", "component 2"),
    width: int = 900,
    height: int = 650,
) -> InteractiveFigure:
    """The 2-D item map with each film's ``hover`` text on mouse-over, coloured by genre group.

    One trace per group (click a legend entry to hide it, double-click to isolate it). Returns an
    :class:`InteractiveFigure`; make it a cell's last expression to display it. Needs plotly
    (``ImportError`` saying so otherwise, see :func:`plotly_available`).
    """
    try:
        import plotly.graph_objects as go
    except ImportError as error:
        raise ImportError("the hover map needs plotly (pip install plotly)") from error

    xy = np.asarray(xy, dtype=float)
    groups = np.asarray(groups, dtype=object)
    hover = np.asarray(hover, dtype=object)
    if not (xy.shape[0] == groups.shape[0] == hover.shape[0]):
        raise ValueError(f"xy, hover and groups differ in length: {xy.shape[0]}, {hover.shape[0]}, {groups.shape[0]}")
    figure = go.Figure()
    order = [g for g in colours if g == "other"] + [g for g in colours if g != "other"]
    for group in order:
        mask = groups == group
        if not mask.any():
            continue
        figure.add_trace(
            go.Scatter(
                x=np.round(xy[mask, 0], 3),
                y=np.round(xy[mask, 1], 3),
                mode="markers",
                name=group,
                text=list(hover[mask]),
                hovertemplate="%{text}<extra></extra>",
                marker={"size": 6, "color": colours[group], "opacity": 0.8},
                legendrank=2000 if group == "other" else 1000,  # drawn first (underneath), listed last
            )
        )
    figure.update_layout(
        title=title,
        template="simple_white",
        xaxis_title=axis_names[0],
        yaxis_title=axis_names[1],
        legend={"itemsizing": "constant"},
        margin={"l": 50, "r": 20, "t": 60, "b": 50},
        hoverlabel={"align": "left"},
    )
    return InteractiveFigure(figure, width=width, height=height)
