"""Property-based tests (hypothesis): what must hold for *any* input, not only the hand-made ones.

* splits partition the ratings with no (user, item) pair on both sides, for any seed and ratio;
* ranking metrics stay in [0, 1], equal 1 for a perfect ranking, and do not change when the item
  ids are permuted;
* the MIPS transform preserves inner-product order exactly;
* exact search agrees with brute force, ties included, and so does the norm-pruned index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import splits
from recsys.ann.exact import BruteForce
from recsys.metrics import ranking_metrics
from recsys.similarity import mips_transform, top_k_items

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def ratings_frames(draw):
    n_users = draw(st.integers(2, 12))
    n_items = draw(st.integers(2, 12))
    cells = draw(st.sets(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)), min_size=2, max_size=60))
    rows = sorted(cells)
    return pd.DataFrame(
        {
            "user_id": np.array([u for u, _ in rows], dtype=np.int64) + 1,
            "item_id": np.array([i for _, i in rows], dtype=np.int64) + 100,
            "rating": np.array([1.0 + (u * 7 + i) % 5 for u, i in rows], dtype=np.float32),
            "timestamp": np.arange(len(rows), dtype=np.int64) * 7 % 13,
        }
    )


@SETTINGS
@given(ratings_frames(), st.integers(0, 2**31 - 1), st.floats(0.05, 0.95), st.sampled_from(["drop", "keep"]))
def test_random_and_stratified_splits_partition_the_ratings(ratings, seed, ratio, unseen):
    made = [
        splits.stratified_holdout(ratings, train_ratio=ratio, seed=seed, unseen=unseen),
        splits.recommenders_split(ratings, train_ratio=ratio, seed=seed),
    ]
    try:
        made.append(splits.random_holdout(ratings, test_size=ratio, seed=seed, unseen=unseen))
    except ValueError as error:  # the one refusal allowed: a test share that empties the training set
        assert "leaves the training set empty" in str(error)
    for split in made:
        parts = [split.train, split.test, split.dropped]
        assert sum(len(p) for p in parts) == len(ratings)
        index = np.concatenate([p.index.to_numpy() for p in parts])
        assert np.array_equal(np.sort(index), np.sort(ratings.index.to_numpy()))  # each rating exactly once
        train_pairs = set(zip(split.train["user_id"], split.train["item_id"]))
        test_pairs = set(zip(split.test["user_id"], split.test["item_id"]))
        assert not train_pairs & test_pairs  # no leakage of a pair
        if split.unseen == "drop":
            assert set(split.test["user_id"]) <= set(split.train["user_id"])
            assert set(split.test["item_id"]) <= set(split.train["item_id"])


@st.composite
def rankings(draw):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(3, 15))
    k = draw(st.integers(1, n_items))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    recommended = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    relevant = sp.csr_matrix((rng.random((n_users, n_items)) < 0.4).astype(np.float32))
    return recommended, relevant, k


@SETTINGS
@given(rankings())
def test_ranking_metrics_are_bounded_and_invariant_to_item_ids(case):
    recommended, relevant, k = case
    metrics = ranking_metrics(recommended, relevant, k)
    has_relevant = np.diff(relevant.indptr) > 0
    for values in metrics.values():
        assert np.all(np.isnan(values[~has_relevant]))
        assert np.all((values[has_relevant] >= -1e-12) & (values[has_relevant] <= 1 + 1e-12))
    # renaming the items changes nothing
    n_items = relevant.shape[1]
    perm = np.random.default_rng(k).permutation(n_items)
    renamed = ranking_metrics(perm[recommended], relevant[:, np.argsort(perm)], k)
    for name in metrics:
        np.testing.assert_allclose(renamed[name], metrics[name], equal_nan=True)


@SETTINGS
@given(rankings())
def test_a_perfect_ranking_scores_one(case):
    _, relevant, k = case
    n_users, n_items = relevant.shape
    perfect = np.full((n_users, k), -1, dtype=np.int64)
    for u in range(n_users):
        liked = relevant[u].indices[:k]
        others = np.setdiff1d(np.arange(n_items), relevant[u].indices)
        row = np.concatenate([liked, others])[:k]
        perfect[u, : row.size] = row
    metrics = ranking_metrics(perfect, relevant, k)
    has = np.diff(relevant.indptr) > 0
    for name in ("ndcg", "map", "hit_rate", "mrr"):
        np.testing.assert_allclose(metrics[name][has], 1.0)
    np.testing.assert_allclose(metrics["recall"][has], np.minimum(1.0, k / np.diff(relevant.indptr)[has]))


@st.composite
def vectors(draw):
    n, d = draw(st.integers(2, 40)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    items = rng.normal(size=(n, d)) * rng.lognormal(0, 1.5, size=(n, 1))  # very different norms
    if draw(st.booleans()):
        items[: n // 3] = items[0]  # exact duplicates: ties
    queries = rng.normal(size=(draw(st.integers(1, 5)), d))
    return items, queries, draw(st.integers(1, n))


@SETTINGS
@given(vectors())
def test_the_mips_transform_preserves_inner_product_order(case):
    items, queries, k = case
    items_t, queries_t, _ = mips_transform(items, queries)
    truth = queries @ items.T
    for measure in ("euclidean", "cosine"):
        got = top_k_items(queries_t, items_t, k, measure)
        kth = np.sort(truth, axis=1)[:, -k]
        # every returned item scores at least the k-th best inner product (ties count as hits)
        returned = np.take_along_axis(truth, got, axis=1)
        assert np.all(returned >= kth[:, None] - 1e-9 * (1 + np.abs(kth[:, None])))


@SETTINGS
@given(vectors(), st.sampled_from(["ip", "cosine", "l2"]))
def test_exact_search_agrees_with_brute_force(case, metric):
    items, queries, k = case
    measure = {"ip": "dot", "cosine": "cosine", "l2": "euclidean"}[metric]
    index = BruteForce(metric).fit(items)
    expected = top_k_items(queries, items, k, measure)
    np.testing.assert_array_equal(index.batch_query(queries, k), expected)
    np.testing.assert_array_equal(index.query(queries[0], k), expected[0])


@st.composite
def pruning_cases(draw):
    """Catalogues for the norm-pruned index: lengths equal, spread or very spread; duplicates and
    exact ties of score; any bucket and cone layout; k up to the whole catalogue."""
    n, d = draw(st.integers(2, 120)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    spread = draw(st.sampled_from([0.0, 0.5, 2.0]))
    items = rng.normal(size=(n, d)) * rng.lognormal(0, spread, size=(n, 1)) if spread else rng.normal(size=(n, d))
    if draw(st.booleans()):
        items[: n // 3] = items[0]  # duplicates: tied scores for every query
    if draw(st.booleans()):
        items = np.round(items)  # small integers: many exactly tied scores
    queries = rng.normal(size=(draw(st.integers(1, 6)), d))
    if draw(st.booleans()):
        queries = np.round(queries)
    layout = {"bucket_size": draw(st.integers(1, 64)), "directions": draw(st.integers(1, 16))}
    return items.astype(np.float32), queries.astype(np.float32), draw(st.integers(1, n)), layout


@SETTINGS
@given(pruning_cases())
def test_the_norm_pruned_index_equals_brute_force_ties_included(case):
    from recsys.ann.norm_pruned import NormPruned

    items, queries, k, layout = case
    expected = BruteForce("ip").fit(items).batch_query(queries, k)
    index = NormPruned(**layout).fit(items)
    np.testing.assert_array_equal(index.batch_query(queries, k), expected)
    np.testing.assert_array_equal(index.query(queries[0], k), expected[0])
