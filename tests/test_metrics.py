"""Tests of recsys.metrics: hand-worked examples, and property tests against a textbook per-user loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.metrics import (
    RANKING_METRICS,
    catalogue_coverage,
    hit_matrix,
    item_popularity,
    mae,
    mean_metrics,
    mean_popularity,
    ranking_metrics,
    relevance_matrix,
    rmse,
    top_k,
)

# ----------------------------------------------------------------------------- reference code


def reference_user_metrics(recommended: list[int], relevant: set[int], k: int, map_denominator: str) -> dict:
    """Textbook definitions for one user, written as plain loops (``-1`` = empty slot)."""
    if not relevant:
        return {name: math.nan for name in RANKING_METRICS}
    top = list(recommended[:k]) + [-1] * max(0, k - len(recommended))
    hits = [1 if item != -1 and item in relevant else 0 for item in top]
    n_hits = sum(hits)
    dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
    idcg = sum(1 / math.log2(j + 2) for j in range(min(k, len(relevant))))
    ap, seen = 0.0, 0
    for j, h in enumerate(hits):
        if h:
            seen += 1
            ap += seen / (j + 1)
    denominator = min(k, len(relevant)) if map_denominator == "min_k_relevant" else len(relevant)
    rr = 0.0
    for j, h in enumerate(hits):
        if h:
            rr = 1 / (j + 1)
            break
    return {
        "precision": n_hits / k,
        "recall": n_hits / len(relevant),
        "ndcg": dcg / idcg,
        "map": ap / denominator,
        "hit_rate": 1.0 if n_hits else 0.0,
        "mrr": rr,
    }


def reference_top_k(scores: np.ndarray, k: int, exclude: set[int]) -> list[int]:
    """Sort the candidates by (score descending, index ascending); pad with -1."""
    candidates = [i for i in range(len(scores)) if i not in exclude and scores[i] != -np.inf]
    ranked = sorted(candidates, key=lambda i: (-scores[i], i))[:k]
    return ranked + [-1] * (k - len(ranked))


def csr_from_sets(sets: list[set[int]], n_items: int) -> sp.csr_matrix:
    rows = [u for u, s in enumerate(sets) for _ in s]
    cols = [i for s in sets for i in sorted(s)]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), n_items))


# ----------------------------------------------------------------------------- rating metrics


def test_rmse_mae_known_values():
    # errors (-1, 0, 2): squared 1, 0, 4 -> mean 5/3; absolute 1, 0, 2 -> mean 1
    assert rmse([3, 4, 5], [4, 4, 3]) == pytest.approx(math.sqrt(5 / 3))
    assert mae([3, 4, 5], [4, 4, 3]) == pytest.approx(1.0)
    assert rmse([2.5], [2.5]) == 0.0


@pytest.mark.parametrize("metric", [rmse, mae])
def test_rating_metric_errors(metric):
    with pytest.raises(ValueError, match="same shape"):
        metric([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="y_pred holds 1 NaN"):
        metric([1, 2], [1, np.nan])
    with pytest.raises(ValueError, match="y_true"):
        metric([np.inf, 2], [1, 2])


# ----------------------------------------------------------------------------- top_k


def test_top_k_orders_and_excludes_training_items():
    scores = np.array([[0.1, 0.9, 0.5, 0.7, 0.3], [5.0, 4.0, 3.0, 2.0, 1.0]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [1, 0, 1, 0, 0]]))
    np.testing.assert_array_equal(top_k(scores, 3), [[1, 3, 2], [0, 1, 2]])
    np.testing.assert_array_equal(top_k(scores, 3, exclude), [[3, 2, 4], [1, 3, 4]])
    assert scores[0, 1] == 0.9  # the caller's scores are not modified


def test_top_k_breaks_ties_by_lower_index():
    # all-equal rows: the answer must be 0, 1, 2 whatever argpartition picked
    scores = np.zeros((3, 50))
    scores[1, [40, 7, 30]] = 1.0  # three winners, then ties among the rest
    scores[2, ::2] = -1.0
    expected = [[0, 1, 2, 3], [7, 30, 40, 0], [1, 3, 5, 7]]
    np.testing.assert_array_equal(top_k(scores, 4), expected)
    # ties at +inf are real candidates, so they too go lower index first (found by hypothesis)
    np.testing.assert_array_equal(top_k(np.array([[-np.inf, np.inf, 0.0, np.inf]]), 1), [[1]])
    np.testing.assert_array_equal(top_k(np.array([[np.inf, np.inf, -np.inf, np.inf]])[:, ::-1], 2), [[0, 2]])


def test_top_k_stored_zero_in_exclude_still_excludes():
    exclude = sp.csr_matrix((np.array([0.0]), (np.array([0]), np.array([2]))), shape=(1, 4))
    assert exclude.nnz == 1
    np.testing.assert_array_equal(top_k(np.array([[1.0, 2.0, 3.0, 0.0]]), 2, exclude), [[1, 0]])


def test_top_k_pads_when_k_exceeds_candidates():
    scores = np.array([[0.2, 0.8, 0.5], [1.0, -np.inf, 0.0]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 0]]))
    np.testing.assert_array_equal(top_k(scores, 5, exclude), [[2, 0, -1, -1, -1], [0, 2, -1, -1, -1]])
    np.testing.assert_array_equal(top_k(scores, 3), [[1, 2, 0], [0, 2, -1]])
    assert top_k(np.empty((0, 4)), 2).shape == (0, 2)
    np.testing.assert_array_equal(top_k(np.empty((2, 0)), 2), -np.ones((2, 2)))


def test_top_k_validation():
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        top_k(np.ones((2, 3)), 0)
    with pytest.raises(ValueError, match="2-D"):
        top_k(np.ones(3), 1)
    with pytest.raises(ValueError, match="NaN"):
        top_k(np.array([[1.0, np.nan]]), 1)
    with pytest.raises(ValueError, match=r"exclude has shape \(2, 2\), expected \(2, 3\)"):
        top_k(np.ones((2, 3)), 1, sp.csr_matrix((2, 2)))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_top_k_matches_reference(data):
    n = data.draw(st.integers(1, 6), label="n")
    m = data.draw(st.integers(1, 12), label="m")
    k = data.draw(st.integers(1, 15), label="k")
    # a few distinct values force ties; -inf marks items the model never recommends
    values = st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 1.0, 2.0, np.inf])
    scores = np.array(data.draw(st.lists(st.lists(values, min_size=m, max_size=m), min_size=n, max_size=n)))
    excluded = [data.draw(st.sets(st.integers(0, m - 1)), label=f"exclude{u}") for u in range(n)]
    got = top_k(scores, k, csr_from_sets(excluded, m))
    expected = [reference_top_k(scores[u], k, excluded[u]) for u in range(n)]
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 20), m=st.integers(1, 300), k=st.integers(1, 40))
def test_top_k_matches_full_sort_on_continuous_scores(seed, n, m, k):
    scores = np.random.default_rng(seed).standard_normal((n, m)).astype(np.float32)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    got = top_k(scores, k)
    np.testing.assert_array_equal(got[:, : min(k, m)], expected)
    assert (got[:, m:] == -1).all()


# ----------------------------------------------------------------------------- ranking metrics


def test_ranking_metrics_hand_computed():
    relevant = csr_from_sets([{1, 7, 9}, {1, 4, 5, 7, 9}, set(), {5}], n_items=10)
    recommended = np.array([[3, 1, 7], [7, 0, 1], [1, 2, 3], [0, 2, -1]])
    m = ranking_metrics(recommended, relevant, k=3)
    log3, log4 = math.log2(3), math.log2(4)  # discounts of positions 2 and 3
    idcg3 = 1 + 1 / log3 + 1 / log4  # three relevant positions fit in k=3 for users 0 and 1
    # user 0: hits (0, 1, 1); precision 2/3, recall 2/3; DCG 1/log2(3) + 1/log2(4) = 1.1309;
    # AP = (P@2 + P@3) / min(3, 3) = (1/2 + 2/3) / 3 = 7/18; first hit at rank 2 -> RR 1/2
    # user 1: hits (1, 0, 1); precision 2/3, recall 2/5; DCG 1 + 1/log2(4) = 1.5;
    # AP = (1/1 + 2/3) / min(3, 5) = 5/9; RR 1
    # user 2: no relevant items -> NaN everywhere, left out of the means
    # user 3: no hits (the -1 slot is a miss) -> all zeros
    np.testing.assert_allclose(m["precision"], [2 / 3, 2 / 3, np.nan, 0])
    np.testing.assert_allclose(m["recall"], [2 / 3, 2 / 5, np.nan, 0])
    np.testing.assert_allclose(m["ndcg"], [(1 / log3 + 1 / log4) / idcg3, 1.5 / idcg3, np.nan, 0])
    np.testing.assert_allclose(m["map"], [7 / 18, 5 / 9, np.nan, 0])
    np.testing.assert_allclose(m["hit_rate"], [1, 1, np.nan, 0])
    np.testing.assert_allclose(m["mrr"], [1 / 2, 1, np.nan, 0])
    # Recommenders' older convention divides AP by all 5 relevant items of user 1: (5/3) / 5 = 1/3
    alt = ranking_metrics(recommended, relevant, k=3, map_denominator="n_relevant")
    np.testing.assert_allclose(alt["map"], [7 / 18, 1 / 3, np.nan, 0])
    means = mean_metrics(m)
    assert means["precision"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)  # over the 3 users with relevant items
    assert means["mrr"] == pytest.approx(1.5 / 3)


def test_ranking_metrics_k_cuts_or_pads():
    relevant = csr_from_sets([{0, 2}], n_items=4)
    rec = np.array([[1, 0, 2]])
    assert ranking_metrics(rec, relevant, k=1)["hit_rate"][0] == 0  # only item 1 is kept
    padded = ranking_metrics(rec, relevant, k=5)
    assert padded["precision"][0] == pytest.approx(2 / 5)
    assert padded["ndcg"][0] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_perfect_ranking_scores_one():
    relevant = csr_from_sets([{4, 2}, {0, 1, 2, 3, 4}], n_items=6)
    rec = np.array([[2, 4, 0], [3, 1, 0]])
    m = ranking_metrics(rec, relevant)
    for name in ("ndcg", "map", "hit_rate", "mrr"):
        np.testing.assert_allclose(m[name], [1, 1], err_msg=name)
    # with R_u = 5 > k = 3 the n_relevant normaliser cannot reach 1: (1 + 1 + 1) / 5
    assert ranking_metrics(rec, relevant, map_denominator="n_relevant")["map"][1] == pytest.approx(3 / 5)


def test_ranking_metrics_validation():
    relevant = csr_from_sets([{1}, {2}], n_items=3)
    with pytest.raises(ValueError, match="2 users"):
        ranking_metrics(np.array([[1, 2]]), relevant)
    with pytest.raises(ValueError, match="item index 3, out of range for 3 items"):
        ranking_metrics(np.array([[1], [3]]), relevant)
    with pytest.raises(ValueError, match="only -1"):
        ranking_metrics(np.array([[1], [-2]]), relevant)
    with pytest.raises(ValueError, match="row 1 lists an item more than once"):
        ranking_metrics(np.array([[1, -1, -1], [2, 0, 2]]), relevant)
    with pytest.raises(TypeError, match="integer"):
        ranking_metrics(np.array([[1.0], [2.0]]), relevant)
    with pytest.raises(ValueError, match="k must be"):
        ranking_metrics(np.array([[1], [2]]), relevant, k=0)
    with pytest.raises(ValueError, match="map_denominator"):
        ranking_metrics(np.array([[1], [2]]), relevant, map_denominator="k")
    with pytest.raises(TypeError, match="scipy.sparse"):
        ranking_metrics(np.array([[1], [2]]), np.eye(2))


@st.composite
def ranking_cases(draw):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 12))
    k = draw(st.integers(1, 15))  # may exceed the catalogue
    width = draw(st.integers(1, 15))  # recommended may be narrower or wider than k
    relevant = [draw(st.sets(st.integers(0, n_items - 1))) for _ in range(n_users)]  # empty sets included
    recommended = []
    for _ in range(n_users):
        items = draw(st.permutations(range(n_items)))[: draw(st.integers(0, min(width, n_items)))]
        row = list(items) + [-1] * (width - len(items))
        recommended.append(draw(st.permutations(row)))  # -1 slots anywhere, not only at the end
    return n_items, k, relevant, np.array(recommended, dtype=np.int64).reshape(n_users, width)


@settings(max_examples=200, deadline=None)
@given(case=ranking_cases(), denominator=st.sampled_from(["min_k_relevant", "n_relevant"]))
def test_ranking_metrics_match_reference(case, denominator):
    n_items, k, relevant, recommended = case
    got = ranking_metrics(recommended, csr_from_sets(relevant, n_items), k, map_denominator=denominator)
    expected = [reference_user_metrics(list(recommended[u]), relevant[u], k, denominator) for u in range(len(relevant))]
    for name in RANKING_METRICS:
        np.testing.assert_allclose(got[name], [e[name] for e in expected], rtol=1e-12, err_msg=name)
        defined = got[name][~np.isnan(got[name])]
        assert ((defined >= 0) & (defined <= 1 + 1e-12)).all(), name
    hits = hit_matrix(recommended, csr_from_sets(relevant, n_items))
    assert hits.shape == recommended.shape
    assert not hits[recommended == -1].any()


def test_hit_matrix_with_empty_relevance_and_explicit_zero():
    rec = np.array([[0, 1], [1, -1]])
    np.testing.assert_array_equal(hit_matrix(rec, sp.csr_matrix((2, 3))), np.zeros((2, 2), bool))
    stored_zero = sp.csr_matrix((np.array([0.0]), (np.array([1]), np.array([1]))), shape=(2, 3))
    np.testing.assert_array_equal(hit_matrix(rec, stored_zero), [[False, False], [True, False]])


def test_mean_metrics_ignores_nan_and_handles_all_nan():
    assert mean_metrics({"a": np.array([1.0, np.nan, 0.0])}) == {"a": 0.5}
    assert math.isnan(mean_metrics({"a": np.array([np.nan])})["a"])


def test_relevance_matrix_threshold():
    test = sp.csr_matrix(np.array([[5.0, 0, 3.0], [0, 4.0, 1.0]]))
    np.testing.assert_array_equal(relevance_matrix(test).toarray(), [[1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(relevance_matrix(test, relevance_threshold=4.0).toarray(), [[1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="finite number"):
        relevance_matrix(test, relevance_threshold=np.nan)


# ----------------------------------------------------------------------------- beyond accuracy


def test_coverage_and_popularity():
    rec = np.array([[0, 1, -1], [1, 3, -1]])
    assert catalogue_coverage(rec, 5) == pytest.approx(3 / 5)  # items 0, 1, 3 of 5
    train = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [1, 0, 0, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 1]]))
    popularity = item_popularity(train)
    np.testing.assert_array_equal(popularity, [3, 2, 0, 1, 1])
    np.testing.assert_allclose(item_popularity(train, normalise=True), [0.75, 0.5, 0, 0.25, 0.25])
    # filled slots: items 0, 1, 1, 3 -> (3 + 2 + 2 + 1) / 4
    assert mean_popularity(rec, popularity) == pytest.approx(2.0)
    assert math.isnan(mean_popularity(np.full((2, 2), -1), popularity))
    with pytest.raises(ValueError, match="n_items"):
        catalogue_coverage(rec, 0)
    with pytest.raises(ValueError, match="out of range"):
        mean_popularity(rec, popularity[:3])
    # per user: row 0 (3 + 2) / 2, row 1 (2 + 1) / 2, an empty row NaN
    from recsys.metrics import list_popularity

    per_user = list_popularity(np.vstack([rec, [-1, -1, -1]]), popularity)
    np.testing.assert_allclose(per_user[:2], [2.5, 1.5])
    assert math.isnan(per_user[2])
    with pytest.raises(ValueError, match="out of range"):
        list_popularity(rec, popularity[:3])
