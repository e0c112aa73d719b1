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
