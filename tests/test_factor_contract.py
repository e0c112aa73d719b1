"""The factor contract and the declared input kind, checked the same way for every model.

Every model with vectors must hand them over in inner-product form (biases and the mean folded
into extra columns) so that exact scoring, the similarity measures and every ANN index can serve
it unchanged; and the experiment harness must feed each model what the model says it learns from.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from planted_data import planted
from sklearn.base import clone

import recsys.models as models
from recsys import experiments, splits
from recsys.models.base import LEARNS_FROM, Recommender

# Small, quick versions of every model the package exports (the ones with vectors first).
FACTOR_MODELS = {
    "ALS": models.ALS(factors=4, iterations=3),
    "ALS unbiased": models.ALS(factors=4, iterations=3, biased=False),
    "ALS weighted": models.ALS(factors=4, iterations=3, weighted_regularization=True, regularization=0.1),
    "SGD": models.SGD(factors=4, iterations=3, random_state=0),
    "SGD unbiased": models.SGD(factors=4, iterations=3, biased=False, random_state=0),
    "PureSVD": models.PureSVD(factors=4),
    "PureSVD raw": models.PureSVD(factors=4, centering="none"),
    "SVDImpute": models.SVDImpute(factors=4, iterations=3),
    "BPMF": models.BPMF(factors=3, samples=3, burn_in=2),
    "MeanNormalized": models.MeanNormalized(models.ALS(factors=3, iterations=2, biased=False)),
    "BiasModel": models.BiasModel(iterations=3),
    "GlobalMean": models.GlobalMean(),
    "UserMean": models.UserMean(damping=2.0),
    "ItemMean": models.ItemMean(damping=2.0),
    "Popularity": models.Popularity(),
    "ImplicitALS": models.ImplicitALS(factors=4, iterations=3, random_state=0),
    "BPR": models.BPR(factors=4, iterations=3, random_state=0),
    "EASE": models.EASE(regularization=10.0),
    "MultVAE": models.MultVAE(hidden=8, factors=4, iterations=3, random_state=0),
    "LightGCN": models.LightGCN(factors=4, iterations=3, random_state=0),
    "FactorizationMachine": models.FactorizationMachine(factors=4, iterations=3, random_state=0),
    "EmbeddingDotBias": models.EmbeddingDotBias(factors=4, iterations=3, random_state=0),
    "ContentModel": models.ContentModel(np.random.default_rng(0).random((40, 6))),
    "HybridModel": models.HybridModel(
        models.ImplicitALS(factors=4, iterations=3, random_state=0),
        models.ContentModel(np.random.default_rng(0).random((40, 6))),
        weight=0.5,
    ),
}
#: Models whose metadata must describe exactly the items of the matrix they are fitted on.
ITEM_FEATURES = {"ContentModel": "item_features", "HybridModel": "content__item_features"}


@pytest.fixture(scope="module")
def data():
    train, test, _ = planted(n_users=60, n_items=40, rank=3, density=0.4, seed=3)
    return train, test


def _fitted(name, data):
    model = clone(FACTOR_MODELS[name])
    return model.fit(experiments.model_input(model, data[0]))


def test_every_exported_model_declares_what_it_learns_from():
    exported = [getattr(models, n) for n in models.__all__]
    classes = [c for c in exported if isinstance(c, type) and issubclass(c, Recommender)]
    concrete = [
        c
        for c in classes
        if c not in (models.Recommender, models.RatingModel, models.EmbeddingModel, models.FactorModel)
    ]
    assert concrete, "no models exported"
    for cls in concrete:
        assert getattr(cls, "learns_from", None) in LEARNS_FROM, f"{cls.__name__} declares no learns_from"
    tested = {type(m) for m in FACTOR_MODELS.values()}
    untested = {c.__name__ for c in concrete} - {c.__name__ for c in tested}
    assert not untested, f"models missing from the contract test: {sorted(untested)}"


MODEL_CLASSES = sorted({type(m) for m in FACTOR_MODELS.values()}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_fit_has_the_one_signature(cls):
    """``fit(X, validation=None, callback=None)``, any extra argument keyword-only: the harness
    passes ``validation`` and ``callback`` to every model without looking at its signature."""
    params = list(inspect.signature(cls.fit).parameters.values())
    names = [p.name for p in params[:4]]
    assert names == ["self", "X", "validation", "callback"], f"{cls.__name__}.fit{inspect.signature(cls.fit)}"
    positional = (inspect.Parameter.POSITIONAL_OR_KEYWORD,)
    for p in params[1:4]:
        assert p.kind in positional, f"{cls.__name__}.fit: {p.name} must be positional-or-keyword"
    assert params[2].default is None and params[3].default is None
    for p in params[4:]:
        assert p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD), (
            f"{cls.__name__}.fit: extra argument {p.name} must be keyword-only"
        )


@pytest.mark.parametrize("name", list(FACTOR_MODELS))
def test_fit_calls_the_callback_with_the_model_and_records_what_it_returns(name, data):
    """Every model calls ``callback(model, iteration)`` at least once (an iterative one after every
    iteration, a one-shot one after fitting), with itself holding a state that scores, and adds
    what the callback returns to ``history_``."""
    model = clone(FACTOR_MODELS[name])
    X = experiments.model_input(model, data[0])
    calls = []

    def callback(current, iteration):
        assert current.score(np.arange(3)).shape == (3, X.shape[1])
        calls.append((current, iteration))
        return {"probe": iteration}

    assert model.fit(X, validation=None, callback=callback) is model
    assert calls, f"{name}.fit never called its callback"
    assert all(current is model for current, _ in calls), f"{name} called back with another object"
    iterations = [iteration for _, iteration in calls]
    assert all(isinstance(i, int) and i >= 1 for i in iterations) and iterations == sorted(set(iterations))
    assert model.history_[-1]["probe"] == model.history_[-1]["iteration"] == iterations[-1]
    with pytest.raises(TypeError, match="callback must be callable"):
        clone(FACTOR_MODELS[name]).fit(X, callback=3)


@pytest.mark.parametrize("name", list(FACTOR_MODELS))
def test_fit_accepts_validation_of_the_same_shape_only(name, data):
    """Rating models report ``val_rmse`` on ``validation``; models of positives check it and ignore it."""
    model = clone(FACTOR_MODELS[name])
    X, V = (experiments.model_input(model, m) for m in data)
    model.fit(X, validation=V)
    if model.learns_from == "ratings":
        assert np.isfinite(model.history_[-1]["val_rmse"])
    with pytest.raises(ValueError, match="validation has shape"):
        clone(FACTOR_MODELS[name]).fit(X, V[:, :-1])


@pytest.mark.parametrize("name", list(FACTOR_MODELS))
def test_inner_product_form_reproduces_score(name, data):
    model = _fitted(name, data)
    users = np.arange(model.n_users_)
    scores = np.asarray(model.score(users), dtype=np.float64)
    U, V = model.inner_product_factors()
    assert U.shape[0] == model.n_users_ and V.shape[0] == model.n_items_ and U.shape[1] == V.shape[1]
    tolerance = 1e-4 if U.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(U @ V.T, scores, rtol=tolerance, atol=tolerance * np.abs(scores).max())
    # without the user-constant column every user's ranking is the same
    Ur, Vr = model.inner_product_factors(ranking_only=True)
    assert Ur.shape[1] <= U.shape[1]
    ranked = Ur @ Vr.T
    shift = scores - ranked
    np.testing.assert_allclose(shift, shift[:, :1].repeat(shift.shape[1], axis=1), atol=tolerance * 10)


@pytest.mark.parametrize("name", list(FACTOR_MODELS))
def test_the_harness_feeds_each_model_its_declared_input(name, monkeypatch):
    ratings = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(30), 6),
            "item_id": np.tile(np.arange(6), 30) + np.repeat(np.arange(30) % 5, 6),
            "rating": np.tile(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 4.5], dtype=np.float32), 30),
            "timestamp": np.arange(180),
        }
    )
    split = splits.stratified_holdout(ratings, 0.75, seed=0)
    seen = []
    prototype = FACTOR_MODELS[name]
    if name in ITEM_FEATURES:  # features for the items of this split's IdMap
        n_items = experiments.Matrices.from_split(split).idmap.n_items
        prototype = clone(prototype).set_params(**{ITEM_FEATURES[name]: np.ones((n_items, 3))})
    real_fit = type(prototype).fit

    def spy(self, X, *args, **kwargs):
        seen.append(sp.csr_matrix(X).data.copy())
        return real_fit(self, X, *args, **kwargs)

    monkeypatch.setattr(type(prototype), "fit", spy)
    experiments.ranking_table({name: prototype}, split, k=3, progress=False)
    values = seen[0]
    if prototype.learns_from == "ratings":
        assert set(np.unique(values)) > {1.0}, "a rating model was fed 1s"
    else:
        assert set(np.unique(values)) == {1.0}, "a positives model was fed ratings"


def test_a_model_that_declares_nothing_is_refused():
    class Undeclared(Recommender):
        def fit(self, X):
            return self

    with pytest.raises(TypeError, match="learns_from"):
        experiments.model_input(Undeclared(), sp.csr_matrix(np.eye(2)))
    with pytest.raises(TypeError, match="learns_from"):
        type("Bad", (Recommender,), {"learns_from": "stars"})


def test_a_fit_that_produces_non_finite_values_raises():
    from recsys.models.base import check_finite_fit

    huge = sp.csr_matrix(np.array([[1e308, 1e308, 1e308], [1e308, 0.0, 1e308]]))
    with pytest.raises(FloatingPointError, match="non-finite"):
        models.BiasModel(iterations=2).fit(huge)
    with pytest.raises(FloatingPointError, match="ALS.fit produced .* user_factors_"):
        broken = models.ALS(factors=2, iterations=1).fit(sp.csr_matrix(np.eye(3) + 1))
        broken.user_factors_[0, 0] = np.nan
        check_finite_fit(broken)


def test_predict_refuses_non_integer_indices(data):
    model = _fitted("ALS", data)
    with pytest.raises(TypeError, match="users must be integer"):
        model.predict(np.array([0.5]), np.array([1]))
    with pytest.raises(IndexError, match="out of range"):
        model.predict([model.n_users_], [0])
