"""Tests of explicit ALS with biases (recsys.models.als)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from planted_data import NOISE, max_angle_degrees, planted, rmse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from recsys import experiments, splits
from recsys.datasets import load
from recsys.models import als as als_module
from recsys.models.als import ALS, _solve_rows, _solve_rows_reference


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def fitted(data):
    train, test, _ = data
    return ALS(factors=5, regularization=1.0, bias_regularization=1.0, iterations=10).fit(train, validation=test)


# ----------------------------------------------------------------------------- recovery
def test_recovers_planted_model(data, fitted):
    train, test, truth = data
    assert rmse(fitted, test) < 1.5 * NOISE
    assert max_angle_degrees(fitted.item_factors_, truth["Q"]) < 10
    assert max_angle_degrees(fitted.user_factors_, truth["P"]) < 10
    # the biases are learned jointly: they track the planted ones up to a shared offset
    assert np.corrcoef(fitted.item_bias_, truth["bi"])[0, 1] > 0.9
    assert np.corrcoef(fitted.user_bias_, truth["bu"])[0, 1] > 0.9


def test_weighted_regularization_recovers_too(data):
    train, test, truth = data
    model = ALS(factors=5, regularization=0.01, weighted_regularization=True, iterations=10).fit(train)
    assert rmse(model, test) < 1.5 * NOISE
    assert max_angle_degrees(model.item_factors_, truth["Q"]) < 10


def test_overfits_without_enough_regularization(data):
    """Too many factors and a tiny penalty fit the noise: train error drops below the noise
    floor while test error rises well above it (the reason for regularisation)."""
    train, test, _ = data
    model = ALS(
        factors=60, regularization=1e-4, weighted_regularization=False, bias_regularization=0.0, iterations=5
    ).fit(train, validation=test)
    assert model.history_[-1]["train_rmse"] < 0.8 * NOISE
    assert model.history_[-1]["val_rmse"] > 2 * NOISE


# ----------------------------------------------------------------------------- objective
@pytest.mark.parametrize("weighted, lam", [(True, 0.05), (False, 2.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_objective_never_increases(data, weighted, lam, dtype):
    train, test, _ = data
    model = ALS(
        factors=8,
        regularization=lam,
        weighted_regularization=weighted,
        bias_regularization=0.5,
        iterations=8,
        init_std=1.0,
        dtype=dtype,
        random_state=3,
    ).fit(train, validation=test)
    loss = np.array([h["train_loss"] for h in model.history_])
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    assert np.all(np.diff(loss) <= rtol * loss[:-1]), loss
    assert loss[-1] < loss[0]


def test_history_records(fitted):
    history = fitted.history_
    assert [h["iteration"] for h in history] == list(range(1, 11))
    seconds = np.array([h["seconds"] for h in history])
    assert np.all(seconds > 0) and np.all(np.diff(seconds) >= 0)
    for h in history:
        assert set(h) == {"iteration", "seconds", "train_loss", "train_rmse", "val_rmse"}
        assert h["train_rmse"] > 0 and h["val_rmse"] > 0


def test_objective_matches_definition(data):
    """train_loss is exactly SSE + lam * sum n_u |p_u|^2 + ... recomputed from the fitted state."""
    train, _, _ = data
    model = ALS(
        factors=4, regularization=0.03, weighted_regularization=True, bias_regularization=2.0, iterations=2
    ).fit(train)
    coo = train.tocoo()
    pred = (
        model.global_mean_
        + model.user_bias_[coo.row]
        + model.item_bias_[coo.col]
        + np.sum(model.user_factors_[coo.row] * model.item_factors_[coo.col], axis=1)
    )
    n_u, n_i = np.diff(train.indptr), np.diff(train.tocsc().indptr)
    expected = (
        np.sum((coo.data - pred) ** 2)
        + 0.03 * (n_u @ np.sum(model.user_factors_**2, 1) + n_i @ np.sum(model.item_factors_**2, 1))
        + 2.0 * (np.sum(model.user_bias_**2) + np.sum(model.item_bias_**2))
    )
    assert model.history_[-1]["train_loss"] == pytest.approx(expected, rel=1e-10)


# ----------------------------------------------------------------------------- fast == reference
def random_half_step(seed, n_rows=37, n_other=23, k=4, density=0.3):
    """A random half-step problem whose rows have very different lengths (some empty, some full)."""
    rng = np.random.default_rng(seed)
    row_density = density * rng.random(n_rows) * 2  # lengths spread over several buckets
    mask = rng.random((n_rows, n_other)) < row_density[:, None]
    mask[::7] = False  # rows without observations
    M = sp.csr_matrix(np.where(mask, rng.normal(size=mask.shape), 0.0))
    M.sort_indices()
    factors = rng.normal(size=(n_other, k))
    return M.indptr, M.indices, M.data, factors


@pytest.mark.parametrize("weighted", [True, False])
def test_vectorised_solve_equals_reference_loop(weighted, monkeypatch):
    indptr, indices, targets, factors = random_half_step(0)
    assert np.any(np.diff(indptr) == 0), "the case should include rows without observations"
    expected = _solve_rows_reference(indptr, indices, targets, factors, 0.3, 0.7, weighted)
    got = _solve_rows(indptr, indices, targets, factors, 0.3, 0.7, weighted)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-10, atol=1e-12)
    # force tiny chunks so the chunking path runs too
    monkeypatch.setattr(als_module, "_BLOCK_ELEMENTS", 8)
    chunked = _solve_rows(indptr, indices, targets, factors, 0.3, 0.7, weighted)
    np.testing.assert_allclose(chunked[0], expected[0], rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 40),
    n_other=st.integers(1, 30),
    k=st.integers(1, 6),
    density=st.floats(0.0, 1.0),
    lam=st.floats(1e-3, 10.0),
    lam_b=st.floats(0.0, 10.0),
    weighted=st.booleans(),
)
def test_vectorised_solve_property(seed, n_rows, n_other, k, density, lam, lam_b, weighted):
    indptr, indices, targets, factors = random_half_step(seed, n_rows, n_other, k, density)
    expected = _solve_rows_reference(indptr, indices, targets, factors, lam, lam_b, weighted)
    got = _solve_rows(indptr, indices, targets, factors, lam, lam_b, weighted)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-8, atol=1e-10)


def test_half_step_is_the_exact_minimiser():
    """The solved row sets the gradient of its ridge objective to zero."""
    indptr, indices, targets, factors = random_half_step(1, n_rows=5, density=0.8)
    P, b = _solve_rows(indptr, indices, targets, factors, 0.2, 0.4, True)
    for r in range(5):
        sl = slice(indptr[r], indptr[r + 1])
        Q, y = factors[indices[sl]], targets[sl]
        resid = y - Q @ P[r] - b[r]
        n = sl.stop - sl.start
        np.testing.assert_allclose(-Q.T @ resid + 0.2 * n * P[r], 0, atol=1e-10)
        assert -resid.sum() + 0.4 * b[r] == pytest.approx(0, abs=1e-10)


@pytest.mark.parametrize("weighted, lam", [(True, 0.05), (False, 2.0)])
def test_fit_runs_the_reference_half_steps(data, weighted, lam):
    """One iteration of fit = the reference user step from the seeded initial items, then the
    reference item step given those users (targets: rating - mu - the other side's bias)."""
    train, _, _ = data
    k, seed = 4, 11
    model = ALS(
        factors=k,
        regularization=lam,
        weighted_regularization=weighted,
        bias_regularization=0.5,
        iterations=1,
        init_std=0.3,
        random_state=seed,
    ).fit(train)
    Q0 = np.random.default_rng(seed).standard_normal((train.shape[1], k)) * 0.3
    mu = train.data.mean()
    P, bu = _solve_rows_reference(train.indptr, train.indices, train.data - mu, Q0, lam, 0.5, weighted)
    np.testing.assert_allclose(model.user_factors_, P, atol=1e-10)
    np.testing.assert_allclose(model.user_bias_, bu, atol=1e-10)
    T = train.T.tocsr()
    Q, bi = _solve_rows_reference(T.indptr, T.indices, T.data - mu - bu[T.indices], P, lam, 0.5, weighted)
    np.testing.assert_allclose(model.item_factors_, Q, atol=1e-10)
    np.testing.assert_allclose(model.item_bias_, bi, atol=1e-10)


# ----------------------------------------------------------------------------- interface
def test_deterministic_with_same_seed(data):
    train, _, _ = data
    a = ALS(factors=6, iterations=3, random_state=7).fit(train)
    b = ALS(factors=6, iterations=3, random_state=7).fit(train)
    c = ALS(factors=6, iterations=3, random_state=8).fit(train)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.allclose(a.item_factors_, c.item_factors_)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"factors": 2.5}, TypeError, "factors"),
        ({"iterations": 0}, ValueError, "iterations"),
        ({"regularization": -0.1}, ValueError, "regularization"),
        ({"regularization": 0.0}, ValueError, "regularization"),
        ({"bias_regularization": -1.0}, ValueError, "bias_regularization"),
        ({"init_std": -1.0}, ValueError, "init_std"),
        ({"dtype": np.int32}, ValueError, "dtype"),
    ],
)
def test_invalid_hyperparameters(data, params, error, match):
    with pytest.raises(error, match=match):
        ALS(**params).fit(data[0])


def test_invalid_inputs(data):
    train, _, _ = data
    with pytest.raises(TypeError, match="scipy.sparse"):
        ALS().fit(train.toarray())
    with pytest.raises(ValueError, match="validation has shape"):
        ALS(iterations=1).fit(train, validation=train[:10])
    with pytest.raises(ValueError, match="no entries"):
        ALS().fit(sp.csr_matrix((3, 4)))
    with pytest.raises(NotFittedError):
        ALS().predict([0], [0])


def test_clone_and_get_params():
    model = ALS(factors=12, regularization=0.2, weighted_regularization=False, random_state=5)
    params = model.get_params()
    assert params["factors"] == 12 and params["regularization"] == 0.2
    assert params["weighted_regularization"] is False and params["random_state"] == 5
    copy = clone(model)
    assert copy.get_params() == params
    assert not hasattr(copy, "user_factors_")


def test_fitted_attributes(data, fitted):
    train, _, _ = data
    assert fitted.user_factors_.shape == (400, 5) and fitted.item_factors_.shape == (300, 5)
    assert fitted.user_bias_.shape == (400,) and fitted.item_bias_.shape == (300,)
    assert fitted.n_users_ == 400 and fitted.n_items_ == 300
    assert fitted.global_mean_ == pytest.approx(train.data.mean())
    assert fitted.rating_range_ == (train.data.min(), train.data.max())


def test_unknown_users_and_items_fall_back_to_biases(fitted):
    mu, bu, bi = fitted.global_mean_, fitted.user_bias_, fitted.item_bias_
    lo, hi = fitted.rating_range_
    pred = fitted.predict([-1, 3, -1, 3], [7, -1, -1, 7])
    expected_full = mu + bu[3] + bi[7] + fitted.user_factors_[3] @ fitted.item_factors_[7]
    np.testing.assert_allclose(pred, np.clip([mu + bi[7], mu + bu[3], mu, expected_full], lo, hi))


def test_score_ranks_with_the_same_model(fitted):
    scores = fitted.score([0, 5])
    assert scores.shape == (2, 300)
    np.testing.assert_allclose(np.clip(scores[1, :10], *fitted.rating_range_), fitted.predict([5] * 10, range(10)))


def test_float32_matches_float64(data):
    train, test, _ = data
    a = ALS(factors=5, regularization=0.01, iterations=6).fit(train)
    b = ALS(factors=5, regularization=0.01, iterations=6, dtype=np.float32).fit(train)
    assert b.item_factors_.dtype == np.float32
    assert rmse(b, test) == pytest.approx(rmse(a, test), rel=1e-3)


def test_unbiased_als_is_plain_mf(data):
    train, test, _ = data
    model = ALS(factors=5, regularization=1.0, biased=False, iterations=8).fit(train)
    assert model.global_mean_ == 0.0
    assert not model.user_bias_.any() and not model.item_bias_.any()
    losses = [h["train_loss"] for h in model.history_]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(losses, losses[1:]))
    # the fast half step equals the reference without the bias column
    X = train.tocsr()
    targets = X.data.astype(np.float64)
    fast = _solve_rows(X.indptr, X.indices, targets, model.item_factors_, 1.0, 2.0, False, False)
    slow = _solve_rows_reference(X.indptr, X.indices, targets, model.item_factors_, 1.0, 2.0, False, False)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-10, atol=1e-12)
    assert not fast[1].any() and not slow[1].any()


def test_unbiased_als_gives_a_user_without_ratings_a_zero_vector():
    X = sp.csr_matrix(np.array([[5.0, 4.0, 1.0], [1.0, 2.0, 5.0], [0.0, 0.0, 0.0]]))
    X.eliminate_zeros()  # user 2 has no ratings
    model = ALS(factors=2, regularization=0.1, biased=False, iterations=20, random_state=0).fit(X)
    assert np.all(model.user_factors_[2] == 0.0)
    assert np.all(model.score([2]) == 0.0)


# ----------------------------------------------------------------------------- dual (push-through) route
def test_method_is_validated():
    indptr, indices, targets, factors = random_half_step(0)
    with pytest.raises(ValueError, match="method must be"):
        _solve_rows(indptr, indices, targets, factors, 0.3, 0.7, False, method="cholesky")


@pytest.mark.parametrize("biased", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("method", ["dual", "primal", "auto"])
def test_both_routes_equal_reference_on_short_and_long_rows(method, weighted, biased):
    """k = 6: rows with 1..30 observations, shorter and longer than d = k + 1, some empty."""
    indptr, indices, targets, factors = random_half_step(2, n_rows=60, n_other=30, k=6, density=0.4)
    counts = np.diff(indptr)
    assert (counts == 0).any() and ((counts > 0) & (counts < 7)).any() and (counts > 7).any()
    expected = _solve_rows_reference(indptr, indices, targets, factors, 0.3, 0.7, weighted, biased)
    got = _solve_rows(indptr, indices, targets, factors, 0.3, 0.7, weighted, biased, method=method)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 40),
    n_other=st.integers(1, 40),
    k=st.integers(1, 12),
    density=st.floats(0.0, 1.0),
    lam=st.floats(1e-3, 10.0),
    lam_b=st.one_of(st.just(0.0), st.floats(0.0, 10.0)),
    weighted=st.booleans(),
    biased=st.booleans(),
)
def test_dual_route_property(seed, n_rows, n_other, k, density, lam, lam_b, weighted, biased):
    """The dual route is exact for any row length (it is only faster when L < d), with or without
    biases and count weights, and for lam_b = 0 (it never divides by lam_b)."""
    indptr, indices, targets, factors = random_half_step(seed, n_rows, n_other, k, density)
    expected = _solve_rows_reference(indptr, indices, targets, factors, lam, lam_b, weighted, biased)
    for method in ("dual", "auto"):
        got = _solve_rows(indptr, indices, targets, factors, lam, lam_b, weighted, biased, method=method)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("biased", [True, False])
def test_dual_block_ignores_zero_padding(biased):
    """Zero design rows with zero targets (the padding of a bucket) leave the dual solution as it is,
    and it equals the primal one."""
    rng = np.random.default_rng(4)
    B, L, k, pad = 5, 3, 8, 4
    Z = np.concatenate([rng.normal(size=(B, L, k)), np.ones((B, L, 1))], axis=2)
    y, lam = rng.normal(size=(B, L)), rng.uniform(0.5, 2.0, B)
    Zpad = np.concatenate([Z, np.zeros((B, pad, k + 1))], axis=1)
    ypad = np.concatenate([y, np.zeros((B, pad))], axis=1)
    ones = lambda A: A[:, :, k] if biased else None  # noqa: E731
    d = k + 1 if biased else k
    plain = als_module._dual_block(Z[:, :, :k], y, lam, ones(Z), 0.7)
    padded = als_module._dual_block(Zpad[:, :, :k], ypad, lam, ones(Zpad), 0.7)
    np.testing.assert_allclose(padded, plain, rtol=1e-12)
    penalty = np.column_stack([np.repeat(lam[:, None], k, axis=1), np.full(B, 0.7)])[:, :d]
    primal = als_module._primal_block(Zpad[:, :, :d], ypad, penalty)
    np.testing.assert_allclose(padded, primal, rtol=1e-10)


def test_auto_takes_the_dual_route_exactly_for_short_blocks(monkeypatch):
    """The speed-up depends on the dispatch: blocks padded to L < d go dual, the others primal."""
    seen = {"dual": [], "primal": []}
    for name in seen:
        original = getattr(als_module, f"_{name}_block")

        def spy(Zp, *args, _original=original, _name=name):
            seen[_name].append(Zp.shape[1])
            return _original(Zp, *args)

        monkeypatch.setattr(als_module, f"_{name}_block", spy)
    indptr, indices, targets, factors = random_half_step(2, n_rows=60, n_other=30, k=6, density=0.4)
    _solve_rows(indptr, indices, targets, factors, 0.3, 0.7, False)
    assert seen["dual"] and max(seen["dual"]) < 7
    assert seen["primal"] and min(seen["primal"]) >= 7
    seen["dual"].clear()
    seen["primal"].clear()
    _solve_rows(indptr, indices, targets, factors, 0.3, 0.7, False, biased=False)  # d = k
    assert max(seen["dual"]) < 6 <= min(seen["primal"])


@pytest.mark.parametrize("biased", [True, False])
def test_residuals_are_targets_minus_fit(biased):
    indptr, indices, targets, factors = random_half_step(3, n_rows=50, n_other=30, k=6, density=0.4)
    P, b, resid = _solve_rows(indptr, indices, targets, factors, 0.3, 0.7, True, biased, return_residuals=True)
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    expected = targets - np.einsum("ij,ij->i", P[rows], factors[indices]) - b[rows]
    np.testing.assert_allclose(resid, expected, rtol=1e-10, atol=1e-12)


def test_history_rmse_is_the_clipped_training_rmse(data, fitted):
    train, test, _ = data
    assert fitted.history_[-1]["train_rmse"] == pytest.approx(rmse(fitted, train), rel=1e-12)
    assert fitted.history_[-1]["val_rmse"] == pytest.approx(rmse(fitted, test), rel=1e-12)


def fit_both_routes(monkeypatch, X, **params):
    """ALS fitted with the automatic route and with every row forced through the primal one (the
    solver before the dual route existed)."""
    auto = ALS(**params).fit(X)
    monkeypatch.setattr(als_module, "_solve_rows", functools.partial(_solve_rows, method="primal"))
    primal = ALS(**params).fit(X)
    monkeypatch.undo()
    return auto, primal


def assert_same_fit(a, b, rtol):
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max(), err_msg=name)
    for h, g in zip(a.history_, b.history_):
        assert h["train_loss"] == pytest.approx(g["train_loss"], rel=rtol)
        assert h["train_rmse"] == pytest.approx(g["train_rmse"], rel=rtol)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"weighted_regularization": True, "regularization": 0.05},
        {"bias_regularization": 0.0},
        {"biased": False},
    ],
)
def test_fit_is_unchanged_by_the_dual_route_on_sparse_planted_data(monkeypatch, params):
    """About 10 ratings per user and 12 per item against d = 13: many rows go dual, many primal."""
    train, _, _ = planted(n_users=200, n_items=150, density=0.07, seed=5)
    auto, primal = fit_both_routes(monkeypatch, train, factors=12, iterations=6, **params)
    assert_same_fit(auto, primal, rtol=1e-8)


def test_fit_is_unchanged_by_the_dual_route_in_float32(monkeypatch):
    train, _, _ = planted(n_users=200, n_items=150, density=0.07, seed=5)
    auto, primal = fit_both_routes(monkeypatch, train, factors=12, iterations=6, dtype=np.float32)
    assert auto.item_factors_.dtype == np.float32
    assert_same_fit(auto, primal, rtol=1e-3)


def test_fit_is_unchanged_by_the_dual_route_on_ml_latest_small(monkeypatch):
    """The case the dual route is for: a 4/5 fold of the bundled ml-latest-small (median item: 3
    ratings), default hyperparameters, a few sweeps."""
    ratings = load("ml-latest-small", download=False).ratings
    X = experiments.Matrices.from_split(splits.kfold(ratings, 5, seed=42, unseen="keep")[0]).train
    auto, primal = fit_both_routes(monkeypatch, X, iterations=3)
    assert_same_fit(auto, primal, rtol=1e-8)
