"""LightGCN: the normalised propagation, its hand-derived gradient, negative sampling and training."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from test_autoencoders import planted_positives

from recsys.experiments import ranking_callback
from recsys.models.gnn import (
    LightGCN,
    lightgcn_bpr_loss_and_gradients,
    normalized_adjacency,
    propagate,
    spectral_embeddings,
)
from recsys.models.training import sample_negatives


@pytest.fixture(scope="module")
def data():
    return planted_positives(seed=2)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    dense = (rng.random((7, 9)) < 0.4).astype(np.float64)
    dense[3] = 0.0  # a user without edges
    return sp.csr_matrix(dense)


def _dense_propagation(X, E0, layers):
    """1/(L+1) sum_l A_hat^l E0 with the full (n_users + n_items)^2 adjacency, the textbook way."""
    R = (X.toarray() > 0).astype(float)
    n_users = R.shape[0]
    A = np.block([[np.zeros((n_users, n_users)), R], [R.T, np.zeros((R.shape[1], R.shape[1]))]])
    degree = A.sum(axis=1)
    d = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    A_hat = d[:, None] * A * d[None, :]
    total, layer = E0.copy(), E0.copy()
    for _ in range(layers):
        layer = A_hat @ layer
        total += layer
    return total / (layers + 1), A_hat


@pytest.mark.parametrize("layers", [0, 1, 2, 4])
def test_propagation_is_the_symmetric_normalised_adjacency_averaged_over_layers(small, layers):
    rng = np.random.default_rng(1)
    U0, V0 = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    R_hat, R_hat_T = normalized_adjacency(small)
    U, V = propagate(R_hat, R_hat_T, U0, V0, layers)
    expected, A_hat = _dense_propagation(small, np.vstack([U0, V0]), layers)
    np.testing.assert_allclose(np.vstack([U, V]), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A_hat, A_hat.T)  # why the backward pass is the forward pass
    np.testing.assert_allclose(U[3], U0[3] / (layers + 1))  # no edges: only its own layer-0 vector


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_gradient_matches_finite_differences(small, layers):
    rng = np.random.default_rng(2)
    U0, V0 = rng.normal(0, 0.5, size=(7, 3)), rng.normal(0, 0.5, size=(9, 3))
    users, pos, neg = rng.integers(0, 7, 12), rng.integers(0, 9, 12), rng.integers(0, 9, 12)
    R_hat, R_hat_T = normalized_adjacency(small)

    def loss():
        return lightgcn_bpr_loss_and_gradients(U0, V0, R_hat, R_hat_T, layers, users, pos, neg, 0.1)[0]

    _, gU, gV = lightgcn_bpr_loss_and_gradients(U0, V0, R_hat, R_hat_T, layers, users, pos, neg, 0.1)
    for array, grad in ((U0, gU), (V0, gV)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + 1e-6
            up = loss()
            array[index] = old - 1e-6
            down = loss()
            array[index] = old
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_negatives_are_never_positives_and_uniform_over_the_rest(data):
    train = data[0]
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(train.shape[0]), 50)
    negatives = sample_negatives(train, users, rng)
    assert not np.asarray(train[users, negatives]).any()
    draws = 30_000
    negatives = sample_negatives(train, np.zeros(draws, dtype=np.int64), rng)  # user 0, many times
    counts = np.bincount(negatives, minlength=train.shape[1])
    watched = train[0].indices
    assert counts[watched].sum() == 0
    unwatched = np.setdiff1d(np.arange(train.shape[1]), watched)
    expected = draws / unwatched.size
    assert np.abs(counts[unwatched] - expected).max() < 5 * np.sqrt(expected)


def test_training_lowers_the_loss_and_raises_validation_ndcg(data):
    train, validation, oracle = data
    model = LightGCN(
        factors=8, layers=2, iterations=12, batch_size=128, learning_rate=0.003, init="normal", random_state=0
    )
    model.fit(train, callback=ranking_callback(train, validation, k=5))
    history = model.history_
    losses = [h["train_loss"] for h in history]
    assert losses[-1] < 0.7 * losses[0] and losses == sorted(losses, reverse=True)
    assert history[-1]["val_ndcg@5"] > history[0]["val_ndcg@5"] + 0.08
    assert history[-1]["val_ndcg@5"] > 0.9 * oracle


def test_spectral_start_is_the_scaled_truncated_svd_and_starts_ahead(data):
    train, validation, _ = data
    R_hat, _ = normalized_adjacency(train)
    U0, V0 = spectral_embeddings(R_hat, 5, 0.3, seed=1)
    assert U0.shape == (train.shape[0], 5) and V0.shape == (train.shape[1], 5)
    assert np.sqrt((np.sum(U0**2) + np.sum(V0**2)) / (U0.size + V0.size)) == pytest.approx(0.3, rel=1e-5)
    # U0 V0^T is a multiple of the best rank-5 approximation of R_hat
    u, s, vt = np.linalg.svd(R_hat.toarray())
    best = (u[:, :5] * s[:5]) @ vt[:5]
    product_ = U0.astype(np.float64) @ V0.T.astype(np.float64)
    ratio = np.sum(product_ * best) / np.sum(best * best)
    np.testing.assert_allclose(product_, ratio * best, atol=1e-5 * np.abs(product_).max())
    start = {}
    for init in ("spectral", "normal"):
        model = LightGCN(factors=5, layers=2, iterations=1, learning_rate=1e-6, init=init, random_state=0)
        start[init] = model.fit(train, callback=ranking_callback(train, validation, k=5)).history_[0]["val_ndcg@5"]
    assert start["spectral"] > start["normal"] + 0.1
    # iterations=0: the start alone, no gradient step (what 07 prints as LightGCN's epoch 0)
    alone = LightGCN(factors=5, layers=2, iterations=0, init="spectral", random_state=0).fit(train)
    assert alone.history_ == [] and np.isfinite(alone.item_factors_).all()
    nudged = LightGCN(factors=5, layers=2, iterations=1, learning_rate=1e-9, init="spectral", random_state=0).fit(train)
    np.testing.assert_allclose(alone.item_factors_, nudged.item_factors_, atol=1e-6)
    with pytest.raises(ValueError, match="iterations"):
        LightGCN(iterations=-1).fit(train)


def test_factors_are_the_propagated_embeddings(data):
    train = data[0]
    model = LightGCN(factors=4, layers=3, iterations=3, random_state=0).fit(train)
    R_hat, R_hat_T = normalized_adjacency(train)
    U, V = propagate(
        R_hat, R_hat_T, model.user_embeddings_.astype(np.float64), model.item_embeddings_.astype(np.float64), 3
    )
    np.testing.assert_allclose(model.user_factors_, U, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.item_factors_, V, rtol=1e-4, atol=1e-6)
    users = np.arange(model.n_users_)
    np.testing.assert_allclose(model.score(users), model.user_factors_ @ model.item_factors_.T, rtol=1e-6)
    Up, Vp = model.inner_product_factors()
    assert Up is model.user_factors_ and Vp is model.item_factors_  # no biases to fold in
    flat = LightGCN(factors=4, layers=0, iterations=1, random_state=0).fit(train)
    np.testing.assert_array_equal(flat.user_factors_, flat.user_embeddings_)  # L = 0: BPR-MF


def test_early_stopping_restores_the_best_epoch(data):
    train = data[0]
    seen = {}

    def callback(model, iteration):
        seen[iteration] = model.item_factors_.copy()
        return {"val_ndcg@10": [0.2, 0.3, 0.6, 0.1, 0.1, 0.1, 0.1][min(iteration - 1, 6)]}

    model = LightGCN(factors=4, iterations=30, early_stopping="val_ndcg@10", patience=3, random_state=0)
    model.fit(train, callback=callback)
    assert model.best_iteration_ == 3 and len(model.history_) == 6
    np.testing.assert_allclose(model.item_factors_, seen[3])
    no_callback = LightGCN(factors=4, iterations=4, early_stopping="val_ndcg@10", random_state=0).fit(train)
    assert len(no_callback.history_) == 4 and no_callback.best_iteration_ is None


def test_reproducible(data):
    a = LightGCN(factors=4, iterations=2, random_state=3).fit(data[0])
    b = LightGCN(factors=4, iterations=2, random_state=3).fit(data[0])
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"layers": -1}, ValueError, "layers"),
        ({"layers": 1.0}, TypeError, "layers"),
        ({"iterations": -1}, ValueError, "iterations"),
        ({"learning_rate": -0.1}, ValueError, "learning_rate"),
        ({"regularization": -1.0}, ValueError, "regularization"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"init_std": 0.0}, ValueError, "init_std"),
        ({"init": "xavier"}, ValueError, "init"),
        ({"patience": 0}, ValueError, "patience"),
        ({"random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_bad_hyperparameters_are_named(data, params, error, name):
    with pytest.raises(error, match=name):
        LightGCN(**params).fit(data[0])
