"""The factor contract and the declared input kind, checked the same way for every model.

Every model with vectors must hand them over in inner-product form (biases and the mean folded
into extra columns) so that exact scoring, the similarity measures and every ANN index can serve
it unchanged; and the experiment harness must feed each model what the model says it learns from.

The per-model checks are the battery of ``tests/model_conformance.py`` (:class:`ModelContract`),
run here on every entry of :data:`FACTOR_MODELS` by :class:`TestEveryModel`; every model the
package exports must have one there. A model defined outside the package subclasses the battery
the same way (``tests/test_toy_model.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from model_conformance import ModelContract
from planted_data import planted
from sklearn.base import clone

import recsys.models as models
from recsys import experiments
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
    "ItemKNN": models.ItemKNN(neighbours=5, shrink=2.0),
    "UserKNN": models.UserKNN(neighbours=5, shrink=2.0),
    "RP3Beta": models.RP3Beta(alpha=0.8, beta=0.5, neighbours=5),
    "P3Alpha": models.P3Alpha(alpha=1.0, neighbours=5, normalize=True),
    "SLIM": models.SLIM(alpha=1e-3, neighbours=5),
    "IALS": models.IALS(factors=4, iterations=3),
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
#: Models whose metadata must describe exactly the items of the matrix they are fitted on: the
#: parameter holding one row of features per item, which ``TestEveryModel.for_items`` fills in.
ITEM_FEATURES = {models.ContentModel: "item_features", models.HybridModel: "content__item_features"}


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


class TestEveryModel(ModelContract):
    """The battery of ``tests/model_conformance.py`` on every entry of :data:`FACTOR_MODELS`."""

    @pytest.fixture(params=list(FACTOR_MODELS))
    def prototype(self, request):
        return FACTOR_MODELS[request.param]

    def for_items(self, prototype, n_items):
        """Content features (of the prototype's width) for ``n_items`` items; other models as they are."""
        key = ITEM_FEATURES.get(type(prototype))
        if key is None:
            return prototype
        width = prototype.get_params()[key].shape[1]
        return clone(prototype).set_params(**{key: np.random.default_rng(0).random((n_items, width))})


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
