"""The experiment harness and the one tuner: matrices from splits, tables of fits, tuning on validation data only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import experiments, splits
from recsys.datasets import load
from recsys.evaluation import evaluate_ranking, evaluate_ratings
from recsys.experiments import tuning
from recsys.interactions import binarize
from recsys.models import ALS, BiasModel, GlobalMean, ImplicitALS, Popularity


@pytest.fixture(scope="module")
def ratings():
    return load("synthetic", n_users=300, n_items=200, n_ratings=9000, rank=4, seed=3).ratings


def test_matrices_keep_unseen_test_rows_as_minus_one(ratings):
    split = splits.random_holdout(ratings, 0.3, seed=1, unseen="drop")
    m = experiments.Matrices.from_split(split)
    assert m.train.nnz == split.n_train and m.test.nnz == split.n_test
    users, items, values = m.test_triplets
    assert users.size == split.n_test + split.n_dropped_ratings  # dropped rows come back, marked
    assert ((users == -1) | (items == -1)).sum() == split.n_dropped_ratings
    kept = experiments.Matrices.from_split(splits.random_holdout(ratings, 0.3, seed=1, unseen="keep"))
    assert all(
        np.array_equal(a, b) for a, b in zip(np.sort(kept.test_triplets, axis=1), np.sort(m.test_triplets, axis=1))
    )


def test_binarize():
    import scipy.sparse as sp

    X = sp.csr_matrix(np.array([[5.0, 0, 3.0], [1.0, 4.0, 0]]))
    assert binarize(X).toarray().tolist() == [[1, 0, 1], [1, 1, 0]]
    assert binarize(X, 4.0).toarray().tolist() == [[1, 0, 0], [0, 1, 0]]
    assert X.toarray()[0, 0] == 5.0  # the input is not modified


def test_rating_table_counts_every_test_rating_and_matches_direct_evaluation(ratings):
    folds = splits.kfold(ratings, 3, seed=0, unseen="keep")
    table = experiments.rating_table({"mean": GlobalMean(), "bias": BiasModel()}, folds, progress=False)
    assert len(table) == 6 and set(table["model"]) == {"mean", "bias"}
    assert table.groupby("model")["n"].sum().eq(len(ratings)).all()  # each rating tested once
    m = experiments.Matrices.from_split(folds[1])
    direct = evaluate_ratings(BiasModel().fit(m.train), m.test_triplets)["rmse"]
    assert table.query("model == 'bias' and fold == 1")["rmse"].item() == pytest.approx(direct)
    summary = experiments.summarise(table, order=["bias", "mean"])
    assert list(summary.index) == ["bias", "mean"] and summary.loc["bias", "rmse"] < summary.loc["mean", "rmse"]
    assert "rmse_std" in summary


def test_ranking_table_feeds_implicit_models_ones(ratings):
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    table = experiments.ranking_table(
        {"pop": Popularity(), "ials": ImplicitALS(factors=8, iterations=5, random_state=0), "bias": BiasModel()},
        split,
        k=5,
        progress=False,
    )
    assert set(table.index) == {"pop", "ials", "bias"}
    assert (table["n_users"] == table["n_users"].iloc[0]).all()
    # the implicit model learns from 1s, the rating model from ratings: check against direct calls
    m = experiments.Matrices.from_split(split)
    relevant = binarize(m.test)
    ials = ImplicitALS(factors=8, iterations=5, random_state=0).fit(binarize(m.train))
    assert table.loc["ials", "ndcg@5"] == pytest.approx(evaluate_ranking(ials, m.train, relevant, k=5)["ndcg@5"])
    bias = BiasModel().fit(m.train)
    assert table.loc["bias", "ndcg@5"] == pytest.approx(evaluate_ranking(bias, m.train, relevant, k=5)["ndcg@5"])


def test_score_fitted_is_the_scoring_half_of_the_ranking_table(ratings):
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    models = {"pop": Popularity(), "ials": ImplicitALS(factors=8, iterations=5, random_state=0)}
    table, per_user = experiments.ranking_table(models, split, k=5, progress=False, return_per_user=True)
    m = experiments.Matrices.from_split(split)
    fitted, _ = experiments.fit_models(models, m.train, progress=False)
    scored, scored_per_user = experiments.score_fitted(fitted, m, k=5, intervals=("ndcg", "recall"))
    columns = ["ndcg@5", "ndcg@5_low", "ndcg@5_high", "recall@5", "recall@5_low", "recall@5_high"]
    pd.testing.assert_frame_equal(scored[columns], table[columns])
    pd.testing.assert_frame_equal(scored_per_user["ndcg@5"], per_user["ndcg@5"])
    with pytest.raises(ValueError, match="at least one"):
        experiments.score_fitted({}, m)


def test_tune_never_sees_the_test_set(ratings, monkeypatch):
    """Every split the tuner turns into matrices (to fit on or to score on) holds no test pair."""
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    seen = []
    real = experiments.Matrices.from_split

    def spy(inner):
        seen.append(inner)
        return real(inner)

    monkeypatch.setattr(tuning.Matrices, "from_split", staticmethod(spy))
    tuned = experiments.tune(
        ImplicitALS(iterations=3, random_state=0), {"factors": [2, 16]}, split, k=5, progress=False
    )
    assert seen, "the tuner built no matrices"
    test_pairs = set(zip(split.test["user_id"], split.test["item_id"]))
    for inner in seen:
        assert not test_pairs & set(zip(inner.train["user_id"], inner.train["item_id"]))
        assert not test_pairs & set(zip(inner.test["user_id"], inner.test["item_id"]))
    assert tuned.metric == "val_ndcg@5" and list(tuned.table.index) == [2, 16]
    assert tuned.params["factors"] == tuned.table["val_ndcg@5"].idxmax() == tuned.model.factors
    # the score is the ranking table's on the validation split carved from the training part
    reference = experiments.ranking_table(
        {"x": ImplicitALS(iterations=3, random_state=0, factors=tuned.params["factors"])},
        experiments.validation_split(split, seed=0),
        k=5,
        progress=False,
    )
    assert tuned.best == pytest.approx(reference.loc["x", "ndcg@5"])


def test_sweep_and_timing_tables(ratings):
    split = splits.random_holdout(ratings, 0.2, seed=0)
    sweep = experiments.sweep(
        ALS(iterations=3), {"factors": [2, 4], "regularization": [1.0, 10.0]}, split, progress=False
    )
    assert len(sweep) == 4 and {"factors", "regularization", "rmse", "fit_seconds"} <= set(sweep.columns)
    timing = experiments.timing_table({"als": ALS(iterations=4), "pop": Popularity()}, split, repeats=2, progress=False)
    assert timing.loc["als", "iterations"] == 4
    assert timing.loc["als", "seconds_per_iteration"] == pytest.approx(timing.loc["als", "fit_seconds_median"] / 4)
    assert pd.isna(timing.loc["pop", "iterations"])
    with pytest.raises(ValueError, match="repeats"):
        experiments.timing_table({"pop": Popularity()}, split, repeats=0)


def test_histories_use_the_test_part_as_validation(ratings):
    split = splits.random_holdout(ratings, 0.2, seed=0)
    out = experiments.histories(
        {"als": ALS(factors=4, iterations=3), "ials": ImplicitALS(factors=4, iterations=2)}, split, progress=False
    )
    assert [h["iteration"] for h in out["als"]] == [1, 2, 3] and "val_rmse" in out["als"][-1]
    m = experiments.Matrices.from_split(split)
    als = ALS(factors=4, iterations=3).fit(m.train)
    assert out["als"][-1]["val_rmse"] == pytest.approx(evaluate_ratings(als, m.test)["rmse"])
    assert "val_ndcg@10" in out["ials"][-1]


def test_record_table_outside_a_notebook():
    from recsys.notebook.results import record_table

    table = pd.DataFrame({"rmse": [0.9, 0.8], "mae": [0.7, 0.6]}, index=["a", "b"])
    assert record_table("x", table, ["rmse"]) is table
    with pytest.raises(KeyError, match="ndcg"):
        record_table("x", table, ["ndcg"])


def test_tune_returns_a_tuned_clone_and_scores_an_empty_grid_as_is(ratings):
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    prototype = ImplicitALS(iterations=2, random_state=0)
    tuned = experiments.tune(prototype, {"factors": [2, 6]}, split, k=5, progress=False)
    assert tuned.model is not prototype and prototype.factors == 100  # the prototype is untouched
    assert not hasattr(tuned.model, "user_factors_")  # unfitted
    assert tuned.model.factors == tuned.table["val_ndcg@5"].idxmax()
    assert list(tuned.table.columns) == ["val_ndcg@5", "fit_seconds"]
    pop = experiments.tune(Popularity(), {}, split, progress=False)
    assert pop.params == {} and len(pop.table) == 1 and pop.metric == "val_ndcg@10"
    two = experiments.tune(BiasModel(), {"user_damping": [0.0, 5.0], "item_damping": [1.0, 2.0]}, split, progress=False)
    assert two.table.index.names == ["user_damping", "item_damping"] and len(two.table) == 4
    assert tuple(two.params.values()) == two.table["val_rmse"].idxmin()


def test_budget_points_keep_the_defaults_and_sample_the_rest_by_seed():
    grid = {"a": [1, 2, 3], "b": [10, 20, 30, 40]}
    assert tuning.budget_points(grid, 12) == tuning.grid_points(grid) == tuning.budget_points(grid, 50)
    five = tuning.budget_points(grid, 5, seed=3)
    assert len(five) == 5 and five[0] == {"a": 1, "b": 10} and len({tuple(p.values()) for p in five}) == 5
    order = [tuning.grid_points(grid).index(p) for p in five]
    assert order == sorted(order) and five == tuning.budget_points(grid, 5, seed=3)
    assert five != tuning.budget_points(grid, 5, seed=4)
    with pytest.raises(ValueError, match="budget"):
        tuning.budget_points(grid, 0)


def test_tune_takes_explicit_points_and_chooses_among_them_only(ratings):
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    points = [{"user_damping": 0.0, "item_damping": 2.0}, {"user_damping": 50.0, "item_damping": 1.0}]
    tuned = experiments.tune(BiasModel(), points, split, progress=False)
    assert len(tuned.table) == 2 and tuned.params in points
    assert tuple(tuned.params.values()) == tuned.table["val_rmse"].idxmin()
    with pytest.raises(ValueError, match="same hyperparameters"):
        experiments.tune(BiasModel(), [{"user_damping": 0.0}, {"item_damping": 1.0}], split, progress=False)


def test_tune_on_folds_chooses_on_validation_and_test_scores_only_report(ratings):
    from recsys.splits import Split

    folds = splits.kfold(ratings, 3, seed=0, unseen="keep")
    grid = {"user_damping": [0.0, 5.0, 50.0], "item_damping": [0.0, 5.0]}
    tuned = experiments.tune(BiasModel(), grid, folds, validation="random", validation_size=0.2, seed=1, progress=False)
    assert tuned.metric == "val_rmse" and len(tuned.table) == 6
    assert list(tuned.table.columns) == ["val_rmse", "val_rmse_std", "fit_seconds"]
    assert tuple(tuned.params.values()) == tuned.table["val_rmse"].idxmin()
    # fold f's validation part: a random 20% of its training part, seed + f, unseen ids kept and scored
    inner = experiments.Matrices.from_split(splits.random_holdout(folds[2].train, 0.2, seed=3, unseen="keep"))
    by_hand = evaluate_ratings(BiasModel(**tuned.params).fit(inner.train), inner.test_triplets)["rmse"]
    assert (
        by_hand
        == experiments.fit_and_evaluate(BiasModel(), inner, params=tuned.params, evaluate="rating").scores["rmse"]
    )
    on_test = experiments.scores_on_test(BiasModel(), grid, folds, progress=False)
    assert list(on_test.columns) == ["test_rmse"] and on_test.index.equals(tuned.table.index)
    # the choice does not depend on the test ratings: scramble them and it stays; the report moves
    scrambled = []
    for fold in folds:
        test = fold.test.assign(rating=np.random.default_rng(0).permutation(fold.test["rating"].to_numpy()))
        scrambled.append(Split(fold.train, test, fold.dropped, fold.method, fold.params, fold.unseen))
    again = experiments.tune(
        BiasModel(), grid, scrambled, validation="random", validation_size=0.2, seed=1, progress=False
    )
    assert again.params == tuned.params
    pd.testing.assert_frame_equal(again.table.drop(columns="fit_seconds"), tuned.table.drop(columns="fit_seconds"))
    assert not np.allclose(experiments.scores_on_test(BiasModel(), grid, scrambled, progress=False), on_test)


def test_tune_chooses_the_epoch_on_the_validation_curve_only(ratings):
    from recsys.models import BPR

    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    prototype = BPR(factors=8, iterations=12, learning_rate=0.05, random_state=0)
    tuned = experiments.tune(prototype, {"regularization": [0.01, 0.001]}, split, k=5, epochs=True, progress=False)
    curve = [h["val_ndcg@5"] for h in tuned.history]
    assert len(curve) == 12 and 1 <= tuned.params["iterations"] <= 12
    assert curve[tuned.params["iterations"] - 1] == max(curve) == tuned.best
    assert tuned.model.iterations == tuned.params["iterations"] and prototype.iterations == 12
    best = tuned.table["val_ndcg@5"].idxmax()
    assert (
        tuned.params["regularization"] == best and tuned.table.loc[best, "best_iteration"] == tuned.params["iterations"]
    )
    emptied = splits.Split(split.train, split.test.iloc[:0], split.dropped, split.method, split.params)
    again = experiments.tune(prototype, {"regularization": [0.01, 0.001]}, emptied, k=5, epochs=True, progress=False)
    assert again.params == tuned.params and [h["val_ndcg@5"] for h in again.history] == curve
    with pytest.raises(ValueError, match="one validation split"):
        experiments.tune(prototype, {}, [split, split], epochs=True, progress=False)
    with pytest.raises(ValueError, match="metric must be one of"):
        experiments.tune(prototype, {}, split, metric="map@10", epochs=True, progress=False)


def test_fit_and_evaluate_is_the_tables_loop(ratings):
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    m = experiments.Matrices.from_split(split)
    prototype = ImplicitALS(factors=4, iterations=2, random_state=0)
    run = experiments.fit_and_evaluate(prototype, m, k=5, record="ranking")
    assert not hasattr(prototype, "user_factors_") and run.seconds > 0
    assert run.scores["ndcg@5"] == pytest.approx(run.history[-1]["val_ndcg@5"])
    table = experiments.ranking_table({"ials": prototype}, split, k=5, progress=False)
    assert table.loc["ials", "ndcg@5"] == pytest.approx(run.scores["ndcg@5"])
    rating = experiments.fit_and_evaluate(BiasModel(), m, evaluate="rating", record="rating")
    assert set(rating.scores) == {"rmse", "mae", "n"} and "val_rmse" in rating.history[-1]
    assert experiments.fit_and_evaluate(Popularity(), m, evaluate=None).scores == {}
    with pytest.raises(ValueError, match="evaluate"):
        experiments.fit_and_evaluate(Popularity(), m, evaluate="precision")


def test_tables_carry_intervals_and_the_per_unit_values_a_leader_pairs(ratings):
    """The ranking table's interval columns are each model's bootstrap over the evaluated users;
    its per-user frames hold the same users for every model; the rating summary's intervals are
    Student t over the folds, and per_fold pairs the folds for the leader line."""
    from recsys import stats

    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    models = {"pop": Popularity(), "ials": ImplicitALS(factors=8, iterations=5, random_state=0)}
    table, per_user = experiments.ranking_table(models, split, k=5, progress=False, return_per_user=True)
    ndcg = per_user["ndcg@5"]
    assert list(ndcg.columns) == ["pop", "ials"] and len(ndcg) == table.loc["pop", "n_users"]
    for name in models:
        assert ndcg[name].mean() == pytest.approx(table.loc[name, "ndcg@5"])
        interval = stats.bootstrap_mean(ndcg[name].to_numpy(), seed=0)
        assert (table.loc[name, "ndcg@5_low"], table.loc[name, "ndcg@5_high"]) == (interval.low, interval.high)
        assert table.loc[name, "recall@5_low"] <= table.loc[name, "recall@5"] <= table.loc[name, "recall@5_high"]
    assert stats.leader(ndcg, "nDCG@5").best == table["ndcg@5"].idxmax()
    plain = experiments.ranking_table(models, split, k=5, progress=False, intervals=())
    assert "ndcg@5_low" not in plain and plain["ndcg@5"].equals(table["ndcg@5"])
    with pytest.raises(ValueError, match="intervals names 'auc'"):
        experiments.ranking_table(models, split, k=5, progress=False, intervals=("auc",))

    folds = splits.kfold(ratings, 3, seed=0, unseen="keep")
    by_fold = experiments.rating_table({"mean": GlobalMean(), "bias": BiasModel()}, folds, progress=False)
    summary = experiments.summarise(by_fold, intervals=["rmse"])
    for name in ("mean", "bias"):
        t = stats.interval_over_runs(by_fold.query("model == @name")["rmse"].to_numpy())
        assert (summary.loc[name, "rmse_low"], summary.loc[name, "rmse_high"]) == pytest.approx((t.low, t.high))
    paired = experiments.per_fold(by_fold, "rmse")
    assert (
        list(paired) == ["mean", "bias"]
        and paired["bias"].tolist() == by_fold.query("model == 'bias'")["rmse"].tolist()
    )
    assert stats.leader(paired, "RMSE", higher_is_better=False, over="runs").best == "bias"
    with pytest.raises(KeyError, match="'auc'"):
        experiments.summarise(by_fold, intervals=["auc"])
    with pytest.raises(KeyError, match="'auc'"):
        experiments.per_fold(by_fold, "auc")


def test_protocol_table_says_how_every_hyperparameter_was_set():
    """Chosen on validation, set by the chapter, or a kept default with where it comes from (a
    default picked on test folds named as such); computation settings left out; typos refused."""
    from recsys.models import BPMF, EASE, SGD

    models = {
        "ALS": ALS(factors=50, regularization=10.0, random_state=42),
        "SGD": SGD(random_state=42),
        "BPMF": BPMF(factors=5),
        "EASE": EASE(regularization=200.0),
    }
    table = experiments.protocol_table(models, {"ALS": ["regularization"]})
    assert list(table.columns) == [
        "chosen on validation",
        "set by the chapter",
        "library defaults kept",
        "defaults from",
    ]
    assert table.loc["ALS", "chosen on validation"] == "regularization=10"
    assert "factors=50" in table.loc["ALS", "library defaults kept"]  # the value is the default
    assert "random_state" not in " ".join(table.loc["ALS"])
    assert table.loc["ALS", "defaults from"] == ALS.defaults_source and "test folds" in ALS.defaults_source
    assert table.loc["SGD", "defaults from"] == "Surprise SVD's defaults"
    assert (
        table.loc["BPMF", "set by the chapter"] == "factors=5"
        and "samples=100" in table.loc["BPMF", "library defaults kept"]
    )
    assert table.loc["EASE", "set by the chapter"] == "regularization=200"
    assert table.loc["EASE", "defaults from"] == "not recorded"  # dropout=0 kept, its source undocumented
    with pytest.raises(ValueError, match="not in models"):
        experiments.protocol_table(models, {"ALSS": ["regularization"]})
    with pytest.raises(ValueError, match="does not take"):
        experiments.protocol_table(models, {"ALS": ["lambda"]})
