"""The similarity measures, top-k, agreement statistics, the MIPS transform and the measure scorer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import spearmanr

from recsys import similarity as S
from recsys.evaluation import evaluate_ranking
from recsys.models.base import FactorModel


def _vectors_of_very_different_norms(n_items=3000, n_queries=300, dim=12, seed=0, dtype=np.float64):
    """Random directions, lengths spread over about four orders of magnitude, a few exact duplicates."""
    rng = np.random.default_rng(seed)
    items = S.normalize(rng.standard_normal((n_items, dim))) * rng.lognormal(0.0, 1.5, size=(n_items, 1))
    items[-20:] = items[:20]  # exact ties: identical vectors
    queries = rng.standard_normal((n_queries, dim)) * rng.lognormal(0.0, 1.0, size=(n_queries, 1))
    return items.astype(dtype), queries.astype(dtype)


def _ann_benchmarks_recall(true_distances, run_distances, k, epsilon=1e-3):
    """ann-benchmarks' get_recall_values with knn_threshold, written as it is there (one query)."""
    threshold = np.sort(true_distances)[k - 1] + epsilon
    return sum(1 for d in run_distances[:k] if d <= threshold) / k


# -------------------------------------------------------------------------- MIPS as NN search


@pytest.mark.parametrize("k", [1, 10, 50])
def test_mips_transform_turns_inner_product_top_k_into_l2_and_cosine_top_k(k):
    items, queries = _vectors_of_very_different_norms()
    norms = np.linalg.norm(items, axis=1)
    assert norms.max() / norms.min() > 1e3  # the case the transform exists for
    items_t, queries_t, M = S.mips_transform(items, queries)
    np.testing.assert_allclose(np.linalg.norm(items_t, axis=1), M, rtol=1e-12)
    assert np.all(queries_t[:, -1] == 0)

    reference = queries @ items.T
    by_ip = S.top_k_items(queries, items, k, "dot")
    for measure in ("euclidean", "cosine"):
        found = S.top_k_items(queries_t, items_t, k, measure)
        recall = S.tie_aware_recall(reference, found)
        assert recall.min() == 1.0, f"{measure} after the transform missed inner-product neighbours"
        # and the same per-query count as ann-benchmarks' own loop, on inner-product "distances"
        for q in range(0, queries.shape[0], 37):
            expected = _ann_benchmarks_recall(-reference[q], -reference[q, found[q]], k)
            assert recall[q] == expected
        np.testing.assert_array_equal(found, by_ip, err_msg=f"{measure} top-k differs from inner-product top-k")


def test_mips_agreement_reports_exact_after_and_inexact_before():
    items, queries = _vectors_of_very_different_norms(n_items=1500, n_queries=200)
    result = S.mips_agreement(queries, items, 10, batch_size=64)
    for space in ("l2", "cosine"):
        assert result[f"recall_{space}"].shape == (200,)
        assert result[f"recall_{space}"].min() == 1.0 and result[f"identical_{space}"].all()
    # without the transform, L2 and cosine search do not find the inner-product neighbours: the
    # check above can fail, and here it does
    assert result["recall_l2_raw"].mean() < 0.9 and result["recall_cosine_raw"].mean() < 0.9
    assert result["max_norm"] == pytest.approx(np.linalg.norm(items, axis=1).max())


def test_mips_on_float32_vectors_agrees_with_ties_counted():
    items, queries = _vectors_of_very_different_norms(dtype=np.float32, seed=1)
    result = S.mips_agreement(queries, items, 10)
    assert result["recall_l2"].min() == 1.0 and result["recall_cosine"].min() == 1.0


def test_mips_transform_checks_max_norm_and_shapes():
    items = np.array([[3.0, 4.0], [1.0, 0.0]])
    items_t, M = S.mips_transform(items)
    assert M == 5.0 and items_t.shape == (2, 3) and items_t[0, 2] == 0.0
    _, M = S.mips_transform(items, max_norm=10.0)
    assert M == 10.0
    with pytest.raises(ValueError, match="max_norm"):
        S.mips_transform(items, max_norm=4.0)
    with pytest.raises(ValueError, match="dimensions"):
        S.mips_transform(items, np.ones((1, 3)))


def test_mips_angles_crowd_towards_ninety_degrees():
    items, queries = _vectors_of_very_different_norms(n_items=800, n_queries=50, seed=2)
    out = S.mips_angles(queries, items, k=10)
    items_t, queries_t, M = S.mips_transform(items, queries)
    cosine_after = (queries @ items.T) / (np.linalg.norm(queries, axis=1)[:, None] * M)
    np.testing.assert_allclose(np.cos(np.radians(out["after"])), cosine_after, atol=1e-9)
    spread = lambda a: np.abs(a - 90).mean()  # noqa: E731
    assert spread(out["after"]) < spread(out["before"])
    np.testing.assert_array_equal(out["top_k"], S.top_k_items(queries, items, 10, "dot"))


def test_tie_aware_recall_counts_ties_and_misses():
    reference = np.array([[5.0, 4.0, 4.0, 1.0, 0.0]])
    assert S.tie_aware_recall(reference, np.array([[0, 2]]))[0] == 1.0  # item 2 ties item 1 at the cut
    assert S.tie_aware_recall(reference, np.array([[0, 3]]))[0] == 0.5
    assert S.tie_aware_recall(reference, np.array([[0, -1]]))[0] == 0.5  # -1: nothing found
    assert S.tie_aware_recall(reference, np.array([[0, 3]]), epsilon=3.5)[0] == 1.0
    with pytest.raises(ValueError, match="epsilon"):
        S.tie_aware_recall(reference, np.array([[0, 1]]), epsilon=-1)
    with pytest.raises(ValueError, match="shapes"):
        S.tie_aware_recall(reference, np.array([0, 1]))


def test_tie_aware_recall_tolerance_is_relative_to_the_kth_score():
    # one definition of a hit: score >= kth - RECALL_EPSILON * max(1, |kth|), float rounding only
    assert S.RECALL_EPSILON == 1e-6
    reference = np.array([[1000.0, 999.9995, 0.0], [1.0, 1.0 - 2e-7, 1.0 - 1e-4]])
    assert S.tie_aware_recall(reference, np.array([[1], [1]])).tolist() == [1.0, 1.0]  # within rounding
    assert S.tie_aware_recall(reference, np.array([[2], [2]])).tolist() == [0.0, 0.0]  # 1e-4 is a miss now
    assert S.tie_aware_recall(reference, np.array([[2], [2]]), epsilon=1e-3)[1] == 1.0


def test_tie_aware_recall_scored_is_the_rule_both_forms_share():
    found = np.array([[3, 3, -1], [0, 1, 2]])
    scores = np.array([[5.0, 5.0, -np.inf], [4.0, 3.0, 2.0]])
    # an id twice counts once, -1 is a miss; ties with the k-th score are hits
    np.testing.assert_array_equal(S.tie_aware_recall_scored(found, scores, np.array([5.0, 3.0])), [1 / 3, 2 / 3])
    reference = np.array([[1.0, 0.5, 0.5, 5.0], [4.0, 3.0, 2.0, 9.0]])
    np.testing.assert_array_equal(S.tie_aware_recall(reference, found), [1 / 3, 2 / 3])
    with pytest.raises(ValueError, match="kth_scores"):
        S.tie_aware_recall_scored(found, scores, np.array([1.0]))


# -------------------------------------------------------------------------- the three measures


def test_the_classic_picture_gives_three_different_orders():
    query, items, names = S.three_orders_example()
    orders = {m: "".join(names[i] for i in order) for m, order in S.rankings(query, items).items()}
    assert orders == {"dot": "ACB", "cosine": "CBA", "euclidean": "BCA"}
    assert len(set(orders.values())) == 3
    assert len({order[0] for order in orders.values()}) == 3  # three different winners too


def test_the_classic_picture_agrees_once_on_the_unit_circle():
    query, items, _ = S.three_orders_example()
    unit = S.rankings(S.normalize(query[None])[0], S.normalize(items))
    assert len({tuple(order) for order in unit.values()}) == 1


def test_measures_agree_on_unit_vectors_and_not_otherwise():
    rng = np.random.default_rng(3)
    queries = S.normalize(rng.standard_normal((40, 8)))
    items = S.normalize(rng.standard_normal((400, 8)))
    for pair, stats in S.measure_agreement(queries, items, k=10).items():
        assert stats["min_rank_correlation"] == pytest.approx(1.0, abs=1e-12), pair
        assert stats["identical_top_k"] == 1.0, pair
    lengths = rng.lognormal(0.0, 1.0, size=(400, 1))
    for pair, stats in S.measure_agreement(queries, items * lengths, k=10).items():
        assert stats["min_rank_correlation"] < 0.99 and stats["identical_top_k"] < 1.0, pair


def test_similarity_identity_ties_the_three_measures_together():
    rng = np.random.default_rng(4)
    q, x = rng.standard_normal((5, 6)), rng.standard_normal((7, 6))
    squared = S.squared_distances(q, x)
    expected = (q**2).sum(1)[:, None] + (x**2).sum(1)[None, :] - 2 * q @ x.T
    np.testing.assert_allclose(squared, expected, atol=1e-12)
    np.testing.assert_allclose(-S.similarity(q, x, "euclidean"), np.sqrt(squared), atol=1e-12)
    cosine = S.similarity(q, x, "cosine")
    np.testing.assert_allclose(cosine, (q @ x.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(x, axis=1)))
    np.testing.assert_allclose(np.cos(np.radians(S.angles(q, x))), cosine, atol=1e-12)
    assert S.angles(np.zeros((1, 6)), x).ravel().tolist() == [90.0] * 7


def test_top_k_items_breaks_ties_by_the_smaller_index_even_at_the_cut():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = 30
        values = rng.integers(0, 4, size=n).astype(float)  # many ties
        items = np.column_stack([values, np.zeros(n)])
        got = S.top_k_items(np.array([[1.0, 0.0]]), items, 7, "dot")[0]
        expected = np.lexsort((np.arange(n), -values))[:7]
        np.testing.assert_array_equal(got, expected)


def test_top_k_rows_is_a_stable_sort_cut_at_k():
    rng = np.random.default_rng(6)
    for dtype in (np.float64, np.float32, np.int64):
        scores = rng.integers(-3, 4, size=(40, 25)).astype(dtype)  # ties everywhere, also at the cut
        if dtype != np.int64:
            scores[rng.random(scores.shape) < 0.1] = -np.inf
        for k in (1, 5, 24, 25, 30):
            expected = np.argsort(-scores.astype(np.float64), axis=1, kind="stable")[:, :k]
            np.testing.assert_array_equal(S.top_k_rows(scores, k), expected)
    # of three items tied for the last two places, the two with the smaller indices win
    np.testing.assert_array_equal(S.top_k_rows(np.array([[0.0, 5.0, 1.0, 1.0, 1.0]]), 3), [[1, 2, 3]])
    assert S.top_k_rows(np.array([[-0.0, 0.0, np.inf]]), 3).tolist() == [[2, 0, 1]]
    assert S.top_k_rows(np.empty((0, 4)), 2).shape == (0, 2) and S.top_k_rows(np.ones((2, 0)), 3).shape == (2, 0)
    assert S.top_k_rows(np.ones((2, 3)), 0).shape == (2, 0)
    with pytest.raises(ValueError, match="2-D"):
        S.top_k_rows(np.ones(3), 1)
    with pytest.raises(ValueError, match="k"):
        S.top_k_rows(np.ones((2, 3)), -1)


def test_top_k_items_leaves_out_the_excluded_items_and_refuses_too_large_a_k():
    items = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(S.top_k_items([[1.0, 0.0]], items, 2, "dot", exclude=[0]), [[1, 2]])
    np.testing.assert_array_equal(S.top_k_items([[1.0, 0.0]], items, 5, "cosine"), [[0, 1, 2, 3, 4]])
    with pytest.raises(ValueError, match="only 1 items can be returned"):
        S.top_k_items([[1.0, 0, 0]], np.eye(3), 2, exclude=[0, 1])
    with pytest.raises(ValueError, match="k=4 but only 3 items"):
        S.top_k_items([[1.0, 0, 0]], np.eye(3), 4)
    with pytest.raises(IndexError, match="exclude: item index 3"):
        S.top_k_items([[1.0, 0, 0]], np.eye(3), 1, exclude=[3])


def test_similar_items_leaves_the_item_out_and_dot_prefers_longer_vectors():
    vectors = np.array([[1.0, 0.0], [3.0, 0.3], [0.0, 1.0], [0.9, 0.05]])
    assert S.top_k_items(vectors[[0]], vectors, 1, "dot")[0, 0] == 1  # a longer neighbour beats the item itself
    by_dot = S.similar_items(vectors, [0, 1, 2, 3], 2, "dot")
    assert all(i not in row for i, row in enumerate(by_dot))
    assert S.similar_items(vectors, [0], 1, "euclidean")[0, 0] == 3
    assert S.similar_items(vectors, [0], 1, "dot")[0, 0] == 1
    with pytest.raises(IndexError):
        S.similar_items(vectors, [4], 1)
    with pytest.raises(ValueError, match="k"):
        S.similar_items(vectors, [0], 4)


def test_jaccard_ignores_order_and_empty_slots():
    a = np.array([[1, 2, 3], [1, 2, -1], [-1, -1, -1], [4, 5, 6]])
    b = np.array([[3, 2, 1], [2, 9, -1], [-1, -1, -1], [7, 8, 9]])
    np.testing.assert_allclose(S.jaccard(a, b), [1.0, 1 / 3, 1.0, 0.0])
    with pytest.raises(ValueError, match="rows"):
        S.jaccard(a, b[:2])


def test_rank_correlation_is_spearman_with_average_ranks():
    rng = np.random.default_rng(6)
    for _ in range(10):
        x = rng.integers(0, 5, size=40).astype(float)
        y = x + rng.integers(0, 3, size=40)
        assert S.rank_correlation(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert S.rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(S.rank_correlation([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="same length"):
        S.rank_correlation([1, 2], [1, 2, 3])


def test_check_vectors_refuses_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        S.check_vectors(np.ones(3))
    with pytest.raises(TypeError, match="numbers"):
        S.check_vectors(np.array([["a"]]))
    with pytest.raises(ValueError, match="NaN"):
        S.check_vectors(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="measure"):
        S.similarity(np.ones((1, 2)), np.ones((1, 2)), "manhattan")


# -------------------------------------------------------------------------- MeasureScorer


class _Fixed(FactorModel):
    learns_from = "positives"
    positive_values = "presence"

    def __init__(self, P=None, Q=None, bias=None):
        self.P, self.Q, self.bias = P, Q, bias

    def fit(self, X=None):
        self.user_factors_, self.item_factors_ = self.P, self.Q
        if self.bias is not None:
            self.item_bias_ = self.bias
        self.n_users_, self.n_items_ = self.P.shape[0], self.Q.shape[0]
        return self


def test_measure_scorer_scores_the_inner_product_vectors_by_each_measure():
    rng = np.random.default_rng(7)
    model = _Fixed(rng.standard_normal((20, 4)), rng.standard_normal((50, 4)), rng.standard_normal(50)).fit()
    U, V = model.inner_product_factors(ranking_only=True)
    users = np.arange(20)
    np.testing.assert_allclose(S.MeasureScorer(model, "dot").score(users), model.score(users))
    for measure in S.MEASURES:
        np.testing.assert_allclose(S.MeasureScorer(model, measure).score(users), S.similarity(U, V, measure))
    train = sp.csr_matrix(rng.random((20, 50)) < 0.2, dtype=np.float64)
    test = sp.csr_matrix(rng.random((20, 50)) < 0.2, dtype=np.float64)
    by_model = evaluate_ranking(model, train, test, k=5)
    by_dot = evaluate_ranking(S.MeasureScorer(model, "dot"), train, test, k=5)
    assert by_model == by_dot
    by_cosine = evaluate_ranking(S.MeasureScorer(model, "cosine"), train, test, k=5)
    assert by_cosine["n_users"] == by_model["n_users"]


def test_measure_scorer_refuses_what_it_cannot_score():
    with pytest.raises(TypeError, match="inner_product_factors"):
        S.MeasureScorer(object(), "dot")
    model = _Fixed(np.ones((2, 2)), np.ones((3, 2))).fit()
    with pytest.raises(ValueError, match="measure"):
        S.MeasureScorer(model, "jaccard")
    with pytest.raises(IndexError):
        S.MeasureScorer(model).score([2])
    with pytest.raises(TypeError, match="integer"):
        S.MeasureScorer(model).score([0.5])
