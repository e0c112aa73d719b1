"""Adding a model or an ANN library is one small module: a toy of each, written to a temporary
file, plugs into the harness, the evaluation and the ANN interface without touching any other file.
"""

from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from recsys import experiments, splits
from recsys.ann.exact import BruteForce
from recsys.evaluation import evaluate_ranking
from recsys.interactions import binarize
from recsys.models import Popularity

PLUGIN = textwrap.dedent(
    '''
    """A toy model and a toy index, as a newcomer would write them."""
    import numpy as np

    from recsys.ann.base import ANNIndex
    from recsys.models.base import FactorModel, check_fit_inputs


    class ItemCooccurrence(FactorModel):
        """Rank-k factors of the item co-occurrence matrix: user = sum of the rows of her items."""

        learns_from = "positives"
        positive_values = "strength"

        def __init__(self, factors: int = 3):
            self.factors = factors

        def fit(self, X, callback=None):
            X, _ = check_fit_inputs(X, positives=True)
            C = (X.T @ X).toarray()
            values, vectors = np.linalg.eigh(C)
            Q = vectors[:, -self.factors:] * np.sqrt(np.maximum(values[-self.factors:], 0))
            self.item_factors_ = Q
            self.user_factors_ = np.asarray(X @ Q) / np.maximum(np.asarray(X.sum(axis=1)), 1)
            self.n_users_, self.n_items_ = X.shape
            return self


    class SortedProjection(ANNIndex):
        """Scores only the items whose projection on one random direction is largest: a bad index."""

        name = "toy-projection"
        family = "tree"
        native_metrics = ("ip",)
        query_params = ("candidates",)

        def _fit(self, X):
            self._X = X
            self._candidates = X.shape[0]

        def _set_query_arguments(self, candidates):
            self._candidates = int(candidates)

        def _query(self, q, k):
            scores = self._X @ q
            shortlist = np.argsort(-np.abs(self._X[:, 0]))[: max(self._candidates, k)]
            return shortlist[np.argsort(-scores[shortlist])][:k]

        def _memory_bytes(self):
            return self._X.nbytes
    '''
)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "toy_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("toy_plugin")
    yield module
    sys.modules.pop("toy_plugin", None)


@pytest.fixture
def split():
    rng = np.random.default_rng(0)
    n_users = 80
    taste = rng.integers(0, 2, n_users)
    rows = []
    for u in range(n_users):
        liked = rng.choice(np.arange(15) + 15 * taste[u], size=8, replace=False)
        rows += [(u, int(i), 4.0, u * 100 + j) for j, i in enumerate(liked)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return splits.stratified_holdout(ratings, 0.75, seed=0)


def test_a_toy_model_runs_through_the_harness_and_the_evaluation(plugin, split):
    table = experiments.ranking_table(
        {"toy": plugin.ItemCooccurrence(), "popularity": Popularity()}, split, k=5, progress=False
    )
    assert table.loc["toy", "ndcg@5"] > table.loc["popularity", "ndcg@5"]  # it learned the two tastes
    m = experiments.Matrices.from_split(split)
    model = plugin.ItemCooccurrence().fit(binarize(m.train))
    U, V = model.inner_product_factors()
    np.testing.assert_allclose(U @ V.T, model.score(np.arange(model.n_users_)))
    assert evaluate_ranking(model, m.train, binarize(m.test), k=5)["n_users"] > 0


def test_a_toy_index_runs_through_the_ann_interface(plugin):
    rng = np.random.default_rng(1)
    items, users = rng.normal(size=(200, 4)), rng.normal(size=(10, 4))
    index = plugin.SortedProjection(metric="ip").fit(items)
    exact = BruteForce("ip").fit(items).batch_query(users, 5)
    index.set_query_arguments(candidates=200)  # everything: exact
    np.testing.assert_array_equal(index.batch_query(users, 5), exact)
    index.set_query_arguments(candidates=10)  # a short list: approximate, still k answers
    assert index.batch_query(users, 5).shape == (10, 5) and index.query(users[0], 5).shape == (5,)
    assert index.memory_bytes() == items.nbytes and index.label == "toy-projection(ip)"
    with pytest.raises(ValueError, match="no query argument"):
        index.set_query_arguments(ef=10)
