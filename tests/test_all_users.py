"""All users' top-k with seen items removed: the blocked product and the norm-pruned index are
exact (ties included), any other index drops seen items, and recall is measured against float64."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ann.exact import BruteForce
from recsys.ann.hnswlib_index import HnswLib
from recsys.ann.norm_pruned import NormPruned
from recsys.experiments.all_users import blocked_top_k, fetch_depths, index_top_k, recall_unseen, unseen_truth


def _job(n_users=300, n_items=3000, d=16, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.lognormal(0.0, 0.5, n_items)
    X = rng.standard_normal((n_items, d))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True) * lengths[:, None]).astype(np.float32)
    U = (rng.standard_normal((n_users, d)) + 0.3).astype(np.float32)
    popularity = lengths**2 / (lengths**2).sum()
    rows = [np.unique(rng.choice(n_items, size=rng.integers(0, 200), p=popularity)) for _ in range(n_users)]
    seen = sp.csr_matrix(
        (np.ones(sum(map(len, rows)), dtype=np.float32), np.concatenate(rows), np.cumsum([0] + [len(r) for r in rows])),
        shape=(n_users, n_items),
    )
    return U, X, seen


def _reference(U, X, k, seen):
    """Brute force in float32 products, as the blocked job scores: equal scores by smaller id."""
    scores = (U @ X.T).astype(np.float64)
    scores[seen.nonzero()] = -np.inf
    return np.array([np.lexsort((np.arange(len(row)), -row))[:k] for row in scores])


@pytest.mark.parametrize("tiles", [(512, 32_768), (7, 100), (1, 1)])
def test_the_blocked_job_is_exact_with_seen_items_removed(tiles):
    U, X, seen = _job()
    user_block, item_tile = tiles
    found = blocked_top_k(U, X, 10, seen, user_block=user_block, item_tile=item_tile, threads=1)
    assert np.array_equal(found, _reference(U, X, 10, seen))
    assert np.array_equal(blocked_top_k(U, X, 10, seen, threads=2), found)  # threads change nothing


def test_ties_go_to_the_smaller_item_across_tiles():
    X = np.tile(np.eye(4, dtype=np.float32), (50, 1))  # 200 items, every direction 50 times
    U = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]
    seen = sp.csr_matrix(([1.0], ([4], [0])), shape=(5, 200))
    found = blocked_top_k(U, X, 3, seen, user_block=2, item_tile=9)
    assert found.tolist()[:2] == [[0, 4, 8], [1, 5, 9]]
    assert found.tolist()[4] == [4, 8, 12]  # item 0 seen: the next copies


def test_the_norm_pruned_index_gives_the_blocked_lists_and_other_indexes_drop_seen_items():
    U, X, seen = _job(seed=1)
    blocked = blocked_top_k(U, X, 10, seen)
    pruned = NormPruned(bucket_size=256, directions=8).fit(X)
    truth_ids, truth_scores = unseen_truth(U, X, 10, seen)
    assert np.array_equal(index_top_k(pruned, U, 10, seen, batch_size=64), truth_ids)
    assert recall_unseen(blocked, truth_scores, U, X, 10, seen).min() == 1.0
    brute = index_top_k(BruteForce("ip").fit(X), U, 10, seen, batch_size=50)  # no unseen method: fetch and drop
    assert recall_unseen(brute, truth_scores, U, X, 10, seen).min() == 1.0
    assert not np.isin(brute[3], seen[3].indices).any()
    if HnswLib.available() is None:
        graph = HnswLib("ip", M=8, ef_construction=64).fit(X)
        graph.set_query_arguments(ef=200)
        assert recall_unseen(index_top_k(graph, U, 10, seen), truth_scores, U, X, 10, seen).mean() > 0.95
    pruned.set_num_threads(2)
    assert np.array_equal(index_top_k(pruned, U, 10, seen, batch_size=1000), truth_ids)


def test_a_user_who_has_seen_almost_everything_gets_empty_slots():
    U, X, _ = _job(n_users=2, n_items=50)
    dense = np.ones((2, 50), dtype=np.float32)
    dense[0, [3, 4]] = 0
    seen = sp.csr_matrix(dense)
    for found in (blocked_top_k(U, X, 5, seen), index_top_k(BruteForce("ip").fit(X), U, 5, seen)):
        assert sorted(found[0, :2]) == [3, 4] and list(found[0, 2:]) == [-1] * 3
        assert list(found[1]) == [-1] * 5
    ids, scores = unseen_truth(U, X, 5, seen)
    assert list(ids[1]) == [-1] * 5 and np.isneginf(scores[1]).all()


def test_bad_input_is_named():
    U, X, seen = _job(n_users=20, n_items=100)
    with pytest.raises(ValueError, match="seen has shape"):
        blocked_top_k(U, X, 5, seen[:5])
    with pytest.raises(TypeError, match="seen must be a scipy.sparse matrix"):
        blocked_top_k(U, X, 5, seen.toarray())
    with pytest.raises(ValueError, match="dimension|dim"):
        blocked_top_k(U[:, :3], X, 5)
    with pytest.raises(ValueError, match="k"):
        blocked_top_k(U, X, 0)
    with pytest.raises(RuntimeError, match="not built yet"):
        index_top_k(HnswLib("ip"), U, 5)
    found = blocked_top_k(U, X, 5)  # ignores what was seen
    truth_ids, truth_scores = unseen_truth(U, X, 5, seen)
    with pytest.raises(ValueError, match="already seen"):
        recall_unseen(found, truth_scores, U, X, 5, seen)


def test_a_users_fetch_depth_is_their_own_whoever_they_are_served_with():
    assert fetch_depths([0, 1, 6, 7, 53, 5000], 10, 1000).tolist() == [16, 16, 16, 32, 64, 1000]
    U, X, seen = _job(seed=2)
    graph = BruteForce("ip").fit(X)
    alone = index_top_k(graph, U[5:6], 10, seen[5:6])
    assert np.array_equal(index_top_k(graph, U, 10, seen, batch_size=7)[5], alone[0])
