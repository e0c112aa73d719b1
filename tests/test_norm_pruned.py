"""The norm-pruned exact index: the same lists as brute force, ties included, while reading less."""

from __future__ import annotations

import numpy as np
import pytest
from ann_conformance import AdapterConformance

from recsys.ann.norm_pruned import NormPruned, spherical_centres


def _reference(X: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k in float64, equal scores by smaller item index."""
    scores = Q.astype(np.float64) @ X.astype(np.float64).T
    return np.array([np.lexsort((np.arange(len(row)), -row))[:k] for row in scores])


def _popularity_shaped(n_items: int, n_queries: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Item lengths spread over a long tail (log-normal), as a recommender's are."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((n_items, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    lengths = rng.lognormal(0.0, 0.5, n_items)
    X = (directions * lengths[:, None]).astype(np.float32)
    Q = (rng.standard_normal((n_queries, d)) + 0.5).astype(np.float32)
    return X, Q


class TestConformance(AdapterConformance):
    @pytest.fixture
    def adapter(self):
        return NormPruned


@pytest.mark.parametrize("k", [1, 10, 57])
@pytest.mark.parametrize("shape", [(3000, 8, 256, 8), (1000, 32, 100, 30), (60, 4, 7, 3)])
def test_lists_equal_brute_force(k, shape):
    n, d, bucket, directions = shape
    X, Q = _popularity_shaped(n, 40, d, seed=n + d)
    index = NormPruned(bucket_size=bucket, directions=directions).fit(X)
    assert np.array_equal(index.batch_query(Q, k), _reference(X, Q, k))
    assert np.array_equal(index.query(Q[0], k), _reference(X, Q[:1], k)[0])


def test_ties_are_broken_by_the_smaller_index_as_brute_force_does():
    rng = np.random.default_rng(5)
    X = rng.integers(-2, 3, size=(600, 3)).astype(np.float32)  # many exact duplicates and equal scores
    X[::7] = 0.0  # zero vectors: no direction at all
    Q = rng.integers(-2, 3, size=(60, 3)).astype(np.float32)
    Q[0] = 0.0  # every score 0: the first k items
    for bucket, directions in [(32, 4), (600, 1), (1, 3)]:
        index = NormPruned(bucket_size=bucket, directions=directions).fit(X)
        assert np.array_equal(index.batch_query(Q, 10), _reference(X, Q, 10)), (bucket, directions)


def test_it_reads_a_fraction_of_a_long_tailed_catalogue_and_the_knobs_read_less():
    X, Q = _popularity_shaped(20_000, 100, 16, seed=1)
    index = NormPruned(bucket_size=512, directions=16).fit(X)
    exact = index.batch_query(Q, 10)
    exact_share = index.scored_share_.copy()
    assert exact_share.shape == (100,)
    assert np.median(exact_share) < 0.25  # the bounds stop most queries early
    index.set_query_arguments(epsilon=0.3)
    loose = index.batch_query(Q, 10)
    assert np.all(index.scored_share_ <= exact_share) and index.scored_share_.mean() < exact_share.mean()
    hits = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(loose, exact, strict=True)])
    assert 0.8 < hits < 1.0  # it gives up exactness, and not much of it
    index.set_query_arguments(epsilon=0.0, budget=0.01)
    index.batch_query(Q, 10)
    cells = np.diff(index._cell_starts).max()
    assert index.scored_share_.max() * len(X) <= 0.01 * len(X) + cells  # stops within one cell of the budget


def test_cosine_ranks_by_angle():
    X, Q = _popularity_shaped(2000, 20, 8, seed=2)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    index = NormPruned("cosine", bucket_size=128, directions=8).fit(X)
    assert np.array_equal(index.batch_query(Q, 10), _reference(unit, Q, 10))


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="bucket_size"):
        NormPruned(bucket_size=0)
    with pytest.raises(ValueError, match="directions"):
        NormPruned(directions=0)
    index = NormPruned()
    with pytest.raises(ValueError, match="epsilon must be below 1"):
        index.set_query_arguments(epsilon=1.0)
    with pytest.raises(ValueError, match="budget"):
        index.set_query_arguments(budget=0.0)
    assert index.query_arguments == {"epsilon": 0.0, "budget": 1.0}  # a refused value is not kept
    with pytest.raises(ValueError, match="l2"):
        NormPruned("l2")


def test_spherical_centres_are_unit_and_reproducible():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((300, 5))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    centres = spherical_centres(rows, 12, seed=4)
    assert centres.shape == (12, 5)
    assert np.allclose(np.linalg.norm(centres, axis=1), 1.0)
    assert np.array_equal(centres, spherical_centres(rows, 12, seed=4))
    assert spherical_centres(rows[:3], 12).shape == (3, 5)


def _reference_unseen(X: np.ndarray, Q: np.ndarray, k: int, seen) -> np.ndarray:
    scores = Q.astype(np.float64) @ X.astype(np.float64).T
    out = np.full((len(Q), k), -1)
    for r, row in enumerate(scores):
        order = [i for i in np.lexsort((np.arange(len(row)), -row)) if i not in set(seen[r].indices)]
        out[r, : min(k, len(order))] = order[:k]
    return out


def test_seen_items_are_skipped_inside_the_search_and_the_rest_equals_brute_force():
    import scipy.sparse as sp

    rng = np.random.default_rng(11)
    X, Q = _popularity_shaped(2000, 30, 8, seed=4)
    X[1500:1600] = X[:100]  # ties between seen and unseen copies
    # each query has seen a popular-biased set of items, as users have: long vectors more often
    weights = np.linalg.norm(X, axis=1) ** 2
    rows = [rng.choice(2000, size=rng.integers(0, 300), replace=False, p=weights / weights.sum()) for _ in Q]
    seen = sp.csr_matrix(
        (np.ones(sum(map(len, rows))), np.concatenate(rows), np.cumsum([0] + [len(r) for r in rows])), shape=(30, 2000)
    )
    index = NormPruned(bucket_size=128, directions=8).fit(X)
    for k in (1, 10, 40):
        assert np.array_equal(index.batch_query_unseen(Q, k, seen), _reference_unseen(X, Q, k, seen))
    unseen_share = index.scored_share_.copy()
    # fetching k + |seen| and dropping the seen items afterwards scores more of the catalogue
    fetched = index.batch_query(Q, 40 + max(map(len, rows)))
    assert np.median(unseen_share) < np.median(index.scored_share_)
    assert fetched.shape[0] == 30
    # a query that has seen all but three items gets three and two empty slots
    almost_all = sp.csr_matrix(np.ones((1, 2000)))
    almost_all[0, [5, 7, 1999]] = 0
    almost_all.eliminate_zeros()
    found = index.batch_query_unseen(Q[:1], 5, almost_all)
    assert sorted(found[0, :3]) == [5, 7, 1999] and list(found[0, 3:]) == [-1, -1]
    with pytest.raises(ValueError, match="seen must be a sparse matrix of shape"):
        index.batch_query_unseen(Q, 10, seen[:5])
    with pytest.raises(ValueError, match="seen must be a sparse matrix"):
        index.batch_query_unseen(Q, 10, seen.toarray())


@pytest.mark.parametrize("seed", [65, 199, 602])  # cases the cone bound got wrong before it used the shortest member
def test_lists_equal_brute_force_when_the_kth_score_is_negative(seed):
    """k past the items that point towards the query: the list ends in negative scores, where a cone
    bound must use its shortest member (a longer vector pointing away scores lower)."""
    rng = np.random.default_rng(seed)
    n, d, bucket, directions = (
        int(rng.integers(20, 120)),
        int(rng.integers(2, 5)),
        int(rng.integers(1, 20)),
        int(rng.integers(1, 6)),
    )
    X = (rng.standard_normal((n, d)) * rng.lognormal(0.0, 1.0, (n, 1))).astype(np.float32)
    Q = rng.standard_normal((4, d)).astype(np.float32)
    k = int(n * 0.7)
    index = NormPruned(bucket_size=bucket, directions=directions).fit(X)
    assert np.array_equal(index.batch_query(Q, k), _reference(X, Q, k))
