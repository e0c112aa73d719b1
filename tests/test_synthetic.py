"""Tests of recsys.datasets.synthetic: exact counts, the rating scale, long tails, determinism, the planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.datasets import synthetic
from recsys.datasets.dataset import Dataset
from recsys.datasets.synthetic import generate


@pytest.fixture(scope="module")
def default() -> Dataset:
    return generate()


def planted(ds: Dataset) -> np.ndarray:
    """mu + b_u + b_i + p_u . q_i of every rating, from the truth."""
    t = ds.truth
    u = np.searchsorted(t.user_ids, ds.ratings["user_id"].to_numpy())
    i = np.searchsorted(t.item_ids, ds.ratings["item_id"].to_numpy())
    dot = np.einsum("ij,ij->i", t.user_factors[u], t.item_factors[i])
    return t.global_mean + t.user_bias[u] + t.item_bias[i] + dot


def top_share(ids: pd.Series, fraction: float) -> float:
    counts = np.sort(ids.value_counts().to_numpy())[::-1]
    return counts[: max(1, int(fraction * counts.size))].sum() / counts.sum()


def test_shapes_counts_and_metadata(default):
    r = default.ratings
    assert default.name == "synthetic" and default.path is None and default.users is None
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert r.dtypes.to_dict() == {"user_id": np.int64, "item_id": np.int64, "rating": np.float32, "timestamp": np.int64}
    assert len(r) == 20_000 and not r.duplicated(["user_id", "item_id"]).any()
    assert r["user_id"].between(1, 1000).all() and r["item_id"].between(1, 500).all()
    assert default.rating_scale == (1.0, 5.0) and default.rating_step == 1.0
    items = default.items
    assert items.index.name == "item_id" and items.index.tolist() == list(range(1, 501))
    assert items.loc[17, "title"] == "Item 17" and items["year"].dtype == "Int64"
    assert items["year"].between(1920, 2005).all()
    assert all(g == [] for g in items["genres"])
    t = default.truth
    np.testing.assert_array_equal(t.user_ids, np.arange(1, 1001))
    np.testing.assert_array_equal(t.item_ids, np.arange(1, 501))
    assert t.user_factors.shape == (1000, 8) and t.item_factors.shape == (500, 8)
    assert t.user_bias.shape == (1000,) and t.item_bias.shape == (500,)
    assert t.global_mean == 3.5 and t.noise_std == 0.5


@pytest.mark.parametrize(
    "n_users, n_items, n_ratings",
    [
        (30, 20, 600),  # every pair
        (30, 20, 599),
        (1, 1, 1),
        (3000, 2000, 30_000),  # a grid too large for the one-pass sampler: draw and top up
    ],
)
def test_exact_number_of_distinct_pairs(n_users, n_items, n_ratings):
    r = generate(n_users, n_items, n_ratings, rank=2, seed=5).ratings
    assert len(r) == n_ratings
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert r["user_id"].max() <= n_users and r["item_id"].max() <= n_items


def test_ratings_sit_on_the_scale_and_step(default):
    assert set(np.unique(default.ratings["rating"])) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    half = generate(rating_scale=(0.5, 5.0), rating_step=0.5, seed=1)
    values = half.ratings["rating"].to_numpy()
    assert values.min() >= 0.5 and values.max() <= 5.0
    np.testing.assert_array_equal(values * 2, np.round(values * 2))
    assert len(np.unique(values)) == 10 and half.rating_step == 0.5
    cont = generate(rating_step=None, seed=1)
    values = cont.ratings["rating"].to_numpy()
    assert cont.rating_step == 0.0
    assert values.min() >= 1.0 and values.max() <= 5.0
    assert len(np.unique(values)) > 10_000  # continuous, not rounded


def test_movielens_like_distribution(default):
    r = default.ratings
    assert 3.2 < r["rating"].mean() < 3.8
    assert 0.8 < r["rating"].std() < 1.2
    # every star value is used, 4 and 3 are the most common
    shares = r["rating"].value_counts(normalize=True)
    assert shares.index[:2].tolist() in ([3.0, 4.0], [4.0, 3.0]) and shares.min() > 0.005


def test_long_tails(default):
    r = default.ratings
    # ML-100K: the top 10% of items hold 43% of the ratings, of users 32%
    assert top_share(r["item_id"], 0.1) > 0.35
    assert top_share(r["user_id"], 0.1) > 0.25
    flat = generate(popularity_exponent=0.0, activity_exponent=0.0).ratings
    assert top_share(flat["item_id"], 0.1) < 0.15
    assert top_share(flat["user_id"], 0.1) < 0.15


def test_timestamps_span_years_with_user_windows(default):
    t = default.ratings["timestamp"]
    assert t.min() >= synthetic.START_TIME and t.max() <= synthetic.START_TIME + synthetic.TIME_SPAN
    assert (t.max() - t.min()) > 3 * 365 * 86_400
    spans = default.ratings.groupby("user_id")["timestamp"].agg(lambda s: s.max() - s.min())
    assert spans.median() < 30 * 86_400  # most users rate within a short window, as in MovieLens
    assert spans.quantile(0.95) > 30 * 86_400  # a few stay for long


def test_same_seed_same_data_other_seed_other_data(default):
    again = generate(seed=0)
    pd.testing.assert_frame_equal(again.ratings, default.ratings)
    pd.testing.assert_frame_equal(again.items, default.items)
    np.testing.assert_array_equal(again.truth.user_factors, default.truth.user_factors)
    other = generate(seed=1)
    assert not other.ratings[["user_id", "item_id"]].equals(default.ratings[["user_id", "item_id"]])
    assert not np.allclose(other.truth.item_bias, default.truth.item_bias)


def test_rank_and_noise_leave_pairs_and_times_unchanged(default):
    other = generate(rank=3, noise_std=0.0)
    cols = ["user_id", "item_id", "timestamp"]
    pd.testing.assert_frame_equal(other.ratings[cols], default.ratings[cols])
    assert not other.ratings["rating"].equals(default.ratings["rating"])


def test_truth_reproduces_the_noiseless_ratings():
    # a scale wide enough that nothing is clipped, and no rounding
    ds = generate(rating_scale=(-50.0, 50.0), rating_step=None, noise_std=0.5, global_mean=0.0, seed=2)
    residual = ds.ratings["rating"].to_numpy(np.float64) - planted(ds)
    assert abs(residual.mean()) < 0.02
    assert residual.std() == pytest.approx(0.5, rel=0.03)
    exact = generate(rating_scale=(-50.0, 50.0), rating_step=None, noise_std=0.0, seed=2)
    np.testing.assert_allclose(exact.ratings["rating"], planted(exact), rtol=0, atol=1e-5)


def test_the_low_rank_part_carries_signal(default):
    t = default.truth
    u = default.ratings["user_id"].to_numpy() - 1
    i = default.ratings["item_id"].to_numpy() - 1
    dot = np.einsum("ij,ij->i", t.user_factors[u], t.item_factors[i])
    assert 0.5 < dot.std() < 0.7  # the default factor scale gives p.q a std of 0.6
    without_biases = default.ratings["rating"].to_numpy() - t.global_mean - t.user_bias[u] - t.item_bias[i]
    assert np.corrcoef(without_biases, dot)[0, 1] > 0.5
    assert np.corrcoef(default.ratings["rating"], planted(default))[0, 1] > 0.75


def test_rank_zero_means_biases_only():
    ds = generate(rank=0, rating_step=None, rating_scale=(-50.0, 50.0), noise_std=0.0, global_mean=1.0)
    assert ds.truth.user_factors.shape == (1000, 0)
    np.testing.assert_allclose(ds.ratings["rating"], planted(ds), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_users": 0}, "n_users"),
        ({"n_items": -3}, "n_items"),
        ({"n_ratings": 2.5}, "n_ratings"),
        ({"n_users": True}, "n_users"),
        ({"n_users": 10, "n_items": 10, "n_ratings": 101}, "n_ratings=101 exceeds"),
        ({"rank": -1}, "rank"),
        ({"rating_scale": (5.0, 1.0)}, "rating_scale"),
        ({"rating_scale": (1.0,)}, "rating_scale"),
        ({"rating_scale": (1.0, float("inf"))}, "rating_scale"),
        ({"rating_step": 0.3}, "rating_step"),
        ({"rating_step": -1.0}, "rating_step"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"factor_std": float("nan")}, "factor_std"),
        ({"user_bias_std": -1}, "user_bias_std"),
        ({"item_bias_std": "0.3"}, "item_bias_std"),
        ({"global_mean": float("inf")}, "global_mean"),
        ({"popularity_exponent": -0.5}, "popularity_exponent"),
        ({"activity_exponent": float("nan")}, "activity_exponent"),
    ],
)
def test_bad_parameters_are_named(kwargs, name):
    # a value of the wrong type is a TypeError (2.5 or True for a count, a string for a number)
    value = kwargs.get(name, None)
    wrong_type = isinstance(value, (bool, str)) or (name.startswith("n_") and isinstance(value, float))
    with pytest.raises(TypeError if wrong_type else ValueError, match=name):
        generate(**kwargs)


def test_impossible_density_fails_clearly():
    # so steep that practically one item gets all the weight: 5,000 distinct pairs cannot be drawn
    with pytest.raises(ValueError, match="could not draw n_ratings=5,000 distinct pairs.*popularity_exponent"):
        generate(3000, 2000, 5000, rank=1, popularity_exponent=2000.0)
