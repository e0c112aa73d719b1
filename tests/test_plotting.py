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
