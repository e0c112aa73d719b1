"""The tiny neural embedding model is matrix factorisation trained by SGD; the shared training kit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import planted, rmse

from recsys.models import SGD
from recsys.models.neural import EmbeddingDotBias
from recsys.models.training import Adam, EarlyStopping, GradientDescent, make_optimizer


@pytest.fixture(scope="module")
def data():
    train, test, _ = planted(n_users=80, n_items=60, rank=3, density=0.3, seed=1)
    return train, test


def test_scores_are_the_dot_product_of_the_tables_plus_biases(data):
    model = EmbeddingDotBias(factors=4, iterations=2, random_state=0).fit(data[0])
    users = np.arange(model.n_users_)
    expected = (
        model.global_mean_
        + model.user_bias_[:, None]
        + model.item_bias_[None, :]
        + model.user_factors_ @ model.item_factors_.T
    )
    np.testing.assert_allclose(model.score(users), expected, rtol=1e-12)
    coo = data[1].tocoo()
    raw = expected[coo.row, coo.col]
    np.testing.assert_allclose(model.predict(coo.row, coo.col), np.clip(raw, *model.rating_range_))
    U, V = model.inner_product_factors()
    np.testing.assert_allclose(U @ V.T, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("biased", [True, False])
def test_batch_of_one_with_plain_steps_is_funk_sgd(data, shuffle, biased):
    """Same seed, same draws, same update: the 'network' reproduces recsys.models.SGD number for number."""
    common = dict(factors=5, iterations=3, learning_rate=0.01, regularization=0.05, biased=biased, shuffle=shuffle)
    net = EmbeddingDotBias(batch_size=1, optimizer="sgd", random_state=7, **common).fit(data[0])
    sgd = SGD(random_state=7, **common).fit(data[0])
    np.testing.assert_allclose(net.user_factors_, sgd.user_factors_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(net.item_factors_, sgd.item_factors_, rtol=1e-9, atol=1e-12)
    if biased:
        np.testing.assert_allclose(net.user_bias_, sgd.user_bias_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(net.item_bias_, sgd.item_bias_, rtol=1e-9, atol=1e-12)
    assert net.global_mean_ == pytest.approx(sgd.global_mean_)


def test_minibatches_train_the_same_model_and_generalise(data):
    train, test = data
    model = EmbeddingDotBias(factors=3, iterations=40, learning_rate=0.02, batch_size=64, random_state=0)
    model.fit(train, validation=test)
    losses = [h["train_loss"] for h in model.history_]
    val = [h["val_rmse"] for h in model.history_]
    assert losses[-1] < 0.5 * losses[0]
    assert val[-1] < val[0] - 0.2
    assert rmse(model, test) < 0.3  # noise is 0.1; biases alone leave ~0.55 on this data
    assert [h["iteration"] for h in model.history_] == list(range(1, 41))
    assert all(b["seconds"] >= a["seconds"] for a, b in zip(model.history_, model.history_[1:]))


def test_loss_gradient_matches_finite_differences(data):
    model = EmbeddingDotBias(factors=3, regularization=0.1, bias_regularization=0.2)
    rng = np.random.default_rng(0)
    params = {
        "P": rng.normal(size=(5, 3)),
        "Q": rng.normal(size=(4, 3)),
        "bu": rng.normal(size=5),
        "bi": rng.normal(size=4),
    }
    u, i = np.array([0, 1, 1, 4, 2]), np.array([3, 0, 3, 3, 1])  # repeated users and items
    r = rng.normal(3, 1, size=5)

    def loss():
        return model._loss_and_gradients(params, 3.0, u, i, r, 0.1, 0.2)[0]

    _, grads = model._loss_and_gradients(params, 3.0, u, i, r, 0.1, 0.2)
    for name, array in params.items():
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + 1e-6
            up = loss()
            array[index] = old - 1e-6
            down = loss()
            array[index] = old
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8)


def test_early_stopping_on_validation_rmse_restores_the_best_epoch(data):
    train, test = data
    # a large learning rate with no penalty overfits quickly: validation error turns up
    model = EmbeddingDotBias(
        factors=20,
        iterations=60,
        learning_rate=0.05,
        regularization=0.0,
        batch_size=16,
        early_stopping="val_rmse",
        patience=3,
        random_state=0,
    ).fit(train, validation=test)
    best = min(model.history_, key=lambda h: h["val_rmse"])
    assert model.best_iteration_ == best["iteration"]
    assert len(model.history_) == model.best_iteration_ + 3 < 60
    assert rmse(model, test) == pytest.approx(best["val_rmse"], rel=1e-9)


def test_early_stopping_needs_the_monitored_entry(data):
    model = EmbeddingDotBias(iterations=2, early_stopping="val_rmse")
    with pytest.raises(ValueError, match="val_rmse"):
        model.fit(data[0])  # no validation, so no val_rmse in the records


def test_adam_matches_the_textbook_update():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(3, 4)).astype(np.float64)
    reference = theta.copy()
    optimizer = Adam({"theta": theta}, learning_rate=0.1)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, 6):
        grad = 2 * theta + rng.normal(size=theta.shape)
        ref_grad = grad.copy()
        optimizer.step({"theta": grad})
        m = 0.9 * m + 0.1 * ref_grad
        v = 0.999 * v + 0.001 * ref_grad**2
        reference -= 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(theta, reference, rtol=1e-10)
        theta[...] = reference  # keep both on one path
    assert isinstance(make_optimizer("sgd", {"a": np.zeros(1)}, 0.1), GradientDescent)


def test_early_stopping_directions():
    minimise = EarlyStopping("val_rmse", patience=2)
    values = [1.0, 0.8, 0.9, 0.85, 0.7]
    stops = [minimise.update(t, {"val_rmse": v}, lambda t=t: t) for t, v in enumerate(values, 1)]
    assert stops == [False, False, False, True, True] and minimise.best_iteration == 2 and minimise.best_state == 2
    maximise = EarlyStopping("val_ndcg@10", patience=1)
    assert not maximise.update(1, {"val_ndcg@10": 0.1}, lambda: "a")
    assert not maximise.update(2, {"val_ndcg@10": 0.3}, lambda: "b")
    assert maximise.update(3, {"val_ndcg@10": 0.2}, lambda: "c") and maximise.best_state == "b"
    assert not EarlyStopping("val_rmse", 1, active=False).update(1, {}, lambda: None)


def test_reproducible(data):
    a = EmbeddingDotBias(factors=3, iterations=3, random_state=5).fit(data[0])
    b = EmbeddingDotBias(factors=3, iterations=3, random_state=5).fit(data[0])
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"iterations": 1.5}, TypeError, "iterations"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"learning_rate": 0}, ValueError, "learning_rate"),
        ({"regularization": -1}, ValueError, "regularization"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"biased": 1}, TypeError, "biased"),
        ({"early_stopping": 3}, TypeError, "early_stopping"),
        ({"patience": 0}, ValueError, "patience"),
    ],
)
def test_bad_hyperparameters_are_named(params, error, name):
    with pytest.raises(error, match=name):
        EmbeddingDotBias(**params).fit(sp.csr_matrix(np.eye(3) * 4.0))
