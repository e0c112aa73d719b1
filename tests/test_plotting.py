"""The chapters' generic figure helpers (recsys.notebook.plotting)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from recsys.notebook import plotting


def test_dot_errorbars_draws_asymmetric_intervals_and_refuses_inconsistent_ones():
    values = pd.Series({"A": 0.40, "B": 0.30})
    low, high = pd.Series({"B": 0.25, "A": 0.38}), pd.Series({"A": 0.45, "B": 0.31})  # another order
    fig, ax = plt.subplots()
    plotting.dot_errorbars(ax, values, low=low, high=high, xlabel="nDCG@10")
    bars = ax.collections[0].get_segments()  # one horizontal segment per row, best at the top
    spans = sorted((seg[0][1], seg[0][0], seg[1][0]) for seg in bars)
    assert spans == [(0.0, 0.25, 0.31), (1.0, 0.38, 0.45)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B"]
    with pytest.raises(ValueError, match="both low and high"):
        plotting.dot_errorbars(ax, values, low=low)
    with pytest.raises(ValueError, match="not both"):
        plotting.dot_errorbars(ax, values, values * 0.1, low=low, high=high)
    with pytest.raises(ValueError, match="low <= value <= high"):
        plotting.dot_errorbars(ax, values, low=low + 0.1, high=high)
    plt.close(fig)


def test_annotated_heatmap_is_colour_blind_safe_and_writes_legibly():
    fig, ax = plt.subplots()
    matrix = np.array([[0.0, 5.0], [-0.01, 2.5]])
    image = plotting.annotated_heatmap(ax, matrix, ["u", "v"], ["a", "b"], observed=matrix > 4, vmin=0, vmax=5)
    assert image.cmap.name == "cividis"
    texts = {t.get_text(): t for t in ax.texts}
    assert set(texts) == {"0.0", "5.0", "2.5"}  # a rounded -0.0 prints as 0.0
    assert texts["5.0"].get_color() == "black" and texts["0.0"].get_color() == "white"  # light cell, dark cell
    assert texts["5.0"].get_fontweight() == "bold"
    plt.close(fig)


def _ann_results(recalls_by_method: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for method, recalls in recalls_by_method.items():
        family = "exact" if method == "exact" else "graph"
        for i, recall in enumerate(recalls):
            qps = 100.0 if family == "exact" else 10_000.0 / (i + 1)
            rows.append(
                {"method": method, "family": family, "label": method, "recall": recall, "qps": qps, "k": 10}
                | {"n_queries": 500, "build_s": 1.0, "bytes_per_item": 300.0}
            )
    return pd.DataFrame(rows)


def _overlaps(box, other) -> bool:
    return box.x0 < other.x1 and other.x0 < box.x1 and box.y0 < other.y1 and other.y0 < box.y1


def test_06s_frontier_spans_its_data_and_keeps_the_legend_off_the_lines():
    """Regression: ticks up to 0.9999 stretched the axis past recalls that end near 0.95, and the
    legend sat inside the axes over the exact-search lines."""
    from recsys.notebook import ann_plots

    table = _ann_results({"a": [0.3, 0.6, 0.9, 0.95], "b": [0.5, 0.8, 0.93], "exact": [1.0]})
    for draw in (ann_plots.frontier, lambda ax, t: ann_plots.cost_scatter(ax, t, "build_s", legend=True)):
        fig, ax = plt.subplots(figsize=(6, 4))
        draw(ax, table)
        fig.canvas.draw()
        low, high = ax.get_xlim()
        assert 0.2 < low < 0.3 and 0.95 < high < 0.97  # the data's span and a margin, not up to 0.9999
        assert list(ax.get_xticks()) == [0.5, 0.9]
        renderer = fig.canvas.get_renderer()
        legend = ax.get_legend().get_window_extent(renderer)
        assert not _overlaps(legend, ax.get_window_extent(renderer))
        plt.close(fig)


def test_recall_span_pads_in_logits_and_stops_at_the_ceiling():
    from recsys.notebook.ann_plots import recall_span

    low, high = recall_span([0.5, 0.5], top=0.999, margin=0.0)
    assert low == pytest.approx(0.5) and high == pytest.approx(0.5)
    low, high = recall_span([1.0], top=0.999, margin=0.3)
    assert 0.999 < high < 1.0 and low < 0.999


def test_06s_frontier_beside_another_panel_puts_its_legend_underneath():
    from recsys.notebook import ann_plots

    table = _ann_results({"a": [0.3, 0.6, 0.9], "exact": [1.0]})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ann_plots.frontier(axes[0], table)
    axes[1].plot([0, 1], [0, 1])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = axes[0].get_legend().get_window_extent(renderer)
    assert not _overlaps(legend, axes[0].get_window_extent(renderer))
    assert not _overlaps(legend, axes[1].get_window_extent(renderer))
    plt.close(fig)


def test_plain_log_ticks_label_every_log_axis_alike_and_leave_linear_ones_alone():
    assert [plotting.plain_number(v) for v in (0.02, 2, 300, 5000, 20_000, 1e5, 1e6, 1.5e7, 3e9)] == [
        "0.02",
        "2",
        "300",
        "5000",
        "20k",
        "100k",
        "1M",
        "15M",
        "3B",
    ]
    fig, (log_ax, linear_ax) = plt.subplots(1, 2)
    log_ax.plot([1e5, 1e8], [0.3, 200])
    log_ax.set(xscale="log", yscale="log")
    linear_ax.plot([0, 1], [0, 1])
    before = linear_ax.xaxis.get_major_formatter()
    plotting.plain_log_ticks(log_ax, linear_ax)
    fig.canvas.draw()
    xs = [t.get_text() for t in log_ax.get_xticklabels() if t.get_text()]
    ys = [t.get_text() for t in log_ax.get_yticklabels() if t.get_text()]
    assert "1M" in xs and "10M" in xs and not any("10^" in t or "times" in t for t in xs + ys)
    assert "1" in ys and "100" in ys
    assert linear_ax.xaxis.get_major_formatter() is before
    with pytest.raises(ValueError, match="which"):
        plotting.plain_log_ticks(log_ax, which="z")
    plt.close(fig)


def test_table_number_is_fixed_point_whatever_the_magnitude():
    from recsys.notebook.plotting import table_number

    assert [table_number(v) for v in (5.208e-06, -7.169e-04, -1e-05, 0.1855, 94.55, 2.614e06, -3e-9)] == [
        "0.0000",
        "-0.0007",
        "0.0000",
        "0.1855",
        "94.55",
        "2,614,000",
        "0.0000",
    ]
    assert table_number(float("nan")) == "nan" and table_number(float("inf")) == "inf"
    frame = pd.DataFrame({"loss": [1.4e-02, -6.0e-04], "bytes": [8.79e07, 1.2e08]})
    with pd.option_context("display.float_format", table_number):
        text = frame.to_string()
    assert "e-0" not in text and "e+0" not in text and "-0.0006" in text and "120,000,000" in text
