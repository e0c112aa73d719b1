"""SGD biased MF: recovers a planted low-rank model, the compiled loop equals the reference, and
the estimator follows the project's conventions (determinism, validation, clone, fallbacks)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from planted_data import NOISE
from planted_data import planted as planted_ratings
from planted_data import rmse as _test_rmse
from scipy.linalg import subspace_angles
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from recsys.models.sgd import SGD, sgd_epoch, sgd_epoch_reference

RANK = 5


@pytest.fixture(scope="module")
def planted():
    """400 x 300 ratings = 3 + b_u + b_i + p_u . q_i + N(0, 0.1^2), rank 5, 30% observed, 80/20 split."""
    train, test, truth = planted_ratings(rank=RANK, test_fraction=0.2, seed=12345, mu=3.0)
    return dict(train=train, test=test, U=truth["P"], V=truth["Q"])


def _recovery_model(**kwargs) -> SGD:
    params = dict(factors=RANK, iterations=60, learning_rate=0.02, regularization=0.005, random_state=0)
    params.update(kwargs)
    # predictions must not be clipped to the training range when scoring the held-out ratings
    return SGD(rating_range=(-100.0, 100.0), **params)


@pytest.fixture(scope="module")
def fitted(planted):
    return _recovery_model().fit(planted["train"], validation=planted["test"])


# ------------------------------------------------------------------------------------------ #
# It learns the planted model.                                                              #
# ------------------------------------------------------------------------------------------ #


def test_recovers_planted_ratings_near_noise_floor(fitted, planted):
    rmse = _test_rmse(fitted, planted["test"])
    assert rmse < 1.25 * NOISE, rmse
    # the global mean, far from the noise floor, is what an unlearned model would give
    assert fitted.history_[0]["train_rmse"] > 2 * fitted.history_[-1]["train_rmse"]


def test_recovers_planted_subspaces(fitted, planted):
    item_angle = np.degrees(subspace_angles(fitted.item_factors_, planted["V"]).max())
    user_angle = np.degrees(subspace_angles(fitted.user_factors_, planted["U"]).max())
    assert item_angle < 8, item_angle
    assert user_angle < 8, user_angle


def test_history_records_every_epoch(fitted, planted):
    history = fitted.history_
    assert [h["iteration"] for h in history] == list(range(1, 61))
    seconds = [h["seconds"] for h in history]
    assert all(b >= a for a, b in zip(seconds, seconds[1:], strict=False))
    assert history[-1]["train_rmse"] < history[0]["train_rmse"]
    # val_rmse is the clipped-prediction RMSE on the validation matrix, as predict() gives it
    assert history[-1]["val_rmse"] == pytest.approx(_test_rmse(fitted, planted["test"]), rel=1e-9)
    without_val = _recovery_model(iterations=2).fit(planted["train"])
    assert "val_rmse" not in without_val.history_[-1]


def test_eval_every_controls_which_epochs_are_evaluated(planted):
    X, val = planted["train"], planted["test"]
    sparse = SGD(factors=4, iterations=5, eval_every=2, random_state=0).fit(X, validation=val)
    assert [h["iteration"] for h in sparse.history_] == [1, 2, 3, 4, 5]
    assert [("train_rmse" in h, "val_rmse" in h) for h in sparse.history_] == [
        (False, False),
        (True, True),
    ] * 2 + [(True, True)]
    last_only = SGD(factors=4, iterations=5, eval_every=0, random_state=0).fit(X)
    assert ["train_rmse" in h for h in last_only.history_] == [False] * 4 + [True]
    # evaluation never changes the fit itself
    np.testing.assert_array_equal(sparse.item_factors_, last_only.item_factors_)
    assert sparse.history_[-1]["train_rmse"] == last_only.history_[-1]["train_rmse"]


def test_score_matches_unclipped_predict(fitted):
    users = np.array([0, 7, 399])
    scores = fitted.score(users)
    assert scores.shape == (3, fitted.n_items_)
    expected = fitted.predict(np.repeat(users, fitted.n_items_), np.tile(np.arange(fitted.n_items_), 3))
    np.testing.assert_allclose(scores.ravel(), expected, rtol=1e-12)


@pytest.mark.parametrize("kwargs", [{"dtype": "float32"}, {"shuffle": False}, {"num_threads": 0}])
def test_variants_also_learn(planted, kwargs):
    model = _recovery_model(**kwargs).fit(planted["train"])
    assert _test_rmse(model, planted["test"]) < 1.25 * NOISE
    if kwargs.get("dtype") == "float32":
        assert model.user_factors_.dtype == np.float32 and model.item_bias_.dtype == np.float32


def test_unbiased_model_has_no_bias_terms(planted):
    model = _recovery_model(biased=False, iterations=3).fit(planted["train"])
    assert model.global_mean_ == 0.0 and model.user_bias_ is None and model.item_bias_ is None
    u, i = 3, 5
    expected = model.user_factors_[u] @ model.item_factors_[i]
    assert model.predict([u], [i])[0] == pytest.approx(expected)


# ------------------------------------------------------------------------------------------ #
# The compiled loop is the algorithm.                                                       #
# ------------------------------------------------------------------------------------------ #


def _small_problem(seed: int, n_users: int, n_items: int, k: int, nnz: int, dtype=np.float64):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, nnz).astype(np.int32)
    items = rng.integers(0, n_items, nnz).astype(np.int32)
    ratings = rng.uniform(1, 5, nnz).astype(dtype)
    order = rng.permutation(nnz).astype(np.int32)
    state = [np.zeros(n_users, dtype), np.zeros(n_items, dtype)]
    state += [rng.normal(0, 0.1, (n_users, k)).astype(dtype), rng.normal(0, 0.1, (n_items, k)).astype(dtype)]
    return users, items, ratings, order, state


def _run_both(problem, biased=True, iterations=3, dtype=np.float64):
    users, items, ratings, order, state = problem
    fast = [a.copy() for a in state]
    slow = [a.astype(np.float64) for a in state]
    scalars = tuple(dtype(v) for v in (0.01, 0.02, 0.03, 0.05))  # distinct lr_b, lr_f, reg_b, reg_f
    mu = dtype(ratings.mean())
    for _ in range(iterations):
        sgd_epoch(users, items, ratings, order, mu, *fast, *scalars, biased)
        sgd_epoch_reference(
            users, items, ratings.astype(np.float64), order, float(mu), *slow, *map(float, scalars), biased
        )
    return fast, slow


@pytest.mark.parametrize("biased", [True, False])
def test_compiled_epoch_equals_reference(biased):
    fast, slow = _run_both(_small_problem(0, 20, 15, 7, 120), biased=biased)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if not biased:
        assert not fast[0].any() and not fast[1].any()


def test_compiled_epoch_float32_stays_close_to_reference():
    fast, slow = _run_both(_small_problem(1, 20, 15, 9, 120, np.float32), dtype=np.float32)
    assert all(a.dtype == np.float32 for a in fast)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 12),
    n_items=st.integers(1, 12),
    k=st.integers(1, 13),
    nnz=st.integers(1, 60),
)
def test_compiled_epoch_equals_reference_property(seed, n_users, n_items, k, nnz):
    fast, slow = _run_both(_small_problem(seed, n_users, n_items, k, nnz), iterations=2)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_runs_the_reference_algorithm(planted, shuffle):
    """fit == initial state drawn from random_state, then reference epochs in the documented order."""
    X = planted["train"][:40]
    model = SGD(
        factors=4,
        iterations=2,
        learning_rate=0.01,
        regularization=0.03,
        bias_learning_rate=0.02,
        shuffle=shuffle,
        random_state=7,
    )
    model.fit(X)

    rng = np.random.default_rng(7)
    bu, bi, P, Q = model._initial_state(*X.shape, rng, np.dtype(np.float64))
    coo = X.tocoo()
    order = np.arange(X.nnz, dtype=np.int32)
    for _ in range(2):
        if shuffle:
            rng.shuffle(order)
        sgd_epoch_reference(
            coo.row, coo.col, coo.data, order, X.data.mean(), bu, bi, P, Q, 0.02, 0.01, 0.03, 0.03, True
        )
    np.testing.assert_allclose(model.user_factors_, P, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.item_factors_, Q, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.item_bias_, bi, rtol=1e-10, atol=1e-12)


def test_matches_surprise_svd_given_same_init_and_order():
    """Our loop is Surprise's SVD.sgd: same start, same (unshuffled) order -> same factors."""
    surprise = pytest.importorskip("surprise", reason="scikit-surprise is the optional 'bench' extra")
    import pandas as pd

    rng = np.random.default_rng(3)
    n_users, n_items, k = 30, 20, 6
    mask = rng.random((n_users, n_items)) < 0.4
    users, items = np.nonzero(mask)  # sorted by user, then item: Surprise's iteration order
    ratings = rng.integers(1, 6, users.size).astype(np.float64)
    frame = pd.DataFrame({"u": users, "i": items, "r": ratings})
    trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = surprise.SVD(n_factors=k, n_epochs=5, random_state=11).fit(trainset)

    # Surprise draws pu then qi from RandomState(11), rows in its inner-id order
    init = np.random.RandomState(11)
    pu0 = init.normal(0, 0.1, (trainset.n_users, k))
    qi0 = init.normal(0, 0.1, (trainset.n_items, k))
    user_inner = np.array([trainset.to_inner_uid(u) for u in range(n_users)])
    item_inner = np.array([trainset.to_inner_iid(i) for i in range(n_items)])
    P, Q = pu0[user_inner].copy(), qi0[item_inner].copy()
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    order = np.arange(users.size, dtype=np.int32)
    u32, i32 = users.astype(np.int32), items.astype(np.int32)
    for _ in range(5):
        sgd_epoch(u32, i32, ratings, order, ratings.mean(), bu, bi, P, Q, 0.005, 0.005, 0.02, 0.02, True)
    np.testing.assert_allclose(P, algo.pu[user_inner], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(Q, algo.qi[item_inner], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bu, algo.bu[user_inner], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bi, algo.bi[item_inner], rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------------------ #
# Conventions: determinism, defaults, validation, clone, fallbacks.                         #
# ------------------------------------------------------------------------------------------ #


def test_defaults_are_surprise_svd_defaults():
    params = SGD().get_params()
    assert params["factors"] == 100 and params["iterations"] == 20
    assert params["learning_rate"] == 0.005 and params["regularization"] == 0.02
    assert params["init_mean"] == 0 and params["init_std"] == 0.1 and params["biased"] is True
    assert params["num_threads"] == 1  # exact reproducibility by default


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_random_state_gives_identical_factors(planted, dtype):
    X = planted["train"]
    a = SGD(factors=8, iterations=3, dtype=dtype, random_state=42).fit(X)
    b = SGD(factors=8, iterations=3, dtype=dtype, random_state=42).fit(X)
    c = SGD(factors=8, iterations=3, dtype=dtype, random_state=43).fit(X)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.item_factors_, c.item_factors_)
    assert [h["train_rmse"] for h in a.history_] == [h["train_rmse"] for h in b.history_]


def test_clone_and_params_are_unchanged_by_fit(planted):
    model = SGD(factors=4, iterations=2, bias_learning_rate=None, dtype="float32", random_state=1)
    before = model.get_params()
    model.fit(planted["train"])
    assert model.get_params() == before  # hyperparameters stored unchanged (bias_learning_rate stays None)
    fresh = clone(model)
    assert fresh.get_params() == before and not hasattr(fresh, "user_factors_")
    fresh.set_params(factors=6)
    assert fresh.fit(planted["train"]).user_factors_.shape == (400, 6)


def test_fitted_attributes(fitted, planted):
    X = planted["train"]
    assert (fitted.n_users_, fitted.n_items_) == X.shape
    assert fitted.user_factors_.shape == (400, RANK) and fitted.item_factors_.shape == (300, RANK)
    assert fitted.user_bias_.shape == (400,) and fitted.item_bias_.shape == (300,)
    assert fitted.global_mean_ == pytest.approx(X.data.mean())
    assert fitted.rating_range_ == (-100.0, 100.0)
    default_range = SGD(factors=2, iterations=1, random_state=0).fit(X)
    assert default_range.rating_range_ == (X.data.min(), X.data.max())


def test_unknown_ids_fall_back_to_biases(fitted):
    mu, bu, bi = fitted.global_mean_, fitted.user_bias_, fitted.item_bias_
    got = fitted.predict([-1, 4, -1], [9, -1, -1])
    np.testing.assert_allclose(got, [mu + bi[9], mu + bu[4], mu])
    with pytest.raises(IndexError, match="user index"):
        fitted.predict([400], [0])


def test_predict_clips_to_rating_range(planted):
    model = SGD(factors=4, iterations=5, rating_range=(2.9, 3.1), random_state=0).fit(planted["train"])
    preds = model.predict(np.arange(400), np.zeros(400, dtype=int))
    assert preds.min() >= 2.9 and preds.max() <= 3.1
    assert model.score([0]).max() > 3.1  # scores are never clipped


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        SGD().predict([0], [0])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"factors": 0}, "factors"),
        ({"factors": 2.5}, "factors"),
        ({"iterations": -1}, "iterations"),
        ({"iterations": True}, "iterations"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"bias_learning_rate": -0.1}, "bias_learning_rate"),
        ({"regularization": -1.0}, "regularization"),
        ({"bias_regularization": float("nan")}, "bias_regularization"),
        ({"init_std": -0.1}, "init_std"),
        ({"eval_every": -1}, "eval_every"),
        ({"dtype": "int32"}, "dtype"),
        ({"dtype": "banana"}, "dtype"),
        ({"rating_range": (5, 1)}, "rating_range"),
        ({"rating_range": (1, 2, 3)}, "rating_range"),
    ],
)
def test_bad_hyperparameters_are_named(planted, params, match):
    # a value of the wrong type (2.5 or True for an integer) is a TypeError; a bad value a ValueError
    value = next(iter(params.values()))
    wrong_type = isinstance(value, bool) or (match in ("factors", "iterations") and isinstance(value, float))
    with pytest.raises(TypeError if wrong_type else ValueError, match=match):
        SGD(**params).fit(planted["train"])


def test_bad_inputs_raise_clear_errors(planted):
    X = planted["train"]
    with pytest.raises(TypeError, match="scipy.sparse"):
        SGD().fit(X.toarray())
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SGD().fit(bad)
    with pytest.raises(ValueError, match="no entries"):
        SGD().fit(sp.csr_matrix((3, 4)))
    with pytest.raises(ValueError, match="validation has shape"):
        SGD(iterations=1).fit(X, validation=X[:10])


def test_divergence_is_reported(planted):
    with pytest.raises(FloatingPointError, match="learning_rate"):
        SGD(factors=4, iterations=20, learning_rate=5.0, random_state=0).fit(planted["train"])
