"""iALS in Rendle et al.'s form: each step is the closed form of its loss, the loss falls, threads change nothing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import planted_positives

from recsys.experiments import ranking_callback
from recsys.models.ials import IALS


@pytest.fixture(scope="module")
def data():
    return planted_positives()


def _dense_user_step(R, H, alpha0, lam, nu):
    """w_u from the normal equations of the loss, written densely with every pair's weight."""
    k = H.shape[1]
    W = np.empty((R.shape[0], k))
    for u, row in enumerate(R):
        weights = alpha0 + row  # every pair alpha_0, an observed pair 1 more: (1 + a0) w.h^2 - 2 w.h + 1
        A = (H * weights[:, None]).T @ H + lam * (row.sum() + alpha0 * R.shape[1]) ** nu * np.eye(k)
        W[u] = np.linalg.solve(A, H.T @ row)
    return W


@pytest.mark.parametrize("nu", [0.0, 1.0])
def test_one_sweep_is_the_closed_form_of_the_loss(data, nu):
    R = data[0].toarray()
    model = IALS(
        factors=6, regularization=0.05, unobserved_weight=0.2, regularization_exponent=nu, iterations=1, solver="exact"
    )
    model.fit(sp.csr_matrix(R))
    rng = np.random.default_rng(0)
    H0 = rng.normal(0.0, 0.1 / np.sqrt(6), (R.shape[0], 6))  # the user draw comes first, then the items'
    H0 = rng.normal(0.0, 0.1 / np.sqrt(6), (R.shape[1], 6))
    W1 = _dense_user_step(R, H0, 0.2, 0.05, nu)
    H1 = _dense_user_step(R.T, W1, 0.2, 0.05, nu)
    np.testing.assert_allclose(model.user_factors_, W1, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.item_factors_, H1, rtol=1e-8, atol=1e-10)


def test_conjugate_gradient_with_k_steps_is_the_closed_form(data):
    """CG solves a k x k system exactly in k steps (up to rounding): the same sweep as the exact solver."""
    common = dict(factors=6, regularization=0.05, unobserved_weight=0.2, iterations=2)
    exact = IALS(**common, solver="exact").fit(data[0])
    cg = IALS(**common, solver="cg", cg_steps=6).fit(data[0])
    np.testing.assert_allclose(cg.user_factors_, exact.user_factors_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cg.item_factors_, exact.item_factors_, rtol=1e-6, atol=1e-9)
    few = IALS(**common, solver="cg", cg_steps=1).fit(data[0])
    assert not np.allclose(few.item_factors_, exact.item_factors_, rtol=1e-6, atol=1e-9)  # one step is not the solve


@pytest.mark.parametrize("solver", ["cg", "exact"])
def test_the_loss_never_rises_and_threads_change_nothing(data, solver):
    one = IALS(factors=8, iterations=6, num_threads=1, solver=solver).fit(data[0])
    losses = [r["train_loss"] for r in one.history_]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:], strict=False))
    two = IALS(factors=8, iterations=6, num_threads=2, solver=solver).fit(data[0])
    assert np.array_equal(one.user_factors_, two.user_factors_) and np.array_equal(one.item_factors_, two.item_factors_)


def test_ials_recommends_the_planted_groups(data):
    train, validation, oracle = data
    model = IALS(factors=8, regularization=0.01, unobserved_weight=0.1, iterations=8)
    model.fit(train, callback=ranking_callback(train, validation, k=5))
    assert model.history_[-1]["val_ndcg@5"] > 0.85 * oracle


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"regularization": -1.0}, ValueError, "regularization"),
        ({"unobserved_weight": -0.1}, ValueError, "unobserved_weight"),
        ({"regularization_exponent": -1.0}, ValueError, "regularization_exponent"),
        ({"init_std": 0.0}, ValueError, "init_std"),
        ({"iterations": 0}, ValueError, "iterations"),
        ({"solver": "lu"}, ValueError, "solver"),
        ({"cg_steps": 0}, ValueError, "cg_steps"),
        ({"regularization": 0.0, "unobserved_weight": 0.0}, ValueError, "singular"),
    ],
)
def test_bad_hyperparameters_are_named(data, params, error, name):
    with pytest.raises(error, match=name):
        IALS(**params).fit(data[0])
