"""EASE served from vectors: its item-item matrix ``B`` factored to rank r, the vectors' inner
products are ``x_u B_r``, and what the rank costs is measured against full EASE's own lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.datasets import load
from recsys.datasets.synthetic import generate
from recsys.experiments import serving

#: EASE's ridge penalty for the small planted data (500, the default, is for thousands of users).
REGULARIZATION = 20.0


@pytest.fixture(scope="module")
def planted():
    """300 users with 4 planted tastes over 250 items, ~20 ratings each: a 250 x 250 ``B``."""
    return generate(n_users=300, n_items=250, n_ratings=6000, rank=4, seed=3)


def _ease(data, rank: int) -> serving.RealEmbeddings:
    return serving.ease_embeddings("synthetic", data=data, rank=rank, regularization=REGULARIZATION, seed=1)


@pytest.fixture(scope="module")
def rank4(planted):
    return _ease(planted, 4)


def _scores(e: serving.RealEmbeddings) -> np.ndarray:
    return e.user_vectors.astype(np.float64) @ e.item_vectors.T.astype(np.float64)


@pytest.mark.parametrize("rank", [4, 32])
def test_the_vectors_multiply_to_the_rank_r_svd_of_B(planted, rank):
    e = _ease(planted, rank)
    B = e.model.weights_.astype(np.float64)
    X = e.model.interactions_.toarray()
    U, s, Vt = np.linalg.svd(B)
    assert e.user_vectors.shape == (X.shape[0], rank) and e.item_vectors.shape == (B.shape[0], rank)
    assert e.user_vectors.dtype == e.item_vectors.dtype == np.float32
    assert e.user_vectors.flags["C_CONTIGUOUS"] and e.item_vectors.flags["C_CONTIGUOUS"]
    # the block of the randomized SVD (rank + 64 columns) is well short of the 250 items: this is
    # the approximate path, not a full SVD in disguise
    assert rank + max(rank, 64) < B.shape[0]
    # the singular values around the cut are distinct, so the rank-r truncation is well defined
    assert s[rank - 1] / s[rank] > 1.01
    exact = X @ ((U[:, :rank] * s[:rank]) @ Vt[:rank])
    np.testing.assert_allclose(_scores(e), exact, atol=1e-3 * np.abs(exact).max())
    np.testing.assert_allclose(e.item_vectors.T @ e.item_vectors, np.eye(rank), atol=1e-5)  # V_r orthonormal
    share = np.sum(s[:rank] ** 2) / np.sum(s**2)
    assert e.params["frobenius_share"] == pytest.approx(share, rel=1e-5)
    assert 0 < e.params["frobenius_share"] < 1


def test_near_full_rank_the_vectors_give_eases_own_scores(planted, rank4):
    e = _ease(planted, rank4.train.shape[1] - 1)
    X = e.model.interactions_.toarray()
    full = e.model.score(np.arange(X.shape[0])).astype(np.float64)
    smallest = np.linalg.svd(e.model.weights_.astype(np.float64), compute_uv=False)[-1]
    # Eckart-Young, row by row: ||x_u (B - B_r)|| <= ||x_u|| sigma_{r+1}, plus float32 rounding
    error = np.linalg.norm(_scores(e) - full, axis=1)
    assert np.all(error <= np.linalg.norm(X, axis=1) * smallest * 1.01 + 1e-4)
    np.testing.assert_allclose(_scores(e), full, atol=1e-3)
    assert e.params["frobenius_share"] == pytest.approx(1.0, abs=1e-5)
    cost = serving.low_rank_cost(e, k=10)
    assert cost["served_recall"] > 0.99 and abs(cost["ndcg_loss"]) < 1e-3


def test_params_record_the_fit_and_the_rank(rank4):
    p = rank4.params
    assert p["dataset"] == "synthetic" and p["model"] == "EASE" and p["rank"] == 4
    assert p["regularization"] == REGULARIZATION and p["split_seed"] == 1 and p["train_ratio"] == 0.75
    assert rank4.fit_seconds > 0
    # the model stays full EASE: n_items-wide item vectors, exact_quality scores x_u B itself
    assert rank4.model.item_factors_.shape[1] == rank4.train.shape[1]
    w = rank4.workload()
    assert w.dim == 4 and w.n_queries == rank4.users.size


def test_ease_uses_the_split_of_the_als_embeddings(planted, rank4):
    als = serving.real_embeddings("synthetic", data=planted, factors=2, iterations=1, seed=1)
    assert (als.train != rank4.train).nnz == 0 and (als.test != rank4.test).nnz == 0


def test_low_rank_cost_compares_full_ease_with_the_vectors(rank4):
    e = rank4
    cost = serving.low_rank_cost(e, k=10)
    assert cost["rank"] == 4 and cost["frobenius_share"] == e.params["frobenius_share"]
    assert cost["n_users"] == e.users.size
    assert cost["model_ndcg@10"] == pytest.approx(e.exact_quality(10)["ndcg@10"], abs=1e-12)
    assert cost["ndcg_loss"] == pytest.approx(cost["model_ndcg@10"] - cost["ndcg@10"], abs=1e-12)
    assert cost["ndcg_loss_low"] <= cost["ndcg_loss"] <= cost["ndcg_loss_high"]
    assert cost["loss_detectable"] == (cost["ndcg_loss_low"] > 0 or cost["ndcg_loss_high"] < 0)
    # rank 4 of a 250-item B keeps well under half of it: the lists differ from full EASE's
    assert cost["frobenius_share"] < 0.5 and 0 < cost["served_recall"] < 0.9
    # the vectors' side is exact retrieval of the vectors: the first row of the index cost table
    no_index = pd.DataFrame(columns=["method", "family", "build", "query", "recall"])
    table = serving.cost_of_approximation(e, no_index, k=10, progress=False)
    assert table.iloc[0]["ndcg@10"] == pytest.approx(cost["ndcg@10"], abs=1e-12)


def test_a_factor_model_costs_nothing_against_its_own_vectors(planted):
    # ALS's vectors are its scores: the model's lists and the vectors' are the same lists
    als = serving.real_embeddings("synthetic", data=planted, factors=4, iterations=2, seed=1)
    cost = serving.low_rank_cost(als, k=10)
    assert cost["served_recall"] == pytest.approx(1.0) and cost["ndcg_loss"] == pytest.approx(0.0, abs=1e-12)
    assert not cost["loss_detectable"] and np.isnan(cost["frobenius_share"])


@pytest.mark.parametrize("past_the_last", [None, 0, 1, 10_000])
def test_a_rank_outside_one_to_n_items_minus_one_is_an_error(planted, rank4, past_the_last):
    n_items = rank4.train.shape[1]  # the items of the training split
    for rank in [0, -3] if past_the_last is None else [n_items + past_the_last]:
        with pytest.raises(ValueError, match="rank"):
            _ease(planted, rank)


def test_a_non_integer_rank_is_a_type_error(planted):
    with pytest.raises(TypeError, match="rank"):
        _ease(planted, 8.0)


def test_low_rank_cost_checks_k(rank4):
    with pytest.raises(ValueError, match="k"):
        serving.low_rank_cost(rank4, k=0)


def test_on_ml_latest_small_a_rank_16_ease_loses_detectably():
    # the bundled data, default split: rank 16 keeps a third of ||B||_F^2 and its lists are
    # measurably worse than full EASE's (nDCG@10 0.344 against 0.405)
    e = serving.ease_embeddings("ml-latest-small", data=load("ml-latest-small", download=False), rank=16)
    assert e.item_vectors.shape == (e.train.shape[1], 16) and e.user_vectors.shape == (610, 16)
    # 0.32332 by PROPACK (svds); a float32 norm of B (one BLAS dot over 77 million entries) gave 0.3247
    assert e.params["frobenius_share"] == pytest.approx(0.32332, abs=2e-4)
    cost = serving.low_rank_cost(e, k=10)
    assert cost["n_users"] == 610
    assert cost["loss_detectable"] and cost["ndcg_loss_low"] > 0
    assert cost["model_ndcg@10"] == pytest.approx(0.405, abs=0.01)
