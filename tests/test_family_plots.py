"""Notebook 07's neighbourhood figure: who is drawn, where, and how big."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.notebook.family_plots import plot_board, plot_two_hop, two_hop_weights


def _graph() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    X = (rng.random((60, 40)) < 0.15).astype(float)
    X[0] = 0
    X[0, [0, 1, 2, 3, 4, 5]] = 1  # the user: six films
    X[1:50, 0] = 1  # film 0 is watched by almost everyone
    X[:, 5] = 0
    X[[0, 55], 5] = 1  # film 5 is niche: the user and user 55 only
    X[55, [i for i in range(40) if i != 5]] = 0  # and user 55 watched nothing else
    return sp.csr_matrix(X)


def test_two_hop_weights_equal_two_propagation_steps_of_lightgcn():
    X = _graph()
    du = np.asarray(X.sum(axis=1)).ravel()
    di = np.asarray(X.sum(axis=0)).ravel()
    A = sp.diags(1 / np.sqrt(du)) @ X @ sp.diags(1 / np.sqrt(di))  # the normalised user-item block
    expected = np.asarray((A @ A.T)[0].todense()).ravel()
    expected[0] = 0
    got = two_hop_weights(X, 0)
    assert set(got.index) == set(np.flatnonzero(expected > 0))
    assert got.to_numpy() == pytest.approx(expected[got.index])
    assert (np.diff(got.to_numpy()) <= 0).all()
    assert got.index[0] == 55  # one niche film in common weighs more than the popular film everyone saw


def test_the_figure_draws_each_films_most_weighted_users_and_sizes_films_by_popularity():
    X = _graph()
    du = np.asarray(X.sum(axis=1)).ravel()
    fig, ax = plt.subplots()
    drawn = plot_two_hop(ax, X, 0, max_users=12, labels=[f"film {i}" for i in range(40)])
    assert drawn["items"] == 6 and drawn["two_hop_users"] == two_hop_weights(X, 0).size
    fans = drawn["shown"]
    assert set(fans) == {0, 1, 2, 3, 4, 5} and drawn["shown_users"] == sum(len(f) for f in fans.values()) <= 12
    assert fans[5] == [55]  # the niche film's only other user
    everyone = [v for fan in fans.values() for v in fan]
    assert len(everyone) == len(set(everyone)) and 0 not in everyone  # each drawn once, the user not among them
    for film, fan in fans.items():
        others = set(X[:, film].indices) - {0} - set(everyone)
        assert all(du[v] <= du[o] for v in fan for o in others)  # the lightest users: the largest w(v, i)
    sizes = drawn["item_sizes"]  # most popular first
    assert (np.diff(sizes) <= 0).all() and sizes[0] / sizes[-1] > 5  # areas spread as popularity does
    labels = [t.get_label() for t in ax.get_legend().legend_handles]
    assert any("film with" in label for label in labels) and any("2 hops" in label for label in labels)
    plt.close(fig)


def test_the_board_figure_draws_every_model_best_at_the_top_with_its_interval():
    table = pd.DataFrame(
        {"ndcg@10": [0.3, 0.5, 0.4], "ndcg@10_low": [0.25, 0.45, np.nan], "ndcg@10_high": [0.35, 0.55, np.nan]},
        index=["popularity", "EASE", "item-kNN"],
    )
    fig, ax = plt.subplots()
    plot_board(ax, table, {"popularity": "baseline", "EASE": "linear"}, "ndcg@10", title="t")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["popularity (baseline)", "item-kNN ()", "EASE (linear)"]  # best at the top
    assert len(ax.texts) == 3 and ax.texts[-1].get_text() == "0.500"
    plt.close(fig)
