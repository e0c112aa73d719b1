"""EASE (closed form, zero diagonal, both solvers) and Mult-VAE/DAE (hand-written gradient, training)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import planted_positives

from recsys.experiments import ranking_callback
from recsys.models.autoencoders import EASE, MultVAE, _log_softmax, ease_weights, vae_forward, vae_loss_and_gradients


@pytest.fixture(scope="module")
def data():
    return planted_positives()


# --------------------------------------------------------------------------------------------- EASE


@pytest.mark.parametrize("solver", ["items", "users"])
@pytest.mark.parametrize("dropout", [0.0, 0.25])
def test_ease_equals_its_closed_form_with_a_zero_diagonal(data, solver, dropout):
    X = data[0][:40]  # 40 users x 60 items: both routes are exercised on a wide and a tall matrix
    for matrix in (X, sp.csr_matrix(X.T)):
        B = ease_weights(matrix, regularization=3.0, dropout=dropout, solver=solver)
        G = (matrix.T @ matrix).toarray()
        P = np.linalg.inv(G + np.diag(3.0 + dropout / (1 - dropout) * np.diag(G)))
        expected = np.eye(G.shape[0]) - P / np.diag(P)[None, :]
        np.testing.assert_allclose(B, expected, rtol=1e-9, atol=1e-12)
        assert np.all(np.diag(B) == 0.0)


def test_ease_solves_the_constrained_ridge_problem(data):
    """Each column is the ridge regression of item j on the *other* items (the constraint, by another route)."""
    X = data[0].toarray()
    lam = 5.0
    B = ease_weights(sp.csr_matrix(X), regularization=lam)
    for j in (0, 7, 33):
        others = np.delete(np.arange(X.shape[1]), j)
        A = X[:, others]
        coef = np.linalg.solve(A.T @ A + lam * np.eye(others.size), A.T @ X[:, j])
        np.testing.assert_allclose(B[others, j], coef, rtol=1e-8, atol=1e-12)


def test_ease_factor_form_is_the_interaction_row_and_the_columns_of_b(data):
    model = EASE(regularization=10.0, dtype="float64").fit(data[0])
    users = np.arange(model.n_users_)
    np.testing.assert_array_equal(model.user_factors_, data[0].toarray())
    np.testing.assert_array_equal(model.item_factors_, model.weights_.T)
    U, V = model.inner_product_factors()
    assert U.shape[1] == V.shape[1] == model.n_items_
    np.testing.assert_allclose(U @ V.T, model.score(users), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.score(users), data[0].toarray() @ model.weights_, rtol=1e-12, atol=1e-12)
    assert len(model.history_) == 1 and model.history_[0]["iteration"] == 1


def test_ease_recommends_the_planted_groups(data):
    train, validation, oracle = data
    model = EASE(regularization=10.0)
    model.fit(train, callback=ranking_callback(train, validation, k=5))
    assert model.history_[0]["val_ndcg@5"] > 0.9 * oracle


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"regularization": 0.0}, ValueError, "regularization"),
        ({"regularization": "big"}, TypeError, "regularization"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"dropout": -0.1}, ValueError, "dropout"),
        ({"solver": "svd"}, ValueError, "solver"),
        ({"dtype": "float16"}, ValueError, "dtype"),
    ],
)
def test_ease_bad_hyperparameters_are_named(data, params, error, name):
    with pytest.raises(error, match=name):
        EASE(**params).fit(data[0])


# --------------------------------------------------------------------------------------------- VAE


def _numeric_gradient(loss, array, step=1e-6):
    numeric = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + step
        up = loss()
        array[index] = old - step
        down = loss()
        array[index] = old
        numeric[index] = (up - down) / (2 * step)
    return numeric


@pytest.mark.parametrize("decoder", ["linear", "mirror"])
@pytest.mark.parametrize("variational", [True, False])
def test_vae_gradient_matches_finite_differences(decoder, variational):
    rng = np.random.default_rng(3)
    X = sp.csr_matrix((rng.random((5, 7)) < 0.5).astype(np.float64))
    X_in = sp.csr_matrix(X.multiply(rng.random(X.shape) * 2))  # a corrupted, rescaled input
    model = MultVAE(factors=3, hidden=4, decoder=decoder, variational=variational, dtype="float64")
    params = model._initial_params(7, rng)
    for name in params:
        params[name] += rng.normal(0.0, 0.3, params[name].shape)  # non-zero biases too
    eps = rng.standard_normal((5, 3)) if variational else None
    kwargs = dict(decoder=decoder, variational=variational, regularization=0.1)

    def loss():
        return vae_loss_and_gradients(params, X_in, X, eps, 0.4, **kwargs)[0]

    _, grads, parts = vae_loss_and_gradients(params, X_in, X, eps, 0.4, **kwargs)
    assert set(grads) == set(params)
    for name, array in params.items():
        np.testing.assert_allclose(grads[name], _numeric_gradient(loss, array), rtol=1e-5, atol=1e-8, err_msg=name)
    assert parts["kl"] > 0 if variational else parts["kl"] == 0


def test_vae_trains_on_planted_groups_and_anneals_beta(data):
    train, validation, oracle = data
    model = MultVAE(
        factors=8,
        hidden=32,
        iterations=30,
        batch_size=20,
        learning_rate=3e-3,
        anneal_cap=0.3,
        anneal_epochs=40,
        random_state=0,
    )
    model.fit(train, callback=ranking_callback(train, validation, k=5))
    history = model.history_
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["nll"] < history[0]["nll"] - 1
    assert history[-1]["val_ndcg@5"] > history[0]["val_ndcg@5"] + 0.2
    assert history[-1]["val_ndcg@5"] > 0.9 * oracle
    betas = [h["beta"] for h in history]
    assert betas == sorted(betas) and 0 < betas[0] < betas[-1] < 0.3
    short = MultVAE(factors=4, hidden=8, iterations=5, batch_size=20, anneal_cap=0.3, anneal_epochs=2, random_state=0)
    short.fit(train)  # 6 updates per epoch: beta reaches the cap within epoch 2, then stays
    assert [h["beta"] for h in short.history_][2:] == [0.3] * 3 and short.history_[0]["beta"] < 0.15


def test_vae_factor_form_reproduces_the_logits(data):
    train = data[0]
    for decoder in ("linear", "mirror"):
        model = MultVAE(factors=4, hidden=8, iterations=2, decoder=decoder, dtype="float64", random_state=0).fit(train)
        users = np.arange(model.n_users_)
        U, V = model.inner_product_factors()
        normalised = train.multiply(1 / np.sqrt(train.sum(axis=1))).tocsr()
        logits = vae_forward(model.params_, normalised, None, decoder, True)["logits"]
        np.testing.assert_allclose(model.score(users), logits, rtol=1e-10)
        np.testing.assert_allclose(U @ V.T, logits, rtol=1e-10)
        # the log-softmax differs by one constant per user: the same ranking
        shift = _log_softmax(logits) - logits
        np.testing.assert_allclose(shift, shift[:, :1].repeat(shift.shape[1], axis=1), atol=1e-10)
        if decoder == "linear":  # the encoder's mean is the user embedding
            assert U.shape[1] == 4 + 1 and np.allclose(U[:, :4], model.user_factors_)


def test_vae_early_stopping_restores_the_best_epoch(data):
    train = data[0]
    seen = {}

    def callback(model, iteration):
        seen[iteration] = model.score(np.arange(model.n_users_)).copy()
        return {"val_metric": [0.1, 0.5, 0.4, 0.3, 0.2, 0.1][min(iteration - 1, 5)]}

    model = MultVAE(factors=4, hidden=8, iterations=20, early_stopping="val_metric", patience=2, random_state=0)
    model.fit(train, callback=callback)
    assert model.best_iteration_ == 2 and len(model.history_) == 4
    np.testing.assert_allclose(model.score(np.arange(model.n_users_)), seen[2], rtol=1e-6)


def test_vae_is_reproducible_and_dropout_matters(data):
    kwargs = dict(factors=4, hidden=8, iterations=3, random_state=1)
    a, b = MultVAE(**kwargs).fit(data[0]), MultVAE(**kwargs).fit(data[0])
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    c = MultVAE(dropout=0.0, **kwargs).fit(data[0])
    assert not np.allclose(a.user_factors_, c.user_factors_)


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"hidden": 2.5}, TypeError, "hidden"),
        ({"decoder": "deep"}, ValueError, "decoder"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"anneal_cap": -1}, ValueError, "anneal_cap"),
        ({"anneal_epochs": 0}, ValueError, "anneal_epochs"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"variational": "yes"}, TypeError, "variational"),
        ({"early_stopping": ""}, ValueError, "early_stopping"),
        ({"num_threads": -1}, ValueError, "num_threads"),
        ({"random_state": -1}, ValueError, "random_state"),
    ],
)
def test_vae_bad_hyperparameters_are_named(data, params, error, name):
    with pytest.raises(error, match=name):
        MultVAE(**params).fit(data[0])
