"""Tests of Bayesian PMF by Gibbs sampling (recsys.models.bpmf)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from planted_data import NOISE, max_angle_degrees, planted, rmse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from recsys.models import als as als_module
from recsys.models.als import _solve_rows_reference
from recsys.models.bpmf import BPMF, sample_normal_wishart, sample_rows, sample_wishart


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def fitted(data):
    train, test, _ = data
    return BPMF(factors=5, samples=30, burn_in=10, random_state=1).fit(train, validation=test)


# ----------------------------------------------------------------------------- recovery
def test_recovers_planted_model(data, fitted):
    train, test, truth = data
    assert rmse(fitted, test) < 1.3 * NOISE
    P, Q = fitted.posterior_mean_factors()
    assert P.shape == (400, 5) and Q.shape == (300, 5)
    assert max_angle_degrees(Q, truth["Q"]) < 5
    assert max_angle_degrees(P, truth["P"]) < 5
    assert np.corrcoef(fitted.item_bias_, truth["bi"])[0, 1] > 0.95
    assert np.corrcoef(fitted.user_bias_, truth["bu"])[0, 1] > 0.95
    # the sampled noise precision finds the planted noise level
    assert 0.8 * NOISE < fitted.alpha_**-0.5 < 1.2 * NOISE


def test_averaging_samples_beats_one_sample(data, fitted):
    """The running posterior mean predicts better than the burn-in's single samples."""
    val = [h["val_rmse"] for h in fitted.history_]
    assert val[-1] < min(val[:10])
    assert fitted.history_[-1]["val_rmse"] == pytest.approx(rmse(fitted, data[1]), rel=1e-9)


# ----------------------------------------------------------------------------- posterior mean = one inner product
def test_concatenated_factors_predict_the_average_of_sample_predictions(data):
    """Slow reference: rerun the same chain, store every kept sample, average their predictions."""
    train, _, _ = data
    params = dict(factors=3, samples=4, burn_in=3, thin=2, init_iterations=2, random_state=5)
    model = BPMF(**params).fit(train)
    assert model.user_factors_.shape == (400, 3 * 4) and model.item_factors_.shape == (300, 3 * 4)

    chain = BPMF(**params)._chain(train, np.dtype(np.float64), np.random.default_rng(5))
    next(chain)  # initial state
    states = [next(chain) for _ in range(3 + 4 * 2)]
    kept = states[3 + 1 :: 2]  # sweeps 5, 7, 9, 11
    assert len(kept) == 4
    k = 3
    per_sample = [model.global_mean_ + U[:, [k]] + V[:, k] + U[:, :k] @ V[:, :k].T for U, V, _ in kept]
    expected = np.mean(per_sample, axis=0)
    np.testing.assert_allclose(model.score(np.arange(400)), expected, rtol=1e-12, atol=1e-12)
    users, items = np.array([0, 17, 399]), np.array([5, 299, 0])
    np.testing.assert_allclose(model.predict(users, items), np.clip(expected[users, items], *model.rating_range_))
    np.testing.assert_allclose(model.user_bias_, np.mean([U[:, k] for U, _, _ in kept], axis=0), atol=1e-12)
    P, Q = model.posterior_mean_factors()
    np.testing.assert_allclose(P, np.mean([U[:, :k] for U, _, _ in kept], axis=0), atol=1e-12)
    np.testing.assert_allclose(Q, np.mean([V[:, :k] for _, V, _ in kept], axis=0), atol=1e-12)
    assert model.alpha_ == pytest.approx(np.mean([a for _, _, a in kept]))


# ----------------------------------------------------------------------------- the batched sampler
def random_rows(seed, n_rows=37, n_other=23, k=4, density=0.3):
    """A random half-step problem with rows of very different lengths (some empty, some full)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_other)) < density * rng.random(n_rows)[:, None] * 2
    mask[::7] = False
    M = sp.csr_matrix(np.where(mask, rng.normal(size=mask.shape), 0.0))
    M.sort_indices()
    return M.indptr, M.indices, M.data, rng.normal(size=(n_other, k))


def sample_rows_reference(indptr, indices, targets, other, prior_mean, prior_precision, alpha, noise):
    """One row at a time, from the formulas: A = Lambda + alpha Z^T Z, draw = A^-1 b + L^-T z."""
    out = np.empty_like(noise)
    for r in range(indptr.size - 1):
        sl = slice(indptr[r], indptr[r + 1])
        Z = np.hstack([other[indices[sl]], np.ones((sl.stop - sl.start, 1))])
        A = prior_precision + alpha * Z.T @ Z
        b = prior_precision @ prior_mean + alpha * Z.T @ targets[sl]
        L = np.linalg.cholesky(A)
        out[r] = np.linalg.solve(A, b) + np.linalg.solve(L.T, noise[r])
    return out


def random_prior(rng, D):
    G = rng.normal(size=(D, D))
    return rng.normal(size=D), G @ G.T + D * np.eye(D)


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_conditional_mean_is_the_als_ridge_solve(alpha):
    """With zero noise, prior N(0, (alpha diag(lam, .., lam, lam_b))^-1) and precision alpha, the
    conditional mean is ALS's ridge solution with penalties lam and lam_b."""
    indptr, indices, targets, other = random_rows(0)
    k = other.shape[1]
    precision = alpha * np.diag([0.3] * k + [0.7])
    got = sample_rows(
        indptr, indices, targets, other, np.zeros(k + 1), precision, alpha, np.zeros((indptr.size - 1, k + 1))
    )
    P, b = _solve_rows_reference(indptr, indices, targets, other, 0.3, 0.7, False)
    nonempty = np.diff(indptr) > 0
    np.testing.assert_allclose(got[nonempty, :k], P[nonempty], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[nonempty, k], b[nonempty], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[~nonempty], 0.0, atol=1e-12)  # the prior mean


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 40),
    n_other=st.integers(1, 30),
    k=st.integers(1, 6),
    density=st.floats(0.0, 1.0),
    alpha=st.floats(0.1, 100.0),
)
def test_batched_draw_equals_reference_loop(seed, n_rows, n_other, k, density, alpha):
    indptr, indices, targets, other = random_rows(seed, n_rows, n_other, k, density)
    rng = np.random.default_rng(seed)
    prior_mean, prior_precision = random_prior(rng, k + 1)
    noise = rng.standard_normal((n_rows, k + 1))
    expected = sample_rows_reference(indptr, indices, targets, other, prior_mean, prior_precision, alpha, noise)
    got = sample_rows(indptr, indices, targets, other, prior_mean, prior_precision, alpha, noise)
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8)


def test_draw_does_not_depend_on_chunking(monkeypatch):
    indptr, indices, targets, other = random_rows(3)
    rng = np.random.default_rng(3)
    prior_mean, prior_precision = random_prior(rng, other.shape[1] + 1)
    noise = rng.standard_normal((indptr.size - 1, other.shape[1] + 1))
    whole = sample_rows(indptr, indices, targets, other, prior_mean, prior_precision, 1.7, noise)
    monkeypatch.setattr(als_module, "_BLOCK_ELEMENTS", 8)
    chunked = sample_rows(indptr, indices, targets, other, prior_mean, prior_precision, 1.7, noise)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)


def test_draws_have_the_conditional_covariance():
    """20,000 copies of one row, each with its own noise: the sample mean and covariance of the
    draws match A^-1 b and A^-1 (whitened by A = L L^T, the errors are ~N(0, 1/n); seeded)."""
    rng = np.random.default_rng(0)
    k, n_obs, copies = 2, 6, 20_000
    other = rng.normal(size=(n_obs, k))
    y = rng.normal(size=n_obs)
    indptr = np.arange(copies + 1) * n_obs
    indices = np.tile(np.arange(n_obs), copies)
    prior_mean, prior_precision = random_prior(rng, k + 1)
    alpha = 3.0
    draws = sample_rows(
        indptr,
        indices,
        np.tile(y, copies),
        other,
        prior_mean,
        prior_precision,
        alpha,
        rng.standard_normal((copies, k + 1)),
    )
    Z = np.hstack([other, np.ones((n_obs, 1))])
    A = prior_precision + alpha * Z.T @ Z
    mean = np.linalg.solve(A, prior_precision @ prior_mean + alpha * Z.T @ y)
    L = np.linalg.cholesky(A)
    whitened = (draws - mean) @ L  # rows ~ N(0, I) if the covariance is A^-1
    assert np.abs(whitened.mean(axis=0)).max() < 0.05
    np.testing.assert_allclose(np.cov(whitened.T), np.eye(k + 1), atol=0.05)


def test_sample_rows_rejects_bad_noise_shape():
    indptr, indices, targets, other = random_rows(0)
    with pytest.raises(ValueError, match="noise must have shape"):
        sample_rows(indptr, indices, targets, other, np.zeros(5), np.eye(5), 1.0, np.zeros((3, 5)))


# ----------------------------------------------------------------------------- hyperparameters
def test_wishart_draws_have_the_right_mean():
    rng = np.random.default_rng(1)
    G = rng.normal(size=(3, 3))
    scale = G @ G.T / 3 + np.eye(3)
    draws = np.array([sample_wishart(scale, 6.0, rng) for _ in range(4000)])
    np.testing.assert_allclose(draws.mean(axis=0), 6.0 * scale, atol=0.1 * np.abs(6.0 * scale).max())
    assert np.all(np.linalg.eigvalsh(draws) > 0)
    with pytest.raises(ValueError, match="dof"):
        sample_wishart(scale, 1.5, rng)


def test_normal_wishart_posterior_concentrates_on_the_truth():
    """Given many vectors from N(m, Lambda^-1), the sampled (mu, Lambda) are close to (m, Lambda)."""
    rng = np.random.default_rng(2)
    m, precision = random_prior(rng, 4)
    vectors = m + np.linalg.solve(np.linalg.cholesky(precision).T, rng.standard_normal((4, 20_000))).T
    mu, Lam = sample_normal_wishart(vectors, rng)
    np.testing.assert_allclose(mu, m, atol=0.05)
    np.testing.assert_allclose(Lam, precision, atol=0.05 * np.abs(precision).max())


# ----------------------------------------------------------------------------- fit bookkeeping
def test_history_records(fitted):
    history = fitted.history_
    assert [h["iteration"] for h in history] == list(range(1, 41))
    assert [h["samples"] for h in history] == [0] * 10 + list(range(1, 31))
    seconds = np.array([h["seconds"] for h in history])
    assert np.all(seconds > 0) and np.all(np.diff(seconds) > 0)
    for h in history:
        assert set(h) == {"iteration", "seconds", "alpha", "samples", "train_rmse", "val_rmse"}
        assert h["train_rmse"] > 0 and h["val_rmse"] > 0 and h["alpha"] > 0


def test_fixed_alpha_and_thinning(data):
    train, _, _ = data
    model = BPMF(factors=2, samples=3, burn_in=2, thin=3, alpha=4.0, init_iterations=0).fit(train)
    assert len(model.history_) == 2 + 3 * 3
    assert {h["alpha"] for h in model.history_} == {4.0} and model.alpha_ == 4.0
    assert [h["samples"] for h in model.history_] == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert "val_rmse" not in model.history_[0]
    assert model.user_factors_.shape == (400, 6) and model.n_samples_ == 3


def test_users_without_ratings_draw_from_the_prior(data):
    train, _, _ = data
    X = train.tolil()
    X[7, :] = 0
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    model = BPMF(factors=3, samples=10, burn_in=2).fit(X)
    assert np.all(np.isfinite(model.user_factors_)) and np.isfinite(model.user_bias_[7])
    assert np.abs(model.user_factors_[7]).sum() > 0  # prior draws, not zeros


def test_deterministic_with_same_seed(data):
    train, _, _ = data
    kw = dict(factors=4, samples=5, burn_in=2)
    a = BPMF(**kw, random_state=7).fit(train)
    b = BPMF(**kw, random_state=7).fit(train)
    c = BPMF(**kw, random_state=8).fit(train)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert [h["alpha"] for h in a.history_] == [h["alpha"] for h in b.history_]
    assert not np.allclose(a.item_factors_, c.item_factors_)


def test_float32_matches_float64(data):
    train, test, _ = data
    a = BPMF(factors=5, samples=20, burn_in=5).fit(train)
    b = BPMF(factors=5, samples=20, burn_in=5, dtype=np.float32).fit(train)
    assert b.user_factors_.dtype == np.float32 and b.item_bias_.dtype == np.float32
    assert rmse(b, test) == pytest.approx(rmse(a, test), rel=0.05)


# ----------------------------------------------------------------------------- interface
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"factors": 2.5}, TypeError, "factors"),
        ({"samples": 0}, ValueError, "samples"),
        ({"samples": True}, TypeError, "samples"),
        ({"burn_in": -1}, ValueError, "burn_in"),
        ({"thin": 0}, ValueError, "thin"),
        ({"init_iterations": -2}, ValueError, "init_iterations"),
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"dtype": np.int32}, ValueError, "dtype"),
    ],
)
def test_invalid_hyperparameters(data, params, error, match):
    with pytest.raises(error, match=match):
        BPMF(**params).fit(data[0])


def test_invalid_inputs(data):
    train, _, _ = data
    with pytest.raises(TypeError, match="scipy.sparse"):
        BPMF().fit(train.toarray())
    with pytest.raises(ValueError, match="validation has shape"):
        BPMF(samples=1).fit(train, validation=train[:10])
    with pytest.raises(ValueError, match="no entries"):
        BPMF().fit(sp.csr_matrix((3, 4)))
    with pytest.raises(NotFittedError):
        BPMF().predict([0], [0])
    with pytest.raises(NotFittedError):
        BPMF().posterior_mean_factors()


def test_clone_and_get_params():
    model = BPMF(factors=12, samples=7, alpha=1.5, thin=2, random_state=5)
    params = model.get_params()
    assert params == {
        "factors": 12,
        "samples": 7,
        "burn_in": 20,
        "thin": 2,
        "alpha": 1.5,
        "init_iterations": 5,
        "random_state": 5,
        "dtype": np.float64,
    }
    copy = clone(model)
    assert copy.get_params() == params
    assert not hasattr(copy, "user_factors_")


def test_fitted_attributes(data, fitted):
    train, _, _ = data
    assert fitted.user_factors_.shape == (400, 5 * 30) and fitted.item_factors_.shape == (300, 5 * 30)
    assert fitted.user_bias_.shape == (400,) and fitted.item_bias_.shape == (300,)
    assert fitted.n_users_ == 400 and fitted.n_items_ == 300 and fitted.n_samples_ == 30
    assert fitted.global_mean_ == pytest.approx(train.data.mean())
    assert fitted.rating_range_ == (train.data.min(), train.data.max())


def test_unknown_users_and_items_fall_back_to_biases(fitted):
    mu, bu, bi = fitted.global_mean_, fitted.user_bias_, fitted.item_bias_
    lo, hi = fitted.rating_range_
    pred = fitted.predict([-1, 3, -1, 3], [7, -1, -1, 7])
    full = mu + bu[3] + bi[7] + fitted.user_factors_[3] @ fitted.item_factors_[7]
    np.testing.assert_allclose(pred, np.clip([mu + bi[7], mu + bu[3], mu, full], lo, hi))


def test_score_ranks_with_the_same_model(fitted):
    scores = fitted.score([0, 5])
    assert scores.shape == (2, 300)
    np.testing.assert_allclose(np.clip(scores[1, :10], *fitted.rating_range_), fitted.predict([5] * 10, range(10)))
