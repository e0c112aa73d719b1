"""Mean normalisation as a model (recsys.models.normalized.MeanNormalized): the Eve example and its algebra."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import NOISE, planted, rmse
from sklearn.base import clone

from recsys.models import ALS, SGD, BiasModel, ItemMean
from recsys.models.normalized import MeanNormalized

# The lecture-style toy: two romance fans, two action fans, and Eve (last row) with no ratings.
# NaN = not rated; 0 is a real rating of 0 stars.
TOY = np.array(
    [
        [5, 5, np.nan, 0, 0],
        [5, np.nan, 4, 0, 0],
        [0, np.nan, 0, 5, 5],
        [0, 0, np.nan, 4, np.nan],
        [np.nan] * 5,
    ]
)


def toy_matrix() -> sp.csr_matrix:
    users, items = np.nonzero(~np.isnan(TOY))
    return sp.csr_matrix((TOY[users, items], (users, items)), shape=TOY.shape)  # explicit zeros kept


def test_toy_matrix_keeps_zero_star_ratings():
    assert toy_matrix().nnz == 15


def test_eve_gets_zeros_raw_and_the_item_means_normalised():
    X = toy_matrix()
    mf = ALS(factors=2, regularization=0.1, biased=False, iterations=50, random_state=0)
    eve = np.full(5, 4)
    raw = clone(mf).fit(X)
    np.testing.assert_array_equal(raw.predict(eve, np.arange(5)), 0.0)
    normalized = MeanNormalized(mf, baseline=ItemMean()).fit(X)
    item_means = np.nanmean(TOY[:4], axis=0)
    np.testing.assert_allclose(normalized.predict(eve, np.arange(5)), item_means, atol=1e-12)
    # everyone else is fitted well either way
    users, items = np.repeat(np.arange(5), np.diff(X.indptr)), X.indices  # stored entries, zeros included
    assert np.abs(normalized.predict(users, items) - X.data).max() < 0.5


def test_prediction_is_baseline_plus_inner_model():
    train, test, _ = planted(seed=2)
    model = MeanNormalized(ALS(factors=5, regularization=1.0, biased=False, iterations=10), BiasModel()).fit(train)
    users, items = test.nonzero()
    base, inner = model.baseline_, model.model_
    expected = (
        base.global_mean_
        + base.user_bias_[users]
        + base.item_bias_[items]
        + np.einsum("ij,ij->i", inner.user_factors_[users], inner.item_factors_[items])
    )
    unclipped = MeanNormalized(ALS(factors=5, regularization=1.0, biased=False, iterations=10), BiasModel()).fit(train)
    unclipped.rating_range_ = None
    np.testing.assert_allclose(unclipped.predict(users, items), expected, rtol=1e-12)
    assert rmse(model, test) < 2 * NOISE < rmse(base, test) / 2  # it learns the planted model
    # scores rank by the same sum; unknown users fall back to mu + b_i of the baseline
    np.testing.assert_allclose(model.score([0])[0, items[:5]], unclipped.predict(np.zeros(5, int), items[:5]))
    assert model.predict([-1], [3])[0] == pytest.approx(
        np.clip(base.global_mean_ + base.item_bias_[3], *model.rating_range_)
    )


def test_a_biased_inner_model_adds_its_terms_and_validation_is_residualised():
    train, test, _ = planted(seed=3)
    model = MeanNormalized(SGD(factors=5, iterations=5, random_state=0), ItemMean()).fit(train, validation=test)
    assert model.global_mean_ == pytest.approx(model.baseline_.global_mean_ + model.model_.global_mean_)
    np.testing.assert_allclose(model.item_bias_, model.baseline_.item_bias_ + model.model_.item_bias_)
    assert "val_rmse" in model.history_[-1]


def test_baseline_must_be_a_mean_model():
    with pytest.raises(ValueError, match="mean/bias model"):
        MeanNormalized(ALS(biased=False, iterations=1), baseline=ALS(iterations=1)).fit(toy_matrix())
