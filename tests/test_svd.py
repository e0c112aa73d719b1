"""Tests of the truncated-SVD models (recsys.models.svd): PureSVD and SVDImpute."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import NOISE, max_angle_degrees, planted, rmse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from recsys.models.svd import PureSVD, SVDImpute, damped_baseline


def low_rank(model) -> np.ndarray:
    """The fitted Z = U S V^T as a dense matrix."""
    return model.user_factors_ @ model.item_factors_.T


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def small():
    """A small case for comparisons with dense references."""
    return planted(n_users=40, n_items=30, rank=3, density=0.5, seed=1)


def bias_rmse(X: sp.csr_matrix, test: sp.csr_matrix) -> float:
    mu, bu, bi = damped_baseline(X)
    coo = test.tocoo()
    return float(np.sqrt(np.mean((mu + bu[coo.row] + bi[coo.col] - coo.data) ** 2)))


# ------------------------------------------------------------------------------ damped baseline
def test_damped_baseline_matches_its_definition(small):
    X = small[0]
    mu, bu, bi = damped_baseline(X, "bias", damping=3.0)
    dense = X.toarray()
    observed = dense != 0
    assert mu == pytest.approx(dense[observed].mean())
    for i in range(X.shape[1]):
        r = dense[observed[:, i], i]
        assert bi[i] == pytest.approx((r - mu).sum() / (r.size + 3.0))
    for u in range(X.shape[0]):
        cols = np.flatnonzero(observed[u])
        assert bu[u] == pytest.approx((dense[u, cols] - mu - bi[cols]).sum() / (cols.size + 3.0))


def test_damped_baseline_centerings(small):
    X = small[0]
    mu, bu, bi = damped_baseline(X, "none")
    assert mu == 0 and not bu.any() and not bi.any()
    mu, bu, bi = damped_baseline(X, "global")
    assert mu == pytest.approx(X.data.mean()) and not bu.any() and not bi.any()


# ------------------------------------------------------------------------------ PureSVD
@pytest.mark.parametrize("centering", ["none", "global", "bias"])
def test_puresvd_is_the_truncated_svd_of_the_zero_filled_matrix(small, centering):
    X = small[0]
    model = PureSVD(factors=4, centering=centering).fit(X)
    mu, bu, bi = damped_baseline(X, centering, damping=5.0)
    coo = X.tocoo()
    filled = np.zeros(X.shape)
    filled[coo.row, coo.col] = coo.data - mu - bu[coo.row] - bi[coo.col]
    U, s, Vt = np.linalg.svd(filled)
    np.testing.assert_allclose(model.singular_values_, s[:4], rtol=1e-8)
    np.testing.assert_allclose(low_rank(model), (U[:, :4] * s[:4]) @ Vt[:4], atol=1e-8)
    # item factors are orthonormal (V), the singular values sit on the user side
    np.testing.assert_allclose(model.item_factors_.T @ model.item_factors_, np.eye(4), atol=1e-10)


def test_puresvd_scores_are_r_v_vt(small):
    """Without centring, score(u) = r_u V V^T: Cremonesi et al.'s PureSVD top-N rule."""
    X = small[0]
    model = PureSVD(factors=5, centering="none").fit(X)
    V = model.item_factors_
    np.testing.assert_allclose(model.score(np.arange(X.shape[0])), X.toarray() @ V @ V.T, atol=1e-10)


def test_puresvd_randomized_solver_agrees(data):
    X = data[0]
    exact = PureSVD(factors=5, solver="arpack").fit(X)
    approx = PureSVD(factors=5, solver="randomized").fit(X)
    np.testing.assert_allclose(approx.singular_values_, exact.singular_values_, rtol=1e-3)
    assert max_angle_degrees(approx.item_factors_, exact.item_factors_) < 1


def test_puresvd_finds_the_subspace_but_shrinks_ratings(data):
    """Zeros in the gaps keep the planted item subspace roughly, but pull every rating towards
    the centre: RMSE improves on the biases alone yet stays far above the noise floor."""
    train, test, truth = data
    model = PureSVD(factors=5, centering="bias").fit(train)
    assert max_angle_degrees(model.item_factors_, truth["Q"]) < 20
    assert rmse(model, test) < 0.85 * bias_rmse(train, test)
    assert rmse(model, test) > 4 * NOISE
    # the factor part is shrunk by about the observed fraction (30% of the pairs, 90% of them train)
    coo = test.tocoo()
    true_part = np.einsum("ij,ij->i", truth["P"][coo.row], truth["Q"][coo.col])
    fitted_part = np.einsum("ij,ij->i", model.user_factors_[coo.row], model.item_factors_[coo.col])
    slope = (fitted_part @ true_part) / (true_part @ true_part)
    assert 0.2 < slope < 0.4


def test_puresvd_deterministic_and_sign_fixed(data):
    X = data[0]
    a = PureSVD(factors=6, random_state=1).fit(X)
    b = PureSVD(factors=6, random_state=2).fit(X)
    np.testing.assert_allclose(a.item_factors_, b.item_factors_, atol=1e-8)  # unique up to sign: fixed
    c = PureSVD(factors=6, random_state=1).fit(X)
    np.testing.assert_array_equal(a.user_factors_, c.user_factors_)


# ------------------------------------------------------------------------------ SVDImpute
def dense_soft_impute(X: sp.csr_matrix, k: int, lam: float, iterations: int) -> np.ndarray:
    """The textbook loop: fill, full SVD, truncate, soft-threshold (fixed global centring)."""
    mu = X.data.mean()
    observed = X.toarray() != 0
    R = np.where(observed, X.toarray() - mu, 0.0)
    Z = np.zeros(X.shape)
    for _ in range(iterations):
        U, s, Vt = np.linalg.svd(np.where(observed, R, Z), full_matrices=False)
        Z = (U[:, :k] * np.maximum(s[:k] - lam, 0)) @ Vt[:k]
    return Z


@pytest.mark.parametrize("lam", [0.0, 2.0])
def test_svdimpute_equals_dense_reference(small, lam):
    """The sparse + low-rank operator gives the same iterates as filling a dense matrix."""
    X = small[0]
    model = SVDImpute(factors=4, shrinkage=lam, centering="global", solver="arpack", iterations=6, tol=0).fit(X)
    assert model.n_iter_ == 6
    np.testing.assert_allclose(low_rank(model), dense_soft_impute(X, 4, lam, 6), atol=1e-7)


def test_svdimpute_first_iteration_is_puresvd(data):
    X = data[0]
    impute = SVDImpute(factors=5, shrinkage=0.0, solver="arpack", iterations=1, refit_biases=False).fit(X)
    pure = PureSVD(factors=5).fit(X)
    np.testing.assert_allclose(low_rank(impute), low_rank(pure), atol=1e-8)


def test_svdimpute_recovers_planted_model(data):
    train, test, truth = data
    model = SVDImpute(factors=5, shrinkage=1.0).fit(train, validation=test)
    assert rmse(model, test) < 1.5 * NOISE
    assert max_angle_degrees(model.item_factors_, truth["Q"]) < 10
    assert model.n_iter_ < 100  # converged by the tolerance
    assert model.history_[-1]["val_rmse"] == pytest.approx(rmse(model, test))


def test_fixed_centring_costs_rank(data):
    """Up-front biases leave a rank-2 error pattern: at the planted rank the fit is worse than
    with biases re-estimated each iteration."""
    train, test, _ = data
    fixed = SVDImpute(factors=5, shrinkage=1.0, refit_biases=False).fit(train)
    refit = SVDImpute(factors=5, shrinkage=1.0, refit_biases=True).fit(train)
    assert rmse(fixed, test) > 1.3 * rmse(refit, test)


@pytest.mark.parametrize("solver", ["arpack", "randomized"])
@pytest.mark.parametrize("refit", [True, False])
def test_svdimpute_objective_never_increases(data, solver, refit):
    train, _, _ = data
    model = SVDImpute(factors=8, shrinkage=3.0, solver=solver, refit_biases=refit, iterations=15, tol=0).fit(train)
    loss = np.array([h["train_loss"] for h in model.history_])
    assert loss.size == 15
    assert np.all(np.diff(loss) <= 1e-8 * loss[:-1]), loss
    assert [h["iteration"] for h in model.history_] == list(range(1, 16))
    assert np.all(np.diff([h["seconds"] for h in model.history_]) >= 0)


def test_svdimpute_solvers_agree(data):
    train, test, _ = data
    a = SVDImpute(factors=5, shrinkage=2.0, solver="arpack", tol=1e-9).fit(train)
    b = SVDImpute(factors=5, shrinkage=2.0, solver="randomized", tol=1e-9).fit(train)
    assert rmse(a, test) == pytest.approx(rmse(b, test), rel=1e-4)
    np.testing.assert_allclose(low_rank(a), low_rank(b), atol=1e-3)


def test_shrinkage_lowers_the_rank(data):
    train, _, _ = data
    model = SVDImpute(factors=20, shrinkage=30.0, iterations=30).fit(train)
    assert model.history_[-1]["rank"] < 20
    assert np.count_nonzero(model.singular_values_) == model.history_[-1]["rank"]


# ------------------------------------------------------------------------------ shared interface
@pytest.mark.parametrize("cls", [PureSVD, SVDImpute])
def test_deterministic_with_same_seed(data, cls):
    X = data[0]
    a, b = cls(factors=4, random_state=3).fit(X), cls(factors=4, random_state=3).fit(X)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


@pytest.mark.parametrize("cls", [PureSVD, SVDImpute])
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"factors": 300}, ValueError, "factors must be < min"),
        ({"factors": 3.0}, TypeError, "factors"),
        ({"centering": "mean"}, ValueError, "centering"),
        ({"damping": -1.0}, ValueError, "damping"),
        ({"solver": "lapack"}, ValueError, "solver"),
    ],
)
def test_invalid_hyperparameters(data, cls, params, error, match):
    with pytest.raises(error, match=match):
        cls(**params).fit(data[0])


@pytest.mark.parametrize(
    "params, match",
    [({"shrinkage": -1.0}, "shrinkage"), ({"iterations": 0}, "iterations"), ({"tol": -1.0}, "tol")],
)
def test_invalid_svdimpute_hyperparameters(data, params, match):
    with pytest.raises(ValueError, match=match):
        SVDImpute(**params).fit(data[0])


@pytest.mark.parametrize("cls", [PureSVD, SVDImpute])
def test_invalid_inputs(data, cls):
    train = data[0]
    with pytest.raises(TypeError, match="scipy.sparse"):
        cls(factors=3).fit(train.toarray())
    with pytest.raises(ValueError, match="validation has shape"):
        cls(factors=3).fit(train, validation=train[:10])
    with pytest.raises(ValueError, match="no entries"):
        cls(factors=1).fit(sp.csr_matrix((3, 4)))
    with pytest.raises(NotFittedError):
        cls().predict([0], [0])


@pytest.mark.parametrize("cls", [PureSVD, SVDImpute])
def test_clone_and_get_params(cls):
    model = cls(factors=7, centering="global", damping=2.0, random_state=4)
    params = model.get_params()
    assert params["factors"] == 7 and params["centering"] == "global" and params["damping"] == 2.0
    copy = clone(model)
    assert copy.get_params() == params and not hasattr(copy, "item_factors_")


@pytest.mark.parametrize("cls", [PureSVD, SVDImpute])
def test_unknown_users_and_items_fall_back_to_biases(data, cls):
    train, test, _ = data
    model = cls(factors=5).fit(train, validation=test)
    assert model.rating_range_ == (train.data.min(), train.data.max())
    mu, bu, bi = model.global_mean_, model.user_bias_, model.item_bias_
    pred = model.predict([-1, 3, -1, 3], [7, -1, -1, 7])
    full = mu + bu[3] + bi[7] + model.user_factors_[3] @ model.item_factors_[7]
    np.testing.assert_allclose(pred, np.clip([mu + bi[7], mu + bu[3], mu, full], *model.rating_range_))
    assert "val_rmse" in model.history_[-1]


def test_soft_impute_and_plain_ridge_als_minimise_the_same_objective(data):
    """0.5 |P_obs(R - B - Z)|^2 + lam |Z|_* + 0.5 d |b|^2 equals half of ALS's plain-ridge
    objective at the optimum (|Z|_* = min 0.5 (|P|^2 + |Q|^2) over Z = P Q^T), so with enough
    factors both methods land on the same predictions, by two very different routes."""
    from recsys.models.als import ALS

    train, _, _ = data
    lam, damping = 20.0, 2.0
    impute = SVDImpute(factors=10, shrinkage=lam, damping=damping, tol=1e-12, iterations=500).fit(train)
    als = ALS(
        factors=10, regularization=lam, weighted_regularization=False, bias_regularization=damping, iterations=150
    ).fit(train)
    assert impute.history_[-1]["rank"] < 10  # the shrinkage, not the factor budget, sets the rank
    assert 2 * impute.history_[-1]["train_loss"] == pytest.approx(als.history_[-1]["train_loss"], rel=1e-6)
    full = lambda m: low_rank(m) + m.user_bias_[:, None] + m.item_bias_[None, :]  # noqa: E731
    np.testing.assert_allclose(full(impute), full(als), atol=1e-3)
