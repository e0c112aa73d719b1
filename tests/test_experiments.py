"""The experiment harness: matrices from splits, tables of fits, tuning on validation data only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import experiments, splits
from recsys.datasets import load
from recsys.evaluation import evaluate_ranking, evaluate_ratings
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


def test_tune_ranking_never_sees_the_test_set(ratings, monkeypatch):
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    seen = []
    real = experiments.ranking_table

    def spy(models, inner, **kwargs):
        seen.append(inner)
        return real(models, inner, **kwargs)

    monkeypatch.setattr(experiments.harness, "ranking_table", spy)
    best, table = experiments.tune_ranking(
        ImplicitALS(iterations=3, random_state=0), {"factors": [2, 16]}, split, k=5, progress=False
    )
    inner = seen[0]
    test_pairs = set(zip(split.test["user_id"], split.test["item_id"]))
    assert not test_pairs & set(zip(inner.train["user_id"], inner.train["item_id"]))
    assert not test_pairs & set(zip(inner.test["user_id"], inner.test["item_id"]))
    assert best["factors"] == table["ndcg@5"].idxmax()
    assert list(table.index) == [2, 16]


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


def test_tune_all_returns_tuned_clones(ratings):
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    prototype = ImplicitALS(iterations=2, random_state=0)
    candidates = {"ials": (prototype, {"factors": [2, 6]}), "pop": (Popularity(), {})}
    chosen, tables = experiments.tune_all(candidates, split, k=5, progress=False)
    assert chosen["ials"] is not prototype and prototype.factors == 100  # the prototype is untouched
    assert chosen["ials"].factors == tables["ials"]["ndcg@5"].idxmax()
    untuned, none = experiments.tune_all(candidates, split, enabled=False)
    assert untuned["ials"].factors == 2 and none == {}


def test_tune_rating_chooses_on_validation_and_reports_the_test_optimism(ratings):
    from recsys.splits import Split

    folds = splits.kfold(ratings, 3, seed=0, unseen="keep")
    grid = {"user_damping": [0.0, 5.0, 50.0], "item_damping": [0.0, 5.0]}
    best, table = experiments.tune_rating(BiasModel(), grid, folds, seed=1, progress=False)
    assert list(table.columns) == ["val_rmse", "val_rmse_std", "test_rmse"] and len(table) == 6
    assert tuple(best.values()) == table["val_rmse"].idxmin()
    # the choice does not depend on the test ratings: scramble them and it stays
    scrambled = []
    for fold in folds:
        test = fold.test.assign(rating=np.random.default_rng(0).permutation(fold.test["rating"].to_numpy()))
        scrambled.append(Split(fold.train, test, fold.dropped, fold.method, fold.params, fold.unseen))
    best_again, table_again = experiments.tune_rating(BiasModel(), grid, scrambled, seed=1, progress=False)
    assert best_again == best
    np.testing.assert_allclose(table_again["val_rmse"], table["val_rmse"])
    assert not np.allclose(table_again["test_rmse"], table["test_rmse"])


def test_early_stopping_reads_the_validation_curve_only(ratings):
    from recsys.models import BPR

    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    prototype = BPR(factors=8, iterations=12, learning_rate=0.05, random_state=0)
    best, curve = experiments.early_stopping(prototype, split, k=5)
    assert len(curve) == 12 and 1 <= best <= 12 and curve[best - 1] == max(curve)
    emptied = splits.Split(split.train, split.test.iloc[:0], split.dropped, split.method, split.params)
    assert experiments.early_stopping(prototype, emptied, k=5) == (best, curve)
