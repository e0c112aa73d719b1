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


def test_the_line_up_has_every_model_with_its_grid_and_family():
    line = leaderboard.line_up(seed=3)
    assert list(line) == list(leaderboard.GRIDS) and set(leaderboard.FAMILIES) == set(leaderboard.GRIDS)
    assert line["SLIM"].grid == leaderboard.GRIDS["SLIM"] and line["SLIM"].family == "linear"
    assert line["iALS"].model.get_params()["random_state"] == 3
    replaced = leaderboard.line_up(["EASE", "item-kNN"], grids={"EASE": {"regularization": [5.0]}}, max_epochs=7)
    assert list(replaced) == ["EASE", "item-kNN"] and replaced["EASE"].grid == {"regularization": [5.0]}
    assert leaderboard.line_up(["Mult-VAE"], max_epochs=7)["Mult-VAE"].model.get_params()["iterations"] == 7
    assert line["BPR"].epochs is True and line["EASE"].epochs is None  # BPR's epoch is chosen on validation
    with pytest.raises(KeyError, match="no leaderboard model"):
        leaderboard.line_up(["SVD++"])
    with pytest.raises(KeyError, match="no leaderboard model"):
        leaderboard.line_up(["EASE"], grids={"EAZE": {}})


def test_the_line_up_table_says_how_many_points_the_budget_tries(candidates):
    table = leaderboard.line_up_table(candidates, budget=3)
    assert table.loc["item-kNN", "grid points"] == 9 and table.loc["item-kNN", "tried per draw"] == 3
    assert table.loc["popularity", "tried per draw"] == 1 and table.loc["popularity", "defaults"] == "(none to tune)"
    assert table.loc["EASE", "defaults"] == "regularization=1.0"


def test_the_gap_between_two_groups_is_the_paired_difference_of_their_best(board):
    gap = leaderboard.group_gap(board, ["item-kNN", "RP3beta", "EASE"], ["popularity"])
    means = board.per_draw("ndcg@5").mean()
    assert gap["best"] == means[["item-kNN", "RP3beta", "EASE"]].idxmax() and gap["rival"] == "popularity"
    row = leaderboard.board_differences(board, "popularity").loc[gap["best"]]
    assert (gap["difference"], gap["low"], gap["high"]) == pytest.approx((row["difference"], row["low"], row["high"]))
    assert gap["detectable"] == (gap["low"] > 0 or gap["high"] < 0)
    with pytest.raises(ValueError, match="none of"):
        leaderboard.group_gap(board, ["SLIM"], ["popularity"])


def test_the_rating_board_tunes_on_validation_only_and_gives_intervals_over_folds(data):
    from recsys import splits
    from recsys.experiments import tuning

    folds = splits.kfold(data.ratings, 3, seed=4, unseen="keep")
    line = leaderboard.rating_line_up(["global mean", "biases"], grids={"biases": {"user_damping": [0.0, 50.0]}})
    summary, per_fold, chosen = leaderboard.rating_board(folds, line, budget=2, seed=4, progress=False)
    assert list(summary.index) == ["global mean", "biases"] and sorted(per_fold["fold"].unique()) == [0, 1, 2]
    assert summary.loc["biases", "rmse_low"] <= summary.loc["biases", "rmse"] <= summary.loc["biases", "rmse_high"]
    # the choice is the tuner's on validation carved from the training parts: the test parts never enter it
    again = tuning.tune(
        line["biases"].model,
        {"user_damping": [0.0, 50.0]},
        folds,
        metric="rmse",
        validation="random",
        validation_size=0.2,
        epochs=False,
        seed=4,
        progress=False,
    )
    assert chosen["biases"] == again.params and chosen["global mean"] == {}
    assert summary.loc["biases", "rmse"] < summary.loc["global mean", "rmse"]
    _, _, on_first = leaderboard.rating_board(folds, line, budget=2, seed=4, tune_folds=1, progress=False)
    first = tuning.tune(
        line["biases"].model,
        {"user_damping": [0.0, 50.0]},
        folds[:1],
        metric="rmse",
        validation="random",
        validation_size=0.2,
        epochs=False,
        seed=4,
        progress=False,
    )
    assert on_first["biases"] == first.params
    with pytest.raises(ValueError, match="tune_folds"):
        leaderboard.rating_board(folds, line, budget=2, tune_folds=4, progress=False)
    with pytest.raises(KeyError, match="no rating model"):
        leaderboard.rating_line_up(["SVD++"])


def test_published_rating_rows_carry_their_protocols():
    from recsys.experiments import published

    rows = published.rating_rows()
    assert rows.loc["GLocal-K", "rmse"] == 0.889 and "u1 fold only" in rows.loc["GLocal-K", "protocol"]
    assert {"Surprise SVD", "ALS, Spark (Recommenders)", "FastAI (Recommenders)"} <= set(rows.index)
    assert rows["protocol"].notna().all()


def test_a_model_that_does_not_stop_itself_can_still_choose_its_epoch_on_validation(data):
    from recsys.models import BPR

    line = {"BPR": Candidate(BPR(iterations=6, factors=4, random_state=0), {"learning_rate": [0.05]}, epochs=True)}
    board = leaderboard.run_leaderboard(data, line, "per-user 75/25", [1], budget=1, k=5, progress=False)
    assert 1 <= board.chosen[1]["BPR"]["iterations"] <= 6  # the best epoch, recorded as the choice
