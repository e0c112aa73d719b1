"""Small plotting helpers shared by the notebooks: one look, one palette, and the plots that need
more than a few lines.

The palette gives every fixed category one colour (and marker) in every figure of every chapter,
so that a reader who learnt "red is the dot product" in notebook 04 can rely on it in 05 and 06:
:data:`MEASURE_STYLES` (the three similarity measures), :data:`TRANSFORM_COLOURS` (vectors before
and after the MIPS transform), :data:`GENRE_COLOURS` (the genre groups of the item maps) and
:data:`ANN_FAMILY_MARKERS` / :data:`ANN_FAMILY_LINES` (the families of approximate search). The
figure modules (``embedding_plots``, ``similarity_plots``, ``ann_plots``) take these categories'
colours from here only; ``tests/test_palette.py`` checks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd

# ----------------------------------------------------------------------------------- the palette

#: One colour and one marker per similarity measure, the same in every figure: the dot product
#: red, cosine blue, Euclidean distance green (matplotlib's tab10 hues). The markers keep the three
#: apart in grey-scale print and for readers who confuse red and green.
MEASURE_STYLES: dict[str, dict[str, str]] = {
    "dot": {"color": "#d62728", "marker": "o"},
    "cosine": {"color": "#1f77b4", "marker": "s"},
    "euclidean": {"color": "#2ca02c", "marker": "^"},
}
#: :data:`MEASURE_STYLES`' colours alone, for ``color=MEASURE_COLOURS[measure]``.
MEASURE_COLOURS: dict[str, str] = {measure: style["color"] for measure, style in MEASURE_STYLES.items()}
#: :data:`MEASURE_STYLES`' markers alone.
MEASURE_MARKERS: dict[str, str] = {measure: style["marker"] for measure, style in MEASURE_STYLES.items()}

#: Vectors as the model gives them (``"raw"``) and after the MIPS transform (``"mips"``): grey and
#: orange, so that neither reads as one of the measures.
TRANSFORM_COLOURS: dict[str, str] = {"raw": "#555555", "mips": "#ff7f0e"}

#: One colour per genre group of the item maps (``recsys.notebook.embedding_plots.GENRE_GROUPS``),
#: plus ``"other"`` (comedy, drama, action and the rest: genres too common to tell audiences apart,
#: left grey so the distinctive ones stand out).
GENRE_COLOURS: dict[str, str] = {
    "Children & animation": "#ff7f0e",
    "Horror": "#111111",
    "Documentary": "#8c564b",
    "Sci-fi & fantasy": "#1f77b4",
    "Crime & thriller": "#9467bd",
    "Romance": "#e377c2",
    "other": "#cfcfcf",
}

#: One marker and one line style per family of approximate search (notebook 06): colours there
#: are per method, so the family stays visible when two methods' colours are close.
ANN_FAMILY_MARKERS: dict[str, str] = {"graph": "o", "tree": "^", "lsh": "s", "quantization": "D", "exact": "*"}
ANN_FAMILY_MARKERS |= {"pruning": "P"}
ANN_FAMILY_LINES: dict[str, str | tuple] = {"graph": "-", "tree": "--", "lsh": ":", "quantization": "-.", "exact": ":"}
ANN_FAMILY_LINES |= {"pruning": (0, (5, 1))}


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


def table_number(value: float) -> str:
    """How a chapter's tables print a float (``pd.set_option("display.float_format", table_number)``):
    fixed point, never e-notation, whatever the column mixes. Four decimals below 10, two below
    1,000, whole numbers with thousands separators above; a value that rounds to zero prints
    without a sign ("0.0000", not "-0.0000"); NaN and infinities as Python prints them."""
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    size = abs(value)
    text = f"{value:,.0f}" if size >= 1000 else f"{value:.2f}" if size >= 10 else f"{value:.4f}"
    return text.lstrip("-") if float(text.replace(",", "")) == 0 else text


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


def convergence(
    ax,
    histories: Mapping[str, Iterable[Mapping]],
    x: str = "iteration",
    y: str = "val_rmse",
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: bool = True,
) -> None:
    """One line per model: ``y`` against ``x`` from each model's ``history_``."""
    for i, (name, history) in enumerate(histories.items()):
        rows = [h for h in history if h.get(y) is not None]
        if rows:
            style = styled(i)
            style["marker"] = "." if len(rows) > 30 else style["marker"]
            ax.plot([h[x] for h in rows], [h[y] for h in rows], label=name, markersize=4, **style)
    ax.set(
        xlabel=xlabel if xlabel is not None else x.replace("_", " "),
        ylabel=ylabel if ylabel is not None else y.replace("_", " "),
    )
    if legend:
        ax.legend()


#: Line styles that stay distinct in grey-scale print and for colour-blind readers.
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def styled(i: int) -> dict:
    """The ``i``-th line style: colour, dash pattern and marker together."""
    return {"color": f"C{i % 10}", "linestyle": LINE_STYLES[i % len(LINE_STYLES)], "marker": MARKERS[i % len(MARKERS)]}


def dot_errorbars(
    ax,
    values: pd.Series,
    errors: pd.Series | None = None,
    *,
    low: pd.Series | None = None,
    high: pd.Series | None = None,
    xlabel: str = "",
    highlight=(),
) -> None:
    """One dot per row (best at the top when ``values`` is sorted), with ``±errors`` as bars, or
    an interval ``[low, high]`` (each aligned with ``values`` by index; not symmetric in general).

    Dots rather than bars: a bar's length means something only from zero, and accuracy
    differences live in the third decimal.
    """
    labels = list(values.index)
    y = np.arange(len(labels))[::-1]
    colours = ["tab:orange" if label in highlight else "tab:blue" for label in labels]
    if (low is None) != (high is None):
        raise ValueError("give both low and high (an interval), or neither")
    if low is not None and errors is not None:
        raise ValueError("give errors (symmetric bars) or low and high (an interval), not both")
    x = values.to_numpy(dtype=float)
    if low is not None:
        lows, highs = low.reindex(values.index).to_numpy(dtype=float), high.reindex(values.index).to_numpy(dtype=float)
        if np.isnan(lows).any() or np.isnan(highs).any() or (lows > x + 1e-12).any() or (highs < x - 1e-12).any():
            raise ValueError("every value needs its interval, with low <= value <= high")
        xerr = np.vstack([x - lows, highs - x])
    else:
        xerr = None if errors is None else errors.to_numpy()
    ax.errorbar(x, y, xerr=xerr, fmt="none", ecolor="grey", capsize=3)
    ax.scatter(values.to_numpy(), y, c=colours, zorder=3)
    ax.set_yticks(y, labels)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", alpha=0)


def annotated_heatmap(
    ax,
    matrix: np.ndarray,
    rows,
    columns,
    *,
    observed=None,
    vmin=None,
    vmax=None,
    cmap="cividis",
    fmt="{:.1f}",
    title: str = "",
):
    """A heatmap with each value written in its cell; ``observed`` cells (a boolean mask) are
    outlined, so a reader sees which numbers were given and which were predicted. Values are
    rounded before printing, and a rounded zero prints as 0.0, never -0.0. The default colour map
    (cividis) reads the same to colour-blind eyes; each value is written in black or white,
    whichever contrasts with its cell."""
    from matplotlib.patches import Rectangle

    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=25, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.grid(False)
    for (r, c), value in np.ndenumerate(matrix):
        text = fmt.format(value + 0.0)
        text = text.replace("-0.0", "0.0") if text.strip("-0.") == "" else text
        weight = "bold" if observed is not None and observed[r, c] else "normal"
        red, green, blue, _ = image.cmap(image.norm(value))
        ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        ax.text(c, r, text, ha="center", va="center", fontsize=9, fontweight=weight, color=ink)
        if observed is not None and observed[r, c]:
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="tab:orange", linewidth=2.0))
    if title:
        ax.set_title(title)
    return image


def plain_number(value: float) -> str:
    """A tick label without exponents: ``0.5``, ``2``, ``300``, ``5000``, ``20k``, ``1M``, ``3B``."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    for threshold, scale, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def plain_log_ticks(*axes, which: str = "both") -> None:
    """Log axes ticked at 1, 2 and 5 of each decade and labelled as plain numbers (``2``, ``50``,
    ``100k``, ``1M``) instead of a mix of ``2x10^0`` and ``10^5``: one tick style in every figure.
    ``which`` is ``"x"``, ``"y"`` or ``"both"``; linear axes are left alone."""
    if which not in ("x", "y", "both"):
        raise ValueError(f"which must be 'x', 'y' or 'both', not {which!r}")
    formatter = mpl.ticker.FuncFormatter(lambda v, _: plain_number(v))
    for ax in axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if which not in (name, "both") or axis.get_scale() != "log":
                continue
            axis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(formatter)
            axis.set_minor_formatter(mpl.ticker.NullFormatter())
