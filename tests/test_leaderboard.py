"""The leaderboard: the same draws and the same tuning budget for every model, intervals over draws."""

from __future__ import annotations

import numpy as np
import pytest

from recsys import stats
from recsys.datasets import load
from recsys.experiments import leaderboard
from recsys.experiments.families import Candidate
from recsys.experiments.harness import rank_models
from recsys.models import EASE, ItemKNN, Popularity, RP3Beta


@pytest.fixture(scope="module")
def data():
    return load("synthetic", n_users=150, n_items=80, n_ratings=3000, rank=3, seed=5)


@pytest.fixture(scope="module")
def candidates():
    return {
        "popularity": Candidate(Popularity()),
        "item-kNN": Candidate(ItemKNN(), {"neighbours": [10, 20, 40], "shrink": [0.0, 5.0, 50.0]}),
        "RP3beta": Candidate(RP3Beta(), {"alpha": [0.5, 1.0], "beta": [0.0, 0.3, 0.6], "neighbours": [20]}),
        "EASE": Candidate(EASE(), {"regularization": [1.0, 10.0, 100.0, 1000.0]}),
    }


@pytest.fixture(scope="module")
def board(data, candidates):
    return leaderboard.run_leaderboard(data, candidates, "per-user 75/25", [1, 2, 3], budget=3, k=5, progress=False)


def test_every_model_gets_the_same_budget_on_every_draw(board):
    assert board.seeds == [1, 2, 3] and board.models == ["popularity", "item-kNN", "RP3beta", "EASE"]
    for seed in board.seeds:
        assert board.tuning_points[seed] == {"popularity": 1, "item-kNN": 3, "RP3beta": 3, "EASE": 3}
        assert board.chosen[seed]["popularity"] == {}
        assert board.chosen[seed]["EASE"]["regularization"] in (1.0, 10.0, 100.0, 1000.0)


def test_each_draw_is_the_protocols_split_scored_by_the_one_ranking_loop(data, board):
    split = leaderboard.PROTOCOLS["per-user 75/25"].split(data.ratings, 2)
    chosen = board.chosen[2]["item-kNN"]
    _, table, _ = rank_models({"item-kNN": ItemKNN(**chosen)}, split, k=5, progress=False, seed=2)
    assert table.loc["item-kNN", "ndcg@5"] == pytest.approx(board.tables[2].loc["item-kNN", "ndcg@5"], rel=1e-12)


def test_the_table_averages_over_draws_with_a_t_interval(board):
    table = leaderboard.board_table(board)
    values = board.per_draw("ndcg@5")["EASE"].to_numpy()
    interval = stats.interval_over_runs(values)
    row = table.loc["EASE"]
    assert row["ndcg@5"] == pytest.approx(values.mean())
    assert (row["ndcg@5_low"], row["ndcg@5_high"]) == pytest.approx((interval.low, interval.high))
    assert set(table.columns) >= {"recall@5", "coverage@5", "mean_popularity@5", "fit_seconds", "chosen", "same_choice"}
    assert table.loc["popularity", "chosen"] == "(defaults)" and table.loc["popularity", "same_choice"] == "3/3"


def test_differences_are_paired_over_draws_and_say_when_detectable(board):
    diffs = leaderboard.board_differences(board, "popularity")
    draws = board.per_draw("ndcg@5")
    expected = stats.paired_over_runs(draws["EASE"].to_numpy(), draws["popularity"].to_numpy())
    assert diffs.loc["EASE", "difference"] == pytest.approx(expected.estimate)
    assert diffs.loc["EASE", "detectable"] == expected.excludes_zero and diffs.loc["EASE", "over"] == "3 draws"
    assert "popularity" not in diffs.index
    with pytest.raises(KeyError, match="no model"):
        leaderboard.board_differences(board, "SLIM")


def test_a_temporal_protocol_has_one_draw_and_intervals_over_users(data, candidates):
    few = {name: candidates[name] for name in ("popularity", "item-kNN")}
    board = leaderboard.run_leaderboard(data, few, "per-user temporal 75/25", [7, 8], budget=2, k=5, progress=False)
    assert board.seeds == [7]
    table = leaderboard.board_table(board)
    assert (
        table.loc["item-kNN", "ndcg@5_low"] <= table.loc["item-kNN", "ndcg@5"] <= table.loc["item-kNN", "ndcg@5_high"]
    )
    assert np.isnan(table.loc["item-kNN", "coverage@5_low"])
    diffs = leaderboard.board_differences(board, "popularity")
    assert diffs.loc["item-kNN", "over"].endswith("users")


def test_bad_arguments_are_named(data, candidates):
    with pytest.raises(KeyError, match="unknown protocol"):
        leaderboard.run_leaderboard(data, candidates, "leave-one-out", [1], budget=2)
    with pytest.raises(ValueError, match="budget"):
        leaderboard.run_leaderboard(data, candidates, "per-user 75/25", [1], budget=0)
    with pytest.raises(ValueError, match="seeds"):
        leaderboard.run_leaderboard(data, candidates, "per-user 75/25", [], budget=2)
