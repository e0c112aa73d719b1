"""Adding a model is one file: this one defines a toy model and nothing else is edited.

:class:`ItemSubspace` follows ``recsys/models/base.py`` (hyperparameters stored unchanged and
checked in ``fit``, ``learns_from``, the one ``fit`` signature, a one-shot callback through
``finish_one_shot``, fitted state in ``user_factors_``/``item_factors_``). The tests show that it
then passes the shared conformance battery (``tests/model_conformance.py``), recovers a planted
structure, names its bad hyperparameters, and runs unchanged through the experiment harness
(``ranking_table``, ``fit_and_evaluate``), ``evaluate_ranking``, and the ANN benchmark: its
inner-product vectors are served from an index (``recommend_with_index``), benchmarked as a
``Workload`` (``bench.run``) and priced against exact retrieval (``cost_of_approximation``).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from model_conformance import ModelContract
from sklearn.base import clone

from recsys import experiments, models, splits
from recsys.ann import bench, workloads
from recsys.ann.exact import BruteForce
from recsys.checks import check_integer, random_generator
from recsys.datasets import load
from recsys.evaluation import evaluate_ranking, recommend
from recsys.experiments import serving
from recsys.interactions import binarize
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs, finish_one_shot

#: Steps of subspace iteration in a fit: enough to find the top subspace of a clear structure.
SUBSPACE_STEPS = 4


class ItemSubspace(FactorModel):
    """Toy: each user's interactions projected onto the ``factors``-dimensional subspace of item
    space where co-occurrence is strongest.

    ``item_factors_`` is an orthonormal basis ``Q`` of that subspace, found from a random start by
    a few steps of subspace iteration on ``X^T X`` (Halko, Martinsson & Tropp 2011), and
    ``user_factors_ = X Q``, so ``score(u) = x_u Q Q^T``: PureSVD's top-N rule on the positives,
    uncentred. One-shot (the steps are one SVD's inner loop, not iterations of training).
    """

    learns_from = "positives"
    positive_values = "strength"

    def __init__(self, factors: int = 8, random_state=0):
        self.factors = factors
        self.random_state = random_state

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> ItemSubspace:
        """Find the subspace of the users x items CSR ``X``; ``validation`` is checked, then
        ignored (as by every model of positives); ``callback(self, 1)`` runs once, at the end."""
        start = time.perf_counter()
        X, _ = check_fit_inputs(X, validation, positives=True)
        factors = check_integer("factors", self.factors, 1, X.shape[1])
        rng = random_generator(self.random_state)
        self.n_users_, self.n_items_ = X.shape
        Q = rng.standard_normal((self.n_items_, factors))
        for _ in range(SUBSPACE_STEPS):
            Q, _ = np.linalg.qr(X.T @ (X @ Q))
        self.item_factors_ = Q
        self.user_factors_ = np.asarray(X @ Q)
        finish_one_shot(self, callback, {"iteration": 1, "seconds": time.perf_counter() - start})
        check_finite_fit(self)
        return self


class TestItemSubspace(ModelContract):
    """The same battery as every model of the package."""

    @pytest.fixture
    def prototype(self):
        return ItemSubspace(factors=4)


# -- its own tests: a planted structure it must recover, and its bad hyperparameters ---------------


def test_it_recovers_planted_groups():
    """Four groups of users, each interacting with half of its own group's ten items: with four
    factors every user's unseen items of their group outscore every item of the other groups."""
    rng = np.random.default_rng(0)
    groups, users_per_group, items_per_group = 4, 50, 10
    user_group = np.repeat(np.arange(groups), users_per_group)
    item_group = np.repeat(np.arange(groups), items_per_group)
    dense = (user_group[:, None] == item_group[None, :]) & (rng.random((user_group.size, item_group.size)) < 0.5)
    X = sp.csr_matrix(dense.astype(np.float64))
    model = ItemSubspace(factors=groups).fit(X)
    scores = model.score(np.arange(user_group.size))
    own = user_group[:, None] == item_group[None, :]
    unseen_own = np.where(own & ~dense, scores, np.inf).min(axis=1)
    other = np.where(~own, scores, -np.inf).max(axis=1)
    active = dense.any(axis=1)  # a user without interactions scores every item 0
    assert active.sum() > 190 and (unseen_own > other)[active].all(), np.flatnonzero(active & (unseen_own <= other))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"factors": 0}, ValueError, "factors must be an integer"),
        ({"factors": 2.5}, TypeError, "factors must be an integer"),
        ({"factors": 11}, ValueError, "factors must be an integer >= 1 and <= 10, got 11"),
        ({"random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_bad_hyperparameters_are_named(params, error, message):
    X = sp.csr_matrix(np.eye(10))
    with pytest.raises(error, match=message):
        ItemSubspace(**params).fit(X)


# -- the harness, the evaluation and the ANN benchmark take it unchanged ---------------------------


@pytest.fixture(scope="module")
def split():
    data = load("synthetic", n_users=300, n_items=200, n_ratings=6000, seed=0)
    return splits.stratified_holdout(data.ratings, 0.75, seed=0)


@pytest.fixture(scope="module")
def matrices(split):
    return experiments.Matrices.from_split(split)


def test_the_harness_ranks_it_beside_the_package_models(split):
    table = experiments.ranking_table(
        {"toy": ItemSubspace(factors=8), "Popularity": models.Popularity()}, split, k=10, progress=False
    )
    assert list(table.index) == ["toy", "Popularity"]
    toy = table.loc["toy"]
    assert 0.1 < toy["ndcg@10"] <= 1 and 0 < toy["recall@10"] <= 1 and toy["fit_seconds"] >= 0
    # it personalises: its lists cover more of the catalogue than the one list Popularity serves
    assert toy["coverage@10"] > table.loc["Popularity", "coverage@10"]


def test_fit_and_evaluate_records_and_scores_it_with_evaluate_ranking(matrices):
    prototype = ItemSubspace(factors=8)
    run = experiments.fit_and_evaluate(prototype, matrices, record="ranking", k=10)
    assert run.model is not prototype and not hasattr(prototype, "n_items_")
    assert (run.model.n_users_, run.model.n_items_) == matrices.idmap.shape
    reference = evaluate_ranking(run.model, matrices.train, binarize(matrices.test), k=10)
    assert run.scores == reference
    # the one-shot fit called the harness's ranking callback once, on the same held-out part
    assert [record["iteration"] for record in run.history] == [1]
    assert run.history[0]["val_ndcg@10"] == pytest.approx(reference["ndcg@10"])
    assert run.history[0]["val_precision@10"] == pytest.approx(reference["precision@10"])


@pytest.fixture(scope="module")
def served(matrices):
    """The toy's vectors in inner-product form, as notebook 06 serves a model's."""
    run = experiments.fit_and_evaluate(ItemSubspace(factors=8), matrices, evaluate=None)
    U, V = run.model.inner_product_factors(ranking_only=True)
    return serving.RealEmbeddings(
        "toy",
        run.model,
        matrices.train,
        matrices.test,
        np.ascontiguousarray(U, dtype=np.float32),
        np.ascontiguousarray(V, dtype=np.float32),
        {"model": "ItemSubspace", "factors": 8},
        run.seconds,
    )


def test_an_exact_index_serves_the_lists_the_model_ranks(served):
    e = served
    index = BruteForce("ip").fit(e.item_vectors)
    lists = serving.recommend_with_index(index, e.user_vectors, e.users, 10, e.train)
    direct = recommend(e.model, e.users, 10, exclude=e.train)
    assert (lists == direct).mean() > 0.99  # float32 vectors may swap near-ties
    ours = serving.list_quality(lists, e.users, e.train, e.test, 10)
    assert ours["ndcg@10"] == pytest.approx(e.exact_quality(10)["ndcg@10"], abs=1e-3)


def test_the_benchmark_runs_on_its_vectors_and_prices_the_approximation(served):
    e = served
    workload = e.workload()
    assert isinstance(workload, workloads.Workload) and workload.dim == 8 and workload.n_items == e.train.shape[1]
    np.testing.assert_array_equal(workload.queries, e.user_vectors[e.users])
    table = bench.run(
        workload,
        ["exact-numpy", "numpy-lsh"],
        grids={"numpy-lsh": {"build": [{"tables": 2, "bits": 8}], "query": {"probes": [1, 64]}}},
        timing_queries=10,
        repeats=1,
        stop_recall=None,
        progress=False,
    ).results
    assert (table.loc[table["method"] == "exact-numpy", "recall"] == 1).all()
    lsh = table[table["method"] == "numpy-lsh"]
    assert len(lsh) == 2 and lsh["recall"].iloc[0] < lsh["recall"].iloc[1]
    cost = serving.cost_of_approximation(e, table, k=10, progress=False)
    exact = cost.iloc[0]
    assert exact["method"] == "exact" and exact["ndcg_loss"] == 0 and exact["overlap"] == 1
    assert exact["ndcg@10"] == pytest.approx(e.exact_quality(10)["ndcg@10"], abs=1e-3)
    approximate = cost[cost["method"] == "numpy-lsh"]
    assert list(approximate["ann_recall"]) == list(lsh["recall"])
    assert approximate["overlap"].iloc[0] < approximate["overlap"].iloc[1] <= 1
    assert approximate["ndcg_loss"].iloc[0] > approximate["ndcg_loss"].iloc[1]


def test_a_clone_is_unfitted_and_refits_to_the_same_vectors(matrices):
    X = binarize(matrices.train)
    a = ItemSubspace(factors=8, random_state=3).fit(X)
    b = clone(a)
    assert b.get_params() == a.get_params() and not hasattr(b, "item_factors_")
    np.testing.assert_array_equal(b.fit(X).item_factors_, a.item_factors_)
