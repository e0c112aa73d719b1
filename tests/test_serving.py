"""Serving lists from an index: exact retrieval scores what the model scores, exclusions hold, and
the cost table of approximate points is measured against exact retrieval on the same split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.ann import bench, registry
from recsys.ann.exact import BruteForce
from recsys.datasets import load
from recsys.experiments import serving as retrieval


@pytest.fixture(scope="module")
def embeddings():
    return retrieval.real_embeddings("synthetic", data=load("synthetic"), factors=8, iterations=3, seed=1)


def test_real_embeddings_hold_the_models_scores(embeddings):
    e = embeddings
    assert e.user_vectors.dtype == np.float32 and e.item_vectors.shape[1] == 8
    np.testing.assert_allclose(e.user_vectors[:5] @ e.item_vectors.T, e.model.score(np.arange(5)), rtol=1e-4, atol=1e-5)
    w = e.workload()
    assert w.n_items == e.train.shape[1] and w.n_queries == e.users.size
    assert w.key()["dataset"] == "synthetic" and w.key()["kind"] == "real"


def test_exact_lists_score_what_the_evaluation_scores(embeddings):
    e = embeddings
    index = BruteForce("ip").fit(e.item_vectors)
    lists = retrieval.recommend_with_index(index, e.user_vectors, e.users, 10, e.train)
    for row, user in zip(lists[:50], e.users[:50]):
        seen = set(e.train.indices[e.train.indptr[user] : e.train.indptr[user + 1]])
        assert not seen & set(row.tolist())
    ours = retrieval.list_quality(lists, e.users, e.train, e.test, 10)
    reference = e.exact_quality(10)
    assert ours["ndcg@10"] == pytest.approx(reference["ndcg@10"], abs=1e-9)
    assert ours["recall@10"] == pytest.approx(reference["recall@10"], abs=1e-9)
    assert ours["coverage@10"] == pytest.approx(reference["coverage@10"])


def test_recommend_with_index_leaves_empty_slots_when_the_index_finds_too_few():
    class Few:
        n_items_ = 6

        def query(self, vector, k):
            return np.array([0, 1, 2, -1, -1, -1][:k])

    exclude = sp.csr_matrix(([1.0], ([0], [1])), shape=(1, 6))
    lists = retrieval.recommend_with_index(Few(), np.ones((1, 2)), [0], 4, exclude)
    assert lists.tolist() == [[0, 2, -1, -1]]


def test_cost_of_approximation_is_zero_for_exact_and_grows_when_the_index_misses(embeddings):
    e = embeddings
    w = e.workload()
    table = bench.run(
        w,
        ["exact-numpy", "numpy-lsh"],
        grids={"numpy-lsh": {"build": [{"tables": 2, "bits": 10}], "query": {"probes": [1, 64]}}},
        timing_queries=10,
        repeats=1,
        stop_recall=None,
        progress=False,
    ).results
    cost = retrieval.cost_of_approximation(e, table, k=10, progress=False)
    exact = cost.iloc[0]
    assert exact["method"] == "exact" and exact["ndcg_loss"] == 0 and exact["overlap"] == 1
    lsh = cost[cost["method"] == "numpy-lsh"].sort_values("ann_recall")
    assert len(lsh) == 2
    assert lsh["ann_recall"].iloc[0] < lsh["ann_recall"].iloc[1]
    assert lsh["overlap"].iloc[0] < lsh["overlap"].iloc[1] <= 1
    assert lsh["ndcg_loss"].iloc[0] > lsh["ndcg_loss"].iloc[1] - 1e-12
    point = table[table["method"] == "numpy-lsh"].iloc[-1]
    summary = retrieval.best_point_cost(cost, point, 10)
    assert summary["exact_ndcg@10"] == exact["ndcg@10"] and summary["ann_recall"] == point["recall"]
    assert exact["served_recall"] == 1 and (lsh["served_recall"] == lsh["overlap"]).all()
    # the loss's paired interval over users brackets it; the coarsest point is detectably worse
    assert (lsh["ndcg_loss_low"] <= lsh["ndcg_loss"]).all() and (lsh["ndcg_loss"] <= lsh["ndcg_loss_high"]).all()
    worst = lsh.iloc[0]
    assert worst["ndcg_loss"] > 0.05 and worst["loss_detectable"] and worst["ndcg_loss_low"] > 0
    assert summary["loss_detectable"] == bool(cost[cost["query"] == point["query"]]["loss_detectable"].iloc[-1])


def test_noticeable_recall_reads_the_lowest_safe_recall():
    cost = pd.DataFrame(
        {
            "method": ["exact", "a", "a", "a", "b"],
            "ann_recall": [1.0, 0.5, 0.8, 0.95, 0.9],
            "ndcg_loss": [0.0, 0.05, 0.01, 0.001, 0.002],
        }
    )
    assert retrieval.noticeable_recall(cost, tolerance=0.005, by="ann_recall") == 0.9
    assert retrieval.noticeable_recall(cost, tolerance=0.02, by="ann_recall") == 0.8
    assert (
        retrieval.noticeable_recall(cost.assign(ndcg_loss=[0, 0.1, 0.1, 0.1, 0.1]), tolerance=0.005, by="ann_recall")
        is None
    )
    # by default: the interval decides, read along the recall of the served lists
    cost["served_recall"] = cost["ann_recall"]
    cost["loss_detectable"] = [False, True, True, False, False]
    assert retrieval.noticeable_recall(cost) == 0.9
    assert retrieval.noticeable_recall(cost.assign(loss_detectable=[False, True, False, False, True])) == 0.95
    assert retrieval.noticeable_recall(cost.assign(loss_detectable=[False, False, False, True, False])) is None


def test_mixture_for_caches_the_fit(embeddings, tmp_path):
    a = retrieval.mixture_for(embeddings, cache_dir=tmp_path, item_components=2, user_components=1)
    b = retrieval.mixture_for(embeddings, cache_dir=tmp_path, item_components=2, user_components=1)
    assert len(list(tmp_path.glob("mixture-*.pkl"))) == 1
    np.testing.assert_array_equal(a.workload(100, 5).items, b.workload(100, 5).items)
    assert registry.get("exact-numpy").available() is None


def test_the_mixture_cache_is_keyed_on_the_vectors_and_survives_damage(embeddings, tmp_path):
    import dataclasses

    fit = dict(cache_dir=tmp_path, item_components=2, user_components=1)
    retrieval.mixture_for(embeddings, **fit)
    # the same parameters on other vectors (another data version, say) must not reuse the fit
    shifted = dataclasses.replace(embeddings, item_vectors=embeddings.item_vectors * 2)
    refit = retrieval.mixture_for(shifted, **fit)
    assert len(list(tmp_path.glob("mixture-*.pkl"))) == 2 and not list(tmp_path.glob("*.tmp"))
    assert (
        refit.workload(200, 5).items.std() > 1.5 * retrieval.mixture_for(embeddings, **fit).workload(200, 5).items.std()
    )
    for entry in tmp_path.glob("mixture-*.pkl"):
        entry.write_bytes(b"not a pickle")
    with pytest.warns(UserWarning, match="mixture cache .* is damaged"):
        again = retrieval.mixture_for(embeddings, **fit)
    assert isinstance(again, type(refit))
