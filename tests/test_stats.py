"""Descriptive statistics (recsys.stats) and the split helpers notebooks use (splits.make_split, summary_table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import splits, stats


@pytest.fixture
def ratings():
    # 3 users, 4 items; user 1 rates everything, item 40 is rated once
    rows = [
        (1, 10, 5.0, 0),
        (1, 20, 4.0, 86_400),
        (1, 30, 3.0, 2 * 86_400),
        (1, 40, 1.0, 3 * 86_400),
        (2, 10, 4.0, 100),
        (2, 20, 2.0, 200),
        (3, 10, 3.5, 7 * 86_400),
        (3, 30, 4.5, 8 * 86_400),
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_summary(ratings):
    s = stats.summary(ratings)
    assert (s["n_ratings"], s["n_users"], s["n_items"]) == (8, 3, 4)
    assert s["density"] == pytest.approx(8 / 12) and s["sparsity"] == pytest.approx(4 / 12)
    assert s["ratings_per_user_median"] == 2 and s["items_with_one_rating"] == 1
    assert s["rating_mean"] == pytest.approx(27 / 8)
    with pytest.raises(ValueError, match="empty"):
        stats.summary(ratings.iloc[:0])


def test_long_tail_measures():
    counts = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 91])
    assert stats.top_share(counts, 0.1) == pytest.approx(0.91)
    assert stats.gini(np.full(5, 3)) == pytest.approx(0.0)
    assert stats.gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)  # (n-1)/n for one holder
    assert list(stats.rank_counts(pd.Series([5, 5, 6, 7, 7, 7]))) == [3, 2, 1]
    with pytest.raises(ValueError, match="fraction"):
        stats.top_share(counts, 0)


def test_time_and_activity(ratings):
    days = stats.user_active_days(ratings)
    assert list(days) == pytest.approx([3.0, 100 / 86_400, 1.0])
    per = stats.ratings_over_time(ratings, "Y")
    assert per["ratings"].sum() == 8 and per["new_items"].sum() == 4


def test_k_core_and_implicit_tables(ratings):
    table = stats.k_core_table(ratings, (1, 2))
    assert table.loc[1, "ratings"] == 8
    # 2-core: item 40 goes (1 rating), then every remaining user and item has >= 2
    assert table.loc[2, "items"] == 3 and table.loc[2, "ratings"] == 7
    imp = stats.implicit_table(ratings, (None, 4.0))
    assert imp.loc["any rating", "positives"] == 8 and imp.loc[">= 4", "positives"] == 4
    assert imp.loc[">= 4", "users_with_a_positive"] == 3


@pytest.mark.parametrize("kind", splits.KINDS)
def test_make_every_kind_partitions_the_ratings(kind):
    rng = np.random.default_rng(0)
    pairs = rng.choice(50 * 40, size=600, replace=False)
    frame = pd.DataFrame(
        {
            "user_id": pairs // 40,
            "item_id": pairs % 40,
            "rating": rng.integers(1, 6, 600).astype("float32"),
            "timestamp": rng.integers(0, 10**6, 600),
        }
    )
    split = splits.make_split(kind, frame, test_size=0.25, seed=3)
    assert split.n_train + split.n_test + split.n_dropped_ratings == len(frame)
    table = splits.summary_table({kind: split})
    assert table.loc[kind, "train"] == split.n_train
    assert 0 <= table.loc[kind, "leakage_global"] <= 1
    with pytest.raises(ValueError, match="unknown split kind"):
        splits.make_split("bogus", frame)


def test_kfold_count_is_what_make_split_uses():
    """Notebook 01 prints the number of folds from kfold_count; make_split's first fold tests that share."""
    assert [splits.kfold_count(t) for t in (0.25, 0.2, 0.5, 0.9)] == [4, 5, 2, 2]
    rng = np.random.default_rng(1)
    pairs = rng.choice(60 * 50, size=800, replace=False)
    frame = pd.DataFrame(
        {"user_id": pairs // 50, "item_id": pairs % 50, "rating": np.ones(800, "float32"), "timestamp": np.arange(800)}
    )
    first = splits.make_split("kfold", frame, test_size=0.25, seed=0, unseen="keep")
    assert first.n_test == 800 // 4
    with pytest.raises(ValueError, match="test_size"):
        splits.kfold_count(1.5)


def test_held_out_shares_compare_a_validation_split_with_the_test_split_around_it():
    """Notebook 03 explains validation nDCG < test nDCG with these shares."""
    rng = np.random.default_rng(2)
    pairs = rng.choice(80 * 60, size=2_000, replace=False)
    frame = pd.DataFrame(
        {"user_id": pairs // 60, "item_id": pairs % 60, "rating": np.ones(2_000, "float32")}
        | {"timestamp": np.arange(2_000)}
    )
    outer = splits.stratified_holdout(frame, 0.75, seed=0)
    inner = splits.stratified_holdout(outer.train, 0.75, seed=0)
    table = splits.held_out_shares({"validation": inner, "test": outer}, total=2_000)
    assert table.loc["test", "train"] == outer.n_train and table.loc["validation", "test"] == inner.n_test
    assert table.loc["test", "train_share"] + table.loc["test", "test_share"] <= 1.0
    assert table.loc["validation", "train_share"] < table.loc["test", "train_share"]
    assert table.loc["validation", "test_share"] < table.loc["test", "test_share"]
    per_user = outer.test.groupby("user_id").size().median()
    assert table.loc["test", "median_test_per_user"] == per_user
    alone = splits.held_out_shares({"test": outer})  # its own total
    assert alone.loc["test", "train_share"] == pytest.approx(
        outer.n_train / (outer.n_train + outer.n_test + outer.n_dropped_ratings)
    )
    with pytest.raises(ValueError, match="total"):
        splits.held_out_shares({"test": outer}, total=0)
