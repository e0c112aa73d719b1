"""Factorization machine: the O(kn) pairwise sum, the inner-product form, the gradient, side features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from test_autoencoders import planted_positives

from recsys.experiments import ranking_callback
from recsys.models.fm import (
    FactorizationMachine,
    _Design,
    fm_bpr_loss_and_gradients,
    fm_bpr_loss_and_gradients_fast,
    fm_output,
    item_side_features,
    pairwise_interactions,
    pairwise_interactions_naive,
    user_side_features,
)


@pytest.fixture(scope="module")
def data():
    return planted_positives(seed=4)


def _side(n, columns, seed):
    rng = np.random.default_rng(seed)
    return sp.csr_matrix(rng.random((n, columns)) * (rng.random((n, columns)) < 0.5))


def test_fast_pairwise_sum_equals_the_naive_double_sum():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(12, 4))
    X = rng.normal(size=(6, 12)) * (rng.random((6, 12)) < 0.4)
    naive = np.array([pairwise_interactions_naive(x, V) for x in X])
    np.testing.assert_allclose(pairwise_interactions(X, V), naive, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pairwise_interactions(sp.csr_matrix(X), V), naive, rtol=1e-12, atol=1e-12)
    w = rng.normal(size=12)
    np.testing.assert_allclose(fm_output(X, 0.5, w, V), fm_output(X, 0.5, w, V, naive=True), rtol=1e-12)
    np.testing.assert_allclose(fm_output(X, 0.5, w, V, naive=True), 0.5 + X @ w + naive, rtol=1e-12)


def test_score_is_the_fm_output_and_an_inner_product_of_user_and_item_vectors(data):
    train = data[0]
    n_users, n_items = train.shape
    model = FactorizationMachine(
        factors=3,
        iterations=2,
        user_features=_side(n_users, 4, 1),
        item_features=_side(n_items, 5, 2),
        random_state=0,
    ).fit(train)
    users = np.arange(n_users)
    scores = model.score(users)
    # the FM formula, naive double sum, on the concatenated feature vector of every pair
    w0, w, V = model.full_parameters()
    uu, ii = np.meshgrid(np.arange(8), np.arange(n_items), indexing="ij")
    x = model.feature_vectors(uu.ravel(), ii.ravel())
    np.testing.assert_allclose(scores[:8], fm_output(x, w0, w, V, naive=True).reshape(8, n_items), rtol=1e-5, atol=1e-5)
    # the user vector is the sum of the user's feature factors, the item vector the item's
    np.testing.assert_allclose(model.user_factors_, model.user_design_ @ model.params_["VU"], rtol=1e-6)
    np.testing.assert_allclose(model.item_factors_, model.item_design_ @ model.params_["VI"], rtol=1e-6)
    U, Vv = model.inner_product_factors()
    np.testing.assert_allclose(U @ Vv.T, scores, rtol=1e-5, atol=1e-5)
    Ur, Vr = model.inner_product_factors(ranking_only=True)
    assert np.array_equal(np.argsort(-(Ur @ Vr.T), axis=1)[:, :5], np.argsort(-scores, axis=1)[:, :5])


def test_bpr_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    n_users, n_items = 6, 8
    Fu = sp.hstack([sp.identity(n_users), _side(n_users, 3, 3)], format="csr")
    Fi = sp.hstack([sp.identity(n_items), _side(n_items, 4, 4)], format="csr")
    design = _Design(Fu, Fi)
    params = {
        "wI": rng.normal(0, 0.3, Fi.shape[1]),
        "VU": rng.normal(0, 0.3, (Fu.shape[1], 3)),
        "VI": rng.normal(0, 0.3, (Fi.shape[1], 3)),
    }
    users, pos, neg = rng.integers(0, n_users, 10), rng.integers(0, n_items, 10), rng.integers(0, n_items, 10)

    def loss():
        return fm_bpr_loss_and_gradients(params, design, users, pos, neg, 0.1, 0.05)[0]

    _, grads = fm_bpr_loss_and_gradients(params, design, users, pos, neg, 0.1, 0.05)
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
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_step_equals_the_numpy_reference(dtype):
    rng = np.random.default_rng(2)
    n_users, n_items = 30, 40
    Fu = sp.hstack([sp.identity(n_users), _side(n_users, 3, 5)], format="csr", dtype=dtype)
    Fi = sp.hstack([sp.identity(n_items), _side(n_items, 4, 6)], format="csr", dtype=dtype)
    design = _Design(Fu, Fi)
    params = {
        "wU": np.zeros(Fu.shape[1], dtype),
        "wI": rng.normal(0, 0.3, Fi.shape[1]).astype(dtype),
        "VU": rng.normal(0, 0.3, (Fu.shape[1], 5)).astype(dtype),
        "VI": rng.normal(0, 0.3, (Fi.shape[1], 5)).astype(dtype),
    }
    users, pos, neg = rng.integers(0, n_users, 200), rng.integers(0, n_items, 200), rng.integers(0, n_items, 200)
    loss, grads = fm_bpr_loss_and_gradients(params, design, users, pos, neg, 0.1, 0.05)
    fast_loss, fast = fm_bpr_loss_and_gradients_fast(params, design, users, pos, neg, 0.1, 0.05)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    assert fast_loss == pytest.approx(loss, rel=tolerance)
    for name in grads:
        np.testing.assert_allclose(fast[name], grads[name], rtol=tolerance, atol=tolerance * np.abs(grads[name]).max())


def test_training_lowers_the_loss_and_raises_validation_ndcg(data):
    train, validation, oracle = data
    model = FactorizationMachine(factors=8, iterations=25, batch_size=64, learning_rate=0.01, random_state=0)
    model.fit(train, callback=ranking_callback(train, validation, k=5))
    history = model.history_
    assert history[-1]["train_loss"] < 0.6 * history[0]["train_loss"]
    assert history[-1]["val_ndcg@5"] > history[0]["val_ndcg@5"] + 0.1
    assert history[-1]["val_ndcg@5"] > 0.85 * oracle


def test_side_features_place_cold_items():
    """Items never seen in training get a vector from their 'genre'; it ranks them for the right users."""
    rng = np.random.default_rng(5)
    n_users, n_items, groups = 150, 60, 3
    user_group = rng.integers(0, groups, n_users)
    item_group = np.arange(n_items) % groups
    liked = rng.random((n_users, n_items)) < np.where(user_group[:, None] == item_group, 0.5, 0.02)
    cold = np.arange(n_items) >= 45
    train = sp.csr_matrix((liked & ~cold).astype(np.float64))
    genres = sp.csr_matrix(np.eye(groups)[item_group])
    model = FactorizationMachine(
        factors=6, iterations=20, batch_size=64, learning_rate=0.01, item_features=genres, random_state=0
    ).fit(train)
    vectors, biases = model.item_vectors(genres[cold])
    cold_scores = model.user_factors_ @ vectors.T + biases
    own = user_group[:, None] == item_group[cold][None, :]
    # every user ranks a cold item of their own group above one of another group, almost always
    wins = [(cold_scores[u][own[u]][:, None] > cold_scores[u][~own[u]][None, :]).mean() for u in range(n_users)]
    assert np.mean(wins) > 0.9
    # with ids, warm items keep their id vector on top of the genre vector
    warm_vectors, _ = model.item_vectors(genres[~cold])
    assert not np.allclose(warm_vectors, model.item_factors_[~cold])
    content_only = FactorizationMachine(factors=6, iterations=2, item_features=genres, item_ids=False, random_state=0)
    content_only.fit(train)
    v, b = content_only.item_vectors(genres)
    np.testing.assert_allclose(v, content_only.item_factors_, rtol=1e-6)
    np.testing.assert_allclose(b, content_only.item_bias_, rtol=1e-5, atol=1e-6)


def test_item_side_features_weight_genres_by_one_over_n_and_bin_years():
    items = pd.DataFrame(
        {
            "title": ["a", "b", "c"],
            "year": pd.array([1995, 1987, None], dtype="Int64"),
            "genres": [["Comedy", "Drama"], ["Drama"], ["(no genres listed)"]],
        },
        index=pd.Index([10, 20, 30], name="item_id"),
    )
    F, names = item_side_features(items, [30, 10, 20])
    assert names == ["genre=Comedy", "genre=Drama", "year=1980", "year=1990"]
    np.testing.assert_allclose(F.toarray(), [[0, 0, 0, 0], [0.5, 0.5, 0, 1], [0, 1, 1, 0]])
    with pytest.raises(ValueError, match="no metadata"):
        item_side_features(items, [10, 99])


def test_user_side_features_one_hot_age_gender_occupation():
    users = pd.DataFrame(
        {"gender": ["M", "F"], "age": [24, 53], "occupation": ["writer", "other"], "zip_code": ["1", "2"]},
        index=pd.Index([1, 2], name="user_id"),
    )
    F, names = user_side_features(users, [2, 1])
    assert names == ["age=18", "age=50", "gender=F", "gender=M", "occupation=other", "occupation=writer"]
    np.testing.assert_array_equal(F.toarray(), [[0, 1, 1, 0, 1, 0], [1, 0, 0, 1, 0, 1]])
    none, no_names = user_side_features(None, [1, 2, 3])
    assert none.shape == (3, 0) and no_names == []


def test_features_must_match_the_matrix(data):
    train = data[0]
    with pytest.raises(ValueError, match="item_features has 5 rows"):
        FactorizationMachine(iterations=1, item_features=sp.csr_matrix((5, 2))).fit(train)
    with pytest.raises(TypeError, match="user_features"):
        FactorizationMachine(iterations=1, user_features=[[1.0]]).fit(train)
    with pytest.raises(ValueError, match="item_ids=False"):
        FactorizationMachine(iterations=1, item_ids=False).fit(train)


def test_reproducible(data):
    a = FactorizationMachine(factors=3, iterations=2, random_state=2).fit(data[0])
    b = FactorizationMachine(factors=3, iterations=2, random_state=2).fit(data[0])
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"iterations": 0}, ValueError, "iterations"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"regularization": -1.0}, ValueError, "regularization"),
        ({"bias_regularization": -1.0}, ValueError, "bias_regularization"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"item_ids": "yes"}, TypeError, "item_ids"),
        ({"patience": 0}, ValueError, "patience"),
    ],
)
def test_bad_hyperparameters_are_named(data, params, error, name):
    with pytest.raises(error, match=name):
        FactorizationMachine(**params).fit(data[0])
