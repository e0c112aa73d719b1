"""SLIM: one elastic-net regression per item, non-negative, zero diagonal, the same W serial or parallel."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import planted_positives
from sklearn.linear_model import ElasticNet

from recsys.experiments import ranking_callback
from recsys.models.slim import SLIM


@pytest.fixture(scope="module")
def data():
    return planted_positives()


def test_each_column_is_scikit_learns_elastic_net_of_that_item_on_the_others():
    rng = np.random.default_rng(0)
    R = (rng.random((60, 12)) < 0.3).astype(np.float64)
    model = SLIM(alpha=1e-3, l1_ratio=0.3, neighbours=4, max_iterations=500, tolerance=1e-8).fit(sp.csr_matrix(R))
    W = model.weights_.toarray()
    for j in range(12):
        others = R.copy()
        others[:, j] = 0.0
        enet = ElasticNet(alpha=1e-3, l1_ratio=0.3, positive=True, fit_intercept=False, max_iter=500, tol=1e-8)
        coef = enet.fit(others, R[:, j]).coef_
        top = np.lexsort((np.arange(12), -coef))[:4]
        expected = np.zeros(12)
        keep = top[coef[top] > 0]
        expected[keep] = coef[keep]
        np.testing.assert_allclose(W[:, j], expected, rtol=1e-4, atol=1e-6)
    assert np.all(np.diag(W) == 0) and np.all(W >= 0)
    assert (np.count_nonzero(W, axis=0) <= 4).all()
    np.testing.assert_allclose(model.score(np.arange(60)), R @ W, rtol=1e-5, atol=1e-6)


def test_slim_recommends_the_planted_groups(data):
    train, validation, oracle = data
    model = SLIM(alpha=1e-3, l1_ratio=0.1, neighbours=30).fit(train, callback=ranking_callback(train, validation, k=5))
    assert model.history_[0]["val_ndcg@5"] > 0.85 * oracle


def test_parallel_fits_give_the_serial_weights(data):
    serial = SLIM(neighbours=20).fit(data[0])
    parallel = SLIM(neighbours=20, num_threads=2).fit(data[0])
    assert (serial.weights_ != parallel.weights_).nnz == 0
    weighted = data[0].copy()
    weighted.data *= 3.0  # strengths count as presence
    assert (SLIM(neighbours=20).fit(weighted).weights_ != serial.weights_).nnz == 0


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"l1_ratio": 1.5}, ValueError, "l1_ratio"),
        ({"neighbours": 0}, ValueError, "neighbours"),
        ({"max_iterations": 0}, ValueError, "max_iterations"),
        ({"tolerance": -1.0}, ValueError, "tolerance"),
        ({"num_threads": -1}, ValueError, "num_threads"),
    ],
)
def test_bad_hyperparameters_are_named(data, params, error, name):
    with pytest.raises(error, match=name):
        SLIM(**params).fit(data[0])
